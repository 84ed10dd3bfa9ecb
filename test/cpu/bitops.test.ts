// BT/BTS/BTR/BTC (register, immediate and memory operands; bit-string addressing with large
// and negative register offsets), BSF/BSR, TZCNT/LZCNT, POPCNT and BSWAP against the SDM's
// Operation and Flags sections (vol. 2 pages of the same names).

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF, PF, AF, ZF, SF, OF, STATUS, mask, trunc, sx, runAndCheck, type Width, type Expected } from '../helpers/x86-ref.js';
import { RAX, RCX, RDX, RBX, type CpuState } from '../helpers/cpu-run.js';
import { reg, locName, getLoc, setLoc, plantLoc, memSlot, type RegLoc } from '../helpers/operands.js';
import { arbReg, keyEdges, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';
import { snippetDataByte } from '../oracle/snippet-env.js';

void runAndCheck;
const MODES: SnippetMode[] = [16, 32, 64];
const BT_OPS = ['bt', 'bts', 'btr', 'btc'] as const;
type BtOp = (typeof BT_OPS)[number];
const widths = (mode: SnippetMode): Width[] => (mode === 64 ? [16, 32, 64] : [16, 32]);

/** SDM BT*: CF ← Bit(BitBase, BitOffset); the op sets/clears/complements it. ZF unaffected;
 *  OF, SF, AF, PF undefined. */
function btApply(op: BtOp, v: bigint, bitNo: bigint): { res: bigint; cf: boolean } {
  const cf = ((v >> bitNo) & 1n) === 1n;
  const m = 1n << bitNo;
  const res = op === 'bts' ? v | m : op === 'btr' ? v & ~m : op === 'btc' ? v ^ m : v;
  return { res, cf };
}
const btFlags = (flagsIn: number, cf: boolean): number => (flagsIn & ~CF) | (cf ? CF : 0);
const BT_UNDEF = OF | SF | AF | PF;

function btCases(mode: SnippetMode, op: BtOp): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  for (const w of widths(mode)) {
    const W = BigInt(w);
    // Register base, register offset: "BitOffset MOD operand size" (offset any value).
    const pairs: Array<[RegLoc, RegLoc]> = [[reg(3), reg(1)], [reg(0), reg(0)]];
    if (mode === 64) pairs.push([reg(12), reg(9)]);
    for (const [b, o] of pairs) {
      out.push({
        mode, w, runs: 30, src: `${op} ${locName(b, w)}, ${locName(o, w)}`,
        plant: (regs, v) => { plantLoc(regs, b, w, v[0]); plantLoc(regs, o, w, v[1]); },
        model: (st) => {
          const r = btApply(op, getLoc(st.regs, b, w), getLoc(st.regs, o, w) % W);
          if (op !== 'bt') setLoc(st.regs, b, w, r.res); // BT only reads its operand
          return { regs: st.regs, flags: btFlags(st.rflags, r.cf), undef: BT_UNDEF };
        },
      });
    }
    // Immediate offset (0F BA /4-/7): "imm8 MOD operand size", register and memory.
    for (const [i, imm] of [0, 1, w - 1, w, w + 3, 127, 200, 255].entries()) {
      const b = reg(3);
      out.push({
        mode, w, runs: 6, src: `${op} ${locName(b, w)}, ${imm}`,
        plant: (regs, v) => plantLoc(regs, b, w, v[0]),
        model: (st) => {
          const r = btApply(op, getLoc(st.regs, b, w), BigInt(imm) % W);
          if (op !== 'bt') setLoc(st.regs, b, w, r.res); // BT only reads its operand
          return { regs: st.regs, flags: btFlags(st.rflags, r.cf), undef: BT_UNDEF };
        },
      });
      if (i % 2 === 0) {
        const acc = reg(RAX);
        out.push({
          mode, w, runs: 6,
          src: `mov ${m.text(w)}, ${locName(acc, w)}\n${op} ${m.text(w)}, ${imm}\nmov ${locName(acc, w)}, ${m.text(w)}`,
          plant: (regs, v) => { regs[m.base] = m.baseVal; plantLoc(regs, acc, w, v[0]); },
          model: (st) => {
            const r = btApply(op, getLoc(st.regs, acc, w), BigInt(imm) % W);
            setLoc(st.regs, acc, w, r.res);
            return { regs: st.regs, flags: btFlags(st.rflags, r.cf), undef: BT_UNDEF };
          },
        });
      }
    }
    out.push(...btMemCases(mode, op, w, false), ...btMemCases(mode, op, w, true));
  }
  return out;
}

/**
 * Memory bit string with a register offset: the bit at bit address (EA * 8 + BitOffset), the
 * offset signed and not reduced (SDM BT: "-2^31 to 2^31 - 1" for a 32-bit register, etc.).
 * The base is the middle of the data area; after the instruction the snippet loads the byte
 * holding the bit into CL (address EA + (BitOffset SAR 3)) and CF into CH. `far`: the base is far above the
 * data area and the offset near the most negative value, so that only an exact signed
 * computation lands back in the data area.
 */
function btMemCases(mode: SnippetMode, op: BtOp, w: Width, far: boolean): Case[] {
  const W = BigInt(w);
  const OFF = 0x8000n; // data-area offset of the base
  const dataBase = mode === 16 ? 0n : 0x20000n;
  const off = reg(RAX);
  let farBytes = 0n; // how far above the data area the base is
  let offArb: fc.Arbitrary<bigint>;
  if (!far) {
    const lim = w === 16 ? 0x7fffn : 0x3ffffn; // stay within the data area: +-32 KiB
    offArb = fc.bigInt({ min: -lim, max: lim });
  } else {
    if (w === 16 || mode === 16) return []; // 16-bit offsets cannot leave the segment
    // Base + OFF + 2^(w-4) bytes; offset -2^(w-1) + k bits => byte -2^(w-4) + k/8.
    farBytes = 1n << (W - 4n);
    if (w === 64) farBytes = 1n << 40n; // keep the linear address canonical: offset -2^43 + k
    offArb = fc.bigInt({ min: 0n, max: 0x3ffffn }).map((k) => -(farBytes * 8n) + k);
    if (w === 32 && mode === 32) farBytes = 1n << 28n;
  }
  const srcOps: string[] = [];
  const bx = mode === 64 ? 'r13' : mode === 32 ? 'edi' : 'di';
  const ptr = w === 16 ? 'word ptr' : w === 32 ? 'dword ptr' : 'qword ptr';
  srcOps.push(`${op} ${ptr} [${bx}], ${locName(off, w)}`, 'setc ch');
  if (mode === 64) {
    srcOps.push(w === 64 ? 'mov rdx, rax' : w === 32 ? 'movsxd rdx, eax' : 'movsx rdx, ax', 'sar rdx, 3', 'mov cl, byte ptr [r13+rdx]');
  } else if (mode === 32) {
    srcOps.push(w === 32 ? 'mov edx, eax' : 'movsx edx, ax', 'sar edx, 3', 'mov cl, byte ptr [edi+edx]');
  } else {
    srcOps.push(w === 32 ? 'mov edx, eax' : 'movsx edx, ax', 'sar edx, 3', 'mov bx, dx', 'mov cl, byte ptr [bx+di]');
  }
  return [{
    mode, w, runs: 40, src: srcOps.join('\n'),
    arbs: [offArb],
    examples: far ? [[-(farBytes * 8n)], [-(farBytes * 8n) + 7n]] : [[0n], [-1n], [-8n], [W], [-W - 1n], [7n], [8n]],
    plant: (regs, v) => {
      regs[mode === 64 ? 13 : 7] = dataBase + OFF + farBytes;
      plantLoc(regs, off, w, trunc(v[0], w));
    },
    model: (st) => {
      const o = sx(getLoc(st.regs, off, w), w);
      const byteOff = o >> 3n; // floor division (arithmetic shift)
      const at = Number(OFF + farBytes + byteOff); // base + byte offset, relative to the data area
      const r = btApply(op, BigInt(snippetDataByte(at)), o & 7n);
      setLoc(st.regs, reg(RCX), 8, r.res);
      setLoc(st.regs, reg(RCX, true), 8, r.cf ? 1n : 0n);
      st.regs[RDX] = trunc(byteOff, mode === 64 ? 64 : 32);
      if (mode === 16) setLoc(st.regs, reg(RBX), 16, trunc(byteOff, 16));
      // CF is observed through SETC into CH: SAR (in the observation code) changes the flags.
      return { regs: st.regs, flags: st.rflags, undef: STATUS };
    },
  }];
}

/** BSF/BSR: ZF=1 and DEST undefined for a zero source; CF, OF, SF, AF, PF undefined.
 *  TZCNT/LZCNT: DEST = count (operand size for zero), CF = (SRC = 0), ZF = (DEST = 0).
 *  POPCNT: DEST = number of 1 bits; OF SF ZF AF CF PF cleared, ZF = (SRC = 0). */
function scanModel(op: string, w: Width, st: CpuState, d: RegLoc, v: bigint): Expected {
  v = trunc(v, w);
  const flags0 = st.rflags & ~STATUS;
  let lowest = -1, highest = -1, pop = 0;
  for (let i = 0; i < w; i++) {
    if ((v >> BigInt(i)) & 1n) {
      if (lowest < 0) lowest = i;
      highest = i;
      pop++;
    }
  }
  // hvsim's CPUID has no BMI1, so F3 0F BC (TZCNT) executes as BSF (SDM TZCNT); LZCNT is ABM.
  if (op === 'tzcnt') op = 'bsf';
  switch (op) {
    case 'bsf':
    case 'bsr':
      if (v === 0n) return { regs: st.regs, flags: flags0 | ZF, undef: STATUS & ~ZF, undefRegs: [d.r] };
      setLoc(st.regs, d, w, BigInt(op === 'bsf' ? lowest : highest));
      return { regs: st.regs, flags: flags0, undef: STATUS & ~ZF };
    case 'tzcnt':
    case 'lzcnt': {
      const n = v === 0n ? w : op === 'tzcnt' ? lowest : w - 1 - highest;
      setLoc(st.regs, d, w, BigInt(n));
      return { regs: st.regs, flags: flags0 | (v === 0n ? CF : 0) | (n === 0 ? ZF : 0), undef: OF | SF | AF | PF };
    }
    default:
      setLoc(st.regs, d, w, BigInt(pop));
      return { regs: st.regs, flags: flags0 | (v === 0n ? ZF : 0) };
  }
}

/** Values with few or many bits set (the scans' interesting inputs). */
function arbBits(w: Width): fc.Arbitrary<bigint> {
  return fc.oneof(
    arbReg(w),
    fc.integer({ min: 0, max: w - 1 }).map((i) => 1n << BigInt(i)),
    fc.tuple(fc.integer({ min: 0, max: w - 1 }), fc.integer({ min: 0, max: w - 1 })).map(([i, j]) => (1n << BigInt(i)) | (1n << BigInt(j))),
    fc.integer({ min: 0, max: w - 1 }).map((i) => mask(w) << BigInt(i)),
  );
}

function scanCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  for (const op of ['bsf', 'bsr', 'tzcnt', 'lzcnt', 'popcnt']) {
    for (const w of widths(mode)) {
      const pairs: Array<[RegLoc, RegLoc | 'mem']> = [[reg(3), reg(1)], [reg(0), reg(0)], [reg(2), 'mem']];
      if (mode === 64) pairs.push([reg(11), reg(8)]);
      for (const [d, s] of pairs) {
        const sl = s === 'mem' ? reg(6) : s;
        const src = s === 'mem' ? `mov ${m.text(w)}, ${locName(sl, w)}\n${op} ${locName(d, w)}, ${m.text(w)}` : `${op} ${locName(d, w)}, ${locName(s, w)}`;
        out.push({
          mode, w, runs: 25, src,
          arbs: [arbReg(w), arbBits(w)],
          examples: [[0n, 0n], [5n, 1n], [0n, mask(w)], [0n, 1n << BigInt(w - 1)], [7n, 0x80n]],
          plant: (regs, v) => {
            if (s === 'mem') regs[m.base] = m.baseVal;
            plantLoc(regs, d, w, v[0]);
            plantLoc(regs, sl, w, v[1]);
          },
          model: (st) => scanModel(op, w, st, d, getLoc(st.regs, sl, w)),
        });
      }
    }
  }
  // BSWAP r32 / r64 ("BSWAP r16: the result is undefined", not tested).
  for (const w of mode === 64 ? [32, 64] as Width[] : [32] as Width[]) {
    for (const r of mode === 64 ? [0, 3, 9, 15] : [0, 3, 6]) {
      out.push({
        mode, w, runs: 15, src: `bswap ${locName(reg(r), w)}`,
        arbs: [arbReg(64)],
        plant: (regs, v) => { regs[r] = v[0]; },
        model: (st) => {
          let x = trunc(st.regs[r], w);
          let y = 0n;
          for (let i = 0; i < w / 8; i++) {
            y = (y << 8n) | (x & 0xffn);
            x >>= 8n;
          }
          setLoc(st.regs, reg(r), w, y);
          return { regs: st.regs, flags: st.rflags };
        },
      });
    }
  }
  return out;
}

const PLAN = new Map<string, Case[]>();
for (const mode of MODES) {
  for (const op of BT_OPS) PLAN.set(`${mode}:${op}`, btCases(mode, op));
  PLAN.set(`${mode}:scan`, scanCases(mode));
}
prefetch([...PLAN.values()].flat());
void keyEdges;

describe.skipIf(!HAVE_AS)('bit operations vs the SDM', () => {
  for (const mode of MODES) {
    for (const op of BT_OPS) test(`${op} (${mode}-bit mode)`, () => PLAN.get(`${mode}:${op}`)!.forEach(runCase));
    test(`bsf/bsr/tzcnt/lzcnt/popcnt/bswap (${mode}-bit mode)`, () => PLAN.get(`${mode}:scan`)!.forEach(runCase));
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
