// x87 unit checks on hvsim against the SDM (vol. 1 chapter 8, vol. 2 F* pages).
import { describe, expect, test } from 'vitest';
import { runSnippet } from '../../src/machine/cpu/snippet-runner.js';
import { assemble, HAVE_AS } from '../helpers/asm.js';

function run(src: string, rax = 0, rbx = 0): { gprs: Array<[number, number]>; outcome: string; vector?: number } {
  const g = new Array(16).fill(null).map(() => [0, 0] as [number, number]);
  g[0] = [rax >>> 0, 0];
  g[3] = [rbx >>> 0, 0];
  return runSnippet({ mode: 64, code: assemble(64, src), gprs: g, rflags: 2 });
}
const q = (r: { gprs: Array<[number, number]> }, i: number): bigint => (BigInt(r.gprs[i][1] >>> 0) << 32n) | BigInt(r.gprs[i][0] >>> 0);

describe.skipIf(!HAVE_AS)('x87', () => {
  test('FUCOMPP pops both, FLDZ then pushes +0', () => {
    const r = run('fninit\nfld1\nfldpi\nfucompp\nfldz\nfstp qword ptr [rsp-8]\nmov rax, [rsp-8]\nfnstsw ax\nmov ebx, eax');
    expect(r.outcome).toBe('hlt');
    expect(q(r, 0)).toBe(0n);
  });
});

// The guest is hostile: any FXRSTOR image (random bytes, reserved MXCSR bits cleared so it
// loads), followed by x87 and SSE arithmetic on whatever encodings it holds (unnormals,
// pseudo-NaNs, denormals, empty registers, unmasked exceptions), must end at HLT or in an
// architectural exception, never in a host exception or a hang.
describe.skipIf(!HAVE_AS)('x87/SSE on hostile state', () => {
  const BODY = [
    'mov r15, cr4', 'or r15, 0x600', 'mov cr4, r15', 'and dword ptr [0x20018], 0xffff', 'fxrstor64 [0x20000]',
    'fld st(3)', 'fadd st, st(5)', 'fmul st(2), st', 'fsqrt', 'fprem', 'fprem1', 'fxtract', 'fscale', 'frndint', 'fxam',
    'fucomi st, st(1)', 'fcomi st, st(7)', 'fbstp tbyte ptr [0x20400]', 'fistp qword ptr [0x20410]', 'fisttp dword ptr [0x20420]',
    'fstp tbyte ptr [0x20430]', 'fst dword ptr [0x20440]', 'fld tbyte ptr [0x20050]', 'fbld tbyte ptr [0x20060]', 'fdivr st, st(3)',
    'addps xmm0, xmm1', 'divpd xmm2, xmm3', 'sqrtps xmm4, xmm5', 'cvtps2dq xmm6, xmm7', 'cvttsd2si rax, xmm8', 'cvtsd2ss xmm9, xmm10',
    'minpd xmm11, xmm12', 'cmpps xmm13, xmm14, 5', 'comisd xmm15, xmm0', 'paddq mm1, mm2', 'pmaddwd mm3, mm4', 'emms',
    'fnstenv [0x20500]', 'fldenv [0x20500]', 'fnsave [0x20600]', 'frstor [0x20600]', 'fxsave64 [0x20800]', 'fwait',
  ];
  test('30 random FXRSTOR images', () => {
    let seed = 0x2545f491;
    const next = (): bigint => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      const a = seed >>> 0;
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return (BigInt(a) << 32n) | BigInt(seed >>> 0);
    };
    const outcomes = new Map<string, number>();
    for (let k = 0; k < 30; k++) {
      const stores: string[] = [];
      for (let i = 0; i < 64; i++) stores.push(`mov rax, 0x${next().toString(16)}`, `mov [0x${(0x20000 + 8 * i).toString(16)}], rax`);
      const r = run([...stores, ...BODY].join('\n'));
      expect(['hlt', 'exception']).toContain(r.outcome);
      const key = r.outcome === 'hlt' ? 'hlt' : `#${r.vector}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    for (const key of outcomes.keys()) expect(['hlt', '#16', '#19', '#13']).toContain(key);
  });
});
