// The platform's wiring (src/machine/platform.ts) as a guest would meet it, checked against the
// specs it follows: which source drives a shared ISA line, and which vCPU an APIC message reaches.

import { describe, expect, it } from 'vitest';
import { Vmm } from '../../src/api/vmm.js';
import { DeliveryMode, Shorthand, type ApicMessage } from '../../src/machine/irq.js';
import { ExitKind } from '../../src/machine/exit.js';
import { startReal } from '../helpers/real-mode.js';

function vm(vcpus = 1) {
  const vmm = new Vmm();
  const id = vmm.create({ name: 'p', vcpus, memoryBytes: 4 << 20 });
  return { m: vmm.machine(id), d: vmm.devices(id) };
}

/** Let `insns` instruction times pass with no vCPU running and fire what is due. */
function advance(m: ReturnType<typeof vm>['m'], insns: number): void {
  m.skipIdle(insns);
  m.clock.fireDue();
}

describe('ISA IRQ 0 and 8 under HPET legacy replacement (IA-PC HPET 1.0a, 2.3.5)', () => {
  it('the PIT drives IRQ 0 until the HPET takes the line, and again after it lets go', () => {
    const { m, d } = vm();
    const irq0: boolean[] = [];
    const isa = m.isaIrqs!;
    const setIrq = isa.setIrq.bind(isa);
    isa.setIrq = (irq, level) => {
      if (irq === 0) irq0.push(level);
      setIrq(irq, level);
    };
    // PIT counter 0, mode 2 (rate generator), count 100: OUT pulses low every 100 ticks (8254 data sheet).
    const pit = m.io.handlerFor(0x43)!;
    pit.ioWrite(0x43, 1, 0x34);
    pit.ioWrite(0x40, 1, 100);
    pit.ioWrite(0x40, 1, 0);
    advance(m, 1_000_000); // ~1.2 ms: ~12 periods of 83.8 us
    expect(irq0.length).toBeGreaterThan(10);

    // HPET GEN_CONF (offset 0x10): ENABLE_CNF | LEG_RT_CNF.
    d.platform.hpet!.mmioWrite(0x10, 4, 3);
    irq0.length = 0;
    advance(m, 1_000_000);
    expect(irq0).toEqual([]); // no comparator is armed, and the PIT is cut off

    d.platform.hpet!.mmioWrite(0x10, 4, 1); // legacy replacement off
    advance(m, 1_000_000);
    expect(irq0.length).toBeGreaterThan(10);
  });
});

describe('the APIC bus (SDM vol. 3, 11.6.2 and 11.6.3)', () => {
  /** IRR bit of `vector` in each APIC (IRR at 0x200 + 0x10 * (vector / 32), SDM 11.8.4): the BSP's
   *  hasInterrupt() would also see the 8259 through LINT0. */
  const requested = (d: ReturnType<typeof vm>['d'], vector: number): boolean[] =>
    d.platform.lapics.map((a) => ((a.mmioRead(0x200 + 0x10 * (vector >> 5), 4) >>> (vector & 31)) & 1) === 1);
  const fixed = (over: Partial<ApicMessage>): ApicMessage => ({
    vector: 0x40, deliveryMode: DeliveryMode.Fixed, logical: false, dest: 0, levelTriggered: false, assert: true,
    shorthand: Shorthand.None, source: -1, ...over,
  });

  it('physical destinations reach one APIC, broadcast 0xff every APIC', () => {
    const { d } = vm(3);
    d.platform.route(fixed({ dest: 2 }));
    expect(requested(d, 0x40)).toEqual([false, false, true]);
    d.platform.route(fixed({ dest: 0xff, vector: 0x41 }));
    expect(requested(d, 0x41)).toEqual([true, true, true]);
  });

  it('the all-excluding-self shorthand skips the sender', () => {
    const { d } = vm(3);
    d.platform.route(fixed({ shorthand: Shorthand.AllExcludingSelf, source: 1 }));
    expect(requested(d, 0x40)).toEqual([true, false, true]);
  });

  it('lowest priority goes to one APIC: the lowest arbitration priority, ties to the lowest ID', () => {
    const { d } = vm(3);
    const [a0] = d.platform.lapics;
    a0.mmioWrite(0x80, 4, 0x20); // TPR 0x20 on APIC 0 raises its arbitration priority
    d.platform.route(fixed({ deliveryMode: DeliveryMode.LowestPriority, dest: 0xff }));
    expect(requested(d, 0x40)).toEqual([false, true, false]);
  });

  it('INIT then StartUp starts a waiting AP at vector * 0x1000 in real mode (SDM vol. 3, 9.4.4)', () => {
    const { m, d } = vm(2);
    d.platform.route(fixed({ deliveryMode: DeliveryMode.Init, dest: 1, source: 0, levelTriggered: true }));
    d.platform.route(fixed({ deliveryMode: DeliveryMode.StartUp, dest: 1, vector: 0x9a, source: 0 }));
    const cpu = m.cpus[1];
    expect(cpu.protectedMode).toBe(false);
    expect([cpu.segSel[1], cpu.segBase[1], cpu.ripLo]).toEqual([0x9a00, 0x9a000, 0]);
  });
});

describe('CR8 and the task priority (SDM vol. 3, 11.8.6.1)', () => {
  it('MOV to CR8 sets TPR[7:4] and clears TPR[3:0]; MOV from CR8 reads TPR[7:4]', () => {
    const { m, d } = vm(2);
    const [a0, a1] = d.platform.lapics;
    a0.mmioWrite(0x80, 4, 0x3c);
    m.writeCr8(m.cpus[0], 5);
    expect(a0.mmioRead(0x80, 4)).toBe(0x50);
    expect(a1.mmioRead(0x80, 4)).toBe(0); // each vCPU its own APIC
    a1.mmioWrite(0x80, 4, 0x7f);
    expect(m.readCr8(m.cpus[1])).toBe(7);
  });
});

describe('regressions from the review', () => {
  it('a vCPU idle in sti; hlt does not take the shared clock back (runAll reaches its limit)', () => {
    const vmm = new Vmm();
    const id = vmm.create({ name: 'idle', vcpus: 2, memoryBytes: 1 << 20, unhandledIo: 'ignore' });
    const m = vmm.machine(id);
    vmm.writeMemory(id, 0x1000, Uint8Array.of(0xeb, 0xfe)); // vCPU 0: jmp $
    vmm.writeMemory(id, 0x2000, Uint8Array.of(0xfb, 0xf4, 0xeb, 0xfc)); // vCPU 1: sti; hlt; jmp
    startReal(vmm, id, 0, 0x1000);
    startReal(vmm, id, 1, 0x2000);
    let last = 0;
    const clock = m.clock;
    for (let k = 0; k < 5; k++) {
      const { exit } = vmm.runAll(id, { maxInsns: 300_000 });
      expect(exit.kind).toBe(ExitKind.Limit);
      expect(clock.icount).toBe(last + 300_000); // never backwards, exactly the limit
      last = clock.icount;
    }
  });

  it('INIT resets the target local APIC: no pending vector, LVTs masked, timer stopped (SDM 11.4.7.3)', () => {
    const { d } = vm(2);
    const a1 = d.platform.lapics[1];
    a1.mmioWrite(0x320, 4, 0x20030); // LVT timer: periodic, vector 0x30
    a1.mmioWrite(0x380, 4, 1000); // initial count
    d.platform.route({ vector: 0x40, deliveryMode: DeliveryMode.Fixed, logical: false, dest: 1, levelTriggered: false, assert: true, shorthand: Shorthand.None, source: -1 });
    d.platform.route({ vector: 0, deliveryMode: DeliveryMode.Init, logical: false, dest: 1, levelTriggered: true, assert: true, shorthand: Shorthand.None, source: 0 });
    expect((a1.mmioRead(0x220, 4) & 1) === 1).toBe(false); // IRR bit 0x40 clear
    expect(a1.mmioRead(0x320, 4) & 0x10000).toBe(0x10000); // masked
    expect(a1.mmioRead(0x380, 4)).toBe(0);
  });

  it('an HPET taking IRQ 0 in legacy replacement delivers its first comparator match through IOAPIC pin 2', () => {
    const { m, d } = vm();
    const io = d.platform.ioapic;
    io.mmioWrite(0, 4, 0x10 + 2 * 2); // redirection entry 2, low dword: edge, fixed, vector 0x50, dest 0
    io.mmioWrite(0x10, 4, 0x50);
    io.mmioWrite(0, 4, 0x10 + 2 * 2 + 1);
    io.mmioWrite(0x10, 4, 0);
    const hpet = d.platform.hpet!;
    hpet.mmioWrite(0x100, 4, 1 << 2); // timer 0: Tn_INT_ENB_CNF
    hpet.mmioWrite(0x108, 4, 50); // comparator: 50 ticks (5 us)
    hpet.mmioWrite(0x10c, 4, 0);
    hpet.mmioWrite(0x10, 4, 3); // ENABLE_CNF | LEG_RT_CNF
    advance(m, 20_000);
    const irr = d.platform.lapics[0].mmioRead(0x200 + 0x10 * (0x50 >> 5), 4);
    expect((irr >>> (0x50 & 31)) & 1).toBe(1);
  });
});
