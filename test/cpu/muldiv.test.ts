// MUL, IMUL (one-, two- and three-operand forms), DIV and IDIV against the SDM's Operation
// sections (vol. 2 pages of the same names): every operand size, register and memory
// sources, #DE (vector 0) for a zero divisor and for a quotient that does not fit (including
// INT_MIN / -1). MUL/IMUL define only CF and OF; DIV/IDIV leave all status flags undefined.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF, OF, STATUS, mask, trunc, sx, widthsFor, runAndCheck, type Width, type Expected } from '../helpers/x86-ref.js';
import { initialRegs, type CpuState, RAX, RDX } from '../helpers/cpu-run.js';
import { reg, locName, getLoc, setLoc, plantLoc, memSlot, immText, type RegLoc } from '../helpers/operands.js';
import { arbReg, arbFlags, arbNoise, ZERO_NOISE, fcOpts, keyEdges, sample, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';

const MODES: SnippetMode[] = [16, 32, 64];
const DE = 0;

/** The implicit accumulator pair: AX for 8-bit (AL, AH), else rDX:rAX. */
function readPair(regs: bigint[], w: Width): bigint {
  if (w === 8) return trunc(regs[RAX], 16);
  return (trunc(regs[RDX], w) << BigInt(w)) | trunc(regs[RAX], w);
}
function writePair(regs: bigint[], w: Width, v: bigint): void {
  if (w === 8) setLoc(regs, reg(RAX), 16, v);
  else {
    setLoc(regs, reg(RAX), w, trunc(v, w));
    setLoc(regs, reg(RDX), w, trunc(v >> BigInt(w), w));
  }
}

/** MUL/IMUL r/m: "CF and OF set to 0 if the upper half of the result is 0 (MUL) / the sign
 *  extension of the lower half (IMUL); otherwise set to 1. SF, ZF, AF, PF undefined." */
function mulOne(signed: boolean, w: Width, st: CpuState, src: bigint): Expected {
  const a = trunc(st.regs[RAX], w);
  const prod = signed ? sx(a, w) * sx(src, w) : a * trunc(src, w);
  const full = trunc(prod, 2 * w);
  writePair(st.regs, w, full);
  const upperSignificant = signed ? sx(full, w) !== prod : full >> BigInt(w) !== 0n;
  const flags = (st.rflags & ~(CF | OF)) | (upperSignificant ? CF | OF : 0);
  return { regs: st.regs, flags, undef: STATUS & ~(CF | OF) };
}

/** IMUL r, r/m (, imm): "DEST ← truncated product; CF = OF = (truncated != full product)". */
function imulTrunc(w: Width, st: CpuState, dst: RegLoc, a: bigint, b: bigint): Expected {
  const prod = sx(a, w) * sx(b, w);
  const t = trunc(prod, w);
  setLoc(st.regs, dst, w, t);
  const flags = (st.rflags & ~(CF | OF)) | (sx(t, w) !== prod ? CF | OF : 0);
  return { regs: st.regs, flags, undef: STATUS & ~(CF | OF) };
}

/** DIV/IDIV: #DE on a zero divisor or an out-of-range quotient; truncation toward zero. */
function divOne(signed: boolean, w: Width, st: CpuState, src: bigint): Expected {
  const n = readPair(st.regs, w);
  const dv = signed ? sx(src, w) : trunc(src, w);
  if (dv === 0n) return { vector: DE, regs: st.regs, flags: st.rflags };
  const num = signed ? sx(n, 2 * w) : n;
  const q = num / dv; // BigInt division truncates toward zero (SDM: "truncated toward 0")
  const r = num - q * dv;
  const lo = signed ? -(1n << BigInt(w - 1)) : 0n;
  const hi = signed ? (1n << BigInt(w - 1)) - 1n : mask(w);
  if (q < lo || q > hi) return { vector: DE, regs: st.regs, flags: st.rflags };
  if (w === 8) setLoc(st.regs, reg(RAX), 16, (trunc(r, 8) << 8n) | trunc(q, 8));
  else {
    setLoc(st.regs, reg(RAX), w, trunc(q, w));
    setLoc(st.regs, reg(RDX), w, trunc(r, w));
  }
  return { regs: st.regs, flags: st.rflags, undef: STATUS };
}

interface Case {
  mode: SnippetMode;
  src: string;
  w: Width;
  kind: 'mul' | 'div' | 'imul2';
  /** Where the random values go: [accumulator/dest, source, high half]. */
  plant(regs: bigint[], v: bigint[]): void;
  model(s: CpuState): Expected;
  runs: number;
}

/** Dividend/divisor construction for DIV/IDIV: random (mostly #DE for wide operands) or a
 *  quotient and remainder that fit, or a zero divisor. `style` chooses. */
function plantDivision(signed: boolean, w: Width, regs: bigint[], style: number, a: bigint, b: bigint, c: bigint, setDivisor: (v: bigint) => void): void {
  const W = BigInt(w);
  let d = trunc(b, w);
  let dividend: bigint;
  if (style === 0) {
    dividend = (trunc(c, w) << W) | trunc(a, w);
  } else if (style === 3) {
    d = 0n;
    dividend = (trunc(c, w) << W) | trunc(a, w);
  } else if (!signed) {
    if (d === 0n) d = 1n;
    const r = trunc(c, w) % d;
    dividend = trunc(a, w) * d + r;
  } else {
    let sd = sx(d, w);
    if (sd === 0n) sd = -1n;
    d = trunc(sd, w);
    const q = sx(a, w);
    const ad = sd < 0n ? -sd : sd;
    let r = trunc(c, w) % ad;
    const prod = q * sd;
    if (prod < 0n || (prod === 0n && (c & (1n << W)) !== 0n)) r = -r;
    dividend = trunc(prod + r, 2 * w);
  }
  if (w === 8) plantLoc(regs, reg(RAX), 16, dividend);
  else {
    plantLoc(regs, reg(RAX), w, dividend);
    plantLoc(regs, reg(RDX), w, dividend >> W);
  }
  setDivisor(d);
}

function cases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  for (const w of widthsFor(mode)) {
    const srcs: Array<RegLoc | 'mem'> = [reg(3), reg(1), 'mem'];
    if (mode === 64) srcs.push(reg(9));
    if (w === 8) srcs.push(reg(3, true), reg(0, true));
    // The one-operand forms (F6/F7 /4-/7).
    for (const op of ['mul', 'imul', 'div', 'idiv'] as const) {
      const signed = op === 'imul' || op === 'idiv';
      const isDiv = op === 'div' || op === 'idiv';
      const list = [...srcs];
      if (!isDiv) list.push(reg(0), reg(2)); // the multiplier is the accumulator or rDX itself
      for (const s of list) {
        // A memory source is stored from RSI (DH for bytes outside 64-bit mode) first.
        const sl = s === 'mem' ? (w === 8 && mode !== 64 ? reg(2, true) : reg(6)) : s;
        const src = s === 'mem' ? `mov ${m.text(w)}, ${locName(sl, w)}\n${op} ${m.text(w)}` : `${op} ${locName(s, w)}`;
        out.push({
          mode, src, w, kind: isDiv ? 'div' : 'mul', runs: isDiv ? 40 : 20,
          plant: (regs, v) => {
            if (s === 'mem') regs[m.base] = m.baseVal;
            if (!isDiv) {
              plantLoc(regs, reg(RAX), w, v[0]);
              plantLoc(regs, reg(RDX), w, v[2]);
              plantLoc(regs, sl, w, v[1]);
              return;
            }
            plantDivision(signed, w, regs, Number(v[3] & 3n), v[0], v[1], v[2], (d) => {
              // A divisor register that is also part of the dividend (AH) keeps the dividend's value.
              if (sl.r !== RAX && !(w !== 8 && sl.r === RDX)) plantLoc(regs, sl, w, d);
            });
          },
          model: (st) => {
            const sv = getLoc(st.regs, sl, w);
            return isDiv ? divOne(signed, w, st, sv) : mulOne(signed, w, st, sv);
          },
        });
      }
    }
    if (w === 8) continue;
    // IMUL r, r/m (0F AF) and IMUL r, r/m, imm8/imm16/32 (6B, 69).
    const iw = Math.min(w, 32);
    const pairs: Array<[RegLoc, RegLoc | 'mem']> = [[reg(3), reg(1)], [reg(0), reg(0)], [reg(2), 'mem']];
    if (mode === 64) pairs.push([reg(10), reg(13)]);
    for (const [d, s] of pairs) {
      const sl = s === 'mem' ? reg(6) : s;
      const sText = s === 'mem' ? m.text(w) : locName(s, w);
      const pre = s === 'mem' ? `mov ${m.text(w)}, ${locName(sl, w)}\n` : '';
      const plant = (regs: bigint[], v: bigint[]): void => {
        if (s === 'mem') regs[m.base] = m.baseVal;
        plantLoc(regs, d, w, v[0]);
        plantLoc(regs, sl, w, v[1]);
      };
      out.push({
        mode, w, kind: 'imul2', runs: 20, src: `${pre}imul ${locName(d, w)}, ${sText}`, plant,
        model: (st) => imulTrunc(w, st, d, getLoc(st.regs, d, w), getLoc(st.regs, sl, w)),
      });
      const imms = [1n, -1n, 0x7fn, -0x80n, 0x80n, (1n << BigInt(iw - 1)) - 1n, -(1n << BigInt(iw - 1)),
        ...sample(fc.bigInt({ min: -(1n << BigInt(iw - 1)), max: (1n << BigInt(iw - 1)) - 1n }), 2, w + mode)];
      for (const imm of imms) {
        out.push({
          mode, w, kind: 'imul2', runs: 4, src: `${pre}imul ${locName(d, w)}, ${sText}, ${immText(imm, iw)}`, plant,
          model: (st) => imulTrunc(w, st, d, getLoc(st.regs, sl, w), trunc(imm, w)),
        });
      }
    }
  }
  return out;
}

const PLAN = new Map<SnippetMode, Case[]>(MODES.map((mode) => [mode, cases(mode)]));
prefetch([...PLAN.values()].flat());

function runCases(list: Case[]): void {
  for (const c of list) {
    const e = keyEdges(c.w);
    const examples: unknown[][] = [];
    for (const a of e) for (const b of e) examples.push([a, b, c.kind === 'div' ? (a === b ? mask(c.w) : 0n) : a, 0n, 0, ZERO_NOISE]);
    if (c.kind === 'div') {
      // INT_MIN / -1, zero divisor, and the largest quotients that fit.
      const sign = 1n << BigInt(c.w - 1);
      for (const ex of [[0n, mask(c.w), mask(c.w), 0n, 0], [sign, mask(c.w), 0n, 1n, CF], [sign, sign, 0n, 1n, 0],
        [0n, 5n, 0n, 3n, 0], [mask(c.w), mask(c.w), mask(c.w) - 1n, 1n, 0], [sign - 1n, 1n, 0n, 2n, 0]]) examples.push([...ex, ZERO_NOISE]);
    }
    fc.assert(
      fc.property(arbReg(c.w), arbReg(c.w), arbReg(c.w), fc.bigInt({ min: 0n, max: 3n }), arbFlags, arbNoise, (a, b, hi, style, flags, noise) => {
        const init: CpuState = { regs: initialRegs(c.mode, noise, (regs) => c.plant(regs, [a, b, hi, style])), rflags: flags };
        runAndCheck(c.mode, c.src, init, (s) => c.model(s));
      }),
      fcOpts(c.runs, examples),
    );
  }
}

describe.skipIf(!HAVE_AS)('MUL/IMUL/DIV/IDIV vs the SDM', () => {
  for (const mode of MODES) {
    for (const kind of ['mul', 'div', 'imul2'] as const) {
      test(`${kind === 'mul' ? 'mul/imul r/m' : kind === 'div' ? 'div/idiv' : 'imul r, r/m (, imm)'} (${mode}-bit mode)`, () =>
        runCases(PLAN.get(mode)!.filter((c) => c.kind === kind)));
    }
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
