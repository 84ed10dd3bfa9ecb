// A test case of the CPU instruction tests: one snippet, how random values are put into the
// initial registers, and the SDM model that gives the expected outcome; `runCase` checks it
// as a fast-check property (fixed seed) plus hand-picked examples.

import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { runAndCheck, CF, type Width, type Expected } from './x86-ref.js';
import { initialRegs, type CpuState } from './cpu-run.js';
import { arbReg, arbFlags, arbNoise, ZERO_NOISE, fcOpts } from './gen.js';

export interface Case {
  mode: SnippetMode;
  src: string;
  w: Width;
  /** Random runs (besides the examples). */
  runs: number;
  /** Arbitraries of the values handed to plant (default: two w-bit register values). */
  arbs?: Array<fc.Arbitrary<bigint>>;
  /** Hand-picked values (each run twice: CF clear and CF set). */
  examples?: bigint[][];
  /** Initial RFLAGS arbitrary (default: any status flags and DF). */
  flags?: fc.Arbitrary<number>;
  /** Bits forced into the initial RFLAGS of every run and example (e.g. DF). */
  baseFlags?: number;
  /** Put the values into the initial register file (other registers: zero, RSP: stack top). */
  plant(regs: bigint[], v: bigint[]): void;
  /** The SDM's outcome, from (a copy of) the initial state. */
  model(st: CpuState): Expected;
}

export function runCase(c: Case): void {
  const arbs = c.arbs ?? [arbReg(c.w), arbReg(c.w)];
  const examples: unknown[][] = [];
  const base = c.baseFlags ?? 0;
  for (const e of c.examples ?? []) examples.push([e, base, ZERO_NOISE], [e, base | CF, ZERO_NOISE]);
  fc.assert(
    fc.property(fc.tuple(...arbs), c.flags ?? arbFlags, arbNoise, (vals, flags, noise) => {
      const regs = initialRegs(c.mode, noise, (r) => c.plant(r, vals));
      const init: CpuState = { regs, rflags: flags | base };
      runAndCheck(c.mode, c.src, init, (s) => c.model(s));
    }),
    fcOpts(c.runs, examples),
  );
}
