// fast-check arbitraries and settings shared by the CPU instruction tests.

import fc from 'fast-check';
import { mask, COMPARED, type Width } from './x86-ref.js';
import { assembleAll, HAVE_AS, ASM_SKIP_REASON, type AsmMode } from './asm.js';

/** Fixed seed: a run is reproducible; a failure names its counterexample. */
export const SEED = 42;
export const fcOpts = (numRuns: number, examples: unknown[][] = []) => ({ seed: SEED, numRuns, examples: examples as never, endOnFailure: true });

/** The values where x86 arithmetic has its corner cases, for a w-bit operand. */
export function edges(w: number): bigint[] {
  const m = mask(w);
  const sign = 1n << BigInt(w - 1);
  const list = [0n, 1n, 2n, 0xfn, 0x10n, 0x7fn, 0x80n, 0xffn, sign - 1n, sign, sign + 1n, m - 1n, m];
  return [...new Set(list.map((v) => v & m))];
}

/** The few values every binary operation is tried on (cross product in examples). */
export function keyEdges(w: number): bigint[] {
  const m = mask(w);
  const sign = 1n << BigInt(w - 1);
  return [0n, 1n, sign - 1n, sign, m];
}

/** A 64-bit register value whose low w bits are an operand (edge-biased), upper bits random. */
export function arbReg(w: Width | number): fc.Arbitrary<bigint> {
  const low = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...edges(w)) },
    { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: mask(w) }) },
  );
  if (w === 64) return low;
  return fc.tuple(fc.bigInt({ min: 0n, max: mask(64) }), low).map(([hi, lo]) => (hi & ~mask(w)) | lo);
}

/** A full random 64-bit value. */
export const arbU64 = fc.bigInt({ min: 0n, max: mask(64) });

/** Random bits for every register (see initialRegs); examples use all-zero noise. */
export const arbNoise = fc.array(fc.bigInt({ min: 0n, max: mask(64) }), { minLength: 16, maxLength: 16 });
export const ZERO_NOISE: bigint[] = new Array<bigint>(16).fill(0n);

/** Initial RFLAGS: any combination of the status flags and DF. */
export const arbFlags = fc.integer({ min: 0, max: 0xfff }).map((f) => f & COMPARED);

/** Deterministic sample of an arbitrary (for immediates that must be assembled up front). */
export function sample<T>(arb: fc.Arbitrary<T>, n: number, seed = SEED): T[] {
  return fc.sample(arb, { seed, numRuns: n });
}

/** Assemble every snippet a test file will run, in one `as` run (no-op without `as`). */
export function prefetch(items: ReadonlyArray<{ mode: AsmMode; src: string }>): void {
  if (HAVE_AS) assembleAll(items);
}

export { HAVE_AS, ASM_SKIP_REASON };
