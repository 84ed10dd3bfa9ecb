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
