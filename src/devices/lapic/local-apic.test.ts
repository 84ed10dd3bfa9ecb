// Local APIC registers, priorities, EOI, ICR and destinations against Intel SDM vol. 3A ch. 11.

import { describe, expect, it } from 'vitest';
import { LAPIC_TIMER_HZ } from '../../machine/platform-layout.js';
import { APIC_TIMER_HZ } from './lapic-timer.js';
import { makeApic } from './test-harness.js';

describe('local APIC: power-on state and register masks', () => {
  it('comes up as a BIOS leaves it: enabled, SVR 0x1ff, virtual wire on the BSP (MP spec 3.6.2.2)', () => {
    const { rd, rdmsr } = makeApic({ id: 0, bsp: true });
    expect(rdmsr(0x1b)).toEqual({ r: 'ok', lo: 0xfee00900, hi: 0 }); // EN | BSP, base 0xfee00000 (11.4.4)
    expect(rd(0x20)).toBe(0);
    expect(rd(0x30)).toBe(0x50014); // 11.4.8: version 0x14, max LVT 5, no EOI-broadcast suppression
    expect(rd(0xf0)).toBe(0x1ff);
    expect(rd(0xe0)).toBe(0xffffffff); // 11.4.7.1: DFR all ones
    expect(rd(0x350)).toBe(0x700); // LINT0 ExtINT, unmasked
    expect(rd(0x360)).toBe(0x400); // LINT1 NMI
    for (const off of [0x320, 0x330, 0x340, 0x370]) expect(rd(off)).toBe(0x10000);
  });

  it('APs: their own ID, no BSP flag, LINT0 masked', () => {
    const { rd, rdmsr } = makeApic({ id: 5, bsp: false, extInt: null });
    expect(rdmsr(0x1b).lo).toBe(0xfee00800);
    expect(rd(0x20)).toBe(5 << 24);
    expect(rd(0x350) & 0x10000).toBe(0x10000);
    expect(rd(0x360)).toBe(0x400);
  });

  it('the timer input clock is the platform one', () => {
    expect(APIC_TIMER_HZ).toBe(LAPIC_TIMER_HZ);
  });

  it('keeps only the defined bits of each register (11.4, figures 11-8..11-14, 11-23)', () => {
    const { rd, wr } = makeApic();
    const all = 0xffffffff;
    const cases: Array<[number, number]> = [
      [0x20, 0xff000000], // ID bits 31:24
      [0x80, 0xff], // TPR
      [0xd0, 0xff000000], // LDR
      [0xf0, 0x3ff], // SVR: vector, enable, focus (bit 12 reserved: no EOI-broadcast suppression)
      [0x310, 0xff000000], // ICR high
      [0x320, 0x700ff], // LVT timer: vector, mask, mode
      [0x330, 0x107ff], // thermal
      [0x340, 0x107ff], // performance
      [0x350, 0x1a7ff], // LINT0 (no delivery status, no remote IRR)
      [0x360, 0x1a7ff], // LINT1
      [0x370, 0x100ff], // error
      [0x3e0, 0xb], // divide configuration
    ];
    for (const [off, mask] of cases) {
      wr(off, all);
      expect(rd(off), `offset ${off.toString(16)}`).toBe(mask);
    }
    wr(0xe0, 0);
    expect(rd(0xe0)).toBe(0x0fffffff); // DFR: model 0 (cluster), bits 27:0 read as ones
  });

  it('ignores writes to read-only registers in xAPIC mode', () => {
    const { rd, wr, fixed } = makeApic();
    fixed(0x40);
    for (const off of [0x30, 0x90, 0xa0, 0xc0, 0x100, 0x180, 0x200, 0x220, 0x390]) wr(off, 0xffffffff);
    expect(rd(0x30)).toBe(0x50014);
    expect(rd(0xa0)).toBe(0);
    expect(rd(0x220)).toBe(1); // IRR bit 0x40
    expect(rd(0x100)).toBe(0);
  });

  it('ICR delivery status always reads idle; ICR low keeps its defined bits', () => {
    const { rd, wr } = makeApic();
    wr(0x310, 0x01000000);
    wr(0x300, 0xffffffff);
    expect(rd(0x300)).toBe(0xccfff);
  });
});

describe('local APIC: priorities and EOI (11.8)', () => {
  it('TPR blocks interrupts of its class and below', () => {
    const { apic, wr, rd, fixed } = makeApic();
    wr(0x80, 0x50);
    fixed(0x45);
    fixed(0x5f);
    expect(apic.hasInterrupt()).toBe(false);
    expect(rd(0xa0)).toBe(0x50);
    fixed(0x61);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x61);
    expect(rd(0xa0)).toBe(0x60); // PPR = ISRV class above the TPR
    wr(0x80, 0x72);
    expect(rd(0xa0)).toBe(0x72); // PPR = TPR when its class is at least the ISRV class
  });

  it('CR8 is TPR[7:4] (11.8.6.1)', () => {
    const { apic, wr, rd, fixed } = makeApic();
    wr(0x80, 0x5a);
    expect(apic.readCr8()).toBe(5);
    apic.writeCr8(0x13);
    expect(rd(0x80)).toBe(0x30);
    fixed(0x35);
    expect(apic.hasInterrupt()).toBe(false);
    apic.writeCr8(2);
    expect(apic.hasInterrupt()).toBe(true);
  });

  it('serves the highest vector first; a lower class waits for the EOI, a higher one nests', () => {
    const { apic, wr, rd, fixed } = makeApic();
    fixed(0x30);
    fixed(0x40);
    expect(apic.acknowledge()).toBe(0x40);
    expect(rd(0x100 + 0x20)).toBe(1); // ISR bit 0x40
    expect(apic.hasInterrupt()).toBe(false); // 0x30 is below the in-service class
    fixed(0x51);
    expect(apic.acknowledge()).toBe(0x51); // nests
    wr(0xb0, 0); // EOI retires 0x51 (the highest in service)
    expect(rd(0x100 + 0x20)).toBe(1);
    expect(rd(0x100 + 0x50)).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
    wr(0xb0, 0);
    expect(apic.acknowledge()).toBe(0x30);
  });

  it('a vector in the same class as the one in service waits (priority is by class)', () => {
    const { apic, fixed } = makeApic();
    fixed(0x41);
    expect(apic.acknowledge()).toBe(0x41);
    fixed(0x4f);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('acknowledge with nothing deliverable returns the spurious vector and sets no ISR bit (11.9)', () => {
    const { apic, wr, rd } = makeApic({ extInt: null });
    wr(0xf0, 0x1ef);
    expect(apic.acknowledge()).toBe(0xef);
    for (let i = 0; i < 8; i++) expect(rd(0x100 + i * 16)).toBe(0);
  });

  it('records the trigger mode in the TMR; the EOI of a level interrupt is passed on, an edge one is not', () => {
    const { apic, eois, rd, fixed, serviceOne } = makeApic();
    fixed(0x41, true);
    expect(rd(0x180 + 0x20)).toBe(2);
    expect(serviceOne()).toBe(0x41);
    expect(eois).toEqual([0x41]);
    fixed(0x41, false);
    expect(rd(0x180 + 0x20)).toBe(0);
    expect(serviceOne()).toBe(0x41);
    expect(eois).toEqual([0x41]);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('an EOI with nothing in service does nothing', () => {
    const { eois, wr, kicks } = makeApic();
    const k = kicks();
    wr(0xb0, 0);
    expect(eois).toEqual([]);
    expect(kicks()).toBe(k);
  });

  it('never sets IRR bits 0-15: a received illegal vector is logged in the ESR (11.5.3)', () => {
    const { apic, rd, wr, fixed } = makeApic();
    fixed(5);
    expect(apic.hasInterrupt()).toBe(false);
    expect(rd(0x200)).toBe(0);
    expect(rd(0x280)).toBe(0); // nothing latched until the ESR is written
    wr(0x280, 0);
    expect(rd(0x280)).toBe(0x40);
    wr(0x280, 0);
    expect(rd(0x280)).toBe(0);
  });

  it('raises the LVT error interrupt on an error unless it is masked', () => {
    const { apic, wr, fixed } = makeApic();
    fixed(3);
    expect(apic.hasInterrupt()).toBe(false); // LVT error masked at power-on
    wr(0x370, 0xfe);
    fixed(3);
    expect(apic.acknowledge()).toBe(0xfe);
  });

  it('logs an illegal register address for reserved xAPIC offsets (11.5.3)', () => {
    const { rd, wr } = makeApic();
    expect(rd(0x2f0)).toBe(0); // no CMCI LVT (max LVT 5)
    expect(rd(0x3f0)).toBe(0); // SELF IPI is x2APIC only
    wr(0x280, 0);
    expect(rd(0x280)).toBe(0x80);
  });

  it('APR: the TPR when above the pending and in-service classes, else the highest class (11.6.2.4)', () => {
    const { apic, wr, fixed } = makeApic();
    wr(0x80, 0x35);
    expect(apic.arbitrationPriority()).toBe(0x35);
    fixed(0x62);
    expect(apic.arbitrationPriority()).toBe(0x60);
  });
});

describe('local APIC: software disable and INIT (11.4.7)', () => {
  it('SVR bit 8 clear masks every LVT, keeps them masked, and blocks fixed interrupts', () => {
    const { apic, rd, wr, fixed, signals } = makeApic();
    wr(0xf0, 0xff);
    for (let off = 0x320; off <= 0x370; off += 16) expect(rd(off) & 0x10000).toBe(0x10000);
    wr(0x320, 0x40);
    expect(rd(0x320)).toBe(0x10040);
    fixed(0x40);
    expect(apic.hasInterrupt()).toBe(false);
    // NMI, INIT and SIPI are still accepted.
    const msg = { vector: 0x9a, logical: false, dest: 0, levelTriggered: false, assert: true, shorthand: 0, source: 1 };
    apic.accept({ ...msg, deliveryMode: 4 });
    apic.accept({ ...msg, deliveryMode: 5 });
    apic.accept({ ...msg, deliveryMode: 6 });
    expect(signals).toEqual([['nmi', 2], ['init', 0], ['startup', 0x9a]]);
    wr(0xf0, 0x1ff);
    wr(0x320, 0x40);
    expect(rd(0x320)).toBe(0x40);
  });

  it('ignores an INIT level de-assert message (11.6.1)', () => {
    const { apic, signals } = makeApic();
    apic.accept({ vector: 0, deliveryMode: 5, logical: false, dest: 0, levelTriggered: true, assert: false, shorthand: 0, source: 1 });
    expect(signals).toEqual([]);
  });

  it('INIT resets everything but the APIC ID and base: SVR 0xff, LVTs masked, IRR/ISR clear (11.4.7.3)', () => {
    const { apic, rd, wr, fixed, rdmsr } = makeApic({ id: 2, bsp: false });
    wr(0x80, 0x20);
    wr(0xd0, 0x01000000);
    fixed(0x40);
    apic.acknowledge();
    fixed(0x50);
    apic.init();
    expect(rd(0x20)).toBe(2 << 24);
    expect(rdmsr(0x1b).lo).toBe(0xfee00800);
    expect(rd(0x80)).toBe(0);
    expect(rd(0xd0)).toBe(0);
    expect(rd(0xf0)).toBe(0xff);
    expect(rd(0x350)).toBe(0x10000);
    expect(rd(0x120)).toBe(0);
    expect(rd(0x220)).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
  });
});

describe('local APIC: the PIC behind LINT0 (virtual wire, MP spec 1.4 3.6.2.2)', () => {
  it('passes ExtINT through LINT0 and reports the origin', () => {
    const { apic, pic, fixed } = makeApic();
    pic.pending = 0x20;
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x20);
    expect(apic.lastAckWasExtInt).toBe(true);
    fixed(0x41);
    expect(apic.acknowledge()).toBe(0x41);
    expect(apic.lastAckWasExtInt).toBe(false);
  });

  it('a masked LINT0 blocks the PIC; a globally disabled APIC passes it straight through (11.4.3)', () => {
    const { apic, pic, wr } = makeApic();
    pic.pending = 0x21;
    wr(0x350, 0x10700);
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.wrmsr(0x1b, 0xfee00100, 0)).toBe('ok'); // EN = 0
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x21);
    expect(apic.lastAckWasExtInt).toBe(true);
  });

  it('an ExtINT bus message makes the next INTA go to the PIC', () => {
    const { apic, pic, wr } = makeApic();
    wr(0x350, 0x10700);
    pic.pending = 0x22;
    apic.accept({ vector: 0, deliveryMode: 7, logical: false, dest: 0, levelTriggered: false, assert: true, shorthand: 0, source: -1 });
    expect(apic.acknowledge()).toBe(0x22);
    pic.pending = 0x23;
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('LINT1 NMI on a rising edge; LINT fixed edge and level with remote IRR (11.5.1)', () => {
    const { apic, signals, wr, rd, eois, serviceOne } = makeApic();
    apic.setLint(1, true);
    apic.setLint(1, true);
    apic.setLint(1, false);
    expect(signals).toEqual([['nmi', 2]]);
    wr(0x360, 0x8051); // fixed, level, vector 0x51
    apic.setLint(1, true);
    expect(rd(0x360) & 0x4000).toBe(0x4000); // remote IRR
    expect(serviceOne()).toBe(0x51);
    expect(eois).toEqual([0x51]);
    // Still asserted after the EOI: delivered again.
    expect(apic.acknowledge()).toBe(0x51);
    apic.setLint(1, false);
    wr(0xb0, 0);
    expect(rd(0x360) & 0x4000).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
  });
});

describe('local APIC: ICR messages (11.6.1)', () => {
  it('builds one message per ICR low write, for each delivery mode', () => {
    const { wr, sent } = makeApic({ id: 1, bsp: false, extInt: null });
    wr(0x310, 0x03000000);
    wr(0x300, 0x00004031); // fixed, physical, assert, edge
    wr(0x300, 0x00004931); // lowest priority, logical
    wr(0x300, 0x00004400); // NMI
    wr(0x300, 0x0000c500); // INIT, level, assert
    wr(0x300, 0x00008500); // INIT level de-assert
    wr(0x300, 0x00004608); // StartUp, vector 8 (page 0x8000)
    const base = { logical: false, dest: 3, shorthand: 0, source: 1, assert: true, levelTriggered: false };
    expect(sent).toEqual([
      { ...base, vector: 0x31, deliveryMode: 0 },
      { ...base, vector: 0x31, deliveryMode: 1, logical: true },
      { ...base, vector: 0x00, deliveryMode: 4 },
      { ...base, vector: 0x00, deliveryMode: 5, levelTriggered: true },
      { ...base, vector: 0x00, deliveryMode: 5, levelTriggered: true, assert: false },
      { ...base, vector: 0x08, deliveryMode: 6 },
    ]);
  });

  it('the shorthands: self, all including self, all excluding self', () => {
    const { wr, sent } = makeApic({ id: 2, bsp: false, extInt: null });
    wr(0x310, 0x07000000);
    wr(0x300, 0x00044041);
    wr(0x300, 0x00084042);
    wr(0x300, 0x000c4500);
    expect(sent.map((m) => [m.shorthand, m.dest, m.vector, m.source])).toEqual([
      [1, 2, 0x41, 2],
      [2, 0xff, 0x42, 2],
      [3, 0xff, 0x00, 2],
    ]);
  });

  it('the source is the initial APIC ID even after the guest rewrote the xAPIC ID', () => {
    const { wr, sent } = makeApic({ id: 2, bsp: false, extInt: null });
    wr(0x20, 0x09000000);
    wr(0x300, 0x00044041);
    expect(sent.map((m) => [m.dest, m.source])).toEqual([[9, 2]]);
  });

  it('does not send a fixed IPI with an illegal vector: Send Illegal Vector (11.5.3)', () => {
    const { wr, rd, sent } = makeApic();
    wr(0x300, 0x0000400f);
    expect(sent).toEqual([]);
    wr(0x280, 0);
    expect(rd(0x280)).toBe(0x20);
  });

  it('sends nothing for reserved delivery modes and SMI', () => {
    const { wr, sent } = makeApic();
    wr(0x300, 0x4340);
    wr(0x300, 0x4740);
    wr(0x300, 0x4240);
    expect(sent).toEqual([]);
  });
});

describe('local APIC: destination matching (11.6.2)', () => {
  it('physical: own ID or broadcast 0xff', () => {
    const { apic } = makeApic({ id: 3, bsp: false });
    expect(apic.matches(false, 3)).toBe(true);
    expect(apic.matches(false, 4)).toBe(false);
    expect(apic.matches(false, 0xff)).toBe(true);
  });

  it('flat logical: any common bit of the 8-bit logical ID (11.6.2.2)', () => {
    const { apic, wr } = makeApic();
    wr(0xd0, 0x04000000);
    expect(apic.matches(true, 0x04)).toBe(true);
    expect(apic.matches(true, 0x0c)).toBe(true);
    expect(apic.matches(true, 0x08)).toBe(false);
    expect(apic.matches(true, 0xff)).toBe(true);
  });

  it('cluster logical: same cluster (bits 7:4) and a common member bit', () => {
    const { apic, wr } = makeApic();
    wr(0xe0, 0x0fffffff);
    wr(0xd0, 0x21000000);
    expect(apic.matches(true, 0x21)).toBe(true);
    expect(apic.matches(true, 0x23)).toBe(true);
    expect(apic.matches(true, 0x11)).toBe(false);
    expect(apic.matches(true, 0x22)).toBe(false);
  });

  it('a globally disabled APIC matches nothing', () => {
    const { apic } = makeApic();
    apic.wrmsr(0x1b, 0xfee00100, 0);
    expect(apic.matches(false, 0)).toBe(false);
    expect(apic.matches(false, 0xff)).toBe(false);
  });
});

describe('local APIC: state', () => {
  it('saveState/loadState round-trips every register through JSON', () => {
    const a = makeApic({ id: 3, bsp: false, extInt: null });
    a.apic.wrmsr(0x1b, 0xfee00c00, 0); // x2APIC
    a.apic.wrmsr(0x808, 0x20, 0);
    a.apic.wrmsr(0x835, 0x8051, 0);
    a.fixed(0x41, true);
    a.fixed(0x62);
    a.apic.acknowledge();
    a.fixed(0x3, false); // an error for the ESR
    const b = makeApic({ id: 3, bsp: false, extInt: null });
    b.apic.loadState(JSON.parse(JSON.stringify(a.apic.saveState())));
    expect(b.apic.saveState()).toEqual(a.apic.saveState());
    expect(b.apic.x2apicMode).toBe(true);
    expect(b.rdmsr(0x80d).lo).toBe(a.rdmsr(0x80d).lo);
    b.apic.wrmsr(0x80b, 0, 0);
    expect(b.apic.acknowledge()).toBe(0x41);
  });
});
