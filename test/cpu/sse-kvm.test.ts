// SSE/SSE2 against real hardware: every case runs as a snippet on /dev/kvm (test/oracle/kvm.ts)
// and on hvsim, and the results must be identical: all 16 GPRs, RFLAGS, the outcome (HLT or the
// exception vector). The snippet turns on CR4.OSFXSR/OSXMMEXCPT (SDM vol. 3, 13.1.3), loads
// MXCSR, builds XMM0 = RBX:RAX and XMM1 = RDX:RCX from the random GPRs (MOVQ + PUNPCKLQDQ),
// runs the instruction under test (register form, and the m128/m64/m32 form through an aligned
// stack slot), then copies XMM0, XMM1 and MXCSR back to GPRs (MOVQ, PUNPCKHQDQ, STMXCSR).
// Operands are random (fast-check, fixed seed) and, for floating point, drawn lane by lane from
// the special values the SDM's rules single out (zeros, infinities, QNaN/SNaN, denormals,
// extremes) mixed with random bit patterns. An unmasked MXCSR exception must give the same
// #XM on both.

import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { kvmOracleAvailable, runOnKvm } from '../oracle/kvm.js';
import { runSnippet } from '../../src/machine/cpu/snippet-runner.js';
import { assembleAll, assemble, HAVE_AS } from '../helpers/asm.js';
import type { SnippetInput, SnippetResult } from '../../src/machine/snippet.js';

const avail = kvmOracleAvailable();
const SEED = 0x55e2;

const SINGLES = [0, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00001,
  0x7f812345, 0x00000001, 0x807fffff, 0x7f7fffff, 0x00800000, 0x4b000001, 0x3effffff, 0x3f000000, 0x40490fdb, 0xcf000000, 0x4f000000];
const DOUBLES: Array<[number, number]> = [[0, 0], [0, 0x80000000], [0, 0x3ff00000], [0, 0xbff00000], [0, 0x7ff00000], [0, 0xfff00000],
  [0, 0x7ff80000], [0, 0xfff80000], [1, 0x7ff00000], [0x12345678, 0x7ff40000], [1, 0], [0xffffffff, 0x800fffff], [0xffffffff, 0x7fefffff],
  [0, 0x00100000], [1, 0x43300000], [0, 0x3fe00000], [0x54442d18, 0x400921fb], [0, 0xc1e00000], [0, 0x41e00000], [0, 0xc3e00000], [0xffc00000, 0x41dfffff]];

const rnd = (n: number, seed: number): number[] => fc.sample(fc.integer({ min: 0, max: 0xffffffff }), { seed, numRuns: n });

type OperandKind = 'int' | 'ps' | 'pd';

/** 64-bit halves for one 128-bit operand of the given kind, case k. */
function operand(kind: OperandKind, k: number, salt: number): number[] {
  const r = rnd(8, SEED + k * 131 + salt);
  if (kind === 'int') return r.slice(0, 4);
  if (kind === 'ps') return [0, 1, 2, 3].map((i) => (r[i] % 3 === 0 ? r[4 + i] : SINGLES[r[4 + i] % SINGLES.length]));
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    if (r[i] % 3 === 0) out.push(r[2 + 2 * i], r[3 + 2 * i]);
    else out.push(...DOUBLES[r[4 + i] % DOUBLES.length]);
  }
  return out;
}

interface SseCase {
  name: string;
  src: string;
  gprs: Array<[number, number]>;
}

const PROLOGUE = [
  'mov r15, cr4', 'or r15, 0x600', 'mov cr4, r15', 'sub rsp, 32', 'mov dword ptr [rsp+16], edi', 'ldmxcsr [rsp+16]',
  'movq xmm0, rax', 'movq xmm2, rbx', 'punpcklqdq xmm0, xmm2', 'movq xmm1, rcx', 'movq xmm2, rdx', 'punpcklqdq xmm1, xmm2',
  'movdqa [rsp], xmm1',
].join('\n');
const EPILOGUE = [
  'movq rax, xmm0', 'punpckhqdq xmm0, xmm0', 'movq rbx, xmm0', 'movq rcx, xmm1', 'punpckhqdq xmm1, xmm1', 'movq rdx, xmm1',
  'stmxcsr [rsp+16]', 'mov edi, [rsp+16]', 'add rsp, 32',
].join('\n');

/** Instructions with operands XMM0 (destination) and XMM1 or [rsp] (source). */
const BINARY: Array<[string, OperandKind, string?]> = [
  ...['paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq', 'paddsb', 'paddsw', 'paddusb', 'paddusw',
    'psubsb', 'psubsw', 'psubusb', 'psubusw', 'pmullw', 'pmulhw', 'pmulhuw', 'pmuludq', 'pmaddwd', 'psadbw', 'pminub',
    'pmaxub', 'pminsw', 'pmaxsw', 'pavgb', 'pavgw', 'pand', 'pandn', 'por', 'pxor', 'pcmpeqb', 'pcmpeqw', 'pcmpeqd',
    'pcmpgtb', 'pcmpgtw', 'pcmpgtd', 'punpcklbw', 'punpcklwd', 'punpckldq', 'punpcklqdq', 'punpckhbw', 'punpckhwd',
    'punpckhdq', 'punpckhqdq', 'packsswb', 'packssdw', 'packuswb', 'psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq',
    'psraw', 'psrad'].map((n) => [n, 'int'] as [string, OperandKind]),
  ...['addps', 'subps', 'mulps', 'divps', 'minps', 'maxps', 'sqrtps', 'andps', 'andnps', 'orps', 'xorps', 'unpcklps',
    'unpckhps', 'cvtps2dq', 'cvttps2dq', 'cvtdq2ps'].map((n) => [n, 'ps'] as [string, OperandKind]),
  ...['addss', 'subss', 'mulss', 'divss', 'minss', 'maxss', 'sqrtss', 'cvtss2sd', 'movss'].map((n) => [n, 'ps', 'dword'] as [string, OperandKind, string]),
  ['cvtps2pd', 'ps', 'qword'],
  ...['addpd', 'subpd', 'mulpd', 'divpd', 'minpd', 'maxpd', 'sqrtpd', 'andpd', 'orpd', 'xorpd', 'andnpd', 'unpcklpd',
    'unpckhpd', 'cvtpd2ps', 'cvtpd2dq', 'cvttpd2dq'].map((n) => [n, 'pd'] as [string, OperandKind]),
  ...['addsd', 'subsd', 'mulsd', 'divsd', 'minsd', 'maxsd', 'sqrtsd', 'cvtsd2ss', 'movsd', 'cvtdq2pd'].map((n) => [n, 'pd', 'qword'] as [string, OperandKind, string]),
  ...['movlps', 'movhps', 'movlpd', 'movhpd', 'movq'].map((n) => [n, 'int', 'qword'] as [string, OperandKind, string]),
  ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((p) => [[`cmpps`, 'ps', `${p}`], [`cmppd`, 'pd', `${p}`], [`cmpss`, 'ps', `s${p}`], [`cmpsd`, 'pd', `s${p}`]] as Array<[string, OperandKind, string]>),
];
const IMM8: Array<[string, OperandKind]> = [['pshufd', 'int'], ['pshuflw', 'int'], ['pshufhw', 'int'], ['shufps', 'ps'], ['shufpd', 'pd']];
const SHIFT_IMM = ['psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad', 'pslldq', 'psrldq'];
const MXCSRS = [0x1f80, 0x1f80 | (1 << 13), 0x1f80 | (2 << 13), 0x1f80 | (3 << 13), 0x9fc0, 0x1f80 & ~(1 << 7), 0x1f80 & ~(1 << 9), 0x1f80 & ~(1 << 8)];

function gprsFor(a: number[], b: number[], extra: number[]): Array<[number, number]> {
  const g: Array<[number, number]> = new Array(16).fill(null).map((_, i) => [extra[i % extra.length] >>> 0, extra[(i + 5) % extra.length] >>> 0]);
  g[0] = [a[0] >>> 0, a[1] >>> 0];
  g[3] = [a[2] >>> 0, a[3] >>> 0];
  g[1] = [b[0] >>> 0, b[1] >>> 0];
  g[2] = [b[2] >>> 0, b[3] >>> 0];
  g[4] = [0x9000, 0];
  return g;
}

/** Which MXCSR values a case runs with: round-to-nearest for arithmetic (other modes are a
 *  documented deviation, docs/cpu.md); every mode for conversions, compares and integer ops. */
function mxcsrFor(name: string, k: number): number {
  const arith = /^(add|sub|mul|div|sqrt)|cvtsd2ss|cvtpd2ps|cvtdq2ps/.test(name);
  const pool = arith ? [0x1f80, 0x9fc0, 0x1f80 & ~(1 << 7), 0x1f80 & ~(1 << 9), 0x1f80 & ~(1 << 8)] : MXCSRS;
  return pool[k % pool.length];
}

function buildCases(): SseCase[] {
  const out: SseCase[] = [];
  const N = 24;
  BINARY.forEach(([name, kind, memw], bi) => {
    for (let k = 0; k < N; k++) {
      const a = operand(kind, k, bi * 7);
      const b = operand(kind, k, bi * 7 + 3);
      if (/^ps[lr]|^psra/.test(name) && k % 2 === 0) { b[0] = rnd(1, k + bi)[0] % 70; b[1] = k % 4 === 0 ? 1 : 0; }
      const extra = rnd(4, SEED ^ (bi * 97 + k));
      const mx = mxcsrFor(name, k);
      let insn: string;
      let minsn: string;
      if (name.startsWith('cmp')) {
        const scalar = memw!.startsWith('s');
        const pred = Number(memw!.replace('s', ''));
        insn = `${name} xmm0, xmm1, ${pred}`;
        minsn = `${name} xmm0, ${scalar ? (name === 'cmpss' ? 'dword' : 'qword') : 'xmmword'} ptr [rsp], ${pred}`;
      } else if (['movlps', 'movhps', 'movlpd', 'movhpd'].includes(name)) {
        insn = `${name} xmm0, qword ptr [rsp]`;
        minsn = `${name} qword ptr [rsp], xmm0\nmovdqa xmm1, [rsp]`;
      } else {
        insn = `${name} xmm0, xmm1`;
        minsn = `${name} xmm0, ${memw ?? 'xmmword'} ptr [rsp]`;
      }
      const g = gprsFor(a, b, extra);
      g[7] = [mx, 0];
      out.push({ name, src: `${PROLOGUE}\n${k % 2 === 0 ? insn : minsn}\n${EPILOGUE}`, gprs: g });
    }
  });
  IMM8.forEach(([name, kind], bi) => {
    for (let k = 0; k < 12; k++) {
      const imm = rnd(1, 900 + bi * 13 + k)[0] & 0xff;
      const g = gprsFor(operand(kind, k, 500 + bi), operand(kind, k, 600 + bi), rnd(4, 77 + k));
      g[7] = [0x1f80, 0];
      out.push({ name, src: `${PROLOGUE}\n${name} xmm0, ${k % 2 ? 'xmmword ptr [rsp]' : 'xmm1'}, ${imm}\n${EPILOGUE}`, gprs: g });
    }
  });
  SHIFT_IMM.forEach((name, bi) => {
    for (const n of [0, 1, 7, 8, 15, 16, 31, 33, 63, 64, 200]) {
      const g = gprsFor(operand('int', n, 700 + bi), operand('int', n, 800 + bi), rnd(4, 99 + n));
      g[7] = [0x1f80, 0];
      out.push({ name, src: `${PROLOGUE}\n${name} xmm0, ${n}\n${EPILOGUE}`, gprs: g });
    }
  });
  // GPR <-> XMM and XMM -> flags/GPR instructions; results land in GPRs r8-r11 and RFLAGS.
  const gprForms: Array<[string, OperandKind]> = [
    ['cvtsi2ss xmm0, esi', 'ps'], ['cvtsi2ss xmm0, rsi', 'ps'], ['cvtsi2sd xmm0, esi', 'pd'], ['cvtsi2sd xmm0, rsi', 'pd'],
    ['cvtsi2sd xmm0, dword ptr [rsp]', 'pd'], ['cvtsi2ss xmm0, qword ptr [rsp]', 'ps'],
    ['cvtss2si r8d, xmm1', 'ps'], ['cvtss2si r8, xmm1', 'ps'], ['cvttss2si r8d, xmm1', 'ps'], ['cvttss2si r8, xmm1', 'ps'],
    ['cvtsd2si r8d, xmm1', 'pd'], ['cvtsd2si r8, xmm1', 'pd'], ['cvttsd2si r8d, xmm1', 'pd'], ['cvttsd2si r8, xmm1', 'pd'],
    ['cvttsd2si r8, qword ptr [rsp]', 'pd'], ['cvtss2si r8d, dword ptr [rsp]', 'ps'],
    ['comiss xmm0, xmm1', 'ps'], ['ucomiss xmm0, xmm1', 'ps'], ['comisd xmm0, xmm1', 'pd'], ['ucomisd xmm0, xmm1', 'pd'],
    ['ucomisd xmm0, qword ptr [rsp]', 'pd'], ['comiss xmm0, dword ptr [rsp]', 'ps'],
    ['movmskps r8d, xmm1', 'ps'], ['movmskpd r8d, xmm1', 'pd'], ['pmovmskb r8d, xmm1', 'int'], ['pextrw r8d, xmm1, 5', 'int'],
    ['pinsrw xmm0, esi, 3', 'int'], ['pinsrw xmm0, word ptr [rsp+2], 6', 'int'], ['movd xmm0, esi', 'int'], ['movq xmm0, rsi', 'int'],
    ['movd r8d, xmm1', 'int'], ['movq r8, xmm1', 'int'], ['movd xmm0, dword ptr [rsp+4]', 'int'], ['movq xmm0, qword ptr [rsp+8]', 'int'],
    ['movd dword ptr [rsp+4], xmm0\nmovdqa xmm1, [rsp]', 'int'], ['movq qword ptr [rsp+8], xmm0\nmovdqa xmm1, [rsp]', 'int'],
    ['movhlps xmm0, xmm1', 'int'], ['movlhps xmm0, xmm1', 'int'], ['movss xmm0, dword ptr [rsp]', 'ps'], ['movsd xmm0, qword ptr [rsp]', 'pd'],
    ['movss dword ptr [rsp+4], xmm0\nmovdqa xmm1, [rsp]', 'ps'], ['movupd xmm0, [rsp+1]', 'int'], ['movdqu [rsp+3], xmm0\nmovdqa xmm1, [rsp]', 'int'],
    ['movaps xmm0, [rsp+8]', 'int'], ['paddd xmm0, [rsp+4]', 'int'], ['movdqa [rsp+4], xmm0', 'int'], ['movntdq [rsp], xmm0\nmovdqa xmm1, [rsp]', 'int'],
    ['movnti [rsp+4], esi\nmovdqa xmm1, [rsp]', 'int'], ['rcpps xmm0, xmm0\nxorps xmm0, xmm0', 'ps'],
  ];
  gprForms.forEach(([insn, kind], bi) => {
    for (let k = 0; k < 16; k++) {
      const g = gprsFor(operand(kind, k, 1000 + bi), operand(kind, k, 1100 + bi), rnd(4, 1200 + bi * 31 + k));
      const sv = operand(kind === 'int' ? 'int' : kind, k, 1300 + bi);
      g[6] = k % 4 === 0 ? [sv[0] >>> 0, sv[1] >>> 0] : [rnd(1, k + 5 * bi)[0], k % 3 === 0 ? 0xffffffff : rnd(1, k + 7 * bi)[0] & 0x801fffff];
      g[7] = [MXCSRS[k % 4], 0];
      out.push({ name: insn.split(' ')[0], src: `${PROLOGUE}\n${insn}\n${EPILOGUE}`, gprs: g });
    }
  });
  return out;
}

const CASES = HAVE_AS && avail.ok ? buildCases() : [];

function same(a: SnippetResult, b: SnippetResult): string | null {
  if (a.outcome !== b.outcome || a.vector !== b.vector) return `outcome kvm ${a.outcome} ${a.vector ?? ''}, hvsim ${b.outcome} ${b.vector ?? ''}`;
  const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  const diffs: string[] = [];
  for (let i = 0; i < 16; i++) {
    if (a.gprs[i][0] !== b.gprs[i][0] || a.gprs[i][1] !== b.gprs[i][1]) {
      const h = (v: [number, number]): string => (v[1] >>> 0).toString(16).padStart(8, '0') + '_' + (v[0] >>> 0).toString(16).padStart(8, '0');
      diffs.push(`${names[i]} kvm ${h(a.gprs[i])} hvsim ${h(b.gprs[i])}`);
    }
  }
  if (((a.rflags ^ b.rflags) & 0x8d5) !== 0) diffs.push(`rflags kvm ${a.rflags.toString(16)} hvsim ${b.rflags.toString(16)}`);
  return diffs.length ? diffs.join('; ') : null;
}

describe.skipIf(!HAVE_AS || !avail.ok)(`SSE/SSE2 vs /dev/kvm${avail.ok ? '' : ` (skipped: ${avail.ok ? '' : avail.reason})`}`, () => {
  test(`${CASES.length} random cases agree with the hardware`, async (ctx) => {
    assembleAll(CASES.map((c) => ({ mode: 64 as const, src: c.src })));
    const inputs: SnippetInput[] = CASES.map((c) => ({ mode: 64, code: assemble(64, c.src), gprs: c.gprs, rflags: 2 }));
    const answers = await runOnKvm(inputs);
    // Where /dev/kvm runs guests through KVM's instruction emulator (no VMX: e.g. kvm_pvm), SSE
    // arithmetic is an emulation failure and nothing can be compared.
    if (answers.every((a) => a.outcome === 'nooracle')) {
      ctx.skip();
      return;
    }
    const bad: string[] = [];
    const perName = new Map<string, number>();
    let compared = 0;
    answers.forEach((ans, i) => {
      if (ans.outcome === 'nooracle') return;
      compared++;
      const hv = runSnippet(inputs[i]);
      const d = same(ans, hv);
      if (d !== null) {
        perName.set(CASES[i].name, (perName.get(CASES[i].name) ?? 0) + 1);
        if (bad.length < 40) bad.push(`${CASES[i].src.split('\n')[13]} | in ${CASES[i].gprs.slice(0, 8).map((g) => g[1].toString(16) + ':' + g[0].toString(16)).join(' ')} | ${d}`);
      }
    });
    if (bad.length) console.log([...perName.entries()].map(([n, k]) => `${n}:${k}`).join(' ') + '\n' + bad.join('\n'));
    expect(compared).toBeGreaterThan(CASES.length * 0.95);
    expect(bad).toEqual([]);
  }, 600_000);
});
