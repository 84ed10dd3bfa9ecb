// The -s platform builder (src/machine/pci-platform.ts) on a real Machine: the bhyve emulations'
// identities, firmware resource assignment, INTx routing, the BarMapper against the port bus and
// memory map (hostile BAR placement), and the validation errors. Also PortIoBus.unregister and
// GuestMemory.removeMmio, which BAR remapping relies on.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../machine/machine.js';
import { buildPc } from '../../machine/pc.js';
import { barMapper, buildPciPlatform, PlatformError, type PciSlotSpec } from '../../machine/pci-platform.js';
import { PortIoBus } from '../../machine/io-bus.js';
import { GuestMemory } from '../../machine/memory.js';
import { PCI_IO_BASE, PIRQ_ISA_IRQS, pciIntxGsi, pciIntxIsaIrq } from '../../machine/platform-layout.js';
import * as R from './pci-config.js';
import { TestFunction } from './test-function.js';
import { RecordingInterrupts } from './test-function.js';

/** pc-testdev decodes 0x2000-0x2017 (its irq-line ports), so the first 8-port BAR goes to 0x2018. */
const FIRST_FREE_IO = PCI_IO_BASE + 0x18;

function spec(arg: string): PciSlotSpec {
  const [where, emulation, ...rest] = arg.split(',');
  const n = where.split(':').map(Number);
  const [bus, slot, fn] = n.length === 3 ? n : n.length === 2 ? [0, n[0], n[1]] : [0, n[0], 0];
  return { bus, slot, function: fn, emulation, conf: rest.length ? rest.join(',') : null, arg };
}

function machine() {
  const m = new Machine({ memoryBytes: 16 << 20, vcpus: 1, unhandledIo: 'ignore', ignoreUnknownMsrs: false, exitOnPause: false, personalities: [] });
  buildPc(m, {});
  return m;
}

function build(args: string[]) {
  const m = machine();
  const irqs: [number, number, boolean, boolean][] = [];
  const out: [string, number][] = [];
  const p = buildPciPlatform(m, {
    slots: args.map(spec), vmname: 'vm', rng: { nextBytes: (n) => new Uint8Array(n) },
    hostInput: (_d, data) => data, hostOutput: (d, data) => out.push([d, data[0]]),
    irq: (gsi, isa, level, isaLevel) => irqs.push([gsi, isa, level, isaLevel]), msi: () => {},
  });
  const cfg = (bus: number, dev: number, fn: number, reg: number, size = 4) => {
    m.io.handlerFor(0xcf8)!.ioWrite(0xcf8, 4, (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0);
    return m.io.handlerFor(0xcfc)!.ioRead(0xcfc + (reg & 3), size) >>> 0;
  };
  const cfgw = (bus: number, dev: number, fn: number, reg: number, size: number, v: number) => {
    m.io.handlerFor(0xcf8)!.ioWrite(0xcf8, 4, (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0);
    m.io.handlerFor(0xcfc)!.ioWrite(0xcfc + (reg & 3), size, v);
  };
  return { m, p, irqs, out, cfg, cfgw };
}

describe('bhyve emulations', () => {
  it('hostbridge, amd_hostbridge, lpc and uart identify as bhyve\'s (vendor:device, class)', () => {
    const { cfg } = build(['0,hostbridge', '1,amd_hostbridge', '31,lpc', '3,uart']);
    expect(cfg(0, 0, 0, 0)).toBe(0x1275_1275);
    expect(cfg(0, 0, 0, R.PCI_REVISION_ID) >>> 8).toBe(0x060000); // bridge, host
    expect(cfg(0, 1, 0, 0)).toBe(0x7432_1022);
    expect(cfg(0, 31, 0, 0)).toBe(0x7000_8086);
    expect(cfg(0, 31, 0, R.PCI_REVISION_ID) >>> 8).toBe(0x060100); // bridge, ISA
    expect(cfg(0, 3, 0, 0)).toBe(0x2000_131f);
    expect(cfg(0, 3, 0, R.PCI_REVISION_ID) >>> 8).toBe(0x070000); // simple communications, 16550
    expect(cfg(0, 2, 0, 0)).toBe(0xffff_ffff);
  });

  it('hostbridge carries a PCI Express root-port capability (PCIe 3.0, 7.8.2: type 4, version 2)', () => {
    const { cfg } = build(['0,hostbridge']);
    const p = cfg(0, 0, 0, R.PCI_CAPABILITY_LIST) & 0xff;
    expect(cfg(0, 0, 0, p, 1)).toBe(R.PCI_CAP_ID_PCIE);
    expect(cfg(0, 0, 0, p) >>> 16).toBe(0x0042);
    expect(cfg(0, 0, 0, p + 1, 1)).toBe(0); // the only capability
  });

  it('hostbridge vendor=/devid= override the ids (bhyve conf)', () => {
    const { cfg } = build(['0,hostbridge,vendor=0x8086,devid=4660']);
    expect(cfg(0, 0, 0, 0)).toBe(0x1234_8086);
  });

  it('lpc PIRQ route registers report the platform routing and ignore writes', () => {
    const { cfg, cfgw } = build(['31,lpc']);
    expect(cfg(0, 31, 0, 0x60)).toBe((PIRQ_ISA_IRQS[0] | (PIRQ_ISA_IRQS[1] << 8) | (PIRQ_ISA_IRQS[2] << 16) | (PIRQ_ISA_IRQS[3] << 24)) >>> 0);
    expect(cfg(0, 31, 0, 0x68)).toBe((PIRQ_ISA_IRQS[4] | (PIRQ_ISA_IRQS[5] << 8) | (PIRQ_ISA_IRQS[6] << 16) | (PIRQ_ISA_IRQS[7] << 24)) >>> 0);
    cfgw(0, 31, 0, 0x60, 1, 0x80);
    expect(cfg(0, 31, 0, 0x60, 1)).toBe(PIRQ_ISA_IRQS[0]);
  });

  it('uart: I/O BAR assigned and decoded by firmware, registers reachable, INTx routed by the swizzle', () => {
    const { m, cfg, out, irqs } = build(['3,uart,stdio']);
    const bar = cfg(0, 3, 0, R.PCI_BAR0);
    expect(bar).toBe(FIRST_FREE_IO | 1);
    expect(cfg(0, 3, 0, R.PCI_COMMAND, 2) & R.PCI_COMMAND_IO).toBe(R.PCI_COMMAND_IO);
    expect(cfg(0, 3, 0, R.PCI_INTERRUPT_PIN, 1)).toBe(1);
    expect(cfg(0, 3, 0, R.PCI_INTERRUPT_LINE, 1)).toBe(pciIntxIsaIrq(3, 0));
    const port = bar & ~3;
    m.io.handlerFor(port)!.ioWrite(port, 1, 0x41); // THR
    expect(out).toEqual([['uart@00:03.0', 0x41]]);
    m.io.handlerFor(port + 7)!.ioWrite(port + 7, 1, 0x5a); // SCR
    expect(m.io.handlerFor(port + 7)!.ioRead(port + 7, 1)).toBe(0x5a);
    m.io.handlerFor(port + 4)!.ioWrite(port + 4, 1, 0x08); // MCR.OUT2
    m.io.handlerFor(port + 1)!.ioWrite(port + 1, 1, 0x02); // IER.ETBEI: THR empty interrupt
    expect(irqs).toEqual([[pciIntxGsi(3, 0), pciIntxIsaIrq(3, 0), true, true]]);
    expect(cfg(0, 3, 0, R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT).toBe(R.PCI_STATUS_INTERRUPT);
  });

  it('INTx pins are wired-OR per GSI and per PIC IRQ (PIRQ lines share ISA IRQs)', () => {
    // Slots 0 and 3, INTA#: GSIs 16 and 19, both steered to the same PIC IRQ (PIRQ_ISA_IRQS[0] = [3]).
    expect(pciIntxIsaIrq(0, 0)).toBe(pciIntxIsaIrq(3, 0));
    const { m, cfg, irqs } = build(['0,uart', '3,uart']);
    const raise = (dev: number, on: boolean) => {
      const port = cfg(0, dev, 0, R.PCI_BAR0) & ~3;
      m.io.handlerFor(port + 4)!.ioWrite(port + 4, 1, 0x08); // MCR.OUT2
      m.io.handlerFor(port + 1)!.ioWrite(port + 1, 1, on ? 0x02 : 0); // IER.ETBEI
    };
    const g0 = pciIntxGsi(0, 0);
    const g3 = pciIntxGsi(3, 0);
    const isa = pciIntxIsaIrq(0, 0);
    raise(0, true);
    raise(3, true);
    raise(0, false);
    raise(3, false);
    expect(irqs).toEqual([[g0, isa, true, true], [g3, isa, true, true], [g0, isa, false, true], [g3, isa, false, false]]);
  });

  it('BARs are placed in slot order with natural alignment whatever the option order; multi-function slots', () => {
    const { cfg, p } = build(['5,uart', '4:1,uart', '4:0,uart']);
    expect(cfg(0, 4, 0, R.PCI_BAR0)).toBe(FIRST_FREE_IO | 1);
    expect(cfg(0, 4, 1, R.PCI_BAR0)).toBe((FIRST_FREE_IO + 8) | 1);
    expect(cfg(0, 5, 0, R.PCI_BAR0)).toBe((FIRST_FREE_IO + 16) | 1);
    // Header Type bit 7 on the functions of slot 4, not on slot 5 (bhyve).
    expect(cfg(0, 4, 0, R.PCI_HEADER_TYPE, 1)).toBe(0x80);
    expect(cfg(0, 4, 1, R.PCI_HEADER_TYPE, 1)).toBe(0x80);
    expect(cfg(0, 5, 0, R.PCI_HEADER_TYPE, 1)).toBe(0);
    // Pins: the least used of the slot (INTA#, then INTB#).
    expect(cfg(0, 4, 0, R.PCI_INTERRUPT_PIN, 1)).toBe(1);
    expect(cfg(0, 4, 1, R.PCI_INTERRUPT_PIN, 1)).toBe(2);
    expect(p.intxRoutes).toEqual([
      { bus: 0, slot: 4, pin: 1, gsi: pciIntxGsi(4, 0), isaIrq: pciIntxIsaIrq(4, 0) },
      { bus: 0, slot: 4, pin: 2, gsi: pciIntxGsi(4, 1), isaIrq: pciIntxIsaIrq(4, 1) },
      { bus: 0, slot: 5, pin: 1, gsi: pciIntxGsi(5, 0), isaIrq: pciIntxIsaIrq(5, 0) },
    ]);
    expect(p.functions.map((f) => `${f.slot}.${f.function}`)).toEqual(['4.0', '4.1', '5.0']);
  });

  it('the guest moving a BAR onto COM1 or the config ports is refused; moving it back works', () => {
    const { m, cfg, cfgw } = build(['3,uart']);
    cfgw(0, 3, 0, R.PCI_BAR0, 4, 0x3f8);
    expect(m.io.nameOf(0x3f8)).toBe('com1');
    expect(m.io.nameOf(FIRST_FREE_IO)).toBeNull(); // the old range is gone
    cfgw(0, 3, 0, R.PCI_BAR0, 4, 0xcf8);
    expect(m.io.nameOf(0xcfc)).toBe('pci-config-data');
    expect(cfg(0, 3, 0, 0)).toBe(0x2000_131f); // mechanism #1 still works
    cfgw(0, 3, 0, R.PCI_BAR0, 4, 0x3000);
    expect(m.io.nameOf(0x3000)).toBe('uart@00:03.0 BAR0');
    cfgw(0, 3, 0, R.PCI_BAR0, 4, 0xffff_ffff); // sizing while decoding: 0xfffffff8 is above port space
    expect(m.io.nameOf(0x3000)).toBeNull();
  });

  it('saveState is JSON-plain and names every function', () => {
    const { p } = build(['0,hostbridge', '3,uart']);
    const s = JSON.parse(JSON.stringify(p.saveState()));
    expect(Object.keys(s.functions)).toEqual(['00:00.0', '00:03.0']);
    expect(s.functions['00:03.0'].uart).toBeTruthy();
  });

  it('memory BARs: never over RAM, the APICs or the HPET; moved and unmapped with the decode bit', () => {
    const m = machine();
    const mapper = barMapper(m);
    const f = new TestFunction();
    f.attach({ mapper, interrupts: new RecordingInterrupts() });
    f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    for (const base of [0, 0x1000, (16 << 20) - 4096, 0xfec0_0000, 0xfed0_0000, 0xfee0_0000, 0xffff_f000]) {
      f.cfgWrite(R.PCI_BAR0 + 4, 4, base);
      const expected = base >= 16 << 20 && base !== 0xfec0_0000 && base !== 0xfed0_0000 && base !== 0xfee0_0000 ? base : -1;
      expect(f.barMappedAt(1)).toBe(expected);
    }
    f.cfgWrite(R.PCI_BAR0 + 4, 4, 0xe000_0000);
    expect(m.mem.findMmio(0xe000_0010)?.name).toBe('test BAR1');
    f.regs[4] = 0x1234;
    expect(m.mem.physRead(0xe000_0010, 4)).toBe(0x1234);
    f.cfgWrite(R.PCI_COMMAND, 2, 0);
    expect(m.mem.findMmio(0xe000_0010)).toBeNull();
    expect(m.mem.physRead(0xe000_0010, 4)).toBe(-1);
  });
});

describe('validation: one line naming the option, before the guest starts', () => {
  const bad: [string[], RegExp][] = [
    [['3,uart', '3,hostbridge'], /^-s 3,hostbridge: PCI slot 0:3:0 is already occupied by -s 3,uart$/],
    [['32,uart'], /^-s 32,uart: PCI slot 32 is out of range 0-31$/],
    [['3:8,uart'], /^-s 3:8,uart: PCI function 8 is out of range 0-7$/],
    [['256:0:0,uart'], /^-s 256:0:0,uart: PCI bus 256 is out of range 0-255$/],
    [['3,virtio-scsi'], /^-s 3,virtio-scsi: PCI device emulation virtio-scsi is not supported by hvsim$/],
    [['3,frobnicator'], /^-s 3,frobnicator: PCI device emulation frobnicator is not supported/],
    [['3,ahci-hd,/tmp/disk'], /^-s 3,ahci-hd,\/tmp\/disk: PCI device emulation ahci-hd is not supported: /],
    [['3,passthru,1/0/0'], /^-s 3,passthru,1\/0\/0: PCI device emulation passthru is not supported: /],
    [['1:31:0,lpc'], /^-s 1:31:0,lpc: the LPC bridge can only be on bus 0$/],
    [['30,lpc', '31,lpc'], /^-s 31,lpc: only one LPC bridge is allowed \(already -s 30,lpc\)$/],
    [['31,lpc,com1'], /^-s 31,lpc,com1: lpc takes no options/],
    [['3,uart,/dev/nmdm0A'], /^-s 3,uart,\/dev\/nmdm0A: uart backend/],
    [['0,hostbridge,vendor=0x12345'], /^-s 0,hostbridge,vendor=0x12345: invalid vendor/],
    [['0,hostbridge,speed=9'], /^-s 0,hostbridge,speed=9: unknown hostbridge option/],
  ];
  for (const [args, msg] of bad) {
    it(args.join(' '), () => {
      let err: unknown = null;
      try {
        build(args);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PlatformError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('a full bus (32 slots x 8 functions) gets distinct, aligned, non-overlapping I/O BARs', () => {
    const args = Array.from({ length: 32 }, (_, s) => Array.from({ length: 8 }, (_, f) => `${s}:${f},uart`)).flat();
    const { p } = build(args);
    const bases = p.functions.map((f) => f.fn.barAddress(0));
    expect(new Set(bases).size).toBe(256);
    expect(bases.every((b, i) => b % 8 === 0 && (i === 0 || b > bases[i - 1]))).toBe(true);
    expect(p.functions.every((f) => f.fn.barMappedAt(0) === f.fn.barAddress(0))).toBe(true);
  });
});

describe('PortIoBus.unregister and GuestMemory.removeMmio', () => {
  it('unregister frees exactly the registered range and keeps the others', () => {
    const bus = new PortIoBus();
    const h = { ioRead: () => 1, ioWrite: () => {} };
    const g = { ioRead: () => 2, ioWrite: () => {} };
    bus.register(0x100, 8, h, 'a');
    bus.register(0x200, 4, g, 'b');
    expect(bus.unregister(0x100, 4)).toBe(false);
    expect(bus.unregister(0x100, 8)).toBe(true);
    expect(bus.handlerFor(0x104)).toBeNull();
    expect(bus.handlerFor(0x203)).toBe(g);
    bus.register(0x100, 2, g, 'c');
    expect(bus.nameOf(0x101)).toBe('c');
    expect(bus.ranges.map((r) => r.name)).toEqual(['b', 'c']);
  });

  it('removeMmio unmaps the window at base; other windows stay', () => {
    const mem = new GuestMemory(1 << 20);
    const h = { mmioRead: () => 7, mmioWrite: () => {} };
    mem.addMmio(0xe000_0000, 0x1000, h, 'x');
    mem.addMmio(0xe000_1000, 0x1000, h, 'y');
    expect(mem.removeMmio(0xe000_0800)).toBe(false);
    expect(mem.removeMmio(0xe000_0000)).toBe(true);
    expect(mem.findMmio(0xe000_0000)).toBeNull();
    expect(mem.findMmio(0xe000_1000)?.name).toBe('y');
    mem.addMmio(0xe000_0000, 0x1000, h, 'z');
    expect(mem.findMmio(0xe000_0004)?.name).toBe('z');
  });
});
