// String instructions against the SDM's Operation sections (vol. 2: MOVS, STOS, LODS, CMPS,
// SCAS, and "REP/REPE/REPZ/REPNE/REPNZ"): every element size, no prefix / REP / REPE / REPNE,
// DF = 0 and 1, the mode's address size and the other one (0x67: SI/DI/CX vs ESI/EDI/ECX vs
// RSI/RDI/RCX, with 16-bit wrap-around), segment overrides of the source (CS in real mode).
// Memory written by MOVS/STOS is read back by MOVs from a window around the destination.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { ZF, STATUS, DF, trunc, subFlags, type Width, type Expected } from '../helpers/x86-ref.js';
import { RAX, RCX, RDX, RBX, RBP, RSI, RDI, type CpuState } from '../helpers/cpu-run.js';
import { reg, setLoc } from '../helpers/operands.js';
import { arbU64, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';
import { Mem } from '../helpers/mem-model.js';
import { assemble } from '../helpers/asm.js';

const MODES: SnippetMode[] = [16, 32, 64];
const OPS = ['movs', 'stos', 'lods', 'cmps', 'scas'] as const;
type StrOp = (typeof OPS)[number];
const SFX: Record<number, string> = { 1: 'b', 2: 'w', 4: 'd', 8: 'q' };
const natural = (mode: SnippetMode): 16 | 32 | 64 => (mode === 16 ? 16 : mode === 32 ? 32 : 64);

/** Offsets (in the data area) of the source and destination strings. */
const SRC_OFF = 0x1000, DST_OFF = 0x3000;
/** The read-back window: [destination - WIN, destination + WIN). */
const WIN = 40;

interface Plan {
  mode: SnippetMode;
  op: StrOp;
  size: number;
  rep: '' | 'rep' | 'repe' | 'repne';
  asz: 16 | 32 | 64;
  /** Source segment override (16-bit mode: 'cs' reads the code). */
  seg?: string;
  /** Which slice of the read-back window this variant loads (legacy modes have few registers). */
  part: number;
  df: 0 | 1;
}

/** The loads after the string instruction: [register, offset from the window base, bytes]. */
function loads(mode: SnippetMode, part: number): Array<[number, number, number]> {
  if (mode === 64) {
    const regs = [8, 9, 10, 11, 12, 13, 14, 15, RBP, RDX];
    return regs.map((r, i) => [r, i * 8, 8]);
  }
  // 32-bit registers EBP, EDX, then EBX (the window base itself, loaded last).
  const regs = [RBP, RDX, RBX];
  return regs.map((r, i): [number, number, number] => [r, part * 12 + i * 4, 4]).filter(([, o]) => o < 2 * WIN);
}

function windowParts(mode: SnippetMode): number {
  return mode === 64 ? 1 : Math.ceil((2 * WIN) / 12);
}

function build(p: Plan): Case {
  const { mode, op, size, rep, asz } = p;
  const pfx = asz === natural(mode) ? '' : asz === 16 ? 'addr16 ' : 'addr32 ';
  const segText = p.seg ? `${p.seg}:` : '';
  const P = size === 1 ? 'byte' : size === 2 ? 'word' : size === 4 ? 'dword' : 'qword';
  const si = asz === 16 ? 'si' : asz === 32 ? 'esi' : 'rsi';
  let insn = `${pfx}${rep ? rep + ' ' : ''}${op}${SFX[size]}`;
  if (p.seg) insn = `${pfx}${rep ? rep + ' ' : ''}${op} ${P} ptr ${segText}[${si}]`;
  const lines = [insn];
  const writes = op === 'movs' || op === 'stos';
  const ld = writes ? loads(mode, p.part) : [];
  const wb = mode === 16 ? 'bx' : mode === 32 ? 'ebx' : 'rbx';
  for (const [r, off, n] of ld) {
    const name = mode === 64 ? (r >= 8 ? `r${r}` : r === RBP ? 'rbp' : r === RDX ? 'rdx' : 'rbx') : r === RBP ? 'ebp' : r === RDX ? 'edx' : 'ebx';
    lines.push(`mov ${name}, ${n === 8 ? 'qword' : 'dword'} ptr [${wb}+${off}]`);
  }
  const src = lines.join('\n');
  const dataBase = 0x20000; // DS = ES base in real mode, flat elsewhere
  const off0 = mode === 16 ? 0 : dataBase; // register value of offset 0 of the data area
  return {
    mode, w: 8, runs: 10, src,
    arbs: [
      fc.bigInt({ min: 0n, max: 4n }), // count
      fc.bigInt({ min: 0n, max: 15n }), // misalignment of the strings
      fc.bigInt({ min: 0n, max: 3n }), // where SCAS/CMPS find equality (3: rDI = rSI for CMPS)
      arbU64, arbU64, arbU64,
    ],
    flags: fc.integer({ min: 0, max: 0xfff }).map((f) => f & STATUS),
    baseFlags: p.df === 1 ? DF : 0,
    examples: [[0n, 0n, 0n, 1n, 2n, 3n], [4n, 1n, 3n, 1n, 2n, 3n], [2n, 7n, 1n, 1n, 2n, 3n]],
    plant: (regs, v) => {
      const [count, mis, eqAt, r1, r2, r3] = v;
      // Bits above the address size are noise the instruction must ignore (and keep).
      const regBits = mode === 64 ? 64 : 32;
      const hiNoise = (x: bigint): bigint => (asz < regBits ? x & ~((1n << BigInt(asz)) - 1n) & ((1n << BigInt(regBits)) - 1n) : 0n);
      const siVal = BigInt(off0 + SRC_OFF) + mis;
      let diVal = BigInt(off0 + DST_OFF) + mis * 3n;
      if (op === 'cmps' && eqAt === 3n) diVal = siVal;
      regs[RSI] = siVal | hiNoise(r1);
      regs[RDI] = diVal | hiNoise(r2);
      regs[RCX] = rep ? count | hiNoise(r3) : r3;
      regs[RAX] = r1 ^ r2;
      if (op === 'scas') {
        // AL/AX/EAX/RAX equal to the element number eqAt (when eqAt < count).
        const step = p.df === 1 ? -BigInt(size) : BigInt(size);
        const at = BigInt(DST_OFF) + mis * 3n + step * eqAt;
        regs[RAX] = (regs[RAX] & ~((1n << BigInt(size * 8)) - 1n)) | new Mem().read(dataBase + Number(at), size);
      }
      regs[RBX] = BigInt(off0 + DST_OFF - WIN) + mis * 3n;
    },
    model: (st) => model(p, st),
  };
}

/** The SDM string semantics, element by element. */
function model(p: Plan, st: CpuState): Expected {
  const { mode, op, size, rep, asz } = p;
  const image = new Map<number, number>();
  if (p.seg === 'cs') {
    const code = assemble(mode, build0(p));
    code.forEach((b, i) => image.set(0x10000 + i, b));
  }
  const mem = new Mem(image);
  const dataBase = 0x20000;
  const dsBase = p.seg === 'cs' ? (mode === 16 ? 0x10000 : 0) : mode === 16 ? dataBase : 0;
  const esBase = mode === 16 ? dataBase : 0;
  const w = (size * 8) as Width;
  const step = (st.rflags & DF) !== 0 ? -BigInt(size) : BigInt(size);
  const idx = (r: number): bigint => trunc(st.regs[r], asz);
  const bump = (r: number): void => setLoc(st.regs, reg(r), asz, trunc(idx(r) + step, asz));
  const windowBase = Number(st.regs[RBX]) + (mode === 16 ? dataBase : 0);
  let flags = st.rflags;
  const once = (): void => {
    const s = dsBase + Number(idx(RSI));
    const d = esBase + Number(idx(RDI));
    switch (op) {
      case 'movs': mem.write(d, size, mem.read(s, size)); bump(RSI); bump(RDI); break;
      case 'stos': mem.write(d, size, trunc(st.regs[RAX], w)); bump(RDI); break;
      case 'lods': setLoc(st.regs, reg(RAX), w, mem.read(s, size)); bump(RSI); break;
      case 'cmps': flags = (flags & ~STATUS) | subFlags(mem.read(s, size), mem.read(d, size), 0n, w).flags; bump(RSI); bump(RDI); break;
      case 'scas': flags = (flags & ~STATUS) | subFlags(trunc(st.regs[RAX], w), mem.read(d, size), 0n, w).flags; bump(RDI); break;
    }
  };
  if (!rep) once();
  else {
    // SDM REP: WHILE count != 0: execute; count--; stop at 0, or on the ZF condition (CMPS/SCAS).
    let count = idx(RCX);
    while (count !== 0n) {
      once();
      count = trunc(count - 1n, asz);
      setLoc(st.regs, reg(RCX), asz, count);
      if (count === 0n) break;
      if (op === 'cmps' || op === 'scas') {
        const zf = (flags & ZF) !== 0;
        if ((rep === 'repe' && !zf) || (rep === 'repne' && zf)) break;
      }
    }
  }
  if (op === 'movs' || op === 'stos') {
    for (const [r, off, n] of loads(mode, p.part)) setLoc(st.regs, reg(r), (n * 8) as Width, mem.read(windowBase + off, n));
  }
  return { regs: st.regs, flags };
}

/** The snippet source of a plan (for the CS-override model, which reads the code). */
function build0(p: Plan): string {
  return build(p).src;
}

function plans(mode: SnippetMode): Plan[] {
  const out: Plan[] = [];
  const sizes = mode === 64 ? [1, 2, 4, 8] : [1, 2, 4];
  const asizes: Array<16 | 32 | 64> = mode === 64 ? [64, 32] : [natural(mode), natural(mode) === 16 ? 32 : 16];
  for (const op of OPS) {
    const reps: Plan['rep'][] = op === 'cmps' || op === 'scas' ? ['', 'repe', 'repne'] : ['', 'rep'];
    for (const size of sizes) {
      for (const rep of reps) {
        for (const asz of asizes) {
          const parts = op === 'movs' || op === 'stos' ? windowParts(mode) : 1;
          for (let part = 0; part < parts; part++) {
            // Not every combination needs every window slice: the first slice always, the others
            // for the REP forms at the mode's own address size.
            if (part > 0 && (rep === '' || asz !== natural(mode))) continue;
            out.push({ mode, op, size, rep, asz, part, df: ((size + part + (rep ? 1 : 0)) & 1) as 0 | 1 });
            if (part === 0) out.push({ mode, op, size, rep, asz, part, df: ((size + part + (rep ? 1 : 0) + 1) & 1) as 0 | 1 });
          }
        }
      }
    }
  }
  // Source segment override: CS in real mode reads the snippet's own code (CS base 0x10000).
  if (mode === 16) out.push({ mode, op: 'lods', size: 2, rep: '', asz: 16, seg: 'cs', part: 0, df: 0 }, { mode, op: 'lods', size: 1, rep: 'rep', asz: 16, seg: 'cs', part: 0, df: 1 });
  else out.push({ mode, op: 'lods', size: 4, rep: '', asz: natural(mode), seg: 'fs', part: 0, df: 0 });
  return out;
}

/** 16-bit addressing wraps SI/DI at 64 KiB (real mode, DS = ES base 0x20000): REP MOVSB across
 *  SI = 0xffff -> 0, read back with 16-bit loads of the destination. */
function wrapCase(): Case {
  return {
    mode: 16, w: 8, runs: 10,
    src: 'rep movsb\nmov ebp, dword ptr [0x3000]\nmov edx, dword ptr [0x3004]',
    arbs: [fc.bigInt({ min: 1n, max: 6n }), fc.bigInt({ min: 0n, max: 3n }), arbU64],
    flags: fc.integer({ min: 0, max: 0xfff }).map((f) => f & STATUS),
    plant: (regs, v) => {
      regs[RSI] = (v[2] & 0xffff0000n & 0xffffffffn) | (0xffffn - v[1]);
      regs[RDI] = 0x3000n;
      regs[RCX] = v[0];
    },
    model: (st) => {
      const mem = new Mem();
      let si = st.regs[RSI] & 0xffffn;
      let di = st.regs[RDI] & 0xffffn;
      for (let n = st.regs[RCX] & 0xffffn; n > 0n; n--) {
        mem.write(0x20000 + Number(di), 1, mem.read(0x20000 + Number(si), 1));
        si = (si + 1n) & 0xffffn;
        di = (di + 1n) & 0xffffn;
      }
      setLoc(st.regs, reg(RSI), 16, si);
      setLoc(st.regs, reg(RDI), 16, di);
      setLoc(st.regs, reg(RCX), 16, 0n);
      setLoc(st.regs, reg(RBP), 32, mem.read(0x23000, 4));
      setLoc(st.regs, reg(RDX), 32, mem.read(0x23004, 4));
      return { regs: st.regs, flags: st.rflags };
    },
  };
}

const PLAN = new Map<SnippetMode, Case[]>(MODES.map((mode) => [mode, [...plans(mode).map(build), ...(mode === 16 ? [wrapCase()] : [])]]));
prefetch([...PLAN.values()].flat());

describe.skipIf(!HAVE_AS)('string instructions vs the SDM', () => {
  for (const mode of MODES) {
    for (const op of OPS) {
      test(`${op} (${mode}-bit mode)`, () => {
        for (const c of PLAN.get(mode)!.filter((x) => new RegExp(`(^|[ ])${op}`).test(x.src))) runCase(c);
      });
    }
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
