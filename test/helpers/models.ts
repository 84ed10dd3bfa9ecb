// SDM reference models shared by the CPU instruction tests: the ALU operations (vol. 2 ADD..XOR,
// INC/DEC/NEG/NOT, flag table vol. 1 appendix A), shifts and rotates (vol. 2 "RCL/RCR/ROL/ROR",
// "SAL/SAR/SHL/SHR" Operation), and the condition codes (vol. 1, appendix B, table B-1).

import { addFlags, subFlags, logicFlags, CF, PF, AF, ZF, SF, OF, STATUS, trunc, sx, szp, type Width } from './x86-ref.js';

export const OPS = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test'] as const;
export type Op2 = (typeof OPS)[number];
export const UNARY = ['inc', 'dec', 'neg', 'not'] as const;
export type Op1 = (typeof UNARY)[number];
export const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'sal', 'shr', 'sar'] as const;
export type ShiftOp = (typeof SHIFTS)[number];

/** SDM: result, whether the destination is written, new status flags, undefined flags. */
export function model2(op: Op2, w: Width, a: bigint, b: bigint, flagsIn: number): { res: bigint; write: boolean; flags: number; undef: number } {
  const cf = BigInt(flagsIn & CF);
  let r: { res: bigint; flags: number };
  let undef = 0;
  switch (op) {
    case 'add': r = addFlags(a, b, 0n, w); break;
    case 'adc': r = addFlags(a, b, cf, w); break;
    case 'sub': case 'cmp': r = subFlags(a, b, 0n, w); break;
    case 'sbb': r = subFlags(a, b, cf, w); break;
    default: {
      // AND/OR/XOR/TEST: OF, CF cleared; SF, ZF, PF by result; AF undefined.
      const res = trunc(op === 'or' ? a | b : op === 'xor' ? a ^ b : a & b, w);
      r = { res, flags: logicFlags(res, w) };
      undef = AF;
    }
  }
  return { res: r.res, write: op !== 'cmp' && op !== 'test', flags: (flagsIn & ~STATUS) | r.flags, undef };
}

/** INC/DEC (CF unaffected), NEG (CF = source != 0), NOT (no flags). */
export function model1(op: Op1, w: Width, a: bigint, flagsIn: number): { res: bigint; flags: number } {
  switch (op) {
    case 'inc': { const r = addFlags(a, 1n, 0n, w); return { res: r.res, flags: (flagsIn & ~(STATUS & ~CF)) | (r.flags & ~CF) }; }
    case 'dec': { const r = subFlags(a, 1n, 0n, w); return { res: r.res, flags: (flagsIn & ~(STATUS & ~CF)) | (r.flags & ~CF) }; }
    case 'neg': { const r = subFlags(0n, a, 0n, w); return { res: r.res, flags: (flagsIn & ~STATUS) | r.flags }; }
    default: return { res: trunc(~a, w), flags: flagsIn };
  }
}

export const bit = (v: bigint, i: number): bigint => (v >> BigInt(i)) & 1n;
const msbN = (v: bigint, w: number): bigint => bit(v, w - 1);

/** SDM "RCL/RCR/ROL/ROR" and "SAL/SAR/SHL/SHR" Operation, one bit at a time. */
export function shiftModel(op: ShiftOp, w: Width, dest: bigint, count: number, flagsIn: number): { res: bigint; flags: number; undef: number } {
  const countMask = w === 64 ? 0x3f : 0x1f;
  const masked = count & countMask;
  let d = trunc(dest, w);
  let cf = BigInt(flagsIn & CF);
  let of = (flagsIn & OF) !== 0 ? 1n : 0n;
  let flags = flagsIn;
  let undef = 0;
  const top = BigInt(w - 1);
  switch (op) {
    case 'rol':
    case 'ror': {
      let t = masked % w;
      while (t !== 0) {
        if (op === 'rol') {
          const tmp = msbN(d, w);
          d = trunc((d << 1n) + tmp, w);
        } else {
          const tmp = d & 1n;
          d = (d >> 1n) + (tmp << top);
        }
        t--;
      }
      if (masked !== 0) {
        cf = op === 'rol' ? d & 1n : msbN(d, w);
        if (masked === 1) of = op === 'rol' ? msbN(d, w) ^ cf : msbN(d, w) ^ bit(d, w - 2);
        else undef |= OF;
      }
      flags = (flags & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0);
      return { res: d, flags, undef };
    }
    case 'rcl':
    case 'rcr': {
      let t = w === 8 ? masked % 9 : w === 16 ? masked % 17 : masked;
      if (op === 'rcr' && masked === 1) of = msbN(d, w) ^ cf;
      while (t !== 0) {
        if (op === 'rcl') {
          const tmp = msbN(d, w);
          d = trunc((d << 1n) + cf, w);
          cf = tmp;
        } else {
          const tmp = d & 1n;
          d = (d >> 1n) + (cf << top);
          cf = tmp;
        }
        t--;
      }
      if (op === 'rcl' && masked === 1) of = msbN(d, w) ^ cf;
      if (masked !== 1) undef |= OF;
      flags = (flags & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0);
      return { res: d, flags, undef };
    }
    default: {
      if (masked === 0) return { res: d, flags, undef };
      const orig = d;
      let t = masked;
      while (t !== 0) {
        if (op === 'shl' || op === 'sal') {
          cf = msbN(d, w);
          d = trunc(d * 2n, w);
        } else {
          cf = d & 1n;
          d = op === 'sar' ? trunc(sx(d, w) >> 1n, w) : d >> 1n;
        }
        t--;
      }
      if (masked === 1) {
        of = op === 'shl' || op === 'sal' ? msbN(d, w) ^ cf : op === 'sar' ? 0n : msbN(orig, w);
      } else undef |= OF;
      // "CF is undefined for SHL and SHR where the count >= the operand size"; AF undefined.
      if (op !== 'sar' && masked >= w) undef |= CF;
      undef |= AF;
      flags = (flags & ~STATUS) | szp(d, w) | (cf ? CF : 0) | (of ? OF : 0);
      return { res: d, flags, undef };
    }
  }
}

/** SDM vol. 1, table B-1. */
export function condition(cc: number, f: number): boolean {
  const cf = (f & CF) !== 0, zf = (f & ZF) !== 0, sf = (f & SF) !== 0, of = (f & OF) !== 0, pf = (f & PF) !== 0;
  const table = [of, !of, cf, !cf, zf, !zf, cf || zf, !cf && !zf, sf, !sf, pf, !pf, sf !== of, sf === of, zf || sf !== of, !zf && sf === of];
  return table[cc];
}

