// MC146818A real-time clock and CMOS RAM at 0x70 (index, bit 7 = NMI mask) / 0x71 (data),
// interrupt on ISA IRQ8.
//
// Reference: Motorola MC146818A datasheet: "Address Map" (registers 0-13, 50 bytes of
// RAM; the PC's part has 128 bytes), Table 3 "Time, Calendar and Alarm Data Modes",
// Table 4 "Divider Configurations" (DV2-DV0), Table 5 "Periodic Interrupt Rate" (RS3-RS0),
// "Register A" (UIP), "Register B" (SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE),
// "Register C" (IRQF, PF, AF, UF), "Register D" (VRT), "Update Cycle". CMOS memory-size
// bytes as QEMU's pc_cmos_init fills them for SeaBIOS.
//
// Model:
// - Time comes only from the DeviceClock. The 32.768 kHz divider chain counts
//   floor((t - anchor) * 32768 / 10^9) cycles; an update (time += 1 s) happens every 32768
//   cycles. The anchor is virtual time 0 at power-on, so updates fall on whole virtual
//   seconds; the clock reads bootTime + elapsed seconds (UTC, no leap seconds).
// - While running, the time registers are computed from a Unix time base. While frozen
//   (SET = 1 or divider in reset) they are plain bytes the guest may rewrite one by one;
//   leaving the frozen state converts them back (out-of-range values carry over like
//   timegm does; the chip would count on from the garbage instead).
// - Changing DM or 24/12 while running re-encodes the time in the new format at once (the
//   chip would leave the old bytes to be misread). DSE is stored but no DST switching.
// - Any DV setting other than divider reset (11x) counts at 32.768 kHz: the PC's crystal.
// - UIP is 1 during the 244 us (8 cycles of 32.768 kHz) before each update; the update
//   itself is instantaneous (the chip keeps UIP for up to 1984 us more).
// - PF, AF, UF are computed lazily from virtual time; IRQ8 is asserted while IRQF = 1 and
//   released by reading register C. A DeviceClock timer is armed only while an enabled
//   flag can still raise IRQF.
// - reset() is the /RESET pin (machine reset): PIE, AIE, UIE, SQWE and register C are
//   cleared; the battery-backed time and RAM survive. The power-on state is built by the
//   constructor.

import type { PortIoBus } from '../../machine/io-bus.js';
import type { IrqLine } from '../../machine/irq.js';
import type { DeviceClock, DeviceState } from '../device.js';
import { floorDiv, floorMod, mulDivCeil, mulDivFloor } from '../exact-math.js';
import { attachPorts, readBytewise, writeBytewise, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateBool, stateNum, stateNums } from '../state.js';
import { civilFromUnix, unixFromCivil, weekdayFromDays } from './civil.js';

// Address map.
const REG_SEC = 0x00;
const REG_SEC_ALARM = 0x01;
const REG_MIN = 0x02;
const REG_MIN_ALARM = 0x03;
const REG_HOUR = 0x04;
const REG_HOUR_ALARM = 0x05;
const REG_DOW = 0x06;
const REG_DOM = 0x07;
const REG_MONTH = 0x08;
const REG_YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
/** Century byte (IBM PC convention, also in the ACPI FADT "CENTURY" field). */
export const REG_CENTURY = 0x32;
const TIME_REGS = [REG_SEC, REG_MIN, REG_HOUR, REG_DOW, REG_DOM, REG_MONTH, REG_YEAR, REG_CENTURY];
const CMOS_SIZE = 128;

// Register A.
const A_UIP = 0x80;
const A_DV_RESET = 0x60; // DV2-DV1 = 11: divider chain held in reset
const A_RS = 0x0f;
// Register B.
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_SQWE = 0x08;
const B_DM = 0x04; // 1 = binary, 0 = BCD
const B_24H = 0x02;
// Register C.
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;
// Register D.
const D_VRT = 0x80;
/** Alarm "don't care" code: the two high bits set (Table 3 note / "Alarm" section). */
const ALARM_DONT_CARE = 0xc0;

/** 32.768 kHz cycles per second, and the UIP lead time of 8 cycles (244.140625 us). */
const HZ32 = 32768;
const UIP_CYCLES = 8;
// 32768 / 10^9 reduced: cycles = ns * 4096 / 125000000.
const C32_NUM = 4096;
const C32_DEN = 125000000;
const NS_PER_S = 1_000_000_000;
/** After the divider leaves reset, the first update comes 500 ms later ("Register A", DV). */
const DIVIDER_RELEASE_NS = 500_000_000;

/** Periodic interrupt period in 32.768 kHz cycles for RS3-RS0 (Table 5); 0 = none. */
export function periodicCycles(rs: number): number {
  rs &= 0x0f;
  if (rs === 0) return 0;
  if (rs <= 2) return 1 << (rs + 6); // 0001: 3.90625 ms, 0010: 7.8125 ms
  return 1 << (rs - 1); // 0011: 122.070 us ... 1111: 500 ms
}

export interface CmosMemoryLayout {
  /** RAM below 4 GiB, bytes. */
  below4g: number;
  /** RAM above 4 GiB, bytes. */
  above4g: number;
}

/** QEMU's i440FX split of RAM around the PCI hole (3.5 GiB, or 3 GiB with gigabyte_align). */
export function splitRam(ramSize: number): CmosMemoryLayout {
  const lowmem = ramSize >= 0xe0000000 ? 0xc0000000 : 0xe0000000;
  const below4g = Math.min(ramSize, lowmem);
  return { below4g, above4g: ramSize - below4g };
}

/** The CMOS memory-size bytes, as [index, value] pairs in address order. */
export function cmosMemoryBytes(mem: CmosMemoryLayout): [number, number][] {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  const base = Math.min(Math.floor(mem.below4g / KiB), 640); // 0x15/0x16: base memory, KiB
  const ext = Math.min(mem.below4g > MiB ? Math.floor((mem.below4g - MiB) / KiB) : 0, 65535); // above 1 MiB, KiB
  const mid = Math.min(mem.below4g > 16 * MiB ? Math.floor((mem.below4g - 16 * MiB) / (64 * KiB)) : 0, 65535); // above 16 MiB, 64 KiB units
  const high = Math.min(Math.floor(mem.above4g / (64 * KiB)), 0xffffff); // above 4 GiB, 64 KiB units
  return [
    [0x15, base & 0xff],
    [0x16, base >> 8],
    [0x17, ext & 0xff],
    [0x18, ext >> 8],
    [0x30, ext & 0xff],
    [0x31, ext >> 8],
    [0x34, mid & 0xff],
    [0x35, mid >> 8],
    [0x5b, high & 0xff],
    [0x5c, (high >> 8) & 0xff],
    [0x5d, (high >> 16) & 0xff],
  ];
}

export interface Rtc146818Options {
  clock: DeviceClock;
  /** ISA IRQ8, or null. */
  irq: IrqLine | null;
  /** Unix time (UTC seconds) the clock shows at virtual time 0. */
  bootTime: number;
  /** Guest RAM in bytes, for the CMOS memory-size bytes. */
  ramSize: number;
  /** Override the below/above-4G split (default: splitRam(ramSize)). */
  memory?: CmosMemoryLayout;
  /** Number of CPUs; CMOS 0x5f = cpus - 1 as QEMU sets for SeaBIOS (default 1). */
  cpus?: number;
}

export class Rtc146818 implements AttachablePortDevice {
  readonly name = 'rtc';
  readonly ports: readonly PortSpan[] = [{ first: 0x70, count: 2, name: 'rtc' }];
  private readonly clock: DeviceClock;
  private readonly irq: IrqLine | null;

  private cmos: number[] = new Array<number>(CMOS_SIZE).fill(0);
  private index = 0;
  private nmiMask = false;
  /** Virtual ns at which the divider chain count was 0. */
  private divAnchorNs = 0;
  /** Running time base: Unix time `baseUnix` at update number `baseSec`. */
  private baseUnix = 0;
  private baseSec = 0;
  /** Day-of-week register offset from the true weekday (guest writes to register 6). */
  private dowOffset = 0;
  /** PF/AF/UF accumulated up to `flagsNs`. */
  private cFlags = 0;
  private flagsNs = 0;
  private irqLevel = false;
  private timerId = -1;
  private timerGen = 0;

  constructor(opts: Rtc146818Options) {
    this.clock = opts.clock;
    this.irq = opts.irq;
    // Power-on: divider running at 32.768 kHz with 1024 Hz periodic rate (A = 0x26),
    // 24-hour BCD (B = 0x02), valid RAM and time (D = VRT) — the values PC firmware and
    // QEMU use.
    this.cmos[REG_A] = 0x26;
    this.cmos[REG_B] = B_24H;
    this.cmos[REG_D] = D_VRT;
    for (const [i, v] of cmosMemoryBytes(opts.memory ?? splitRam(opts.ramSize))) this.cmos[i] = v;
    this.cmos[0x5f] = Math.max(0, Math.min(255, (opts.cpus ?? 1) - 1));
    this.baseUnix = Math.floor(opts.bootTime);
    this.baseSec = 0;
    this.divAnchorNs = 0;
    this.flagsNs = this.clock.nowNs();
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  /** NMI disabled by bit 7 of the last index written to port 0x70. */
  get nmiMasked(): boolean {
    return this.nmiMask;
  }

  /** Direct CMOS RAM access for the machine (firmware tables, boot order...). */
  setCmosByte(index: number, value: number): void {
    const i = index & 0x7f;
    if (i > REG_D && i !== REG_CENTURY) this.cmos[i] = value & 0xff;
  }

  // ---- Device ----

  reset(): void {
    this.sync();
    this.cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
    this.cFlags = 0;
    this.updateIrq();
    this.armTimer();
  }

  saveState(): DeviceState {
    return {
      cmos: this.cmos.slice(),
      index: this.index,
      nmiMask: this.nmiMask,
      divAnchorNs: this.divAnchorNs,
      baseUnix: this.baseUnix,
      baseSec: this.baseSec,
      dowOffset: this.dowOffset,
      cFlags: this.cFlags,
      flagsNs: this.flagsNs,
      irqLevel: this.irqLevel,
    };
  }

  /** Restores the clock and re-arms its timer (a callback armed before is ignored). */
  loadState(s: DeviceState): void {
    this.cmos = stateNums(s, 'cmos', CMOS_SIZE).map((b) => b & 0xff);
    this.index = stateNum(s, 'index') & 0x7f;
    this.nmiMask = stateBool(s, 'nmiMask');
    this.divAnchorNs = stateNum(s, 'divAnchorNs');
    this.baseUnix = stateNum(s, 'baseUnix');
    this.baseSec = stateNum(s, 'baseSec');
    this.dowOffset = floorMod(stateNum(s, 'dowOffset'), 7);
    this.cFlags = stateNum(s, 'cFlags') & (C_PF | C_AF | C_UF);
    this.flagsNs = stateNum(s, 'flagsNs');
    this.irqLevel = stateBool(s, 'irqLevel');
    this.timerId = -1;
    this.timerGen++;
    this.armTimer();
  }

  // ---- PortHandler ----

  ioRead(port: number, size: number): number {
    if (size === 1) return this.readByte(port & 0xffff);
    return readBytewise(port, size, (p) => this.readByte(p));
  }

  ioWrite(port: number, size: number, value: number): void {
    if (size === 1) this.writeByte(port & 0xffff, value & 0xff);
    else writeBytewise(port, size, value, (p, b) => this.writeByte(p, b));
  }

  private readByte(port: number): number {
    if (port === 0x71) return this.readReg(this.index);
    return 0xff; // 0x70 is write-only (QEMU reads 0xff too)
  }

  private writeByte(port: number, v: number): void {
    if (port === 0x70) {
      this.index = v & 0x7f;
      this.nmiMask = (v & 0x80) !== 0;
    } else if (port === 0x71) {
      this.writeReg(this.index, v);
    }
  }

  // ---- registers ----

  private get regA(): number {
    return this.cmos[REG_A];
  }
  private get regB(): number {
    return this.cmos[REG_B];
  }
  private dividerRunning(): boolean {
    return (this.regA & A_DV_RESET) !== A_DV_RESET;
  }
  private frozen(): boolean {
    return (this.regB & B_SET) !== 0 || !this.dividerRunning();
  }

  private readReg(i: number): number {
    this.sync();
    switch (i) {
      case REG_A: {
        let v = this.regA & 0x7f;
        if (this.updateImminent()) v |= A_UIP;
        return v;
      }
      case REG_B:
        return this.regB;
      case REG_C: {
        const v = this.cFlags | (this.irqf() ? C_IRQF : 0);
        this.cFlags = 0;
        this.updateIrq();
        this.armTimer();
        return v;
      }
      case REG_D:
        return D_VRT; // battery good
      default:
        if (TIME_REGS.includes(i) && !this.frozen()) return this.encodeTimeReg(i, this.runningUnix(this.clock.nowNs()));
        return this.cmos[i & 0x7f];
    }
  }

  private writeReg(i: number, v: number): void {
    this.sync();
    switch (i) {
      case REG_A:
        this.changeControl(v & 0x7f, this.regB); // UIP is read-only
        break;
      case REG_B: {
        // Setting SET clears UIE ("Register B", UIE).
        const b = v & B_SET ? v & ~B_UIE : v;
        this.changeControl(this.regA, b);
        break;
      }
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        if (TIME_REGS.includes(i) && !this.frozen()) {
          const now = this.clock.nowNs();
          this.materialise(this.runningUnix(now));
          this.cmos[i] = v;
          this.baseUnix = this.decodeTimeBytes();
          this.baseSec = this.secCount(now);
        } else {
          this.cmos[i & 0x7f] = v;
        }
        break;
    }
    this.updateIrq();
    this.armTimer();
  }

  /** Write registers A and B together, handling entry to and exit from the frozen state. */
  private changeControl(a: number, b: number): void {
    const now = this.clock.nowNs();
    const wasFrozen = this.frozen();
    const wasDivReset = !this.dividerRunning();
    if (!wasFrozen && ((b & B_SET) !== 0 || (a & A_DV_RESET) === A_DV_RESET)) this.materialise(this.runningUnix(now));
    this.cmos[REG_A] = a;
    this.cmos[REG_B] = b;
    if (wasDivReset && this.dividerRunning()) this.divAnchorNs = now - DIVIDER_RELEASE_NS;
    if (wasFrozen && !this.frozen()) {
      this.baseUnix = this.decodeTimeBytes();
      this.baseSec = this.secCount(now);
    }
    this.flagsNs = now;
  }

  // ---- time keeping ----

  /** 32.768 kHz divider cycles at virtual time t. */
  private cycles(t: number): number {
    return mulDivFloor(Math.max(0, t - this.divAnchorNs), C32_NUM, C32_DEN);
  }

  /** Number of update cycles (whole seconds of the divider) by virtual time t. */
  private secCount(t: number): number {
    return floorDiv(this.cycles(t), HZ32);
  }

  private runningUnix(t: number): number {
    return this.baseUnix + this.secCount(t) - this.baseSec;
  }

  /** Register A UIP: an update will happen within 244 us. */
  private updateImminent(): boolean {
    if (this.frozen()) return false;
    return floorMod(this.cycles(this.clock.nowNs()), HZ32) >= HZ32 - UIP_CYCLES;
  }

  private enc(v: number): number {
    if (this.regB & B_DM) return v & 0xff;
    const x = floorMod(v, 100);
    return (Math.floor(x / 10) << 4) | x % 10;
  }

  private dec(b: number): number {
    return this.regB & B_DM ? b : (b >> 4) * 10 + (b & 0x0f);
  }

  private encHour(h: number): number {
    if (this.regB & B_24H) return this.enc(h);
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.enc(h12) | (h >= 12 ? 0x80 : 0); // 12-hour mode: bit 7 = PM (Table 3)
  }

  private decHour(b: number): number {
    if (this.regB & B_24H) return this.dec(b);
    return (this.dec(b & 0x7f) % 12) + (b & 0x80 ? 12 : 0);
  }

  private encodeTimeReg(i: number, u: number): number {
    const c = civilFromUnix(u);
    switch (i) {
      case REG_SEC:
        return this.enc(c.second);
      case REG_MIN:
        return this.enc(c.minute);
      case REG_HOUR:
        return this.encHour(c.hour);
      case REG_DOW:
        return this.enc(floorMod(c.weekday + this.dowOffset, 7) + 1); // 1 = Sunday
      case REG_DOM:
        return this.enc(c.day);
      case REG_MONTH:
        return this.enc(c.month);
      case REG_YEAR:
        return this.enc(floorMod(c.year, 100));
      default:
        return this.enc(floorDiv(c.year, 100)); // REG_CENTURY
    }
  }

  /** Write the running time into the time bytes (entering the frozen state). */
  private materialise(u: number): void {
    for (const i of TIME_REGS) this.cmos[i] = this.encodeTimeReg(i, u);
  }

  /** Unix time of the time bytes; also re-derives the day-of-week offset. */
  private decodeTimeBytes(): number {
    const c = this.cmos;
    const year = this.dec(c[REG_CENTURY]) * 100 + this.dec(c[REG_YEAR]);
    const u = unixFromCivil(year, this.dec(c[REG_MONTH]), this.dec(c[REG_DOM]), this.decHour(c[REG_HOUR]), this.dec(c[REG_MIN]), this.dec(c[REG_SEC]));
    this.dowOffset = floorMod(this.dec(c[REG_DOW]) - 1 - weekdayFromDays(floorDiv(u, 86400)), 7);
    return u;
  }

  /** First Unix time after `u` whose encoded time matches the alarm bytes, or -1 if none can. */
  private nextAlarm(u: number): number {
    const a = [this.cmos[REG_SEC_ALARM], this.cmos[REG_MIN_ALARM], this.cmos[REG_HOUR_ALARM]];
    const ok = (alarm: number, encoded: number): boolean => (alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE || alarm === encoded;
    const secOk: boolean[] = [];
    const minOk: boolean[] = [];
    const hourOk: boolean[] = [];
    for (let s = 0; s < 60; s++) secOk.push(ok(a[0], this.enc(s)));
    for (let m = 0; m < 60; m++) minOk.push(ok(a[1], this.enc(m)));
    for (let h = 0; h < 24; h++) hourOk.push(ok(a[2], this.encHour(h)));
    if (!secOk.includes(true) || !minOk.includes(true) || !hourOk.includes(true)) return -1;
    const start = u + 1;
    const firstMinute = floorDiv(start, 60) * 60;
    // Time of day repeats daily (Unix time has no leap seconds): one day plus one minute.
    for (let i = 0; i <= 1441; i++) {
      const ms = firstMinute + i * 60;
      const tod = floorMod(ms, 86400);
      if (!hourOk[Math.floor(tod / 3600)] || !minOk[Math.floor(tod / 60) % 60]) continue;
      for (let s = i === 0 ? start - ms : 0; s < 60; s++) if (secOk[s]) return ms + s;
    }
    return -1;
  }

  // ---- flags and IRQ8 ----

  /** Account PF/UF/AF for (flagsNs, now] under the current settings. */
  private sync(): void {
    const t = this.clock.nowNs();
    if (t > this.flagsNs && this.dividerRunning()) {
      const f0 = this.flagsNs;
      const cyc = periodicCycles(this.regA & A_RS);
      if (cyc !== 0 && floorDiv(this.cycles(t), cyc) > floorDiv(this.cycles(f0), cyc)) this.cFlags |= C_PF;
      if (!(this.regB & B_SET)) {
        const s0 = this.secCount(f0);
        const s1 = this.secCount(t);
        if (s1 > s0) {
          this.cFlags |= C_UF;
          if (!(this.cFlags & C_AF)) {
            const n = this.nextAlarm(this.baseUnix + s0 - this.baseSec);
            if (n >= 0 && n <= this.baseUnix + s1 - this.baseSec) this.cFlags |= C_AF;
          }
        }
      }
    }
    if (t > this.flagsNs) this.flagsNs = t;
    this.updateIrq();
  }

  private irqf(): boolean {
    const b = this.regB;
    return ((this.cFlags & C_PF) !== 0 && (b & B_PIE) !== 0) || ((this.cFlags & C_AF) !== 0 && (b & B_AIE) !== 0) || ((this.cFlags & C_UF) !== 0 && (b & B_UIE) !== 0);
  }

  private updateIrq(): void {
    const level = this.irqf();
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq?.set(level);
  }

  /** Arm a timer for the next event that would raise IRQF (none while IRQF is already 1). */
  private armTimer(): void {
    if (this.timerId >= 0) this.clock.cancel(this.timerId);
    this.timerId = -1;
    const gen = ++this.timerGen;
    if (!this.irq || this.irqf() || !this.dividerRunning()) return;
    const t = this.clock.nowNs();
    const b = this.regB;
    let due = Infinity;
    const cyc = periodicCycles(this.regA & A_RS);
    if (b & B_PIE && cyc !== 0) {
      const k = floorDiv(this.cycles(t), cyc) + 1;
      due = Math.min(due, this.divAnchorNs + mulDivCeil(k * cyc, C32_DEN, C32_NUM));
    }
    if (!(b & B_SET)) {
      if (b & B_UIE) due = Math.min(due, this.divAnchorNs + (this.secCount(t) + 1) * NS_PER_S);
      if (b & B_AIE) {
        const n = this.nextAlarm(this.runningUnix(t));
        if (n >= 0) due = Math.min(due, this.divAnchorNs + (this.baseSec + n - this.baseUnix) * NS_PER_S);
      }
    }
    if (due === Infinity) return;
    this.timerId = this.clock.after(due > t ? due - t : 0, () => {
      if (gen !== this.timerGen) return;
      this.timerId = -1;
      this.sync();
      this.armTimer();
    });
  }
}
