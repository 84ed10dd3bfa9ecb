// Hyper-V partition reference time (spec digest §3.8; TLFS timers.md): the reference counter
// behind HV_X64_MSR_TIME_REF_COUNT and the reference TSC page that lets a guest compute the same
// time from RDTSC:
//
//     ReferenceTime = ((VirtualTsc * TscScale) >> 64) + TscOffset      (100 ns units)
//
// While a page is published, the counter MSR is evaluated with that very formula (as KVM's
// get_time_ref_counter does), on the TSC the page was calibrated against: the machine's rule
// floor(ns · kHz / 10^6) + offset with the frequency and offset of the moment it was written. So
// the MSR and the page agree at every instruction, and the MSR stays a function of virtual time
// alone (monotonic) even if the guest later writes IA32_TSC. Otherwise the counter is the
// partition's virtual time in 100 ns units. Every switch between the two keeps the counter
// continuous. BigInt is used: these paths run on MSR writes and TIME_REF_COUNT reads only.

const TWO_64 = 1n << 64n;

/** TscSequence 0: the page is not a valid time source, read TIME_REF_COUNT (§3.8). */
export const TSC_SEQUENCE_INVALID = 0;
/** Older TLFS text used 0xFFFFFFFF as the invalid marker; a live page never carries it either. */
const TSC_SEQUENCE_LEGACY_INVALID = 0xffffffff;

/** Size of the reference TSC page and its fields' offsets (§3.8 table). */
export const REFERENCE_TSC_PAGE_SIZE = 4096;
export const TSC_PAGE_SEQUENCE_OFFSET = 0;
export const TSC_PAGE_SCALE_OFFSET = 8;
export const TSC_PAGE_OFFSET_OFFSET = 16;

/**
 * TscScale = floor(10^7 · 2^64 / TSC Hz) (§3.8: "10^7 · 2^64 / TSC_Hz", e.g. 1 GHz →
 * 0x028F5C28F5C28F5C). With Hz = kHz · 1000 this is floor(10^4 · 2^64 / kHz). null when it does
 * not fit 64 bits (a TSC at or below 10 MHz: the page cannot describe it, the guest must use the MSR).
 */
export function referenceTscScale(tscKHz: number): bigint | null {
  if (!Number.isSafeInteger(tscKHz) || tscKHz <= 0) return null;
  const scale = (10_000n * TWO_64) / BigInt(tscKHz);
  return scale < TWO_64 ? scale : null;
}

/** The §3.8 formula, in the guest's 64-bit arithmetic (128-bit product, high half, wrapping add). */
export function referenceTimeFromTsc(tsc: bigint, scale: bigint, offset: bigint): bigint {
  return BigInt.asUintN(64, ((BigInt.asUintN(64, tsc) * scale) >> 64n) + offset);
}

/** The next TscSequence after `seq`: never the invalid markers 0 and 0xFFFFFFFF. */
export function nextTscSequence(seq: number): number {
  let next = (seq + 1) >>> 0;
  while (next === TSC_SEQUENCE_INVALID || next === TSC_SEQUENCE_LEGACY_INVALID) next = (next + 1) >>> 0;
  return next;
}

/** The 4 KiB reference TSC page: TscSequence u32 @0, reserved u32 @4, TscScale u64 @8, TscOffset s64 @16, zeros after (§3.8). */
export function referenceTscPageBytes(sequence: number, scale: bigint, offset: bigint): Uint8Array {
  const page = new Uint8Array(REFERENCE_TSC_PAGE_SIZE);
  const v = new DataView(page.buffer);
  v.setUint32(TSC_PAGE_SEQUENCE_OFFSET, sequence >>> 0, true);
  v.setBigUint64(TSC_PAGE_SCALE_OFFSET, BigInt.asUintN(64, scale), true);
  v.setBigUint64(TSC_PAGE_OFFSET_OFFSET, BigInt.asUintN(64, offset), true);
  return page;
}

/** TscScale and TscOffset as published. */
export interface TscPageParams {
  scale: bigint;
  /** Kept modulo 2^64 (the guest adds it with wrap-around). */
  offset: bigint;
}

/** Where the counter reads its inputs from (the machine's virtual clock, through the personality host). */
export interface ReferenceClockInputs {
  /** Partition time in whole 100 ns units since power-on. */
  time100ns(): number;
  /** Virtual nanoseconds since power-on. */
  ns(): number;
  /** The guest's TSC now. */
  tsc(): number;
  /** The TSC frequency now, kHz. */
  tscKHz(): number;
}

/** A published page and the TSC it was calibrated against. */
interface Calibration {
  params: TscPageParams;
  tscKHz: bigint;
  /** TSC − floor(ns · kHz / 10^6) when the page was written (the machine's TSC offset). */
  tscOffset: bigint;
}

/** The machine's TSC rule without its offset: floor(ns · kHz / 10^6). */
function tscFromNs(ns: number, tscKHz: bigint): bigint {
  return (BigInt(ns) * tscKHz) / 1_000_000n;
}

/** The partition reference counter, following either virtual time or a published TSC page. */
export class ReferenceCounter {
  /** The published page; null while no page is live. */
  private page: Calibration | null = null;
  /** Added to virtual time while no page is live (non-zero only after a page was withdrawn). */
  private timeOffset = 0n;

  constructor(private readonly inputs: ReferenceClockInputs) {}

  /** TIME_REF_COUNT now (unsigned 64-bit). */
  now(): bigint {
    const page = this.page;
    if (page !== null) {
      const tsc = tscFromNs(this.inputs.ns(), page.tscKHz) + page.tscOffset;
      return referenceTimeFromTsc(tsc, page.params.scale, page.params.offset);
    }
    return BigInt.asUintN(64, BigInt(this.inputs.time100ns()) + this.timeOffset);
  }

  get published(): TscPageParams | null {
    return this.page?.params ?? null;
  }

  /**
   * Publish a page for the current TSC frequency: TscOffset is chosen so the page reads exactly
   * the current counter at the current TSC. Returns null (and follows virtual time, continuously)
   * when the frequency has no 64-bit TscScale.
   */
  publish(): TscPageParams | null {
    const current = this.now();
    const tscKHz = this.inputs.tscKHz();
    const scale = referenceTscScale(tscKHz);
    if (scale === null) {
      this.followTime(current);
      return null;
    }
    const tsc = tscNow(this.inputs);
    const offset = BigInt.asUintN(64, current - ((BigInt.asUintN(64, tsc) * scale) >> 64n));
    const khz = BigInt(tscKHz);
    this.page = { params: { scale, offset }, tscKHz: khz, tscOffset: tsc - tscFromNs(this.inputs.ns(), khz) };
    return this.page.params;
  }

  /** Stop following a page (disabled, or not writable): continue from virtual time without a jump. */
  withdraw(): void {
    if (this.page !== null) this.followTime(this.now());
  }

  private followTime(current: bigint): void {
    this.page = null;
    this.timeOffset = current - BigInt(this.inputs.time100ns());
  }
}

function tscNow(inputs: ReferenceClockInputs): bigint {
  const t = inputs.tsc();
  return BigInt(Number.isInteger(t) ? t : Math.floor(t));
}

/** Whole 100 ns units in `ns` virtual nanoseconds, exact for every integer ns a Number holds. */
export function ns100(ns: number): number {
  return (ns - (ns % 100)) / 100;
}
