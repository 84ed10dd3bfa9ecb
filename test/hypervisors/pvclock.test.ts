// pvclock arithmetic and layout against the spec digest §3.1, §3.3, §3.4 (and §3.8 for the Hyper-V scale).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodePvclockVcpuTimeInfo,
  encodePvclockVcpuTimeInfo,
  encodePvclockWallClock,
  hvTscPageRead,
  hvTscPageScale,
  kvmGetTimeScale,
  pvclockReadNs,
  pvclockScaleDelta,
  pvclockScaleForTscHz,
  pvclockScaleForTscKHz,
  pvclockTscKHz,
  PVCLOCK_TSC_STABLE_BIT,
} from '../../src/hypervisors/pvclock.js';
import { vmmPvclockScale } from '../../src/hypervisors/vmm.js';

const E9 = 1_000_000_000n;

describe('kvm_get_time_scale (§3.4)', () => {
  // The worked-values table of §3.4: [TSC Hz, tsc_shift, tsc_to_system_mul, ns for 1 s of TSC].
  const table: [number, number, number, bigint][] = [
    [1_000_000, 10, 0xfa000000, 1_000_000_000n],
    [100_000_000, 4, 0xa0000000, 1_000_000_000n],
    [1_000_000_000, 1, 0x80000000, 1_000_000_000n],
    [2_000_000_000, 0, 0x80000000, 1_000_000_000n],
    [2_400_000_000, -1, 0xd5555555, 999_999_999n],
    [3_000_000_000, -1, 0xaaaaaaaa, 999_999_999n],
    [3_600_000_000, -1, 0x8e38e38e, 999_999_999n],
  ];
  it.each(table)('%d Hz → shift %d, mul %#x, 1 s → %d ns', (hz, shift, mul, ns) => {
    const s = pvclockScaleForTscHz(hz);
    expect(s).toEqual({ mul, shift });
    expect(pvclockScaleDelta(BigInt(hz), s.mul, s.shift)).toBe(ns);
    expect(pvclockScaleForTscKHz(hz / 1000)).toEqual(s);
  });

  it('the guest recovers the TSC kHz from (mul, shift) (pvclock_tsc_khz, §3.3) within 1 kHz', () => {
    for (const [hz] of table) {
      const s = pvclockScaleForTscHz(hz);
      const khz = pvclockTscKHz(s.mul, s.shift);
      expect(Number(khz)).toBeGreaterThanOrEqual(hz / 1000 - 1);
      expect(Number(khz)).toBeLessThanOrEqual(hz / 1000 + 1);
    }
  });

  it('t32 ends in (scaled_hz, 2^32) and mul has its top bit set whenever scaled_hz is 1e9 (normalised fraction)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1_000_000n, max: 10_000_000_000n }), (hz) => {
        const { mul, shift } = kvmGetTimeScale(E9, hz);
        expect(mul >>> 0).toBeGreaterThanOrEqual(0x80000000);
        expect(shift).toBeGreaterThanOrEqual(-3);
        expect(shift).toBeLessThanOrEqual(10);
      }),
    );
  });
});

/**
 * k: how many low bits of the frequency the host's first loop drops (§3.4 `tps64 >>= 1`). Not simply
 * -shift: just above 2 GHz the first loop halves and the second doubles again (shift 0, one bit lost).
 */
function droppedBits(hz: bigint): bigint {
  let k = 0n;
  for (let t = hz; t > 2n * E9 || t >= 1n << 32n; t >>= 1n) k++;
  return k;
}

/**
 * The spec states no explicit error bound (§3.4 only gives worked values, 1 s → 999 999 999 ns, and
 * "any pair is valid as long as the formula yields ns"); this is the bound that follows from the
 * algorithm: with k low frequency bits dropped by the first loop, t32 in (1e9, 2e9] and
 * mul = floor(1e9·2^32 / t32), the guest value ns for exact = delta·1e9/hz satisfies
 *   exact − 2 − exact·2^-30  ≤  ns  ≤  exact · hz / (hz − 2^k + 1)
 * (truncated mul: < d'/2^32 ≤ exact·2^-31·(1+ε); truncated shifted delta: < 1e9/t32 < 1; final floor: < 1;
 * and the guest never runs ahead of exact time unless the host dropped frequency bits).
 */
function checkBound(hz: bigint, delta: bigint): void {
  const { mul, shift } = kvmGetTimeScale(E9, hz);
  const ns = pvclockScaleDelta(delta, mul, shift);
  const eNum = delta * E9; // exact = eNum / hz, reference arithmetic in unbounded integers
  const k = droppedBits(hz);
  // lower: (ns + 2)·hz·2^30 ≥ eNum·(2^30 − 1)
  expect((ns + 2n) * hz * (1n << 30n) >= eNum * ((1n << 30n) - 1n)).toBe(true);
  // upper: ns·(hz − 2^k + 1) ≤ eNum
  expect(ns * (hz - (1n << k) + 1n) <= eNum).toBe(true);
}

describe('guest pvclock_scale_delta with the host mul/shift agrees with exact arithmetic (§3.3, §3.4)', () => {
  const hzArb = fc.oneof(
    fc.bigInt({ min: 1_000_000n, max: 10_000_000_000n }),
    fc.constantFrom(1_000_000n, 1_000_001n, 999_999_999n, 1_000_000_000n, 1_000_000_001n, 2_000_000_000n, 2_000_000_001n,
      4_294_967_295n, 4_294_967_296n, 4_294_967_297n, 8_589_934_591n, 9_999_999_999n, 10_000_000_000n),
  );
  // delta < 2^54 so delta << shift (shift ≤ 10 at 1 MHz) fits the 64-bit register as in the guest.
  const deltaArb = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 54n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 20n }), fc.constantFrom(0n, 1n, (1n << 54n) - 1n));

  it('for any frequency in [1 MHz, 10 GHz] (Hz granularity)', () => {
    fc.assert(fc.property(hzArb, deltaArb, checkBound), { numRuns: 2000 });
  });

  it('for kHz-granular frequencies (KVM uses tsc_khz·1000) the error is at most 1 ns per second plus 2 ns', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 10_000_000 }), deltaArb, (khz, delta) => {
        const hz = BigInt(khz) * 1000n;
        const { mul, shift } = pvclockScaleForTscKHz(khz);
        const ns = pvclockScaleDelta(delta, mul, shift);
        const exactFloor = (delta * E9) / hz;
        expect(ns <= exactFloor).toBe(true); // never ahead: no frequency bits are dropped at kHz granularity
        expect(exactFloor - ns <= 2n + exactFloor / E9).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('pvclockReadNs adds system_time and handles the unsigned delta', () => {
    const { mul, shift } = pvclockScaleForTscHz(2_000_000_000);
    expect(pvclockReadNs(3_000_000_000n, 1_000_000_000n, 5n, mul, shift)).toBe(1_000_000_005n);
    expect(pvclockReadNs(1_000n, 1_000n, 7n, mul, shift)).toBe(7n);
  });

  it('the 64x32 product keeps bits 95..32 (mul_u64_u32_shr)', () => {
    expect(pvclockScaleDelta((1n << 64n) - 1n, 0xffffffff, 0)).toBe(((((1n << 64n) - 1n) * 0xffffffffn) >> 32n));
    expect(pvclockScaleDelta(1n << 40n, 0x80000000, -1)).toBe(1n << 38n);
    expect(pvclockScaleDelta(1n << 60n, 0x80000000, 5)).toBe(0n); // delta << 5 wraps in 64 bits as in C
  });
});

describe('struct pvclock_vcpu_time_info layout (§3.1)', () => {
  it('is 32 bytes, little-endian, field by field', () => {
    const b = encodePvclockVcpuTimeInfo({
      version: 0x11223344, tscTimestamp: 0x0102030405060708n, systemTime: 0xa1a2a3a4a5a6a7a8n,
      mul: 0xd5555555, shift: -1, flags: PVCLOCK_TSC_STABLE_BIT,
    });
    expect(b.length).toBe(32);
    const hex = (o: number, n: number) => [...b.slice(o, o + n)].map((x) => x.toString(16).padStart(2, '0')).join('');
    expect(hex(0, 4)).toBe('44332211'); // version u32 @0
    expect(hex(4, 4)).toBe('00000000'); // pad0 @4
    expect(hex(8, 8)).toBe('0807060504030201'); // tsc_timestamp u64 @8
    expect(hex(16, 8)).toBe('a8a7a6a5a4a3a2a1'); // system_time u64 @16
    expect(hex(24, 4)).toBe('555555d5'); // tsc_to_system_mul u32 @24
    expect(b[28]).toBe(0xff); // tsc_shift s8 @28 (−1)
    expect(b[29]).toBe(1); // flags u8 @29: PVCLOCK_TSC_STABLE_BIT = 1 << 0
    expect(hex(30, 2)).toBe('0000'); // pad[2] @30
  });

  it('round-trips and writes at an offset inside a larger buffer', () => {
    fc.assert(
      fc.property(
        fc.record({
          version: fc.integer({ min: 0, max: 0xffffffff }),
          tscTimestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          systemTime: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          mul: fc.integer({ min: 0, max: 0xffffffff }),
          shift: fc.integer({ min: -128, max: 127 }),
          flags: fc.integer({ min: 0, max: 255 }),
        }),
        fc.integer({ min: 0, max: 64 }),
        (t, off) => {
          const page = new Uint8Array(128).fill(0xee);
          encodePvclockVcpuTimeInfo(t, page, off);
          expect(decodePvclockVcpuTimeInfo(page, off)).toEqual(t);
          expect(page.slice(0, off).every((x) => x === 0xee)).toBe(true);
          expect(page.slice(off + 32).every((x) => x === 0xee)).toBe(true);
        },
      ),
    );
  });

  it('refuses a shift outside s8', () => {
    expect(() => encodePvclockVcpuTimeInfo({ version: 0, tscTimestamp: 0n, systemTime: 0n, mul: 0, shift: 128, flags: 0 })).toThrow(RangeError);
  });

  it('pvclock_wall_clock is version u32 @0, sec u32 @4, nsec u32 @8 (§3.1)', () => {
    const b = encodePvclockWallClock(2, 0x5f5e1000, 999_999_999);
    expect(b.length).toBe(12);
    const v = new DataView(b.buffer);
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)]).toEqual([2, 0x5f5e1000, 999_999_999]);
  });
});

describe('other scales', () => {
  it('OpenBSD vmm: shift 12, mul = (1e9 << 20) / tsc_hz; 2.4 GHz → 0x6AAAA (§3.4), and it also yields ns', () => {
    expect(vmmPvclockScale(2_400_000_000)).toEqual({ mul: 0x6aaaa, shift: 12 });
    const s = vmmPvclockScale(2_400_000_000);
    const ns = pvclockScaleDelta(2_400_000_000n, s.mul, s.shift);
    expect(Number(ns)).toBeGreaterThan(999_990_000);
    expect(Number(ns)).toBeLessThanOrEqual(1_000_000_000);
  });

  it('Hyper-V TscScale = 10^7·2^64 / TSC_Hz with the §3.8 examples', () => {
    expect(hvTscPageScale(1_000_000_000)).toBe(0x028f5c28f5c28f5cn);
    expect(hvTscPageScale(2_400_000_000)).toBe(0x0111111111111111n);
    expect(hvTscPageScale(3_000_000_000)).toBe(0x00da740da740da74n);
    // 1 s of a 2.4 GHz TSC is 10^7 units of 100 ns, to within one unit
    const t = hvTscPageRead(2_400_000_000n, hvTscPageScale(2_400_000_000), 0n);
    expect(t === 10_000_000n || t === 9_999_999n).toBe(true);
  });
});

describe('host update helpers (§3.1, §3.2; KVM x86.c)', () => {
  it('versions: odd during the update, even after; an odd guest value is first rounded up; u32 wrap', async () => {
    const { pvclockUpdateVersions } = await import('../../src/hypervisors/pvclock.js');
    expect(pvclockUpdateVersions(0)).toEqual({ odd: 1, even: 2 });
    expect(pvclockUpdateVersions(2)).toEqual({ odd: 3, even: 4 });
    expect(pvclockUpdateVersions(7)).toEqual({ odd: 9, even: 10 });
    expect(pvclockUpdateVersions(0xfffffffe)).toEqual({ odd: 0xffffffff, even: 0 });
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      const { odd, even } = pvclockUpdateVersions(v);
      expect(odd & 1).toBe(1);
      expect(even & 1).toBe(0);
      expect(even).not.toBe(v); // a reader holding the old version always retries
    }));
  });

  it('wall clock from the boot time: sec (u32) and nsec', async () => {
    const { pvclockWallClockAt } = await import('../../src/hypervisors/pvclock.js');
    expect(pvclockWallClockAt(1_700_000_000_123_456_789n)).toEqual({ sec: 1_700_000_000, nsec: 123_456_789 });
    expect(pvclockWallClockAt((1n << 32n) * E9 + 5n)).toEqual({ sec: 0, nsec: 5 });
  });

  it('kvmclockTimeInfo: scale from the TSC kHz, stable flag on request, readable with the guest formula', async () => {
    const { kvmclockTimeInfo } = await import('../../src/hypervisors/pvclock.js');
    const t = kvmclockTimeInfo({ version: 3, tsc: 1_000n, systemTimeNs: 500n, tscKHz: 2_400_000, stable: true });
    expect(t).toEqual({ version: 3, tscTimestamp: 1_000n, systemTime: 500n, mul: 0xd5555555, shift: -1, flags: 1 });
    expect(pvclockReadNs(1_000n + 2_400_000_000n, t.tscTimestamp, t.systemTime, t.mul, t.shift)).toBe(500n + 999_999_999n);
    expect(kvmclockTimeInfo({ version: 1, tsc: 0n, systemTimeNs: 0n, tscKHz: 1000, stable: false, guestStopped: true }).flags).toBe(2);
  });
});
