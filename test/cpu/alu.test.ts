// ADD/ADC/SUB/SBB/AND/OR/XOR/CMP/TEST, INC/DEC/NEG/NOT against the SDM's Operation sections
// and flag definitions (vol. 2 pages of the same names; vol. 1, appendix A, table A-2),
// for every operand size, in 16-, 32- and 64-bit mode, in the register, register-load
// ({load}: the 02/03 opcodes), same-register, memory-destination, memory-source and
// immediate forms (04/05, 80/81/83, and 82 in legacy modes).

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { addFlags, subFlags, logicFlags, CF, AF, STATUS, trunc, sx, widthsFor, type Width, type Expected } from '../helpers/x86-ref.js';
import { runAndCheck } from '../helpers/x86-ref.js';
import { initialRegs, type CpuState } from '../helpers/cpu-run.js';
import { reg, locName, getLoc, setLoc, plantLoc, memSlot, immText, type RegLoc } from '../helpers/operands.js';
import { arbReg, arbFlags, arbNoise, ZERO_NOISE, fcOpts, keyEdges, sample, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { snippetDataValue } from '../oracle/snippet-env.js';
import { OPS, UNARY, model2, model1, type Op2, type Op1 } from '../helpers/models.js';

const MODES: SnippetMode[] = [16, 32, 64];

/** Register pairs (destination, source) per mode and width. */
function regPairs(mode: SnippetMode, w: Width): Array<[RegLoc, RegLoc]> {
  const p: Array<[RegLoc, RegLoc]> = [[reg(3), reg(1)], [reg(0), reg(2)], [reg(2), reg(2)]];
  if (w !== 8 || mode === 64) p.push([reg(6), reg(7)]); // SIL/DIL need REX
  if (mode === 64) p.push([reg(9), reg(14)], [reg(1), reg(8)]);
  if (w === 8) p.push([reg(0, true), reg(3, true)], [reg(1, true), reg(2)]); // AH..BH (no REX)
  return p;
}

interface Case {
  mode: SnippetMode;
  w: Width;
  src: string;
  /** Immediate forms: fewer random runs each (there are many of them). */
  imm?: boolean;
  /** Sets operand values into the register file; returns the model's expectation. */
  plant(regs: bigint[], v: bigint[]): void;
  model(s: CpuState, v: bigint[]): Expected;
}

function binaryCases(mode: SnippetMode, op: Op2): Case[] {
  const cases: Case[] = [];
  const m = memSlot(mode);
  for (const w of widthsFor(mode)) {
    // Register forms: op D, S / {load} op D, S (02/03 opcodes).
    regPairs(mode, w).forEach(([d, s], i) => {
      // {load}: the 02/03 (reg, r/m) opcodes, for the first two pairs.
      for (const load of op === 'test' || i >= 2 ? [false] : [false, true]) {
        const src = `${load ? '{load} ' : ''}${op} ${locName(d, w)}, ${locName(s, w)}`;
        cases.push({
          mode, w, src,
          plant: (regs, v) => { plantLoc(regs, d, w, v[0]); plantLoc(regs, s, w, v[1]); },
          model: (st) => {
            const r = model2(op, w, getLoc(st.regs, d, w), getLoc(st.regs, s, w), st.rflags);
            if (r.write) setLoc(st.regs, d, w, r.res);
            return { regs: st.regs, flags: r.flags, undef: r.undef };
          },
        });
      }
    });
    // Memory destination: the slot is filled from the accumulator, then read back into it.
    const acc = reg(0);
    const sreg = w === 8 && mode !== 64 ? reg(1, true) : mode === 64 ? reg(10) : reg(1);
    const memSetup = (regs: bigint[], v: bigint[]): void => {
      regs[m.base] = m.baseVal;
      plantLoc(regs, acc, w, v[0]);
    };
    cases.push({
      mode, w,
      src: `mov ${m.text(w)}, ${locName(acc, w)}\n${op} ${m.text(w)}, ${locName(sreg, w)}\nmov ${locName(acc, w)}, ${m.text(w)}`,
      plant: (regs, v) => { plantLoc(regs, sreg, w, v[1]); memSetup(regs, v); },
      model: (st) => {
        const r = model2(op, w, getLoc(st.regs, acc, w), getLoc(st.regs, sreg, w), st.rflags);
        setLoc(st.regs, acc, w, r.write ? r.res : getLoc(st.regs, acc, w)); // the reload
        return { regs: st.regs, flags: r.flags, undef: r.undef };
      },
    });
    // Memory source: op D, [m].
    const dreg = reg(3);
    cases.push({
      mode, w,
      src: `mov ${m.text(w)}, ${locName(acc, w)}\n${op} ${locName(dreg, w)}, ${m.text(w)}`,
      plant: (regs, v) => { plantLoc(regs, dreg, w, v[1]); memSetup(regs, v); },
      model: (st) => {
        const r = model2(op, w, getLoc(st.regs, dreg, w), getLoc(st.regs, acc, w), st.rflags);
        if (r.write) setLoc(st.regs, dreg, w, r.res);
        return { regs: st.regs, flags: r.flags, undef: r.undef };
      },
    });
    // The data-area pattern as a memory operand, unmodified by any store first.
    cases.push({
      mode, w,
      src: `${op} ${locName(dreg, w)}, ${m.text(w)}`,
      plant: (regs, v) => { plantLoc(regs, dreg, w, v[1]); regs[m.base] = m.baseVal; },
      model: (st) => {
        const r = model2(op, w, getLoc(st.regs, dreg, w), snippetDataValue(m.offset, w / 8), st.rflags);
        if (r.write) setLoc(st.regs, dreg, w, r.res);
        return { regs: st.regs, flags: r.flags, undef: r.undef };
      },
    });
    // Immediates: accumulator (04/05/A8/A9), other registers and memory (80/81/83, F6/F7).
    const iw = Math.min(w, 32);
    const imms = [...new Set([0n, 1n, -1n, 0x7fn, -0x80n, 0x80n, (1n << BigInt(iw - 1)) - 1n, -(1n << BigInt(iw - 1)),
      ...sample(fc.bigInt({ min: -(1n << BigInt(iw - 1)), max: (1n << BigInt(iw - 1)) - 1n }), 3, 7 + w + mode)].map((x) => sx(x, iw)))];
    const dsts: RegLoc[] = [reg(0), reg(3)];
    if (mode === 64) dsts.push(reg(12));
    else if (w === 8) dsts.push(reg(2, true));
    imms.forEach((imm, i) => {
      const immVal = trunc(sx(imm, iw), w);
      // Each immediate with one destination in turn, the accumulator (short forms) always.
      for (const d of i % dsts.length === 0 ? [dsts[0]] : [dsts[0], dsts[i % dsts.length]]) {
        cases.push({
          mode, w, imm: true, src: `${op} ${locName(d, w)}, ${immText(imm, iw)}`,
          plant: (regs, v) => plantLoc(regs, d, w, v[0]),
          model: (st) => {
            const r = model2(op, w, getLoc(st.regs, d, w), immVal, st.rflags);
            if (r.write) setLoc(st.regs, d, w, r.res);
            return { regs: st.regs, flags: r.flags, undef: r.undef };
          },
        });
      }
      cases.push({
        mode, w, imm: true,
        src: `mov ${m.text(w)}, ${locName(acc, w)}\n${op} ${m.text(w)}, ${immText(imm, iw)}\nmov ${locName(acc, w)}, ${m.text(w)}`,
        plant: memSetup,
        model: (st) => {
          const r = model2(op, w, getLoc(st.regs, acc, w), immVal, st.rflags);
          setLoc(st.regs, acc, w, r.write ? r.res : getLoc(st.regs, acc, w)); // the reload
          return { regs: st.regs, flags: r.flags, undef: r.undef };
        },
      });
      // 82 /r ib: an alias of 80 outside 64-bit mode (SDM table A-6 note; #UD in 64-bit mode).
      if (w === 8 && mode !== 64 && op !== 'test') {
        const n = OPS.indexOf(op);
        cases.push({
          mode, w, imm: true, src: `.byte 0x82, ${0xc0 | (n << 3) | 3}, ${Number(trunc(imm, 8))}`,
          plant: (regs, v) => plantLoc(regs, reg(3), 8, v[0]),
          model: (st) => {
            const r = model2(op, 8, getLoc(st.regs, reg(3), 8), trunc(imm, 8), st.rflags);
            if (r.write) setLoc(st.regs, reg(3), 8, r.res);
            return { regs: st.regs, flags: r.flags, undef: r.undef };
          },
        });
      }
    });
  }
  return cases;
}

function unaryCases(mode: SnippetMode, op: Op1): Case[] {
  const cases: Case[] = [];
  const m = memSlot(mode);
  for (const w of widthsFor(mode)) {
    const dsts: RegLoc[] = [reg(3), reg(0)];
    if (mode === 64) dsts.push(reg(11), ...(w === 8 ? [reg(6)] : []));
    if (w === 8) dsts.push(reg(1, true));
    for (const d of dsts) {
      cases.push({
        mode, w, src: `${op} ${locName(d, w)}`,
        plant: (regs, v) => plantLoc(regs, d, w, v[0]),
        model: (st) => {
          const r = model1(op, w, getLoc(st.regs, d, w), st.rflags);
          setLoc(st.regs, d, w, r.res);
          return { regs: st.regs, flags: r.flags };
        },
      });
    }
    const acc = reg(0);
    cases.push({
      mode, w,
      src: `mov ${m.text(w)}, ${locName(acc, w)}\n${op} ${m.text(w)}\nmov ${locName(acc, w)}, ${m.text(w)}`,
      plant: (regs, v) => { regs[m.base] = m.baseVal; plantLoc(regs, acc, w, v[0]); },
      model: (st) => {
        const r = model1(op, w, getLoc(st.regs, acc, w), st.rflags);
        setLoc(st.regs, acc, w, r.res);
        return { regs: st.regs, flags: r.flags };
      },
    });
  }
  return cases;
}

const PLAN = new Map<string, Case[]>();
for (const mode of MODES) {
  for (const op of OPS) PLAN.set(`${mode}:${op}`, binaryCases(mode, op));
  for (const op of UNARY) PLAN.set(`${mode}:${op}`, unaryCases(mode, op));
}
prefetch([...PLAN.values()].flat());

const seenWidth = new Set<string>();

function runCases(cases: Case[], numRuns: number): void {
  for (const c of cases) {
    // Edge pairs: all 25 for the first case of each width, the corners (0, sign, max) otherwise.
    const examples: unknown[][] = [];
    const full = !c.imm && !seenWidth.has(`${c.mode}:${c.w}`);
    seenWidth.add(`${c.mode}:${c.w}`);
    const e = keyEdges(c.w);
    const ends = full ? e : [e[0], e[3], e[4]];
    for (const a of c.imm ? e : ends) {
      for (const b of c.imm ? [0n] : ends) examples.push([a, b, examples.length % 3 === 0 ? CF : 0, ZERO_NOISE]);
    }
    fc.assert(
      fc.property(arbReg(c.w), arbReg(c.w), arbFlags, arbNoise, (a, b, flags, noise) => {
        const init: CpuState = { regs: initialRegs(c.mode, noise, (regs) => c.plant(regs, [a, b])), rflags: flags };
        runAndCheck(c.mode, c.src, init, (s) => c.model(s, [a, b]));
      }),
      fcOpts(numRuns, examples),
    );
  }
}

describe.skipIf(!HAVE_AS)('ALU instructions vs the SDM', () => {
  for (const mode of MODES) {
    for (const op of [...OPS, ...UNARY]) {
      test(`${op} (${mode}-bit mode)`, () => {
        const cases = PLAN.get(`${mode}:${op}`)!;
        // Register and memory forms get more random runs; immediate forms are many, each with fewer.
        runCases(cases.filter((c) => !c.imm), 15);
        runCases(cases.filter((c) => c.imm), 3);
      });
    }
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
