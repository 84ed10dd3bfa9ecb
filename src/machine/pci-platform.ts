// The PCI platform bhyve builds from its `-s` options: a mechanism #1 host (0xcf8/0xcfc), the
// functions the emulation registry makes, and the resources firmware would assign (no BIOS runs,
// so this is the firmware, as bhyve's own PCI setup is):
// - BARs placed in slot order (bus, slot, function, then BAR index), each naturally aligned,
//   I/O in [PCI_IO_BASE, PCI_IO_LIMIT), 32-bit memory in [PCI_MMIO_BASE, PCI_MMIO_LIMIT), skipping
//   ranges another device already decodes (pc-testdev has 0x2000-0x2017); COMMAND's
//   I/O and memory decode bits set for the kinds of BAR a function has (bus mastering is left to
//   the guest's driver).
// - INTx: a function's pin is chosen as bhyve does (the least used pin of its slot, INTA# first);
//   pin p of slot s goes to IOAPIC GSI pciIntxGsi(s, p) and PIC IRQ pciIntxIsaIrq(s, p); Interrupt
//   Line holds the PIC IRQ. Pins sharing a GSI or a PIC IRQ are wired-OR: opts.irq gets both ORs.
// - Header Type bit 7 on every function of a slot with more than one function (bhyve).
// - MSI/MSI-X writes become APIC messages (msiToApicMessage); a message write outside the
//   interrupt range is an ordinary DMA write to guest RAM (dropped outside RAM).
// Configuration errors throw PlatformError (one line naming the option) before the guest runs.

import type { DeviceState } from '../devices/device.js';
import type { PortHandler } from './io-bus.js';
import type { MmioHandler } from './memory.js';
import type { ApicMessage } from './irq.js';
import type { Machine } from './machine.js';
import { deviceClock } from './pc.js';
import {
  HPET_BASE, HPET_SIZE, IOAPIC_BASE, IOAPIC_SIZE, LAPIC_BASE, LAPIC_SIZE, PCI_CONFIG_ADDRESS,
  PCI_IO_BASE, PCI_IO_LIMIT, PCI_MMIO_BASE, PCI_MMIO_LIMIT, pciIntxGsi, pciIntxIsaIrq,
} from './platform-layout.js';
import {
  PCI_BAR0, PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_INTERRUPT_LINE, PciHost, msiToApicMessage,
  type BarMapper, type PciFunction, type PciInterrupts,
} from '../devices/pci/index.js';
import { PCI_EMULATION_FACTORIES, PCI_EMULATIONS_UNSUPPORTED, type PciEmulationContext } from './pci-emulations.js';

/** A configuration the machine cannot build; the message is one line naming the option. */
export class PlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformError';
  }
}

/** One -s option (the fields of the CLI's PciSlotConfig). */
export interface PciSlotSpec {
  bus: number;
  slot: number;
  function: number;
  emulation: string;
  conf: string | null;
  arg: string;
}

export interface PciPlatformOptions {
  slots: PciSlotSpec[];
  vmname: string;
  rng: { nextBytes(n: number): Uint8Array };
  hostInput(device: string, data: Uint8Array): Uint8Array;
  hostOutput(device: string, data: Uint8Array): void;
  /**
   * A PCI interrupt line changed. `level` is the wired-OR of the INTx# pins on IOAPIC input
   * `gsi`; `isaLevel` the OR of all pins steered to PIC input `isaIrq` (several PIRQ lines share
   * one ISA IRQ: PIRQ_ISA_IRQS), which can differ when other GSIs share that ISA IRQ. Called when
   * either changes.
   */
  irq(gsi: number, isaIrq: number, level: boolean, isaLevel: boolean): void;
  msi(msg: ApicMessage): void;
  /** A replay: devices use the trace instead of host files (PciEmulationContext.replay). */
  replay?: { blkSizes: Readonly<Record<string, number>> };
}

export interface PciPlatformFunction {
  bus: number;
  slot: number;
  function: number;
  emulation: string;
  fn: PciFunction;
}

export interface IntxRoute {
  bus: number;
  slot: number;
  /** 1-4: INTA#-INTD#. */
  pin: number;
  gsi: number;
  isaIrq: number;
}

export interface PciPlatform {
  host: PciHost;
  functions: PciPlatformFunction[];
  /** The INTx routes in use (for the MP table and the DSDT's _PRT), in slot order. */
  intxRoutes: IntxRoute[];
  saveState(): DeviceState;
  loadState(state: DeviceState): void;
}

/** Memory windows of the platform a BAR may never cover (the APICs and the HPET). */
const FIXED_MMIO: readonly { base: number; size: number }[] = [
  { base: IOAPIC_BASE, size: IOAPIC_SIZE },
  { base: HPET_BASE, size: HPET_SIZE },
  { base: LAPIC_BASE, size: LAPIC_SIZE },
];

/** How BARs reach the machine's port bus and memory map (exported for tests). */
export function barMapper(m: Machine): BarMapper {
  return {
    mapIo(base, size, handler, name) {
      if (!(base >= 0 && base + size <= 0x1_0000)) return false;
      const ports: PortHandler = {
        ioRead: (port, s) => handler.read(port - base, s),
        ioWrite: (port, s, v) => handler.write(port - base, s, v),
      };
      try {
        m.io.register(base, size, ports, name);
        return true;
      } catch {
        return false; // overlaps another device's ports: the BAR stays unmapped
      }
    },
    unmapIo(base, size) {
      m.io.unregister(base, size);
    },
    mapMem(base, size, handler, name) {
      // Never over RAM (the chipset decodes RAM first) nor the fixed platform windows.
      if (base < m.mem.size || base + size > 0x1_0000_0000) return false;
      if (FIXED_MMIO.some((w) => base < w.base + w.size && w.base < base + size)) return false;
      const mmio: MmioHandler = {
        mmioRead: (off, s) => handler.read(off, s),
        mmioWrite: (off, s, v) => handler.write(off, s, v),
      };
      try {
        m.mem.addMmio(base, size, mmio, name);
        return true;
      } catch {
        return false;
      }
    },
    unmapMem(base) {
      m.mem.removeMmio(base);
    },
  };
}

function validateSpec(spec: PciSlotSpec, built: PciSlotSpec[]): void {
  const fail = (what: string): never => {
    throw new PlatformError(`-s ${spec.arg}: ${what}`);
  };
  const ok = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
  if (!ok(spec.bus, 255)) fail(`PCI bus ${spec.bus} is out of range 0-255`);
  if (!ok(spec.slot, 31)) fail(`PCI slot ${spec.slot} is out of range 0-31`);
  if (!ok(spec.function, 7)) fail(`PCI function ${spec.function} is out of range 0-7`);
  const taken = built.find((s) => s.bus === spec.bus && s.slot === spec.slot && s.function === spec.function);
  if (taken) fail(`PCI slot ${spec.bus}:${spec.slot}:${spec.function} is already occupied by -s ${taken.arg}`);
  const unsupported = PCI_EMULATIONS_UNSUPPORTED[spec.emulation];
  if (unsupported !== undefined) fail(`PCI device emulation ${spec.emulation} is not supported: ${unsupported}`);
  if (!Object.prototype.hasOwnProperty.call(PCI_EMULATION_FACTORIES, spec.emulation)) fail(`PCI device emulation ${spec.emulation} is not supported by hvsim`);
  if (spec.emulation === 'lpc') {
    const other = built.find((s) => s.emulation === 'lpc');
    if (other) fail(`only one LPC bridge is allowed (already -s ${other.arg})`);
  }
}

export function buildPciPlatform(m: Machine, opts: PciPlatformOptions): PciPlatform {
  const clock = deviceClock(m);
  const host = new PciHost({ configAddressPort: PCI_CONFIG_ADDRESS, mapper: barMapper(m) });

  // 1. Validate and build every function before touching the machine.
  const built: PciSlotSpec[] = [];
  const functions: (PciPlatformFunction & { spec: PciSlotSpec })[] = [];
  for (const spec of opts.slots) {
    validateSpec(spec, built);
    const ctx: PciEmulationContext = {
      bus: spec.bus, slot: spec.slot, function: spec.function, conf: spec.conf, arg: spec.arg, vmname: opts.vmname,
      mem: m.mem, clock, rng: opts.rng, hostInput: opts.hostInput, hostOutput: opts.hostOutput, replay: opts.replay,
    };
    const made = PCI_EMULATION_FACTORIES[spec.emulation](ctx);
    if ('error' in made) throw new PlatformError(`-s ${spec.arg}: ${made.error}`);
    built.push(spec);
    functions.push({ bus: spec.bus, slot: spec.slot, function: spec.function, emulation: spec.emulation, fn: made, spec });
  }
  functions.sort((a, b) => (a.bus - b.bus) || (a.slot - b.slot) || (a.function - b.function));

  // 2. Multi-function slots and INTx pins (bhyve: the least used pin of the slot).
  const slotKey = (f: { bus: number; slot: number }) => f.bus * 32 + f.slot;
  const pinUse = new Map<number, number[]>();
  const intxRoutes: IntxRoute[] = [];
  const lineCount = new Map<number, number>(); // GSI -> asserted pins
  const isaCount = new Map<number, number>(); // ISA IRQ -> asserted pins
  for (const f of functions) {
    const key = slotKey(f);
    f.fn.setMultiFunction(functions.filter((g) => slotKey(g) === key).length > 1);
    if (f.fn.interruptPin === 0) continue;
    let use = pinUse.get(key);
    if (!use) pinUse.set(key, (use = [0, 0, 0, 0]));
    let best = 0;
    for (let p = 1; p < 4; p++) if (use[p] < use[best]) best = p;
    use[best]++;
    f.fn.setInterruptPin(best + 1);
    const gsi = pciIntxGsi(f.slot, best);
    const isaIrq = pciIntxIsaIrq(f.slot, best);
    if (!intxRoutes.some((r) => r.bus === f.bus && r.slot === f.slot && r.pin === best + 1)) intxRoutes.push({ bus: f.bus, slot: f.slot, pin: best + 1, gsi, isaIrq });
  }

  // 3. Put the functions on the host with their interrupt outputs.
  for (const f of functions) {
    const pin = f.fn.interruptPin;
    const gsi = pin === 0 ? -1 : pciIntxGsi(f.slot, pin - 1);
    const isaIrq = pin === 0 ? -1 : pciIntxIsaIrq(f.slot, pin - 1);
    const interrupts: PciInterrupts = {
      intx(level) {
        if (gsi < 0) return;
        // The function reports only changes of its output, so counting keeps the wired-OR.
        const before = lineCount.get(gsi) ?? 0;
        const after = Math.max(0, before + (level ? 1 : -1));
        lineCount.set(gsi, after);
        const isaBefore = isaCount.get(isaIrq) ?? 0;
        const isaAfter = Math.max(0, isaBefore + (level ? 1 : -1));
        isaCount.set(isaIrq, isaAfter);
        if ((before > 0) !== (after > 0) || (isaBefore > 0) !== (isaAfter > 0)) opts.irq(gsi, isaIrq, after > 0, isaAfter > 0);
      },
      msi(lo, hi, data) {
        const msg = msiToApicMessage(lo, hi, data);
        if (msg !== null) opts.msi(msg);
        else if (hi === 0) m.mem.write32(lo, data); // an ordinary memory write; dropped outside RAM
      },
    };
    host.add(f.bus, f.slot, f.function, f.fn, interrupts);
  }
  for (const span of host.ports) m.io.register(span.first, span.count, host, span.name);

  // 4. Firmware: BARs, decode bits, Interrupt Line.
  let ioNext = PCI_IO_BASE;
  let memNext = PCI_MMIO_BASE;
  for (const f of functions) {
    let command = 0;
    for (let i = 0; i < 6; i++) {
      const bar = f.fn.barSpec(i);
      if (bar === null) continue;
      const io = bar.kind === 'io';
      const limit = io ? PCI_IO_LIMIT : PCI_MMIO_LIMIT;
      // Skip ranges devices already decode (e.g. pc-testdev's irq-line ports at 0x2000).
      let base = io ? alignUp(ioNext, bar.size) : alignUp(memNext, bar.size);
      while (base + bar.size <= limit && (io ? portsBusy(m, base, bar.size) : memBusy(m, base, bar.size))) base += bar.size;
      if (base + bar.size > limit) {
        throw new PlatformError(`-s ${f.spec.arg}: no room for BAR${i} (${bar.size} bytes of ${io ? 'I/O' : 'memory'} space) below 0x${limit.toString(16)}`);
      }
      if (io) ioNext = base + bar.size;
      else memNext = base + bar.size;
      f.fn.firmwareWrite(PCI_BAR0 + 4 * i, 4, base);
      command |= io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    }
    const pin = f.fn.interruptPin;
    f.fn.firmwareWrite(PCI_INTERRUPT_LINE, 1, pin === 0 ? 0xff : pciIntxIsaIrq(f.slot, pin - 1));
    if (command !== 0) f.fn.firmwareWrite(PCI_COMMAND, 2, command);
  }

  return {
    host,
    functions: functions.map(({ bus, slot, function: fn, emulation, fn: f }) => ({ bus, slot, function: fn, emulation, fn: f })),
    intxRoutes,
    saveState: () => host.saveState(),
    loadState: (s) => host.loadState(s),
  };
}

function portsBusy(m: Machine, base: number, size: number): boolean {
  for (let p = base; p < base + size; p++) if (m.io.handlerFor(p) !== null) return true;
  return false;
}

function memBusy(m: Machine, base: number, size: number): boolean {
  return base < m.mem.size || m.mem.mmio.some((r) => base < r.base + r.length && r.base < base + size) ||
    FIXED_MMIO.some((w) => base < w.base + w.size && w.base < base + size);
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

