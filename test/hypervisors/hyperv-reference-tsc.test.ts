// The Hyper-V reference TSC page against §3.8 (TLFS timers.md): TscScale = floor(10^7 · 2^64 / TSC Hz),
// ReferenceTime = ((VirtualTsc * TscScale) >> 64) + TscOffset read by the TLFS guest algorithm,
// equal to TIME_REF_COUNT; sequence 0 = invalid, bumped on every rewrite. The reference
// arithmetic here is exact BigInt written from the spec text, independent of the implementation.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HypervPersonality } from '../../src/hypervisors/hyperv.js';
import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypervisorHost } from '../../src/hypervisors/personality.js';

/** The machine's clock rule: TSC = floor(ns · kHz / 10^6) + offset, continuous across frequency changes. */
class FakeHost implements HypervisorHost {
  readonly vcpus = 1;
  readonly mem = new GuestMemory(1 << 20);
  readonly bootTime = 0;
  readonly kv = new KvStore();
  ns = 0;
  tscOffset = 0n;
  constructor(public khz = 2_000_000) {}
  nowNs(): number {
    return this.ns;
  }
  private exactTsc(): bigint {
    return (BigInt(this.ns) * BigInt(this.khz)) / 1_000_000n + this.tscOffset;
  }
  /** The TSC as a Number, as the machine keeps it (what RDTSC returns). */
  tsc(): number {
    return Number(this.exactTsc());
  }
  tscBig(): bigint {
    return BigInt(this.tsc());
  }
  tscKHz(): number {
    return this.khz;
  }
  setTscKHz(khz: number): void {
    const before = this.exactTsc();
    this.khz = khz;
    this.tscOffset += before - this.exactTsc();
  }
  injectInterrupt(): void {}
  after(): number {
    return 0;
  }
  cancel(): void {}
}

const MSR_TIME_REF_COUNT = 0x40000020;
const MSR_REFERENCE_TSC = 0x40000021;
const PAGE = 0x3000;
const TWO_64 = 1n << 64n;

function setup(khz: number): { h: HypervPersonality; host: FakeHost } {
  const h = new HypervPersonality();
  const host = new FakeHost(khz);
  h.attach(host);
  return { h, host };
}

function timeRefCount(h: HypervPersonality): bigint {
  const out = new Int32Array(2);
  if (!h.rdmsr(MSR_TIME_REF_COUNT, out)) throw new Error('TIME_REF_COUNT unhandled');
  return (BigInt(out[1] >>> 0) << 32n) | BigInt(out[0] >>> 0);
}

interface PageView {
  sequence: number;
  scale: bigint;
  offset: bigint;
}

function readPage(mem: GuestMemory, gpa = PAGE): PageView {
  const b = mem.readBytes(gpa, 24)!;
  const v = new DataView(b.buffer, b.byteOffset);
  return { sequence: v.getUint32(0, true), scale: v.getBigUint64(8, true), offset: v.getBigUint64(16, true) };
}

/** The TLFS timers.md guest algorithm (sequence read, rdtsc, scale/offset, sequence re-read; 0 → MSR). */
function guestReferenceTime(h: HypervPersonality, host: FakeHost): bigint {
  for (;;) {
    const start = readPage(host.mem).sequence;
    if (start === 0) return timeRefCount(h);
    const tsc = BigInt.asUintN(64, host.tscBig());
    const { scale, offset } = readPage(host.mem);
    if (readPage(host.mem).sequence !== start) continue;
    return BigInt.asUintN(64, ((tsc * scale) >> 64n) + offset);
  }
}

/** §3.8: TscScale = 10^7 · 2^64 / TSC Hz, in integers (floor); null when it does not fit 64 bits. */
function specScale(khz: number): bigint | null {
  const s = (10_000_000n * TWO_64) / (BigInt(khz) * 1000n);
  return s < TWO_64 ? s : null;
}

describe('reference TSC page (§3.8)', () => {
  it('TscScale for the §3.8 examples: 1 GHz, 2.4 GHz, 3 GHz', () => {
    for (const [khz, scale] of [[1_000_000, 0x028f5c28f5c28f5cn], [2_400_000, 0x0111111111111111n], [3_000_000, 0x00da740da740da74n]] as const) {
      const { h, host } = setup(khz);
      host.ns = 123_456_789;
      h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
      expect(readPage(host.mem).scale).toBe(scale);
    }
  });

  it('layout: sequence @0 non-zero, reserved @4 zero, scale @8, offset @16, the rest of the page zero', () => {
    const { h, host } = setup(2_000_000);
    host.mem.writeBytes(PAGE, new Uint8Array(4096).fill(0xee));
    host.ns = 5_000;
    expect(h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0)).toBe('ok');
    const p = readPage(host.mem);
    expect(p.sequence).not.toBe(0);
    expect(host.mem.read32(PAGE + 4)).toBe(0);
    expect(host.mem.readBytes(PAGE + 24, 4096 - 24)!.every((b) => b === 0)).toBe(true);
  });

  it('for any TSC frequency, time and TSC offset: scale is exact, the page reads TIME_REF_COUNT exactly, then stays equal to it', () => {
    fc.assert(
      fc.property(
        // TSC kHz: the VM API's range above the 10 MHz floor (10 001 .. 10^8) and its edges.
        fc.oneof(fc.integer({ min: 10_001, max: 100_000_000 }), fc.constantFrom(10_001, 10_002, 1_000_000, 2_000_000, 99_999_999, 100_000_000)),
        // Times up to 2^43 ns (2.4 h), offsets up to 2^52 and steps below: the TSC stays under 2^53,
        // where the machine's Number TSC is exact (above it RDTSC itself rounds; docs/personalities/hyperv.md).
        fc.integer({ min: 0, max: 2 ** 43 }),
        fc.bigInt({ min: 0n, max: 1n << 52n }),
        fc.array(fc.integer({ min: 0, max: 10 ** 12 }), { minLength: 1, maxLength: 8 }),
        (khz, ns0, tscOffset, steps) => {
          const { h, host } = setup(khz);
          host.ns = ns0;
          host.tscOffset = tscOffset;
          const before = timeRefCount(h);
          expect(before).toBe(BigInt(ns0) / 100n);
          h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
          const p = readPage(host.mem);
          expect(p.scale).toBe(specScale(khz));
          expect(p.sequence).not.toBe(0);
          // The page and TIME_REF_COUNT at the instant of the write: exactly the counter before it.
          expect(guestReferenceTime(h, host)).toBe(before);
          expect(timeRefCount(h)).toBe(before);
          let last = before;
          for (const d of steps) {
            host.ns += d;
            const page = guestReferenceTime(h, host);
            expect(timeRefCount(h)).toBe(page); // the same instant: identical
            expect(page >= last).toBe(true); // monotonic
            // Rate: |Δpage − Δns/100| < 1 (floor of the product) + 1 (floor of the TSC) + 10^4/kHz (one TSC
            // tick) + Δtsc·2^-64 (TscScale truncated; Δtsc < 2^53 here, so < 2^-11 tick), hence
            // |100·Δpage − Δns| · kHz < 200·kHz + 10^6 + kHz.
            const dPage = page - before;
            const dNs = BigInt(host.ns - ns0);
            const err = dPage * 100n - dNs;
            const abs = err < 0n ? -err : err;
            expect(abs * BigInt(khz) < 201n * BigInt(khz) + 1_000_000n).toBe(true);
            last = page;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a TSC at or below 10 MHz has no 64-bit scale: sequence 0 is published and TIME_REF_COUNT keeps to virtual time', () => {
    for (const khz of [1, 1000, 9_999, 10_000]) {
      expect(specScale(khz)).toBeNull();
      const { h, host } = setup(khz);
      host.ns = 777_700;
      h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
      expect(readPage(host.mem).sequence).toBe(0);
      host.ns = 1_000_050;
      expect(guestReferenceTime(h, host)).toBe(10_000n);
    }
    expect(specScale(10_001)).not.toBeNull();
  });

  it('a TSC near 2^64 (the guest wrote IA32_TSC): the page still reads TIME_REF_COUNT, in wrapping 64-bit arithmetic', () => {
    // 4.096 GHz and steps of 10 µs keep every TSC value a multiple of 4096, exact in the machine's Number TSC up there.
    const { h, host } = setup(4_096_000);
    host.ns = 10_000_000;
    host.tscOffset = (1n << 64n) - 40_960n - 40_960_000n; // TSC = 2^64 − 40960
    const before = timeRefCount(h);
    h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
    expect(guestReferenceTime(h, host)).toBe(before);
    for (let i = 0; i < 3; i++) {
      host.ns += 10_000; // the TSC passes 2^64 and wraps
      expect(guestReferenceTime(h, host)).toBe(timeRefCount(h));
    }
  });

  it('every rewrite bumps the sequence (never 0); a frequency change republishes for the new frequency without a jump', () => {
    const { h, host } = setup(2_000_000);
    host.ns = 1_000_000;
    h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
    const seq1 = readPage(host.mem).sequence;
    host.ns = 2_000_000;
    h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
    const seq2 = readPage(host.mem).sequence;
    expect(seq2).not.toBe(seq1);
    expect(seq2).not.toBe(0);

    host.ns = 3_000_033;
    const atChange = timeRefCount(h);
    host.setTscKHz(3_300_000); // the migration knob: the machine calls clockChanged() after it
    h.clockChanged();
    const p = readPage(host.mem);
    expect(p.sequence).not.toBe(seq2);
    expect(p.sequence).not.toBe(0);
    expect(p.scale).toBe(specScale(3_300_000));
    expect(guestReferenceTime(h, host)).toBe(atChange);

    host.ns = 4_000_000;
    const beforeSlow = timeRefCount(h);
    host.setTscKHz(5_000); // too slow for the page
    h.clockChanged();
    expect(readPage(host.mem).sequence).toBe(0);
    expect(timeRefCount(h)).toBe(beforeSlow);
    host.ns = 4_000_500;
    expect(timeRefCount(h)).toBe(beforeSlow + 5n);

    host.setTscKHz(2_000_000);
    h.clockChanged();
    const back = readPage(host.mem);
    expect(back.sequence).not.toBe(0);
    expect(guestReferenceTime(h, host)).toBe(beforeSlow + 5n);
  });

  it('a guest write to IA32_TSC leaves TIME_REF_COUNT on virtual time (monotonic, TLFS timers.md); republishing re-aligns the page', () => {
    const { h, host } = setup(2_000_000);
    host.ns = 1_000_000;
    h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
    host.ns = 2_000_000;
    const before = timeRefCount(h);
    expect(before).toBe(20_000n);
    host.tscOffset -= 1_000_000n; // the guest set its TSC back by 0.5 ms
    expect(timeRefCount(h)).toBe(before); // the counter does not move back
    expect(guestReferenceTime(h, host)).toBe(before - 5_000n); // the page follows the guest's TSC
    h.clockChanged(); // what the machine would call after such a write
    expect(guestReferenceTime(h, host)).toBe(before);
    host.ns += 100_000;
    expect(guestReferenceTime(h, host)).toBe(before + 1_000n);
    expect(timeRefCount(h)).toBe(before + 1_000n);
  });

  it('the sequence skips 0 and 0xFFFFFFFF when it wraps', async () => {
    const { nextTscSequence } = await import('../../src/hypervisors/hyperv-reference-time.js');
    expect(nextTscSequence(0)).toBe(1);
    expect(nextTscSequence(0xfffffffe)).toBe(1);
    expect(nextTscSequence(0xffffffff)).toBe(1);
    expect(nextTscSequence(41)).toBe(42);
  });

  it('disabling the page leaves TIME_REF_COUNT continuous and monotonic; clockChanged with the page off writes nothing', () => {
    const { h, host } = setup(2_500_000);
    host.ns = 10_000_001;
    h.wrmsr(MSR_REFERENCE_TSC, PAGE | 1, 0);
    host.ns = 20_000_077;
    const on = timeRefCount(h);
    h.wrmsr(MSR_REFERENCE_TSC, PAGE, 0);
    expect(timeRefCount(h)).toBe(on);
    const seq = readPage(host.mem).sequence;
    host.setTscKHz(1_000_000);
    h.clockChanged();
    expect(readPage(host.mem).sequence).toBe(seq);
    host.ns += 1000;
    expect(timeRefCount(h)).toBe(on + 10n);
  });

  it('a GPFN outside RAM is accepted, nothing is written, TIME_REF_COUNT stays virtual time', () => {
    const { h, host } = setup(2_000_000);
    host.ns = 12_345;
    for (const [lo, hi] of [[0xfffff001, 0xffffffff], [(host.mem.size | 1) >>> 0, 0], [0x1, 0x1]]) {
      expect(h.wrmsr(MSR_REFERENCE_TSC, lo, hi)).toBe('ok');
      expect(timeRefCount(h)).toBe(123n);
    }
    expect(host.mem.readBytes(0, host.mem.size)!.every((b) => b === 0)).toBe(true);
  });
});
