// SSE/SSE2 rules checked on hvsim against the SDM, for what the QEMU comparison of the sse
// fixture cannot check (test/cpu/sse-fixture.test.ts): NaN selection with two NaN operands,
// MXCSR.DE, unmasked exceptions leaving the destination unchanged, plus a few exact values.
// Each snippet sets CR4.OSFXSR|OSXMMEXCPT, loads MXCSR from EDI, builds XMM0 = RBX:RAX and
// XMM1 = RDX:RCX, runs the instruction, and returns XMM0 in RBX:RAX and MXCSR in EDI.

import { describe, expect, test } from 'vitest';
import { runSnippet } from '../../src/machine/cpu/snippet-runner.js';
import { assemble, HAVE_AS } from '../helpers/asm.js';

const PRO = 'mov r15, cr4\nor r15, 0x600\nmov cr4, r15\nsub rsp, 32\nmov [rsp+16], edi\nldmxcsr [rsp+16]\n' +
  'movq xmm0, rax\nmovq xmm2, rbx\npunpcklqdq xmm0, xmm2\nmovq xmm1, rcx\nmovq xmm2, rdx\npunpcklqdq xmm1, xmm2\nmovdqa [rsp], xmm1\n';
const EPI = '\nmovq rax, xmm0\npunpckhqdq xmm0, xmm0\nmovq rbx, xmm0\nstmxcsr [rsp+16]\nmov edi, [rsp+16]\nadd rsp, 32';

interface Out { lo: bigint; hi: bigint; mxcsr: number; vector?: number; r8: bigint }

function run(insn: string, a: [bigint, bigint], b: [bigint, bigint], mxcsr = 0x1f80, rsi = 0n): Out {
  const g = new Array(16).fill(null).map(() => [0, 0] as [number, number]);
  const put = (i: number, v: bigint): void => { g[i] = [Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)]; };
  put(0, a[0]); put(3, a[1]); put(1, b[0]); put(2, b[1]); put(6, rsi);
  g[7] = [mxcsr, 0];
  g[4] = [0x9000, 0];
  const r = runSnippet({ mode: 64, code: assemble(64, PRO + insn + EPI), gprs: g, rflags: 2 });
  const q = (i: number): bigint => (BigInt(r.gprs[i][1] >>> 0) << 32n) | BigInt(r.gprs[i][0] >>> 0);
  return { lo: q(0), hi: q(3), mxcsr: r.gprs[7][0], vector: r.vector, r8: q(8) };
}
/** Four singles (lane 0 first) as the two quadword halves. */
const ps = (l0: number, l1: number, l2: number, l3: number): [bigint, bigint] =>
  [(BigInt(l1 >>> 0) << 32n) | BigInt(l0 >>> 0), (BigInt(l3 >>> 0) << 32n) | BigInt(l2 >>> 0)];
const pd = (l0: bigint, l1: bigint): [bigint, bigint] => [l0, l1];
const lane = (o: Out, i: number): number => Number(((i < 2 ? o.lo : o.hi) >> BigInt(32 * (i & 1))) & 0xffffffffn);

const QNAN = 0x7fc00000, SNAN = 0x7fa00001, NQNAN = 0xffc00000, ONE = 0x3f800000, DENORM = 0x00000001;
const IE = 1, DE = 2, ZE = 4, PE = 0x20;

describe.skipIf(!HAVE_AS)('SSE floating point against the SDM', () => {
  test('two NaN operands give the first source operand, quieted (vol. 1, table 4-7)', () => {
    const r = run('addps xmm0, xmm1', ps(NQNAN, SNAN, QNAN, SNAN), ps(QNAN, QNAN, SNAN, 0x7f800001));
    expect([0, 1, 2, 3].map((i) => lane(r, i) >>> 0)).toEqual([NQNAN, 0x7fe00001, QNAN, 0x7fe00001]);
    expect(r.mxcsr & 0x3f).toBe(IE);
    const d = run('mulpd xmm0, xmm1', pd(0x7ff4000000000001n, 0xfff8000000000000n), pd(0x7ff8000000000000n, 0x7ff0000000000001n));
    expect([d.lo, d.hi]).toEqual([0x7ffc000000000001n, 0xfff8000000000000n]);
  });
  test('invalid operations give the QNaN indefinite (vol. 1, 4.8.3.7)', () => {
    const r = run('mulps xmm0, xmm1', ps(0, 0x7f800000, ONE, 0xbf800000), ps(0x7f800000, 0, ONE, ONE));
    expect(lane(r, 0) >>> 0).toBe(0xffc00000);
    expect(lane(r, 1) >>> 0).toBe(0xffc00000);
    expect(lane(r, 2) >>> 0).toBe(ONE);
    const s = run('sqrtsd xmm0, xmm1', pd(5n, 6n), pd(0xbff0000000000000n, 0n));
    expect(s.lo).toBe(0xfff8000000000000n);
    expect(s.hi).toBe(6n); // upper quadword of the destination unchanged (SDM SQRTSD)
  });
  test('MINPS/MAXPS: a NaN or two zeros give the second operand, and any NaN is invalid (SDM MINPS)', () => {
    const r = run('minps xmm0, xmm1', ps(QNAN, ONE, 0, 0x80000000), ps(ONE, SNAN, 0x80000000, 0));
    expect([0, 1, 2, 3].map((i) => lane(r, i) >>> 0)).toEqual([ONE, SNAN, 0x80000000, 0]);
    expect(r.mxcsr & IE).toBe(IE);
  });
  test('a denormal operand sets DE, and DAZ treats it as zero without DE (vol. 1, 10.2.3.4, 11.5.2.3)', () => {
    expect(run('addss xmm0, xmm1', ps(ONE, 0, 0, 0), ps(DENORM, 0, 0, 0)).mxcsr & (DE | PE)).toBe(DE | PE);
    const z = run('mulss xmm0, xmm1', ps(ONE, 0, 0, 0), ps(DENORM, 0, 0, 0), 0x1fc0);
    expect(z.mxcsr & 0x3f).toBe(0);
    expect(lane(z, 0)).toBe(0);
  });
  test('an unmasked exception is #XM (#UD without OSXMMEXCPT) and leaves the destination unchanged (vol. 1, 11.5.1)', () => {
    const r = run('divps xmm0, xmm1', ps(ONE, ONE, ONE, ONE), ps(ONE, 0, ONE, ONE), 0x1f80 & ~0x200);
    expect(r.vector).toBe(19);
    const u = run('mov r15, cr4\nand r15, ~0x400\nmov cr4, r15\ncvttss2si eax, xmm1', ps(0, 0, 0, 0), ps(QNAN, 0, 0, 0), 0x1f00);
    expect(u.vector).toBe(6);
    // A denormal with DM unmasked traps as well, before anything is written.
    const d = run('addps xmm0, xmm1', ps(ONE, 2, 3, 4), ps(DENORM, 0, 0, 0), 0x1f80 & ~0x100);
    expect(d.vector).toBe(19);
  });
  test('conversions: out of range and NaN give the integer indefinite with IE (SDM CVTTSD2SI)', () => {
    const r = run('cvttsd2si r8, xmm1', ps(0, 0, 0, 0), pd(0x43e0000000000000n, 0n)); // 2^63
    expect(r.r8).toBe(0x8000000000000000n);
    expect(r.mxcsr & IE).toBe(IE);
    const s = run('cvtss2si r8d, xmm1', ps(0, 0, 0, 0), ps(0x3fc00000, 0, 0, 0)); // 1.5, nearest even
    expect(s.r8).toBe(2n);
    const t = run('cvtss2si r8d, xmm1', ps(0, 0, 0, 0), ps(0x40200000, 0, 0, 0), 0x3f80); // 2.5, round down
    expect(t.r8).toBe(2n);
  });
  test('directed rounding and exact zero sums (IEEE 754 4.3, 6.3: x - x is -0 when rounding down)', () => {
    const third = (mx: number): number => lane(run('divss xmm0, xmm1', ps(ONE, 0, 0, 0), ps(0x40400000, 0, 0, 0), mx), 0) >>> 0;
    expect(third(0x1f80)).toBe(0x3eaaaaab); // nearest
    expect(third(0x3f80)).toBe(0x3eaaaaaa); // down
    expect(third(0x5f80)).toBe(0x3eaaaaab); // up
    expect(third(0x7f80)).toBe(0x3eaaaaaa); // toward zero
    expect(lane(run('subss xmm0, xmm1', ps(ONE, 0, 0, 0), ps(ONE, 0, 0, 0), 0x3f80), 0) >>> 0).toBe(0x80000000);
    expect(lane(run('subss xmm0, xmm1', ps(ONE, 0, 0, 0), ps(ONE, 0, 0, 0)), 0) >>> 0).toBe(0);
  });
  test('COMISS/UCOMISS flags: unordered ZF PF CF, less CF, equal ZF; QNaN is invalid only for COMISS (SDM COMISS)', () => {
    const f = (insn: string, a: number, b: number): [number, number] => {
      const r = run(`${insn}\npushfq\npop r8`, ps(a, 0, 0, 0), ps(b, 0, 0, 0));
      return [Number(r.r8 & 0x8d5n), r.mxcsr & IE];
    };
    expect(f('comiss xmm0, xmm1', ONE, QNAN)).toEqual([0x45, 1]);
    expect(f('ucomiss xmm0, xmm1', ONE, QNAN)).toEqual([0x45, 0]);
    expect(f('ucomiss xmm0, xmm1', 0, ONE)).toEqual([0x01, 0]);
    expect(f('ucomiss xmm0, xmm1', ONE, ONE)).toEqual([0x40, 0]);
    expect(f('ucomiss xmm0, xmm1', ONE, 0)).toEqual([0x00, 0]);
  });
  test('packed integer: saturation, PMULUDQ, PSADBW, PMOVMSKB (SDM pages of the same names)', () => {
    const r = run('paddsw xmm0, xmm1', [0x7fff8000_00017ff0n, 0n], [0x0001ffff_00010020n, 0n]);
    expect(r.lo).toBe(0x7fff8000_00027fffn);
    const m = run('pmuludq xmm0, xmm1', [0x00000000_ffffffffn, 0x12345678_00000002n], [0x99999999_ffffffffn, 0n]);
    expect([m.lo, m.hi]).toEqual([0xfffffffe00000001n, 0n]);
    const s = run('psadbw xmm0, xmm1', [0x00ff00ff00ff00ffn, 1n], [0xff00ff00ff00ff00n, 0n]);
    expect([s.lo, s.hi]).toEqual([0x7f8n, 1n]);
    const k = run('pmovmskb r8d, xmm1', ps(0, 0, 0, 0), [0x8000000000000080n, 0xff00000000000000n]);
    expect(k.r8).toBe(0x8081n);
  });
  test('MOVAPS and legacy 128-bit memory operands need 16-byte alignment, MOVUPS does not (vol. 1, 11.6.7)', () => {
    expect(run('movaps xmm0, [rsp+8]', ps(0, 0, 0, 0), ps(0, 0, 0, 0)).vector).toBe(13);
    expect(run('pxor xmm0, [rsp+4]', ps(0, 0, 0, 0), ps(0, 0, 0, 0)).vector).toBe(13);
    expect(run('movups xmm0, [rsp+4]', ps(0, 0, 0, 0), ps(0, 0, 0, 0)).vector).toBeUndefined();
    expect(run('movsd xmm0, [rsp+4]', ps(0, 0, 0, 0), ps(0, 0, 0, 0)).vector).toBeUndefined();
  });
});

describe.skipIf(!HAVE_AS)('SSE conversions and DE', () => {
  test('conversions to integers report no DE; to floating point they do (SDM CVTSS2SI, CVTSS2SD)', () => {
    expect(run('cvtss2si r8d, xmm1', ps(0, 0, 0, 0), ps(DENORM, 0, 0, 0)).mxcsr & 0x3f).toBe(PE);
    expect(run('cvttps2dq xmm0, xmm1', ps(0, 0, 0, 0), ps(DENORM, 0, 0, 0)).mxcsr & 0x3f).toBe(PE);
    expect(run('cvtss2sd xmm0, xmm1', ps(0, 0, 0, 0), ps(DENORM, 0, 0, 0)).mxcsr & 0x3f).toBe(DE);
    // Rounding up a positive denormal gives 1; with DAZ it is 0 (SDM vol. 1, 10.2.3.4).
    expect(run('cvtss2si r8d, xmm1', ps(0, 0, 0, 0), ps(DENORM, 0, 0, 0), 0x5f80).r8).toBe(1n);
    expect(run('cvtss2si r8d, xmm1', ps(0, 0, 0, 0), ps(DENORM, 0, 0, 0), 0x5fc0).r8).toBe(0n);
  });
});
