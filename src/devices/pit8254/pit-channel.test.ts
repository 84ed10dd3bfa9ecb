// The closed-form counter (advance by k pulses in O(1)) against a literal per-pulse model of
// the 82C54 mode definitions, over many deterministic pseudo-random programs.

import { describe, expect, it } from 'vitest';
import { PitChannel, bcdToBin, binToBcd } from './pit-channel.js';

/** A pulse-by-pulse 8254 counter written straight from the "Mode Definitions". */
class RefCounter {
  mode = 0;
  bcd = false;
  cr = 0;
  crValid = false;
  gate = true;
  out = true;
  ce = 0;
  loadPending = false;
  loaded = false;
  armed = false;

  /** Mode 3: full CE value (may be 65536) and parity of the count loaded for this half. */
  ce3 = 0;
  halfOdd = false;

  /** The CE as read back. */
  get value(): number {
    return this.mode === 3 && this.loaded ? this.ce3 % this.m : this.ce;
  }
  reload3(): void {
    const n = this.count();
    this.halfOdd = (n & 1) === 1;
    this.ce3 = this.halfOdd ? n - 1 : n;
    if (!this.out && this.ce3 === 0) {
      this.out = true; // N = 1: the low half is empty
      this.reload3();
    }
  }
  get m(): number {
    return this.bcd ? 10000 : 65536;
  }
  count(): number {
    const v = this.bcd ? bcdToBin(this.cr) : this.cr;
    return v === 0 ? this.m : v;
  }
  control(mode: number, bcd: boolean): void {
    this.mode = mode;
    this.bcd = bcd;
    this.crValid = false;
    this.loadPending = false;
    this.loaded = false;
    this.armed = false;
    this.out = mode !== 0;
  }
  writeCount(v: number): void {
    this.cr = v;
    this.crValid = true;
    if (this.mode === 0) {
      this.out = false;
      this.loadPending = true;
    } else if (this.mode === 4) this.loadPending = true;
    else if ((this.mode === 2 || this.mode === 3) && !this.loaded) this.loadPending = true;
  }
  setGate(g: boolean): void {
    if (g === this.gate) return;
    this.gate = g;
    if ((this.mode === 1 || this.mode === 5) && g && this.crValid) this.loadPending = true;
    if (this.mode === 2 || this.mode === 3) {
      if (!g) this.out = true;
      else if (this.crValid) {
        this.loaded = false;
        this.loadPending = true;
      }
    }
  }
  pulse(): void {
    const mode = this.mode;
    if ((mode === 4 || mode === 5) && !this.out && !this.armed) this.out = true;
    if (this.loadPending) {
      if ((mode === 2 || mode === 3) && !this.gate) return;
      this.loadPending = false;
      this.loaded = true;
      const n = this.count();
      if (mode === 3) {
        this.out = true;
        this.reload3();
      } else {
        this.ce = n % this.m;
        this.armed = mode !== 2;
        this.out = !(mode === 0 || mode === 1);
      }
      return;
    }
    if (!this.loaded) return;
    if ((mode === 0 || mode === 2 || mode === 3 || mode === 4) && !this.gate) return;
    if (mode === 2) {
      if (this.ce === 1) {
        this.ce = this.count() % this.m;
        this.out = true;
      } else {
        this.ce = (this.ce - 1 + this.m) % this.m;
        if (this.ce === 1) this.out = false;
      }
      return;
    }
    if (mode === 3) {
      // Counts down by two. Odd N: N-1 is loaded; while OUT is high it stays one more pulse
      // at 0 after expiring, then OUT goes low; while low it toggles on expiring.
      if (this.out && this.halfOdd && this.ce3 === 0) {
        this.out = false;
        this.reload3();
        return;
      }
      this.ce3 -= 2;
      if (this.ce3 === 0 && !(this.out && this.halfOdd)) {
        this.out = !this.out;
        this.reload3();
      }
      return;
    }
    this.ce = (this.ce - 1 + this.m) % this.m;
    if (this.ce === 0 && this.armed) {
      this.armed = false;
      this.out = mode === 0 || mode === 1;
    }
  }
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 8;
  };
}

const COUNTS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 16, 17, 33, 100, 255, 256, 1000];

describe('PitChannel closed form vs pulse-by-pulse reference', () => {
  it('agrees on CE and OUT, and predicts the next OUT change, for 3000 random programs', () => {
    const rnd = lcg(12345);
    let checks = 0;
    for (let prog = 0; prog < 3000; prog++) {
      const mode = rnd() % 6;
      const bcd = rnd() % 4 === 0;
      const pick = () => {
        const c = COUNTS[rnd() % COUNTS.length];
        return bcd ? binToBcd(c % 10000) : c;
      };
      const ch = new PitChannel();
      const ref = new RefCounter();
      ch.gate = ref.gate = rnd() % 4 !== 0;
      ch.setControl(mode, 3, bcd);
      ref.control(mode, bcd);
      const n0 = pick();
      ch.writeByte(n0 & 0xff);
      ch.writeByte(n0 >> 8);
      ref.writeCount(n0);
      let tick = 0;
      for (let step = 0; step < 12; step++) {
        const r = rnd() % 10;
        if (r === 0) {
          const g = !ch.gate;
          ch.setGate(g);
          ref.setGate(g);
        } else if (r === 1) {
          const n = pick();
          ch.writeByte(n & 0xff);
          ch.writeByte(n >> 8);
          ref.writeCount(n);
        }
        // Predict the next OUT change, then check it by stepping the reference.
        const predicted = ch.ticksToOutChange();
        const probe = Object.assign(new RefCounter(), ref);
        let actual = -1;
        for (let i = 1; i <= 300; i++) {
          const before = probe.out;
          probe.pulse();
          if (probe.out !== before) {
            actual = i;
            break;
          }
        }
        if (predicted >= 0 && predicted <= 300) expect({ prog, step, d: predicted }).toEqual({ prog, step, d: actual });
        else expect({ prog, step, d: actual }).toEqual({ prog, step, d: -1 });
        const k = 1 + (rnd() % 70);
        for (let i = 0; i < k; i++) ref.pulse();
        tick += k;
        ch.advanceTo(tick);
        expect({ prog, step, ce: ch.ceValue(), out: ch.out }).toEqual({ prog, step, ce: ref.value, out: ref.out });
        checks++;
      }
    }
    expect(checks).toBe(36000);
  });
});

describe('BCD helpers', () => {
  it('convert four decimal digits', () => {
    expect(bcdToBin(0x1234)).toBe(1234);
    expect(binToBcd(1234)).toBe(0x1234);
    expect(bcdToBin(0x0000)).toBe(0);
    expect(binToBcd(9999)).toBe(0x9999);
    expect(bcdToBin(0xffff)).toBe((15 * 1000 + 15 * 100 + 15 * 10 + 15) % 10000);
  });
});
