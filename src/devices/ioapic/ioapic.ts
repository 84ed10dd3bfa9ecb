// I/O APIC after the Intel 82093AA datasheet (order 290566-001), with IOAPIC_PINS (32)
// redirection entries instead of the chip's 24, as bhyve's vioapic.
//
// Registers (datasheet 3.0): IOREGSEL at +0x00 selects an internal register, IOWIN at +0x10
// reads/writes it. Internal registers (3.2): 0x00 IOAPICID, 0x01 IOAPICVER, 0x02 IOAPICARB,
// 0x10 + 2n / 0x11 + 2n the low / high dword of redirection entry n (IOREDTBLn).
//
// Version 0x11 (the 82093AA's; bhyve's too): there is no EOI register at +0x40, a kernel
// clears Remote IRR through the LAPIC EOI broadcast (eoi()) or by switching an entry to edge.
//
// Input pins: setIrq(gsi, level) takes the *logical* level (true = the source requests an
// interrupt), whatever the electrical polarity of the wire. The polarity bit (IOREDTBL bit 13)
// is stored and read back but does not invert the input: the MADT tells the OS how each line
// is wired and the machine's devices already speak logical levels, so a guest that programs
// the polarity the MADT describes sees the right behaviour.

import type { ApicBus, DeliveryMode } from '../../machine/irq.js';
import type { DeviceState, MmioDevice } from '../device.js';
import { stateNum, stateNums } from '../state.js';

export const IOAPIC_VERSION = 0x11;
/** Redirection entries, as platform-layout.ts IOAPIC_PINS (kept local: devices don't import the machine). */
export const IOAPIC_PIN_COUNT = 32;

// MMIO offsets (datasheet 3.0).
const IOREGSEL = 0x00;
const IOWIN = 0x10;

// Internal register indexes (datasheet 3.2).
const REG_ID = 0x00;
const REG_VER = 0x01;
const REG_ARB = 0x02;
const REG_REDTBL = 0x10;

// IOREDTBL low dword fields (datasheet 3.2.4).
const RTE_VECTOR = 0xff;
const RTE_DELMOD_SHIFT = 8;
const RTE_DESTMOD = 1 << 11;
const RTE_DELIVS = 1 << 12; // read-only
const RTE_INTPOL = 1 << 13;
const RTE_REMOTE_IRR = 1 << 14; // read-only
const RTE_TRIGGER_LEVEL = 1 << 15;
const RTE_MASK = 1 << 16;
/** Bits the guest can write in the low dword (bits 17-31 reserved, 12 and 14 read-only). */
const RTE_LO_WRITABLE = RTE_VECTOR | (7 << RTE_DELMOD_SHIFT) | RTE_DESTMOD | RTE_INTPOL | RTE_TRIGGER_LEVEL | RTE_MASK;
/** High dword: bits 63:56 destination field; bits 55:32 reserved. */
const RTE_HI_WRITABLE = 0xff000000;
/** IOAPICID bits 31:24. The 82093AA implements 27:24; 8 bits let IDs up to 255 (16 vCPUs need ID 16). */
const ID_MASK = 0xff000000;

// Delivery modes (datasheet 3.2.4, bits 10:8): 3 and 6 are reserved.
const DM_FIXED = 0;
const DM_LOWEST = 1;
const DM_EXTINT = 7;

export interface IoapicOptions {
  /** The APIC ID the firmware gives this IOAPIC (reset value of IOAPICID). */
  id: number;
  /** Where interrupt messages go (the local APICs). */
  send: ApicBus;
}

export class Ioapic implements MmioDevice {
  readonly name = 'ioapic';
  private readonly initialId: number;
  private readonly send: ApicBus;
  /** IOAPICID register value (ID in bits 31:24). */
  private idReg = 0;
  /** IOAPICARB register value (arbitration ID in bits 27:24). */
  private arbReg = 0;
  private regsel = 0;
  private readonly lo = new Uint32Array(IOAPIC_PIN_COUNT);
  private readonly hi = new Uint32Array(IOAPIC_PIN_COUNT);
  /** Logical input level of each pin. */
  private readonly pin = new Uint8Array(IOAPIC_PIN_COUNT);

  constructor(opts: IoapicOptions) {
    this.initialId = opts.id & 0xff;
    this.send = opts.send;
    this.reset();
  }

  // ---- Device ----

  /** Datasheet 3.2.4: every entry masked after reset, all other bits 0. */
  reset(): void {
    this.idReg = (this.initialId << 24) >>> 0;
    this.arbReg = (this.initialId & 0xf) << 24;
    this.regsel = 0;
    this.lo.fill(RTE_MASK);
    this.hi.fill(0);
    this.pin.fill(0);
  }

  saveState(): DeviceState {
    return { id: this.idReg, arb: this.arbReg, regsel: this.regsel, lo: Array.from(this.lo), hi: Array.from(this.hi), pin: Array.from(this.pin) };
  }

  loadState(s: DeviceState): void {
    const lo = stateNums(s, 'lo', IOAPIC_PIN_COUNT);
    const hi = stateNums(s, 'hi', IOAPIC_PIN_COUNT);
    const pin = stateNums(s, 'pin', IOAPIC_PIN_COUNT);
    this.idReg = (stateNum(s, 'id') & ID_MASK) >>> 0;
    this.arbReg = stateNum(s, 'arb') & 0x0f000000;
    this.regsel = stateNum(s, 'regsel') & 0xff;
    for (let i = 0; i < IOAPIC_PIN_COUNT; i++) {
      this.lo[i] = lo[i] & (RTE_LO_WRITABLE | RTE_REMOTE_IRR);
      this.hi[i] = hi[i] & RTE_HI_WRITABLE;
      this.pin[i] = pin[i] ? 1 : 0;
    }
  }

  // ---- inputs ----

  /**
   * Drive input pin `gsi` to logical `level`. Edge entries deliver on a rising edge (lost while
   * masked: datasheet 3.2.4 "Interrupt Mask"); level entries deliver while asserted and Remote
   * IRR is clear. Out-of-range pins are ignored.
   */
  setIrq(gsi: number, level: boolean): void {
    if (!(gsi >= 0 && gsi < IOAPIC_PIN_COUNT)) return;
    const n = gsi | 0;
    const was = this.pin[n] !== 0;
    this.pin[n] = level ? 1 : 0;
    if (!level) return;
    const lo = this.lo[n];
    if (lo & RTE_MASK) return;
    if (this.isLevelEntry(lo)) this.deliverLevel(n);
    else if (!was) this.deliver(n, false);
  }

  /**
   * A local APIC's EOI for `vector` (the EOI message the LAPIC broadcasts for level-triggered
   * vectors): clear Remote IRR of every level entry with that vector (datasheet 3.2.4 "Remote
   * IRR"), and deliver again if its pin is still asserted.
   */
  eoi(vector: number): void {
    const v = vector & 0xff;
    for (let n = 0; n < IOAPIC_PIN_COUNT; n++) {
      const lo = this.lo[n];
      if ((lo & RTE_REMOTE_IRR) === 0 || (lo & RTE_VECTOR) !== v) continue;
      this.lo[n] = lo & ~RTE_REMOTE_IRR;
      this.deliverLevel(n);
    }
  }

  // ---- MmioHandler ----

  /** Only IOREGSEL (+0x00) and IOWIN (+0x10) decode; narrower accesses see their byte lanes. */
  mmioRead(offset: number, size: number): number {
    const reg = offset - (offset & 3);
    let v: number;
    if (reg === IOREGSEL) v = this.regsel;
    else if (reg === IOWIN) v = this.readReg(this.regsel);
    else return 0;
    return laneRead(v, offset & 3, size);
  }

  mmioWrite(offset: number, size: number, value: number): void {
    const reg = offset - (offset & 3);
    const lane = offset & 3;
    if (reg === IOREGSEL) {
      this.regsel = laneMerge(this.regsel, lane, size, value) & 0xff; // bits 31:8 reserved
    } else if (reg === IOWIN) {
      this.writeReg(this.regsel, laneMerge(this.readReg(this.regsel), lane, size, value));
    }
  }

  // ---- internal registers ----

  private readReg(index: number): number {
    if (index === REG_ID) return this.idReg;
    if (index === REG_VER) return ((IOAPIC_PIN_COUNT - 1) << 16) | IOAPIC_VERSION; // 3.2.2: max redirection entry, version
    if (index === REG_ARB) return this.arbReg;
    if (index >= REG_REDTBL && index < REG_REDTBL + 2 * IOAPIC_PIN_COUNT) {
      const n = (index - REG_REDTBL) >> 1;
      return (index & 1) === 0 ? this.lo[n] : this.hi[n];
    }
    return 0; // unimplemented indexes read as 0
  }

  private writeReg(index: number, value: number): void {
    if (index === REG_ID) {
      this.idReg = (value & ID_MASK) >>> 0;
      this.arbReg = value & 0x0f000000; // 3.2.3: IOAPICARB is loaded when IOAPICID is written
      return;
    }
    if (index < REG_REDTBL || index >= REG_REDTBL + 2 * IOAPIC_PIN_COUNT) return; // VER/ARB read-only
    const n = (index - REG_REDTBL) >> 1;
    if (index & 1) {
      this.hi[n] = (value & RTE_HI_WRITABLE) >>> 0;
      return;
    }
    const old = this.lo[n];
    let lo = (value & RTE_LO_WRITABLE) | (old & RTE_REMOTE_IRR);
    // Remote IRR is meaningless for edge entries; switching to edge clears it (what kernels
    // rely on to reset a stuck Remote IRR on IOAPICs without an EOI register).
    if (!this.isLevelEntry(lo)) lo &= ~RTE_REMOTE_IRR;
    this.lo[n] = lo >>> 0;
    // An unmasked level entry whose pin is asserted delivers now (the input is sampled).
    if ((lo & RTE_MASK) === 0 && this.pin[n] !== 0 && this.isLevelEntry(lo)) this.deliverLevel(n);
  }

  // ---- delivery ----

  /** Level semantics apply to fixed and lowest-priority entries with the trigger bit set. */
  private isLevelEntry(lo: number): boolean {
    if ((lo & RTE_TRIGGER_LEVEL) === 0) return false;
    const dm = (lo >> RTE_DELMOD_SHIFT) & 7;
    return dm === DM_FIXED || dm === DM_LOWEST;
  }

  private deliverLevel(n: number): void {
    const lo = this.lo[n];
    if (lo & (RTE_MASK | RTE_REMOTE_IRR)) return;
    if (this.pin[n] === 0 || !this.isLevelEntry(lo)) return;
    this.lo[n] = (lo | RTE_REMOTE_IRR) >>> 0; // set when the LAPIC accepts the message
    this.deliver(n, true);
  }

  private deliver(n: number, level: boolean): void {
    const lo = this.lo[n];
    const dm = (lo >> RTE_DELMOD_SHIFT) & 7;
    if (dm === 3 || dm === 6) return; // reserved delivery modes
    this.send({
      vector: dm === DM_EXTINT ? 0 : lo & RTE_VECTOR, // ExtINT: the 8259 supplies the vector
      deliveryMode: dm as DeliveryMode,
      logical: (lo & RTE_DESTMOD) !== 0,
      dest: this.hi[n] >>> 24,
      levelTriggered: level,
      assert: true,
      shorthand: 0,
      source: -1,
    });
  }

  /** Redirection entry n as [low, high] dwords (for tests and debuggers). */
  entry(n: number): [number, number] {
    return n >= 0 && n < IOAPIC_PIN_COUNT ? [this.lo[n | 0], this.hi[n | 0]] : [0, 0];
  }
}

/** Bytes [lane, lane+size) of a 32-bit register value. */
function laneRead(v: number, lane: number, size: number): number {
  const shifted = v >>> (8 * lane);
  const bytes = Math.min(size >= 4 ? 4 : size === 2 ? 2 : 1, 4 - lane);
  return bytes === 4 ? shifted >>> 0 : shifted & ((1 << (8 * bytes)) - 1);
}

/** `old` with bytes [lane, lane+size) replaced by the low bytes of `value`. */
function laneMerge(old: number, lane: number, size: number, value: number): number {
  const bytes = Math.min(size >= 4 ? 4 : size === 2 ? 2 : 1, 4 - lane);
  const mask = bytes === 4 ? 0xffffffff : ((1 << (8 * bytes)) - 1) << (8 * lane);
  return ((old & ~mask) | ((value << (8 * lane)) & mask)) >>> 0;
}
