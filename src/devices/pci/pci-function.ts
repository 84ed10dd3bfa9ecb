// One PCI function with a type 0 configuration header: the base class every PCI emulation
// (hostbridge, lpc, uart, virtio-*) extends. Register semantics follow PCI Local Bus 3.0, 6.1-6.8.
//
// API for subclasses (call in the constructor, after super(identity, name)):
//   defineBar(index, spec)            an I/O or 32-bit memory BAR (size a power of two) served by spec.handler
//   addCapability(id, length, hooks?) appends a capability to the list; returns its config offset.
//                                     Fill its body with initConfig(off, size, value, writableMask)
//                                     and react to guest accesses through hooks (onRead/onWrite).
//   addMsi(opts) / addMsix(opts)      the MSI / MSI-X capabilities (msi.ts / msix.ts); then
//                                     this.msi.notify(vector) / this.msix.notify(vector) send messages
//   setIntx(level)                    drive INTx# (gated by COMMAND.INTX_DISABLE and by MSI/MSI-X enable;
//                                     STATUS.INTERRUPT_STATUS follows the level as 6.2.3 says)
//   busMaster()                       COMMAND.BUS_MASTER: a device must not DMA (or send MSI) while clear
//   setStatusBits(mask)               latch STATUS error bits (e.g. REC_MASTER_ABORT on a failed DMA)
//   onCommandChange(old, new)         hook: the guest changed COMMAND
//   onReset()                         hook: the function was reset (reset() restores config space first)
//   saveState/loadState               override and call super to add device state (JSON-plain)
//   setMultiFunction(on)              (platform) Header Type bit 7 on the functions of a multi-function slot
//   setInterruptPin(pin)              (platform) which INTx# pin the function uses
//   firmwareWrite(off, size, value)   (platform) resource assignment before the guest runs
//
// The platform side: attach(env) gives the function its BarMapper and PciInterrupts; the host
// (pci-host.ts) routes configuration cycles to cfgRead/cfgWrite and calls unmapStaleBars/mapBars
// on every function after a COMMAND or BAR write, so a range one function leaves can be taken by
// another in the same pass. BARs are mapped while their decode bit (COMMAND.IO / MEMORY) is set;
// a mapping the platform refuses (overlap, outside the address space) stays unmapped, never throws.
//
// Config space is one 256-byte image plus per-byte masks: `wmask` (bits the guest may write) and
// `w1cmask` (bits a guest 1 clears). Expansion ROM is absent (reads 0, sizing finds no ROM).

import type { Device, DeviceState } from '../device.js';
import { stateBool, stateNums, stateObj } from '../state.js';
import * as R from './pci-config.js';
import { MsiCapability, type MsiOptions } from './msi.js';
import { MsixCapability, type MsixOptions } from './msix.js';

/** A BAR's registers, addressed by offset from the BAR base. Must never throw. */
export interface BarHandler {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface BarSpec {
  kind: 'io' | 'mem32';
  /** A power of two: io >= 4, mem32 >= 4096 (a page, so BARs never share one). */
  size: number;
  handler: BarHandler;
  prefetchable?: boolean;
}

/** Interrupt outputs the platform gives a function. */
export interface PciInterrupts {
  /** The INTx# pin named by Interrupt Pin (level, active = true). */
  intx(level: boolean): void;
  /** An MSI / MSI-X memory write (address and data as the function sends them). */
  msi(addressLo: number, addressHi: number, data: number): void;
}

/** How BARs become visible: the platform maps handlers into port / memory space. */
export interface BarMapper {
  /** Map [base, base+size) of port space; false (and nothing mapped) if refused. */
  mapIo(base: number, size: number, handler: BarHandler, name: string): boolean;
  unmapIo(base: number, size: number): void;
  /** Map [base, base+size) of memory space; false (and nothing mapped) if refused. */
  mapMem(base: number, size: number, handler: BarHandler, name: string): boolean;
  unmapMem(base: number): void;
}

export interface PciFunctionEnv {
  mapper: BarMapper;
  interrupts: PciInterrupts;
}

export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  /** 24 bits: base class << 16 | sub-class << 8 | programming interface. */
  classCode: number;
  revision: number;
  subsystemVendorId: number;
  subsystemId: number;
  /** 0: no INTx; 1-4: INTA#-INTD#. */
  interruptPin: number;
  /** Header Type bit 7 (set on function 0 of a multi-function device). */
  multiFunction?: boolean;
}

/** Reactions to guest accesses inside a capability (offsets relative to the capability start). */
export interface CapabilityHooks {
  /** Return the value of a read, or null to read the stored bytes. */
  onRead?(capOffset: number, size: number): number | null;
  /** Called after the stored bytes were updated by a guest write (value is the write as given). */
  onWrite?(capOffset: number, size: number, value: number): void;
}

interface CapabilitySlot {
  offset: number;
  length: number;
  hooks: CapabilityHooks | null;
}

interface BarSlot {
  spec: BarSpec;
  /** Base where the BAR is mapped now, or -1. */
  mapped: number;
}

const NO_INTERRUPTS: PciInterrupts = { intx() {}, msi() {} };

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= 0x8000_0000 && (n & (n - 1)) === 0;
}

export abstract class PciFunction implements Device {
  readonly name: string;
  readonly identity: PciIdentity;
  /** Current configuration space. */
  protected readonly config = new Uint8Array(R.PCI_CONFIG_SIZE);
  /** Power-on configuration space (what reset() restores). */
  private readonly resetImage = new Uint8Array(R.PCI_CONFIG_SIZE);
  private readonly wmask = new Uint8Array(R.PCI_CONFIG_SIZE);
  private readonly w1cmask = new Uint8Array(R.PCI_CONFIG_SIZE);
  private readonly bars: (BarSlot | null)[] = [null, null, null, null, null, null];
  private readonly caps: CapabilitySlot[] = [];
  private nextCap = R.PCI_CAP_AREA;
  private env: PciFunctionEnv | null = null;
  /** Set by the host: called after a COMMAND/BAR write so every function's mapping is refreshed. */
  remapRequest: (() => void) | null = null;
  private intxLevel = false;
  private intxOut = false;
  msi: MsiCapability | null = null;
  msix: MsixCapability | null = null;

  constructor(identity: PciIdentity, name: string) {
    this.name = name;
    this.identity = identity;
    this.initConfig(R.PCI_VENDOR_ID, 2, identity.vendorId);
    this.initConfig(R.PCI_DEVICE_ID, 2, identity.deviceId);
    this.initConfig(R.PCI_COMMAND, 2, 0, R.PCI_COMMAND_WRITABLE);
    this.w1cmask[R.PCI_STATUS] = R.PCI_STATUS_RW1C & 0xff;
    this.w1cmask[R.PCI_STATUS + 1] = R.PCI_STATUS_RW1C >>> 8;
    this.initConfig(R.PCI_REVISION_ID, 1, identity.revision);
    this.initConfig(R.PCI_CLASS_PROG, 1, identity.classCode & 0xff);
    this.initConfig(R.PCI_CLASS_PROG + 1, 2, (identity.classCode >>> 8) & 0xffff);
    // Cache Line Size is read/write (6.2.4); Latency Timer is hardwired 0 (allowed for devices
    // that never burst beyond the minimum, 6.2.4).
    this.initConfig(R.PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
    this.initConfig(R.PCI_HEADER_TYPE, 1, identity.multiFunction ? R.PCI_HEADER_MULTIFUNCTION : 0);
    this.initConfig(R.PCI_SUBSYSTEM_VENDOR_ID, 2, identity.subsystemVendorId);
    this.initConfig(R.PCI_SUBSYSTEM_ID, 2, identity.subsystemId);
    this.initConfig(R.PCI_INTERRUPT_LINE, 1, 0, 0xff);
    this.initConfig(R.PCI_INTERRUPT_PIN, 1, identity.interruptPin >= 1 && identity.interruptPin <= 4 ? identity.interruptPin : 0);
  }

  // ---- Building the function (constructor time) ----

  /** Set a power-on value (and which bits the guest may write). */
  protected initConfig(offset: number, size: number, value: number, writableMask = 0): void {
    for (let i = 0; i < size; i++) {
      const b = (value >>> (8 * i)) & 0xff;
      this.config[offset + i] = b;
      this.resetImage[offset + i] = b;
      this.wmask[offset + i] = (writableMask >>> (8 * i)) & 0xff;
    }
  }

  /** Declare BAR `index` (0-5). Throws on a bad spec: that is a programming error, not guest input. */
  protected defineBar(index: number, spec: BarSpec): void {
    if (!Number.isInteger(index) || index < 0 || index >= R.PCI_BAR_COUNT || this.bars[index] !== null) throw new RangeError(`${this.name}: bad BAR index ${index}`);
    const min = spec.kind === 'io' ? 4 : 4096;
    if (!isPowerOfTwo(spec.size) || spec.size < min || (spec.kind === 'io' && spec.size > 256)) throw new RangeError(`${this.name}: bad BAR${index} size ${spec.size}`);
    this.bars[index] = { spec, mapped: -1 };
    const low = spec.kind === 'io' ? R.PCI_BAR_SPACE_IO : R.PCI_BAR_MEM_TYPE_32 | (spec.prefetchable ? R.PCI_BAR_MEM_PREFETCH : 0);
    const addrMask = spec.kind === 'io' ? R.PCI_BAR_IO_MASK : R.PCI_BAR_MEM_MASK;
    // Sizing (6.2.5.1): the bits below the size are hardwired 0, so writing all ones reads back ~(size-1).
    this.initConfig(R.PCI_BAR0 + 4 * index, 4, low, (addrMask & ~(spec.size - 1)) >>> 0);
  }

  /** Header Type bit 7: the platform sets it on every function of a slot with several functions (as bhyve). */
  setMultiFunction(on: boolean): void {
    const v = on ? R.PCI_HEADER_MULTIFUNCTION : 0;
    this.config[R.PCI_HEADER_TYPE] = (this.config[R.PCI_HEADER_TYPE] & 0x7f) | v;
    this.resetImage[R.PCI_HEADER_TYPE] = (this.resetImage[R.PCI_HEADER_TYPE] & 0x7f) | v;
  }

  /** Interrupt Pin (0 none, 1-4 INTA#-INTD#): the platform spreads a slot's functions over the pins. */
  setInterruptPin(pin: number): void {
    const v = pin >= 1 && pin <= 4 ? pin : 0;
    this.config[R.PCI_INTERRUPT_PIN] = v;
    this.resetImage[R.PCI_INTERRUPT_PIN] = v;
  }

  get interruptPin(): number {
    return this.config[R.PCI_INTERRUPT_PIN];
  }

  /**
   * A configuration write by the platform's firmware before the guest runs (BAR placement,
   * COMMAND decode bits, Interrupt Line): applied with guest semantics, and kept as the power-on
   * value so a machine reset comes back to the state firmware left.
   */
  firmwareWrite(offset: number, size: number, value: number): void {
    this.cfgWrite(offset, size, value);
    for (let i = 0; i < size; i++) this.resetImage[(offset + i) & 0xff] = this.config[(offset + i) & 0xff];
  }

  /** The BAR's spec (null if the function has no such BAR). */
  barSpec(index: number): BarSpec | null {
    return this.bars[index]?.spec ?? null;
  }

  /** The address currently programmed in BAR `index` (without the type bits). */
  barAddress(index: number): number {
    const slot = this.bars[index];
    if (!slot) return 0;
    const v = this.rawRead(R.PCI_BAR0 + 4 * index, 4);
    return (slot.spec.kind === 'io' ? v & R.PCI_BAR_IO_MASK : v & R.PCI_BAR_MEM_MASK) >>> 0;
  }

  /** Append a capability of `length` bytes (>= 2: ID and next pointer). Returns its offset. */
  protected addCapability(id: number, length: number, hooks?: CapabilityHooks): number {
    const offset = this.nextCap;
    if (length < 2 || offset + length > R.PCI_CONFIG_SIZE) throw new RangeError(`${this.name}: no room for capability 0x${id.toString(16)}`);
    this.initConfig(offset, 1, id);
    this.initConfig(offset + 1, 1, 0);
    if (this.caps.length === 0) {
      this.initConfig(R.PCI_CAPABILITY_LIST, 1, offset);
      this.initConfig(R.PCI_STATUS, 2, R.PCI_STATUS_CAP_LIST);
    } else {
      this.initConfig(this.caps[this.caps.length - 1].offset + 1, 1, offset);
    }
    this.caps.push({ offset, length, hooks: hooks ?? null });
    this.nextCap = (offset + length + 3) & ~3; // capabilities are dword aligned (6.7)
    return offset;
  }

  protected addMsi(opts: MsiOptions): MsiCapability {
    const cap = new MsiCapability(opts, this.capabilityPort());
    this.msi = cap;
    return cap;
  }

  /** MSI-X with its table and PBA in BAR opts.bar (a BAR of its own, defined here, with opts.dedicatedBar). */
  protected addMsix(opts: MsixOptions): MsixCapability {
    const cap = new MsixCapability(opts, this.capabilityPort());
    this.msix = cap;
    if (opts.dedicatedBar) this.defineBar(opts.bar, { kind: 'mem32', size: cap.dedicatedBarSize(), handler: cap });
    return cap;
  }

  /** What msi.ts / msix.ts need from the function, without making their internals public. */
  private capabilityPort(): CapabilityPort {
    return {
      add: (id, length, hooks) => this.addCapability(id, length, hooks),
      init: (off, size, value, mask) => this.initConfig(off, size, value, mask),
      read: (off, size) => this.rawRead(off, size),
      write: (off, size, value) => this.rawWrite(off, size, value),
      send: (lo, hi, data) => this.sendMsi(lo, hi, data),
      canSend: () => this.busMaster(),
      enableChanged: () => this.updateIntx(),
    };
  }

  // ---- Device-side accessors ----

  /** Config bytes as stored (no guest semantics). */
  protected rawRead(offset: number, size: number): number {
    const c = this.config;
    if (size === 1) return c[offset];
    if (size === 2) return c[offset] | (c[offset + 1] << 8);
    return (c[offset] | (c[offset + 1] << 8) | (c[offset + 2] << 16) | (c[offset + 3] << 24)) >>> 0;
  }

  protected rawWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.config[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  get command(): number {
    return this.rawRead(R.PCI_COMMAND, 2);
  }

  get status(): number {
    return this.rawRead(R.PCI_STATUS, 2);
  }

  /** COMMAND.BUS_MASTER (6.2.2): DMA and MSI are allowed only while set. */
  busMaster(): boolean {
    return (this.config[R.PCI_COMMAND] & R.PCI_COMMAND_MASTER) !== 0;
  }

  protected setStatusBits(mask: number): void {
    this.rawWrite(R.PCI_STATUS, 2, this.status | (mask & R.PCI_STATUS_RW1C));
  }

  /** Drive INTx# (level-triggered, active high here; the platform handles polarity). */
  setIntx(level: boolean): void {
    this.intxLevel = level;
    this.updateIntx();
  }

  get intxAsserted(): boolean {
    return this.intxOut;
  }

  private updateIntx(): void {
    // 6.2.3: Interrupt Status reflects the function's interrupt regardless of INTX_DISABLE.
    const st = this.status;
    this.rawWrite(R.PCI_STATUS, 2, this.intxLevel ? st | R.PCI_STATUS_INTERRUPT : st & ~R.PCI_STATUS_INTERRUPT);
    // 6.2.2 bit 10 gates the pin; 6.8.1.3 / 6.8.2.3: no INTx while MSI or MSI-X is enabled.
    const out = this.intxLevel && this.config[R.PCI_INTERRUPT_PIN] !== 0 && (this.command & R.PCI_COMMAND_INTX_DISABLE) === 0 &&
      !(this.msi?.enabled ?? false) && !(this.msix?.enabled ?? false);
    if (out !== this.intxOut) {
      this.intxOut = out;
      (this.env?.interrupts ?? NO_INTERRUPTS).intx(out);
    }
  }

  private sendMsi(lo: number, hi: number, data: number): void {
    (this.env?.interrupts ?? NO_INTERRUPTS).msi(lo >>> 0, hi >>> 0, data >>> 0);
  }

  // ---- Hooks for subclasses ----

  protected onCommandChange(_old: number, _new: number): void {}
  protected onReset(): void {}

  // ---- Platform side ----

  attach(env: PciFunctionEnv): void {
    this.env = env;
  }

  /** Unmap BARs whose decode was turned off or whose address changed. */
  unmapStaleBars(): void {
    const env = this.env;
    if (env === null) return;
    const cmd = this.command;
    for (let i = 0; i < R.PCI_BAR_COUNT; i++) {
      const slot = this.bars[i];
      if (slot === null || slot.mapped < 0) continue;
      const io = slot.spec.kind === 'io';
      const on = (cmd & (io ? R.PCI_COMMAND_IO : R.PCI_COMMAND_MEMORY)) !== 0;
      if (on && this.barAddress(i) === slot.mapped) continue;
      if (io) env.mapper.unmapIo(slot.mapped, slot.spec.size);
      else env.mapper.unmapMem(slot.mapped);
      slot.mapped = -1;
    }
  }

  /** Map BARs whose decode is on and that are not mapped yet (a refused mapping stays off). */
  mapBars(): void {
    const env = this.env;
    if (env === null) return;
    const cmd = this.command;
    for (let i = 0; i < R.PCI_BAR_COUNT; i++) {
      const slot = this.bars[i];
      if (slot === null || slot.mapped >= 0) continue;
      const io = slot.spec.kind === 'io';
      if ((cmd & (io ? R.PCI_COMMAND_IO : R.PCI_COMMAND_MEMORY)) === 0) continue;
      const base = this.barAddress(i);
      const name = `${this.name} BAR${i}`;
      const ok = io ? env.mapper.mapIo(base, slot.spec.size, slot.spec.handler, name) : env.mapper.mapMem(base, slot.spec.size, slot.spec.handler, name);
      if (ok) slot.mapped = base;
    }
  }

  /** Where BAR `index` is mapped now, or -1. */
  barMappedAt(index: number): number {
    return this.bars[index]?.mapped ?? -1;
  }

  private remap(): void {
    if (this.remapRequest !== null) this.remapRequest();
    else {
      this.unmapStaleBars();
      this.mapBars();
    }
  }

  // ---- Configuration cycles (the guest) ----

  /** A configuration read of `size` (1, 2, 4) bytes at `offset` (0-255). Never throws. */
  cfgRead(offset: number, size: number): number {
    offset &= 0xff;
    const n = size === 4 ? 4 : size === 2 ? 2 : 1;
    if (offset + n > R.PCI_CONFIG_SIZE) return n === 4 ? 0xffffffff : n === 2 ? 0xffff : 0xff;
    if (offset >= R.PCI_CAP_AREA) {
      const cap = this.capAt(offset, n);
      if (cap !== null && cap.hooks?.onRead) {
        const v = cap.hooks.onRead(offset - cap.offset, n);
        if (v !== null) return n === 4 ? v >>> 0 : v & (n === 2 ? 0xffff : 0xff);
      }
    }
    return this.rawRead(offset, n);
  }

  /** A configuration write. Read-only bits keep their value; RW1C bits clear where 1 is written. */
  cfgWrite(offset: number, size: number, value: number): void {
    offset &= 0xff;
    const n = size === 4 ? 4 : size === 2 ? 2 : 1;
    if (offset + n > R.PCI_CONFIG_SIZE) return;
    const oldCmd = this.command;
    for (let i = 0; i < n; i++) {
      const o = offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      const wm = this.wmask[o];
      this.config[o] = ((this.config[o] & ~wm) | (b & wm)) & ~(b & this.w1cmask[o]);
    }
    if (offset < R.PCI_COMMAND + 2 && offset + n > R.PCI_COMMAND) {
      const newCmd = this.command;
      if (newCmd !== oldCmd) {
        this.updateIntx();
        if (((newCmd ^ oldCmd) & (R.PCI_COMMAND_IO | R.PCI_COMMAND_MEMORY)) !== 0) this.remap();
        this.onCommandChange(oldCmd, newCmd);
      }
    }
    if (offset < R.PCI_BAR0 + 4 * R.PCI_BAR_COUNT && offset + n > R.PCI_BAR0) this.remap();
    if (offset >= R.PCI_CAP_AREA) {
      const cap = this.capAt(offset, n);
      if (cap !== null && cap.hooks?.onWrite) cap.hooks.onWrite(offset - cap.offset, n, n === 4 ? value >>> 0 : value & (n === 2 ? 0xffff : 0xff));
    }
  }

  private capAt(offset: number, n: number): CapabilitySlot | null {
    const caps = this.caps;
    for (let i = 0; i < caps.length; i++) {
      const c = caps[i];
      if (offset >= c.offset && offset + n <= c.offset + c.length) return c;
    }
    return null;
  }

  // ---- Device contract ----

  reset(): void {
    this.config.set(this.resetImage);
    this.intxLevel = false;
    this.msi?.reset();
    this.msix?.reset();
    this.updateIntx();
    this.remap();
    this.onReset();
  }

  saveState(): DeviceState {
    return {
      config: Array.from(this.config),
      intxLevel: this.intxLevel,
      msi: this.msi?.saveState() ?? null,
      msix: this.msix?.saveState() ?? null,
    };
  }

  loadState(s: DeviceState): void {
    const cfg = stateNums(s, 'config', R.PCI_CONFIG_SIZE);
    for (let i = 0; i < R.PCI_CONFIG_SIZE; i++) this.config[i] = cfg[i] & 0xff;
    this.intxLevel = stateBool(s, 'intxLevel');
    if (this.msi) this.msi.loadState(stateObj(s, 'msi'));
    if (this.msix) this.msix.loadState(stateObj(s, 'msix'));
    this.updateIntx();
    this.remap();
  }
}

/** The narrow view of a function that the MSI / MSI-X capability helpers use. */
export interface CapabilityPort {
  add(id: number, length: number, hooks: CapabilityHooks): number;
  init(offset: number, size: number, value: number, writableMask: number): void;
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
  /** Send a message write (the function forwards it to PciInterrupts.msi). */
  send(addressLo: number, addressHi: number, data: number): void;
  /** False while bus mastering is off: messages are memory writes (6.8.1.3? see msi.ts). */
  canSend(): boolean;
  /** MSI/MSI-X enable changed: re-evaluate the INTx output. */
  enableChanged(): void;
}
