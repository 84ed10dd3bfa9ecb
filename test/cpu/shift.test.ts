// ROL/ROR/RCL/RCR/SHL/SAL/SHR/SAR and SHLD/SHRD against the SDM's Operation sections
// (vol. 2, "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD"): count forms 1 (D0/D1),
// imm8 (C0/C1) and CL (D2/D3), counts 0, 1, width-1, width, above the width and above the
// count mask, register and memory operands. Only the flags the SDM defines for each case are
// compared (OF only for 1-bit counts, AF never after a shift, CF not for SHL/SHR with a count
// at or above the width, nothing at all after SHLD/SHRD with a count above the width).

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF, OF, AF, STATUS, mask, trunc, sx, msb, szp, widthsFor, runAndCheck, type Width, type Expected } from '../helpers/x86-ref.js';
import { initialRegs, type CpuState, RCX } from '../helpers/cpu-run.js';
import { reg, locName, getLoc, setLoc, plantLoc, memSlot, type RegLoc } from '../helpers/operands.js';
import { SHIFTS, shiftModel, bit, type ShiftOp } from '../helpers/models.js';
import { arbReg, arbFlags, arbNoise, ZERO_NOISE, fcOpts, keyEdges, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';

const MODES: SnippetMode[] = [16, 32, 64];

/** SDM "SHLD"/"SHRD" Operation: DEST shifted, bits from SRC shifted in. */
function doubleModel(left: boolean, w: Width, dest: bigint, src: bigint, count: number, flagsIn: number): { res: bigint; flags: number; undef: number; resUndef: boolean } {
  const c = count & (w === 64 ? 0x3f : 0x1f);
  const d = trunc(dest, w);
  const s = trunc(src, w);
  if (c === 0) return { res: d, flags: flagsIn, undef: 0, resUndef: false };
  if (c > w) return { res: d, flags: flagsIn, undef: STATUS, resUndef: true }; // "result undefined"
  const W = BigInt(w);
  const C = BigInt(c);
  let res: bigint;
  let cf: bigint;
  if (left) {
    res = trunc((d << C) | (s >> (W - C)), w);
    cf = bit(d, w - c); // last bit shifted out of DEST
  } else {
    res = trunc((d >> C) | (s << (W - C)), w);
    cf = bit(d, c - 1);
  }
  let undef = AF;
  let of = 0n;
  // "For a 1-bit shift, the OF flag is set if a sign change occurred; otherwise, it is cleared.
  //  For shifts greater than 1 bit, the OF flag is undefined."
  if (c === 1) of = msb(res, w) !== msb(d, w) ? 1n : 0n;
  else undef |= OF;
  const flags = (flagsIn & ~STATUS) | szp(res, w) | (cf ? CF : 0) | (of ? OF : 0);
  return { res, flags, undef, resUndef: false };
}

interface Case {
  mode: SnippetMode;
  src: string;
  w: Width;
  /** Count in CL (set by the property) or fixed in the instruction. */
  fixedCount?: number;
  plant(regs: bigint[], v: bigint, v2: bigint, cl: number): void;
  model(s: CpuState): Expected;
}

function counts(w: number): number[] {
  return [...new Set([0, 1, 2, w - 1, w, w + 1, 31, 32, 33, 63, 64, 65, 0x80, 0xff, 9, 17].filter((x) => x < 256))];
}

function shiftCases(mode: SnippetMode, op: ShiftOp): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  for (const w of widthsFor(mode)) {
    const dsts: RegLoc[] = [reg(3), reg(0)];
    if (mode === 64) dsts.push(reg(12));
    if (w === 8) dsts.push(reg(2, true));
    const mk = (d: RegLoc | 'mem', countText: string, fixed: number | undefined): Case => {
      const operand = d === 'mem' ? m.text(w) : locName(d, w);
      const acc = reg(0);
      const loc = d === 'mem' ? acc : d;
      const src = d === 'mem'
        ? `mov ${operand}, ${locName(acc, w)}\n${op} ${operand}, ${countText}\nmov ${locName(acc, w)}, ${operand}`
        : `${op} ${operand}, ${countText}`;
      return {
        mode, src, w, fixedCount: fixed,
        plant: (regs, v, _v2, cl) => {
          if (d === 'mem') regs[m.base] = m.baseVal;
          if (fixed === undefined) regs[RCX] = (regs[RCX] & ~0xffn) | BigInt(cl);
          plantLoc(regs, loc, w, v);
        },
        model: (st) => {
          const cnt = fixed ?? Number(st.regs[RCX] & 0xffn);
          const r = shiftModel(op, w, getLoc(st.regs, loc, w), cnt, st.rflags);
          setLoc(st.regs, loc, w, r.res);
          return { regs: st.regs, flags: r.flags, undef: r.undef };
        },
      };
    };
    // CL count (D2/D3) on registers and memory.
    for (const d of dsts) out.push(mk(d, 'cl', undefined));
    out.push(mk('mem', 'cl', undefined));
    // Count 1 (D0/D1: as picks the short form) and imm8 counts (C0/C1).
    for (const [i, cnt] of counts(w).entries()) {
      out.push(mk(i % 2 === 0 ? dsts[0] : 'mem', String(cnt), cnt));
    }
  }
  return out;
}

function doubleCases(mode: SnippetMode, left: boolean): Case[] {
  const out: Case[] = [];
  const op = left ? 'shld' : 'shrd';
  const m = memSlot(mode);
  for (const w of widthsFor(mode).filter((x) => x !== 8)) {
    const pairs: Array<[RegLoc, RegLoc]> = [[reg(3), reg(2)], [reg(0), reg(6)]];
    if (mode === 64) pairs.push([reg(9), reg(15)]);
    const mk = (d: RegLoc | 'mem', s: RegLoc, countText: string, fixed: number | undefined): Case => {
      const acc = reg(0);
      const loc = d === 'mem' ? acc : d;
      const operand = d === 'mem' ? m.text(w) : locName(d, w);
      const src = d === 'mem'
        ? `mov ${operand}, ${locName(acc, w)}\n${op} ${operand}, ${locName(s, w)}, ${countText}\nmov ${locName(acc, w)}, ${operand}`
        : `${op} ${operand}, ${locName(s, w)}, ${countText}`;
      return {
        mode, src, w, fixedCount: fixed,
        plant: (regs, v, v2, cl) => {
          if (d === 'mem') regs[m.base] = m.baseVal;
          if (fixed === undefined) regs[RCX] = (regs[RCX] & ~0xffn) | BigInt(cl);
          plantLoc(regs, s, w, v2);
          plantLoc(regs, loc, w, v);
        },
        model: (st) => {
          const cnt = fixed ?? Number(st.regs[RCX] & 0xffn);
          const r = doubleModel(left, w, getLoc(st.regs, loc, w), getLoc(st.regs, s, w), cnt, st.rflags);
          if (r.resUndef) {
            // The destination is undefined: do not compare it (take hvsim's value from a rerun
            // would be circular), so such counts are filtered out of the property instead.
            throw new Error('unreachable: count above the operand size');
          }
          setLoc(st.regs, loc, w, r.res);
          return { regs: st.regs, flags: r.flags, undef: r.undef };
        },
      };
    };
    for (const [d, s] of pairs) out.push(mk(d, s, 'cl', undefined));
    out.push(mk('mem', reg(2), 'cl', undefined));
    for (const [i, cnt] of counts(w).filter((c) => (c & (w === 64 ? 63 : 31)) <= w).entries()) {
      out.push(mk(i % 2 === 0 ? pairs[0][0] : 'mem', pairs[0][1], String(cnt), cnt));
    }
  }
  return out;
}

const PLAN = new Map<string, Case[]>();
for (const mode of MODES) {
  for (const op of SHIFTS) PLAN.set(`${mode}:${op}`, shiftCases(mode, op));
  PLAN.set(`${mode}:shld`, doubleCases(mode, true));
  PLAN.set(`${mode}:shrd`, doubleCases(mode, false));
}
prefetch([...PLAN.values()].flat());

function runCases(cases: Case[], isDouble: boolean): void {
  for (const c of cases) {
    const cm = c.w === 64 ? 63 : 31;
    // CL: any byte, but for SHLD/SHRD only counts whose masked value is at most the width.
    const arbCl = fc.integer({ min: 0, max: 255 }).filter((x) => !isDouble || (x & cm) <= c.w);
    const clEdges = counts(c.w).filter((x) => !isDouble || (x & cm) <= c.w);
    const examples: unknown[][] = [];
    if (c.fixedCount === undefined) {
      clEdges.forEach((cl, i) => {
        const v = keyEdges(c.w)[i % 5];
        examples.push([v, mask(c.w) - v, cl, i % 2 === 0 ? CF : 0, ZERO_NOISE]);
      });
    } else {
      for (const v of keyEdges(c.w)) examples.push([v, 0n, 0, CF, ZERO_NOISE], [v, 1n, 0, 0, ZERO_NOISE]);
    }
    fc.assert(
      fc.property(arbReg(c.w), arbReg(c.w), arbCl, arbFlags, arbNoise, (v, v2, cl, flags, noise) => {
        const init: CpuState = { regs: initialRegs(c.mode, noise, (regs) => c.plant(regs, v, v2, cl)), rflags: flags };
        runAndCheck(c.mode, c.src, init, (s) => c.model(s));
      }),
      fcOpts(c.fixedCount === undefined ? 25 : 4, examples),
    );
  }
}

describe.skipIf(!HAVE_AS)('shifts and rotates vs the SDM', () => {
  for (const mode of MODES) {
    for (const op of [...SHIFTS, 'shld', 'shrd']) {
      test(`${op} (${mode}-bit mode)`, () => runCases(PLAN.get(`${mode}:${op}`)!, op === 'shld' || op === 'shrd'));
    }
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
