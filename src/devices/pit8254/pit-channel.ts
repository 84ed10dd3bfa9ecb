// One counter of an 8254, as a function of CLK pulses.
//
// Reference: Intel 82C54 CHMOS Programmable Interval Timer datasheet (order 231244),
// sections "Operation" (Control Word, Counter Latch Command, Read-Back Command, Status
// Byte, Read Operations), "Mode Definitions" (modes 0-5) and "Gate" (Figure "Gate Pin
// Operations Summary"). The names CR (count register), CE (counting element) and OL
// (output latch) are the datasheet's.
//
// The counter keeps its state as of CLK pulse `baseTick` and moves forward in closed form
// (advance(k) costs O(1) for any k), so reads and timer deadlines never loop per tick.
//
// Timing follows the datasheet, including the load delay: after a count is written (or a
// trigger), the CR->CE transfer takes the next CLK pulse and counting starts on the one
// after, so in mode 0 OUT goes high N+1 pulses after the count is written.
//
// Counts: a CR of 0 means 2^16 (binary) or 10^4 (BCD). The CE is kept as a binary number
// in [0, M) (M = 65536 or 10000) and BCD-encoded only when read. A BCD count with digits
// above 9 is read as the weighted sum of its nibbles, modulo 10^4 (defined, if odd).
// Counts of 1 in modes 2 and 3 (illegal per the datasheet) keep OUT high.

import type { DeviceState } from '../device.js';
import { stateBool, stateNum } from '../state.js';

/** Decode a BCD count (four nibbles, weights 1000/100/10/1), modulo 10^4. */
export function bcdToBin(v: number): number {
  return (((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf)) % 10000;
}

export function binToBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 10) % 10) << 4) | v % 10;
}

/** Status byte fields (datasheet "Status Byte"). */
const STATUS_OUTPUT = 0x80;
const STATUS_NULL_COUNT = 0x40;

export class PitChannel {
  // Programming (Control Word: SC, RW, M, BCD).
  /** M2-M0 as written (6 and 7 are aliases of 2 and 3, reported as written in the status). */
  modeBits = 0;
  /** RW: 1 = LSB only, 2 = MSB only, 3 = LSB then MSB. */
  access = 3;
  bcd = false;

  /** Count register as written (raw 16 bits). */
  cr = 0;
  /** A count has been written since the last Control Word. */
  crValid = false;
  /** RW = 3: the next write is the LSB. */
  writeLsb = true;
  /** RW = 3: LSB already written, waiting for the MSB. */
  crLow = 0;
  /** RW = 3: the next read (of the CE or the latch) is the LSB. */
  readLsb = true;

  /** Output latch: -1 when not latched, else the latched (encoded) count. */
  latch = -1;
  /** Status latched by a Read-Back command: -1 when none. */
  status = -1;

  gate = true;
  out = true;
  /** CE content, binary, in [0, M). For mode 3 see curN/halfLeft. */
  ce = 0;
  /** CR -> CE transfer happens on the next CLK pulse. */
  loadPending = false;
  /** The CE holds a count and the mode's counting sequence is active. */
  loaded = false;
  /** Modes 0, 1, 4, 5: the terminal count of this load has not happened yet. */
  armed = false;
  /** Status NULL COUNT: CR written but not yet transferred to CE. */
  nullCount = true;
  /** Modes 2 and 3: the count loaded at the last (re)load. */
  curN = 0;
  /** Mode 3: CLK pulses until OUT toggles. */
  halfLeft = 0;
  /** CLK pulse (since power-on) up to which the state is current. */
  baseTick = 0;

  /** The counting mode 0-5. */
  get mode(): number {
    return this.modeBits > 5 ? this.modeBits - 4 : this.modeBits;
  }

  /** Modulus of the CE: 2^16 binary, 10^4 BCD. */
  private get modulus(): number {
    return this.bcd ? 10000 : 65536;
  }

  /** The count N the CR represents, in [1, M]. */
  count(): number {
    const v = this.bcd ? bcdToBin(this.cr) : this.cr & 0xffff;
    return v === 0 ? this.modulus : v;
  }

  // ---- programming ----

  /** Control Word for this counter: mode, access, BCD; resets the control logic. */
  setControl(modeBits: number, access: number, bcd: boolean): void {
    this.ce = this.ceValue(); // the CE stops where it is
    this.modeBits = modeBits & 7;
    this.access = access;
    this.bcd = bcd;
    this.crValid = false;
    this.loadPending = false;
    this.loaded = false;
    this.armed = false;
    this.nullCount = true;
    this.writeLsb = true;
    this.readLsb = true;
    this.latch = -1;
    this.status = -1;
    // "Mode Definitions": after the Control Word OUT is low in mode 0, high in modes 1-5.
    this.out = this.mode !== 0;
  }

  /** A byte written to the counter's port. */
  writeByte(v: number): void {
    switch (this.access) {
      case 1:
        this.cr = v;
        break;
      case 2:
        this.cr = v << 8;
        break;
      default:
        if (this.writeLsb) {
          this.crLow = v;
          this.writeLsb = false;
          if (this.mode === 0) {
            // Mode 0: "writing the first byte disables counting, OUT is set low immediately".
            this.ce = this.ceValue();
            this.loaded = false;
            this.loadPending = false;
            this.out = false;
          }
          return;
        }
        this.cr = this.crLow | (v << 8);
        this.writeLsb = true;
        break;
    }
    this.countWritten();
  }

  private countWritten(): void {
    this.crValid = true;
    this.nullCount = true;
    switch (this.mode) {
      case 0:
        this.out = false;
        this.loadPending = true;
        break;
      case 4:
        this.loadPending = true;
        break;
      case 2:
      case 3:
        // The first count starts the counter; a new count while counting is picked up at
        // the next reload (mode 2) or the end of the current half-cycle (mode 3).
        if (!this.loaded) this.loadPending = true;
        break;
      default:
        break; // modes 1 and 5 wait for a GATE trigger
    }
  }

  /** GATE input change (the owner advances the counter to now first). */
  setGate(level: boolean): void {
    if (level === this.gate) return;
    this.gate = level;
    switch (this.mode) {
      case 1:
      case 5:
        if (level && this.crValid) this.loadPending = true; // rising edge = trigger
        break;
      case 2:
      case 3:
        if (!level) {
          // GATE low forces OUT high and stops counting; the CE keeps its value (and the
          // rising edge reloads anyway, so the sequence need not be resumable).
          this.ce = this.ceValue();
          if (this.mode === 3) this.loaded = false;
          this.out = true;
        } else if (this.crValid) {
          this.loaded = false;
          this.loadPending = true; // rising edge reloads the counter
        }
        break;
      default:
        break; // modes 0 and 4: GATE low only suspends counting
    }
  }

  /** Counter Latch Command (ignored while a latched count is unread). */
  latchCount(): void {
    if (this.latch < 0) this.latch = this.encode(this.ceValue());
  }

  /** Read-Back status latch (ignored while a latched status is unread). */
  latchStatus(): void {
    if (this.status >= 0) return;
    let s = ((this.access & 3) << 4) | ((this.modeBits & 7) << 1) | (this.bcd ? 1 : 0);
    if (this.out) s |= STATUS_OUTPUT;
    if (this.nullCount) s |= STATUS_NULL_COUNT;
    this.status = s;
  }

  /** A byte read from the counter's port: status, then latched count, then the live CE. */
  readByte(): number {
    if (this.status >= 0) {
      const s = this.status;
      this.status = -1;
      return s;
    }
    const latched = this.latch >= 0;
    const v = latched ? this.latch : this.encode(this.ceValue());
    let b: number;
    switch (this.access) {
      case 1:
        b = v & 0xff;
        if (latched) this.latch = -1;
        break;
      case 2:
        b = (v >> 8) & 0xff;
        if (latched) this.latch = -1;
        break;
      default:
        if (this.readLsb) {
          b = v & 0xff;
          this.readLsb = false;
        } else {
          b = (v >> 8) & 0xff;
          this.readLsb = true;
          if (latched) this.latch = -1;
        }
        break;
    }
    return b;
  }

  private encode(v: number): number {
    return this.bcd ? binToBcd(v) : v & 0xffff;
  }

  /** The CE as the datasheet would show it (binary, in [0, M)). */
  ceValue(): number {
    if (this.mode === 3 && this.loaded) {
      // Even N: N, N-2, ..., 2 in each half. Odd N: N-1, ..., 0 while OUT is high and
      // N-1, ..., 2 while low ("Mode 3": the count is decremented by two).
      const v = this.curN & 1 && this.out ? 2 * (this.halfLeft - 1) : 2 * this.halfLeft;
      return v % this.modulus;
    }
    return this.ce;
  }

  // ---- time ----

  /** Move the state forward to CLK pulse `tick` (no-op if not later than baseTick). */
  advanceTo(tick: number): void {
    const k = tick - this.baseTick;
    if (k <= 0) return;
    this.baseTick = tick;
    this.advance(k);
  }

  private advance(k: number): void {
    const mode = this.mode;
    // Modes 4 and 5: the strobe lasts one CLK period.
    if ((mode === 4 || mode === 5) && !this.out && !this.armed) this.out = true;
    const gated = mode === 0 || mode === 2 || mode === 3 || mode === 4;
    if (this.loadPending) {
      if ((mode === 2 || mode === 3) && !this.gate) return;
      this.load();
      k -= 1;
    }
    if (!this.loaded || k <= 0 || (gated && !this.gate)) return;
    switch (mode) {
      case 2:
        this.advanceRate(k);
        break;
      case 3:
        this.advanceSquare(k);
        break;
      default:
        this.advanceOneShot(k);
        break;
    }
  }

  /** CR -> CE transfer (one CLK pulse). */
  private load(): void {
    const n = this.count();
    this.loadPending = false;
    this.loaded = true;
    this.nullCount = false;
    switch (this.mode) {
      case 0:
        this.ce = n % this.modulus;
        this.armed = true;
        this.out = false;
        break;
      case 1:
        this.ce = n % this.modulus;
        this.armed = true;
        this.out = false; // OUT goes low on the CLK pulse after the trigger
        break;
      case 4:
      case 5:
        this.ce = n % this.modulus;
        this.armed = true;
        this.out = true;
        break;
      case 2:
        this.ce = n % this.modulus;
        this.curN = n;
        this.out = true;
        break;
      default:
        this.curN = n;
        this.out = true;
        this.halfLeft = halfLength(n, true);
        break;
    }
  }

  /** Modes 0, 1, 4, 5: count down by one, wrapping; OUT acts at the first terminal count. */
  private advanceOneShot(k: number): void {
    const m = this.modulus;
    const toZero = this.ce === 0 ? m : this.ce;
    if (this.armed && k >= toZero) {
      this.armed = false;
      const mode = this.mode;
      if (mode === 0 || mode === 1) this.out = true;
      else this.out = k !== toZero; // 4, 5: low for the one CLK period at terminal count
    }
    this.ce = (((this.ce - k) % m) + m) % m;
  }

  /** Mode 2: N, N-1, ..., 1 (OUT low while 1), reload from CR. */
  private advanceRate(k: number): void {
    let cur = this.ce === 0 ? this.modulus : this.ce;
    if (k < cur) {
      cur -= k;
    } else {
      k -= cur; // the reload takes the pulse after the CE reached 1
      const n = this.count();
      this.curN = n;
      this.nullCount = false;
      cur = n - (k % n);
    }
    this.ce = cur % this.modulus;
    this.out = !(cur === 1 && this.curN > 1);
  }

  /** Mode 3: OUT toggles every half-cycle; each half reloads from CR. */
  private advanceSquare(k: number): void {
    if (k < this.halfLeft) {
      this.halfLeft -= k;
      return;
    }
    k -= this.halfLeft;
    this.toggleSquare();
    k %= this.curN; // a whole cycle (N pulses) returns to the same state
    while (k >= this.halfLeft) {
      k -= this.halfLeft;
      this.toggleSquare();
    }
    this.halfLeft -= k;
  }

  private toggleSquare(): void {
    const n = this.count();
    this.curN = n;
    this.nullCount = false;
    this.out = !this.out;
    this.halfLeft = halfLength(n, this.out);
    if (this.halfLeft === 0) {
      // N = 1: the low half is empty, OUT goes straight back high.
      this.out = true;
      this.halfLeft = halfLength(n, true);
    }
  }

  /**
   * CLK pulses after baseTick until OUT next changes, assuming no port access in between;
   * -1 if it never will.
   */
  ticksToOutChange(): number {
    const mode = this.mode;
    if ((mode === 4 || mode === 5) && !this.out && !this.armed) return 1;
    if (this.loadPending) {
      if ((mode === 2 || mode === 3) && !this.gate) return -1;
      const after = new PitChannel();
      after.loadState(this.saveState());
      after.advanceTo(this.baseTick + 1);
      if (after.out !== this.out) return 1;
      const rest = after.ticksToOutChange();
      return rest < 0 ? -1 : rest + 1;
    }
    if (!this.loaded) return -1;
    if ((mode === 0 || mode === 2 || mode === 3 || mode === 4) && !this.gate) return -1;
    switch (mode) {
      case 2: {
        const cur = this.ce === 0 ? this.modulus : this.ce;
        if (this.curN > 1) return cur === 1 ? 1 : cur - 1;
        const n = this.count(); // now reloading N = 1 every pulse with OUT high
        return n > 1 ? n : -1;
      }
      case 3:
        if (this.out && this.count() === 1) return -1;
        return this.halfLeft;
      default:
        if (!this.armed) return -1;
        return this.ce === 0 ? this.modulus : this.ce;
    }
  }

  // ---- state ----

  saveState(): DeviceState {
    return {
      modeBits: this.modeBits,
      access: this.access,
      bcd: this.bcd,
      cr: this.cr,
      crValid: this.crValid,
      writeLsb: this.writeLsb,
      crLow: this.crLow,
      readLsb: this.readLsb,
      latch: this.latch,
      status: this.status,
      gate: this.gate,
      out: this.out,
      ce: this.ce,
      loadPending: this.loadPending,
      loaded: this.loaded,
      armed: this.armed,
      nullCount: this.nullCount,
      curN: this.curN,
      halfLeft: this.halfLeft,
      baseTick: this.baseTick,
    };
  }

  loadState(s: DeviceState): void {
    this.modeBits = stateNum(s, 'modeBits') & 7;
    const access = stateNum(s, 'access');
    this.access = access >= 1 && access <= 3 ? access : 3;
    this.bcd = stateBool(s, 'bcd');
    this.cr = stateNum(s, 'cr') & 0xffff;
    this.crValid = stateBool(s, 'crValid');
    this.writeLsb = stateBool(s, 'writeLsb');
    this.crLow = stateNum(s, 'crLow') & 0xff;
    this.readLsb = stateBool(s, 'readLsb');
    this.latch = stateNum(s, 'latch');
    this.status = stateNum(s, 'status');
    this.gate = stateBool(s, 'gate');
    this.out = stateBool(s, 'out');
    this.ce = stateNum(s, 'ce');
    this.loadPending = stateBool(s, 'loadPending');
    this.loaded = stateBool(s, 'loaded');
    this.armed = stateBool(s, 'armed');
    this.nullCount = stateBool(s, 'nullCount');
    this.curN = stateNum(s, 'curN');
    this.halfLeft = stateNum(s, 'halfLeft');
    this.baseTick = stateNum(s, 'baseTick');
  }
}

/** Mode 3 half-cycle lengths: N/2 each for even N; (N+1)/2 high and (N-1)/2 low for odd N. */
function halfLength(n: number, high: boolean): number {
  if ((n & 1) === 0) return n / 2;
  return high ? (n + 1) / 2 : (n - 1) / 2;
}
