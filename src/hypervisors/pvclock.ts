// The pvclock ABI shared by KVM's kvmclock, OpenBSD vmm(4) and Xen's vcpu_time_info (spec digest
// §3): the host's choice of (tsc_to_system_mul, tsc_shift), the guest's conversion of a TSC delta
// to nanoseconds, and the byte layout of the structures the host writes into guest memory.
//
// Cold path (computed when a guest enables the clock or the TSC frequency changes), so BigInt is
// used for the 64- and 96-bit arithmetic (DESIGN.md "Speed conventions" bans it only from hot paths).

const U32 = (1n << 32n) - 1n;
const U64 = (1n << 64n) - 1n;
const NSEC_PER_SEC = 1_000_000_000n;

/** PVCLOCK flags (§3.1, Linux pvclock-abi.h). */
export const PVCLOCK_TSC_STABLE_BIT = 1 << 0;
export const PVCLOCK_GUEST_STOPPED = 1 << 1;
export const PVCLOCK_COUNTS_FROM_ZERO = 1 << 2;

/** sizeof(struct pvclock_vcpu_time_info) (§3.1). */
export const PVCLOCK_VCPU_TIME_INFO_SIZE = 32;
/** sizeof(struct pvclock_wall_clock) (§3.1). */
export const PVCLOCK_WALL_CLOCK_SIZE = 12;

export interface TimeScale {
  /** tsc_to_system_mul: unsigned 0.32 fixed-point fraction (§3.1). */
  mul: number;
  /** tsc_shift: signed, -128..127 in the struct (§3.1). */
  shift: number;
}

/**
 * KVM's `kvm_get_time_scale(scaled_hz, base_hz)` (§3.4, Linux arch/x86/kvm/x86.c): a (mul, shift)
 * such that ticks of base_hz scaled by 2^shift and multiplied by mul/2^32 give ticks of scaled_hz.
 * KVM calls it as kvm_get_time_scale(NSEC_PER_SEC, tsc_khz * 1000).
 */
export function kvmGetTimeScale(scaledHz: bigint, baseHz: bigint): TimeScale {
  if (baseHz <= 0n || scaledHz <= 0n) throw new RangeError('kvmGetTimeScale: frequencies must be positive');
  let shift = 0;
  let tps64 = baseHz;
  let scaled64 = scaledHz;
  // while (tps64 > scaled64*2 || tps64 & 0xffffffff00000000ULL) { tps64 >>= 1; shift--; }  (§3.4)
  while (tps64 > scaled64 * 2n || tps64 > U32) {
    tps64 >>= 1n;
    shift--;
  }
  let tps32 = tps64 & U32;
  // while (tps32 <= scaled64 || scaled64 & 0xffffffff00000000ULL) { ... shift++; }  (§3.4)
  while (tps32 <= scaled64 || scaled64 > U32) {
    if (scaled64 > U32 || (tps32 & 0x80000000n) !== 0n) scaled64 >>= 1n;
    else tps32 = (tps32 << 1n) & U32;
    shift++;
  }
  // div_frac(scaled64, tps32) = (scaled64 << 32) / tps32 (§3.4); scaled64 < tps32 so it fits 32 bits.
  const mul = Number((scaled64 << 32n) / tps32);
  return { mul, shift };
}

/** (mul, shift) KVM puts in kvmclock for a TSC of tscHz: kvm_get_time_scale(1e9, tscHz) (§3.4). */
export function pvclockScaleForTscHz(tscHz: number | bigint): TimeScale {
  return kvmGetTimeScale(NSEC_PER_SEC, BigInt(tscHz));
}

/** The same for a TSC frequency in kHz, as KVM has it (tgt_tsc_khz * 1000LL) (§3.4). */
export function pvclockScaleForTscKHz(tscKHz: number): TimeScale {
  return pvclockScaleForTscHz(BigInt(tscKHz) * 1000n);
}

/**
 * The guest's `pvclock_scale_delta(delta, mul, shift)` (§3.3): shift the unsigned 64-bit delta
 * (left shift truncated to 64 bits, as in C), then keep bits 95..32 of the 96-bit product with mul.
 */
export function pvclockScaleDelta(delta: bigint, mul: number, shift: number): bigint {
  let d = delta & U64;
  d = shift >= 0 ? (d << BigInt(shift)) & U64 : d >> BigInt(-shift);
  return ((d * BigInt(mul >>> 0)) >> 32n) & U64;
}

/** Guest nanoseconds at TSC value `tsc`: system_time + scale(tsc - tsc_timestamp) (§3.3). */
export function pvclockReadNs(tsc: bigint, tscTimestamp: bigint, systemTime: bigint, mul: number, shift: number): bigint {
  return (systemTime + pvclockScaleDelta((tsc - tscTimestamp) & U64, mul, shift)) & U64;
}

/** The TSC kHz a guest derives from (mul, shift): `pvclock_tsc_khz` (§3.3). */
export function pvclockTscKHz(mul: number, shift: number): bigint {
  let khz = (1_000_000n << 32n) / BigInt(mul >>> 0);
  khz = shift < 0 ? (khz << BigInt(-shift)) & U64 : khz >> BigInt(shift);
  return khz;
}

export interface PvclockVcpuTimeInfo {
  version: number;
  tscTimestamp: bigint;
  systemTime: bigint;
  mul: number;
  shift: number;
  flags: number;
}

/**
 * The 32 bytes of `struct pvclock_vcpu_time_info` (§3.1): version u32 @0, pad0 u32 @4,
 * tsc_timestamp u64 @8, system_time u64 @16, tsc_to_system_mul u32 @24, tsc_shift s8 @28,
 * flags u8 @29, pad[2] @30. Little-endian; pads are zero.
 */
export function encodePvclockVcpuTimeInfo(t: PvclockVcpuTimeInfo, out = new Uint8Array(PVCLOCK_VCPU_TIME_INFO_SIZE), offset = 0): Uint8Array {
  if (t.shift < -128 || t.shift > 127 || !Number.isInteger(t.shift)) throw new RangeError(`tsc_shift ${t.shift} does not fit an s8`);
  const v = new DataView(out.buffer, out.byteOffset + offset, PVCLOCK_VCPU_TIME_INFO_SIZE);
  v.setUint32(0, t.version >>> 0, true); // version (§3.1)
  v.setUint32(4, 0, true); // pad0
  v.setBigUint64(8, t.tscTimestamp & U64, true); // tsc_timestamp
  v.setBigUint64(16, t.systemTime & U64, true); // system_time
  v.setUint32(24, t.mul >>> 0, true); // tsc_to_system_mul
  v.setInt8(28, t.shift); // tsc_shift (signed)
  v.setUint8(29, t.flags & 0xff); // flags
  v.setUint16(30, 0, true); // pad[2]
  return out;
}

export function decodePvclockVcpuTimeInfo(b: Uint8Array, offset = 0): PvclockVcpuTimeInfo {
  const v = new DataView(b.buffer, b.byteOffset + offset, PVCLOCK_VCPU_TIME_INFO_SIZE);
  return {
    version: v.getUint32(0, true),
    tscTimestamp: v.getBigUint64(8, true),
    systemTime: v.getBigUint64(16, true),
    mul: v.getUint32(24, true),
    shift: v.getInt8(28),
    flags: v.getUint8(29),
  };
}

/** `struct pvclock_wall_clock` (§3.1): version u32 @0, sec u32 @4, nsec u32 @8 (12 bytes). */
export function encodePvclockWallClock(version: number, sec: number, nsec: number, out = new Uint8Array(PVCLOCK_WALL_CLOCK_SIZE), offset = 0): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset + offset, PVCLOCK_WALL_CLOCK_SIZE);
  v.setUint32(0, version >>> 0, true);
  v.setUint32(4, sec >>> 0, true);
  v.setUint32(8, nsec >>> 0, true);
  return out;
}

/**
 * Hyper-V reference TSC page scale (§3.8): TscScale = 10^7 · 2^64 / TSC_Hz (a 0.64 fixed-point
 * multiplier giving 100 ns units). Truncated like an integer division.
 */
export function hvTscPageScale(tscHz: number | bigint): bigint {
  return ((10_000_000n << 64n) / BigInt(tscHz)) & U64;
}

/** ReferenceTime = ((tsc · TscScale) >> 64) + TscOffset (§3.8), 64-bit wrap. */
export function hvTscPageRead(tsc: bigint, scale: bigint, offset: bigint): bigint {
  return ((((tsc & U64) * (scale & U64)) >> 64n) + offset) & U64;
}

/**
 * The two versions the host writes around one update (§3.2), as KVM computes them from the version
 * currently in guest memory (arch/x86/kvm/x86.c kvm_setup_guest_pvclock / kvm_write_wall_clock: an odd
 * value there is "first time write, random junk" and is first rounded up to even). u32 wrap.
 */
export function pvclockUpdateVersions(guestVersion: number): { odd: number; even: number } {
  let v = guestVersion >>> 0;
  if (v & 1) v = (v + 1) >>> 0;
  return { odd: (v + 1) >>> 0, even: (v + 2) >>> 0 };
}

/**
 * pvclock_wall_clock's sec/nsec for a boot time given in ns since the Unix epoch (§3.1: the wall
 * time at kvmclock system_time 0). sec is truncated to u32 as KVM does ("overflow in 2106").
 */
export function pvclockWallClockAt(bootEpochNs: bigint): { sec: number; nsec: number } {
  if (bootEpochNs < 0n) throw new RangeError('boot time before the epoch');
  return { sec: Number((bootEpochNs / NSEC_PER_SEC) & U32), nsec: Number(bootEpochNs % NSEC_PER_SEC) };
}

/**
 * The kvmclock contents for a vCPU sampled at (tsc, ns since boot) (§3.1, §3.4, §8 note 5): mul/shift
 * from the TSC frequency, PVCLOCK_TSC_STABLE_BIT iff `stable` (advertise it only with KVM feature
 * bit 24), PVCLOCK_GUEST_STOPPED kept from the guest's copy or set after a pause, as KVM does.
 */
export function kvmclockTimeInfo(p: {
  version: number;
  tsc: bigint;
  systemTimeNs: bigint;
  tscKHz: number;
  stable: boolean;
  guestStopped?: boolean;
}): PvclockVcpuTimeInfo {
  const { mul, shift } = pvclockScaleForTscKHz(p.tscKHz);
  return {
    version: p.version >>> 0,
    tscTimestamp: p.tsc & U64,
    systemTime: p.systemTimeNs & U64,
    mul,
    shift,
    flags: (p.stable ? PVCLOCK_TSC_STABLE_BIT : 0) | (p.guestStopped ? PVCLOCK_GUEST_STOPPED : 0),
  };
}
