// Random sequences of flag-producing and flag-consuming instructions (ALU, INC/DEC/NEG/NOT,
// shifts/rotates, CLC/STC/CMC, BT, ADC/SBB/RCL/RCR, SETcc, CMOVcc), checked as a whole against
// the composed SDM models: a check of lazy flag evaluation, where a flag computed by one
// instruction must survive the partial flag updates of the next ones (INC/DEC keep CF, rotates
// keep SF/ZF/PF/AF, BT touches CF only...). The generator tracks which flags the SDM leaves
// undefined at each point and never lets an instruction read one; those are not compared.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF, OF, SF, AF, PF, STATUS, trunc, type Width, type Expected } from '../helpers/x86-ref.js';
import type { CpuState } from '../helpers/cpu-run.js';
import { reg, locName, getLoc, setLoc } from '../helpers/operands.js';
import { OPS, UNARY, SHIFTS, model2, model1, shiftModel, condition } from '../helpers/models.js';
import { arbU64, sample, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';

const MODES: SnippetMode[] = [16, 32, 64];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
/** Flags each condition code reads (SDM vol. 1, table B-1). */
const CC_READS = [OF, OF, CF, CF, 0x40, 0x40, CF | 0x40, CF | 0x40, SF, SF, PF, PF, SF | OF, SF | OF, 0x40 | SF | OF, 0x40 | SF | OF];

/** One generated instruction: its text, the flags it reads, and its model step. */
interface Step {
  text: string;
  reads: number;
  /** Applies the SDM model; returns [flags written, flags left undefined]. */
  apply(st: CpuState): [number, number];
}

/** Raw random choices, turned into a Step for a mode (fc.sample keeps it deterministic). */
const arbChoice = fc.record({
  kind: fc.integer({ min: 0, max: 9 }),
  op: fc.nat(),
  w: fc.integer({ min: 0, max: 3 }),
  d: fc.nat(),
  s: fc.nat(),
  imm: fc.integer({ min: -200, max: 200 }),
  cnt: fc.integer({ min: 0, max: 4 }),
});
type Choice = { kind: number; op: number; w: number; d: number; s: number; imm: number; cnt: number };

function step(mode: SnippetMode, ch: Choice): Step {
  const widths: Width[] = mode === 64 ? [8, 16, 32, 64] : [8, 16, 32];
  let w = widths[ch.w % widths.length];
  const pool = mode === 64 ? [0, 3, 1, 2, 6, 7, 8, 9] : [0, 3, 1, 2, 6, 7];
  let d = pool[ch.d % pool.length];
  let s = pool[ch.s % pool.length];
  if (w === 8 && mode !== 64) {
    d = d % 4;
    s = s % 4;
  }
  const D = reg(d), S = reg(s);
  switch (ch.kind) {
    case 0: case 1: { // ALU r, r
      const op = OPS[ch.op % OPS.length];
      return {
        text: `${op} ${locName(D, w)}, ${locName(S, w)}`, reads: op === 'adc' || op === 'sbb' ? CF : 0,
        apply: (st) => {
          const r = model2(op, w, getLoc(st.regs, D, w), getLoc(st.regs, S, w), st.rflags);
          if (r.write) setLoc(st.regs, D, w, r.res);
          st.rflags = r.flags;
          return [STATUS, r.undef];
        },
      };
    }
    case 2: { // ALU r, imm
      const op = OPS[ch.op % OPS.length];
      const imm = BigInt(w === 8 ? ch.imm & 0xff : ch.imm);
      return {
        text: `${op} ${locName(D, w)}, ${w === 8 ? ch.imm & 0xff : ch.imm}`, reads: op === 'adc' || op === 'sbb' ? CF : 0,
        apply: (st) => {
          const r = model2(op, w, getLoc(st.regs, D, w), trunc(imm, w), st.rflags);
          if (r.write) setLoc(st.regs, D, w, r.res);
          st.rflags = r.flags;
          return [STATUS, r.undef];
        },
      };
    }
    case 3: { // INC/DEC/NEG/NOT
      const op = UNARY[ch.op % UNARY.length];
      return {
        text: `${op} ${locName(D, w)}`, reads: 0,
        apply: (st) => {
          const r = model1(op, w, getLoc(st.regs, D, w), st.rflags);
          setLoc(st.regs, D, w, r.res);
          st.rflags = r.flags;
          return [op === 'not' ? 0 : op === 'neg' ? STATUS : STATUS & ~CF, 0];
        },
      };
    }
    case 4: { // shift/rotate by an immediate
      const op = SHIFTS[ch.op % SHIFTS.length];
      const cnt = [1, 1, 2, w - 1, 3][ch.cnt];
      const rot = op === 'rol' || op === 'ror' || op === 'rcl' || op === 'rcr';
      return {
        text: `${op} ${locName(D, w)}, ${cnt}`, reads: op === 'rcl' || op === 'rcr' ? CF : 0,
        apply: (st) => {
          const r = shiftModel(op, w, getLoc(st.regs, D, w), cnt, st.rflags);
          setLoc(st.regs, D, w, r.res);
          st.rflags = r.flags;
          return [rot ? CF | OF : STATUS, r.undef];
        },
      };
    }
    case 5: { // CLC / STC / CMC
      const op = ['clc', 'stc', 'cmc'][ch.op % 3];
      return {
        text: op, reads: 0,
        apply: (st) => {
          st.rflags = op === 'clc' ? st.rflags & ~CF : op === 'stc' ? st.rflags | CF : st.rflags ^ CF;
          return [op === 'cmc' ? 0 : CF, 0]; // CMC keeps CF's (un)definedness
        },
      };
    }
    case 6: { // BT r, imm: CF = bit; OF SF AF PF undefined; ZF unaffected
      if (w === 8) w = 16;
      const n = ch.imm & 0xff;
      return {
        text: `bt ${locName(D, w)}, ${n}`, reads: 0,
        apply: (st) => {
          const b = (getLoc(st.regs, D, w) >> BigInt(n % w)) & 1n;
          st.rflags = (st.rflags & ~CF) | (b ? CF : 0);
          return [CF, OF | SF | AF | PF];
        },
      };
    }
    case 7: { // SETcc r8
      const cc = ch.op % 16;
      const R = mode === 64 ? D : reg(d % 4);
      return {
        text: `set${CC[cc]} ${locName(R, 8)}`, reads: CC_READS[cc],
        apply: (st) => { setLoc(st.regs, R, 8, condition(cc, st.rflags) ? 1n : 0n); return [0, 0]; },
      };
    }
    case 8: { // CMOVcc r, r
      if (w === 8) w = 32;
      const cc = ch.op % 16;
      return {
        text: `cmov${CC[cc]} ${locName(D, w)}, ${locName(S, w)}`, reads: CC_READS[cc],
        apply: (st) => {
          if (condition(cc, st.rflags)) setLoc(st.regs, D, w, getLoc(st.regs, S, w));
          else if (w === 32) setLoc(st.regs, D, 32, getLoc(st.regs, D, 32));
          return [0, 0];
        },
      };
    }
    default: { // ADC/SBB r, r: the CF consumers
      const op = ch.op % 2 === 0 ? 'adc' : 'sbb';
      return {
        text: `${op} ${locName(D, w)}, ${locName(S, w)}`, reads: CF,
        apply: (st) => {
          const r = model2(op, w, getLoc(st.regs, D, w), getLoc(st.regs, S, w), st.rflags);
          setLoc(st.regs, D, w, r.res);
          st.rflags = r.flags;
          return [STATUS, 0];
        },
      };
    }
  }
}

/** A sequence whose readers never see an undefined flag; the final undefined set. */
function sequence(mode: SnippetMode, choices: Choice[]): { steps: Step[]; undef: number } {
  const steps: Step[] = [];
  let undef = 0;
  const probe: CpuState = { regs: new Array<bigint>(16).fill(0n), rflags: 0 };
  for (const ch of choices) {
    const s = step(mode, ch);
    if ((s.reads & undef) !== 0) continue;
    const [written, newUndef] = s.apply({ regs: probe.regs.slice(), rflags: 0 });
    undef = (undef & ~written) | newUndef;
    steps.push(s);
  }
  return { steps, undef };
}

function cases(mode: SnippetMode): Case[] {
  const seqs = sample(fc.array(arbChoice, { minLength: 4, maxLength: 9 }), 120, 1000 + mode);
  return seqs.map((choices) => {
    const { steps, undef } = sequence(mode, choices);
    return {
      mode, w: 64 as Width, runs: 6, src: steps.map((s) => s.text).join('\n'),
      arbs: [arbU64],
      plant: () => {},
      model: (st): Expected => {
        for (const s of steps) s.apply(st);
        return { regs: st.regs, flags: st.rflags, undef };
      },
    };
  });
}

const PLAN = new Map<SnippetMode, Case[]>(MODES.map((m) => [m, cases(m)]));
prefetch([...PLAN.values()].flat());

describe.skipIf(!HAVE_AS)('flag-producer/consumer chains vs the composed SDM models', () => {
  for (const mode of MODES) test(`120 random sequences (${mode}-bit mode)`, () => PLAN.get(mode)!.forEach(runCase));
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
