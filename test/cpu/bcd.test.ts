// BCD adjusts against the SDM's Operation sections (vol. 2: DAA, DAS, AAA, AAS, AAM, AAD) in
// 16- and 32-bit mode: DAA/DAS/AAA/AAS over every AL with every AF and CF, AAM/AAD with several
// bases (AAM 0 is #DE); all six are #UD in 64-bit mode. Flags the SDM leaves undefined (OF for
// DAA/DAS; OF SF ZF PF for AAA/AAS; OF AF CF for AAM/AAD) are not compared.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF, AF, OF, SF, ZF, PF, STATUS, szp, type Expected } from '../helpers/x86-ref.js';
import { RAX, type CpuState } from '../helpers/cpu-run.js';
import { reg, setLoc } from '../helpers/operands.js';
import { arbU64, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';

const DE = 0, UD = 6;
const al = (st: CpuState): number => Number(st.regs[RAX] & 0xffn);
const ah = (st: CpuState): number => Number((st.regs[RAX] >> 8n) & 0xffn);
const setAl = (st: CpuState, v: number): void => setLoc(st.regs, reg(RAX), 8, BigInt(v & 0xff));
const setAx = (st: CpuState, v: number): void => setLoc(st.regs, reg(RAX), 16, BigInt(v & 0xffff));

/** SDM DAA / DAS Operation. */
function daaDas(sub: boolean, st: CpuState): Expected {
  const oldAl = al(st);
  const oldCf = st.rflags & CF;
  let a = oldAl;
  let cf = 0;
  let af = 0;
  if ((a & 0xf) > 9 || (st.rflags & AF) !== 0) {
    const t = sub ? a - 6 : a + 6;
    cf = oldCf | (sub ? (t < 0 ? 1 : 0) : t > 0xff ? 1 : 0); // "CF ← old_CF or (Carry/Borrow from AL ± 6)"
    a = t & 0xff;
    af = AF;
  }
  if (oldAl > 0x99 || oldCf !== 0) {
    a = (sub ? a - 0x60 : a + 0x60) & 0xff;
    cf = 1;
  } else if (!sub) cf = 0; // DAA only: "ELSE CF ← 0"
  setAl(st, a);
  return { regs: st.regs, flags: (st.rflags & ~STATUS) | szp(BigInt(a), 8) | af | cf, undef: OF };
}

/** SDM AAA ("AX ← AX + 106H") / AAS ("AX ← AX – 6; AH ← AH – 1"), then AL ← AL AND 0FH. */
function aaaAas(sub: boolean, st: CpuState): Expected {
  let ax = Number(st.regs[RAX] & 0xffffn);
  let f = 0;
  if ((ax & 0xf) > 9 || (st.rflags & AF) !== 0) {
    if (sub) {
      ax = (ax - 6) & 0xffff;
      ax = (ax & 0xff) | ((((ax >> 8) - 1) & 0xff) << 8);
    } else ax = (ax + 0x106) & 0xffff;
    f = AF | CF;
  }
  ax &= 0xff0f;
  setAx(st, ax);
  return { regs: st.regs, flags: (st.rflags & ~STATUS) | f, undef: OF | SF | ZF | PF };
}

function aam(base: number, st: CpuState): Expected {
  if (base === 0) return { vector: DE, regs: st.regs, flags: st.rflags };
  const a = al(st);
  setAx(st, (Math.floor(a / base) << 8) | a % base);
  return { regs: st.regs, flags: (st.rflags & ~STATUS) | szp(BigInt(a % base), 8), undef: OF | AF | CF };
}

function aad(base: number, st: CpuState): Expected {
  const r = (al(st) + ah(st) * base) & 0xff;
  setAx(st, r); // AH ← 0
  return { regs: st.regs, flags: (st.rflags & ~STATUS) | szp(BigInt(r), 8), undef: OF | AF | CF };
}

/** AL exhaustively (with AF and CF from the flags), AH and the rest of RAX random. */
const arbAx = fc.tuple(fc.integer({ min: 0, max: 255 }), arbU64).map(([a, r]) => (r & ~0xffn) | BigInt(a));
const arbAfCf = fc.constantFrom(0, AF, CF, AF | CF).chain((f) => fc.integer({ min: 0, max: 0xfff }).map((g) => (g & STATUS & ~(AF | CF)) | f));

function cases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const ops: Array<[string, (st: CpuState) => Expected]> = [
    ['daa', (st) => daaDas(false, st)], ['das', (st) => daaDas(true, st)],
    ['aaa', (st) => aaaAas(false, st)], ['aas', (st) => aaaAas(true, st)],
  ];
  for (const [op, f] of ops) {
    // Every AL with every AF/CF combination as examples (1024), plus random runs.
    const examples: bigint[][] = [];
    for (let a = 0; a < 256; a++) examples.push([BigInt(a) | (BigInt(a * 7 + 3) << 8n)]);
    for (const fl of [0, AF, CF, AF | CF]) {
      out.push({
        mode, w: 8, runs: 20, src: op, arbs: [arbAx], flags: arbAfCf, baseFlags: fl, examples: fl === 0 || fl === AF ? examples : examples.filter((_, i) => i % 2 === 0),
        plant: (regs, v) => { regs[RAX] = v[0]; },
        model: f,
      });
    }
  }
  for (const base of [10, 16, 7, 1, 255, 0]) {
    out.push({
      mode, w: 8, runs: 40, src: base === 10 ? 'aam' : `aam ${base}`, arbs: [arbU64],
      examples: [[0n], [0xffn], [0x63n], [0x64n]],
      plant: (regs, v) => { regs[RAX] = v[0]; },
      model: (st) => aam(base, st),
    });
    out.push({
      mode, w: 8, runs: 40, src: base === 10 ? 'aad' : `aad ${base}`, arbs: [arbU64],
      examples: [[0n], [0xffffn], [0x0909n], [0x1a05n]],
      plant: (regs, v) => { regs[RAX] = v[0]; },
      model: (st) => aad(base, st),
    });
  }
  return out;
}

/** In 64-bit mode the six opcodes (27 2F 37 3F D4 D5) are #UD. */
function invalid64(): Case[] {
  return ['0x27', '0x2f', '0x37', '0x3f', '0xd4, 0x0a', '0xd5, 0x0a'].map((bytes) => ({
    mode: 64 as SnippetMode, w: 8 as const, runs: 3, src: `.byte ${bytes}`, arbs: [arbU64],
    plant: (regs: bigint[], v: bigint[]) => { regs[RAX] = v[0]; },
    model: (st: CpuState): Expected => ({ vector: UD, regs: st.regs, flags: st.rflags }),
  }));
}

const PLAN = new Map<string, Case[]>([['16', cases(16)], ['32', cases(32)], ['64', invalid64()]]);
prefetch([...PLAN.values()].flat());

describe.skipIf(!HAVE_AS)('BCD adjusts vs the SDM', () => {
  for (const mode of [16, 32]) {
    for (const op of ['daa', 'das', 'aaa', 'aas', 'aam', 'aad']) {
      test(`${op} (${mode}-bit mode)`, () => PLAN.get(String(mode))!.filter((c) => c.src.startsWith(op)).forEach(runCase));
    }
  }
  test('daa/das/aaa/aas/aam/aad are #UD in 64-bit mode', () => PLAN.get('64')!.forEach(runCase));
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
