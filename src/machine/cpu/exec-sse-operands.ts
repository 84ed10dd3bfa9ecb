// Operands of SSE instructions: the availability checks every SSE instruction starts with,
// the XMM register fields, and 32/64/128-bit memory operands with the SSE alignment rule.
// A memory source is copied into a scratch register (SRC) so an instruction may write its
// destination while reading its source, whatever the aliasing.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Cr0, Cr4, Vec } from './constants.js';

/** Mandatory-prefix classes (SDM vol. 2, 2.1.2): none, 66, F3, F2. */
export const enum Pfx { NONE = 0, P66 = 1, F3 = 2, F2 = 3 }

export function pfxOf(info: number): number {
  const rep = (info >> Info.REP_SHIFT) & 3;
  if (rep === 1) return Pfx.F3;
  if (rep === 2) return Pfx.F2;
  return (info & Info.OPSIZE_PREFIX) !== 0 ? Pfx.P66 : Pfx.NONE;
}

/**
 * The checks of SDM vol. 3, 13.1 and table 2-2 ("Exceptions... SSE/SSE2"): #UD when CR0.EM=1
 * or CR4.OSFXSR=0, then #NM when CR0.TS=1.
 */
export function sseAvailable(c: Cpu): void {
  if ((c.cr0 & Cr0.EM) !== 0 || (c.cr4 & Cr4.OSFXSR) === 0) c.fault(Vec.UD);
  if ((c.cr0 & Cr0.TS) !== 0) c.fault(Vec.NM);
}

/** Scratch 128-bit source (lanes) with narrower views. */
export const SRC = new Int32Array(4);
export const SRC_U8 = new Uint8Array(SRC.buffer);
export const SRC_S8 = new Int8Array(SRC.buffer);
export const SRC_U16 = new Uint16Array(SRC.buffer);
export const SRC_S16 = new Int16Array(SRC.buffer);
export const SRC_F32 = new Float32Array(SRC.buffer);
export const SRC_F64 = new Float64Array(SRC.buffer);
/** Scratch result for instructions whose outputs mix source positions. */
export const RES = new Int32Array(4);
export const RES_U8 = new Uint8Array(RES.buffer);
export const RES_U16 = new Uint16Array(RES.buffer);

export function xmmReg(info: number): number {
  return (info >> Info.REG_SHIFT) & 15;
}
export function xmmRm(info: number): number {
  return (info >> Info.RM_SHIFT) & 15;
}

/** Linear address of the last memory operand. */
export let memLo = 0;
export let memHi = 0;

/**
 * Compute the memory operand's address with the segment checks (legacy modes) and, for
 * `align` (128-bit operands of all but the unaligned moves), #GP(0) when it is not 16-byte
 * aligned (SDM vol. 1, 10.4.1.1 / 11.6.7).
 */
export function memAddr(c: Cpu, d: number, bytes: number, write: boolean, align: boolean): void {
  const lo = c.ea(d);
  const hi = c.eaHi;
  if (c.codeSize !== 3) c.checkSeg(c.eaSeg, c.eaOff, bytes, write);
  if (align && (lo & 15) !== 0) c.fault(Vec.GP, 0);
  memLo = lo;
  memHi = hi;
}

function plus(lo: number, hi: number, n: number): number {
  const t = (lo >>> 0) + n;
  nextHi = t > 0xffffffff ? (hi + 1) | 0 : hi;
  return t | 0;
}
let nextHi = 0;

/** Load the xmm/m128 source into SRC (the rm register, or memory with `align`). */
export function loadSrc128(c: Cpu, d: number, info: number, align: boolean): void {
  if ((info & Info.MEM) === 0) {
    const x = c.fpu.xmm;
    const r = xmmRm(info) << 2;
    SRC[0] = x[r];
    SRC[1] = x[r + 1];
    SRC[2] = x[r + 2];
    SRC[3] = x[r + 3];
    return;
  }
  memAddr(c, d, 16, false, align);
  read128(c, memLo, memHi, SRC, 0);
}

/** Read 16 bytes at a linear address into arr[at..at+3]. */
export function read128(c: Cpu, lo: number, hi: number, arr: Int32Array, at: number): void {
  arr[at] = c.rd64(lo, hi);
  arr[at + 1] = c.rHi;
  const l2 = plus(lo, hi, 8);
  arr[at + 2] = c.rd64(l2, nextHi);
  arr[at + 3] = c.rHi;
}

/** Write 16 bytes, all or nothing: the last byte's page is checked before the first write. */
export function write128(c: Cpu, lo: number, hi: number, arr: Int32Array, at: number): void {
  if ((lo & 0xfff) > 0xff0) {
    const l = plus(lo, hi, 15);
    c.translate(l, nextHi, 1 /* Access.WRITE */, c.cpl === 3);
  }
  c.wr64(lo, hi, arr[at], arr[at + 1]);
  const l2 = plus(lo, hi, 8);
  c.wr64(l2, nextHi, arr[at + 2], arr[at + 3]);
}

/** Load a 64-bit source (xmm low quadword or m64) into SRC[0..1]. */
export function loadSrc64(c: Cpu, d: number, info: number): void {
  if ((info & Info.MEM) === 0) {
    const r = xmmRm(info) << 2;
    SRC[0] = c.fpu.xmm[r];
    SRC[1] = c.fpu.xmm[r + 1];
    return;
  }
  memAddr(c, d, 8, false, false);
  SRC[0] = c.rd64(memLo, memHi);
  SRC[1] = c.rHi;
}

/** Load a 32-bit source (xmm low doubleword or m32) into SRC[0]. */
export function loadSrc32(c: Cpu, d: number, info: number): void {
  if ((info & Info.MEM) === 0) {
    SRC[0] = c.fpu.xmm[xmmRm(info) << 2];
    return;
  }
  memAddr(c, d, 4, false, false);
  SRC[0] = c.rd32(memLo, memHi);
}

/** Store xmm register `r` (all 128 bits) to the memory operand. */
export function store128(c: Cpu, d: number, r: number, align: boolean): void {
  memAddr(c, d, 16, true, align);
  write128(c, memLo, memHi, c.fpu.xmm, r << 2);
}

export function store64(c: Cpu, d: number, lo: number, hi: number): void {
  memAddr(c, d, 8, true, false);
  c.wr64(memLo, memHi, lo, hi);
}

export function store32(c: Cpu, d: number, v: number): void {
  memAddr(c, d, 4, true, false);
  c.wr32(memLo, memHi, v);
}
