// Checks the /dev/kvm oracle itself against results worked out by hand from the Intel SDM's
// instruction definitions (Vol.2 ADD/SUB/DIV/SHL/UD2/MOV/PUSH/POP pages, Vol.3 6.15 for the
// exception vectors), before the differential test trusts it.

import { describe, expect, it } from 'vitest';
import type { GprFile, SnippetInput, SnippetMode } from '../../src/machine/snippet.js';
import { kvmOracleAvailable, runOnKvm, type OracleAnswer } from './kvm.js';
import { SNIPPET_STACK_TOP, snippetDataValue } from './snippet-env.js';

const avail = kvmOracleAvailable();
if (!avail.ok) console.warn(`[kvm-oracle] skipped: ${avail.reason}`);

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, FIXED = 0x2;
const NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] as const;
type Name = (typeof NAMES)[number];

function gprs(init: Partial<Record<Name, bigint>>): GprFile {
  const g: GprFile = [];
  for (let i = 0; i < 16; i++) {
    const v = i < 8 ? (init[NAMES[i]!] ?? (i === 4 ? BigInt(SNIPPET_STACK_TOP) : 0n)) : 0n;
    g.push([Number(v & 0xffffffffn), Number(v >> 32n)]);
  }
  return g;
}

function snip(mode: SnippetMode, hex: string, init: Partial<Record<Name, bigint>>, rflags = FIXED): SnippetInput {
  const bytes = (hex.replace(/\s+/g, '') + 'f4').match(/../g)!.map((b) => parseInt(b, 16));
  return { mode, code: Uint8Array.from(bytes), gprs: gprs(init), rflags };
}

function reg(a: OracleAnswer, name: Name): bigint {
  if (a.outcome === 'nooracle') throw new Error(`no oracle: ${a.detail}`);
  const [lo, hi] = a.gprs[NAMES.indexOf(name)]!;
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function flags(a: OracleAnswer, ignore = 0): number {
  if (a.outcome === 'nooracle') throw new Error(`no oracle: ${a.detail}`);
  return a.rflags & 0xfd7 & ~ignore;
}

describe.skipIf(!avail.ok)(`kvm oracle against hand-computed results${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  it('ADD r32, r32: result, zero-extension and the six status flags (SDM Vol.1 3.4.3.1)', async () => {
    const [a, b, c] = await runOnKvm([
      snip(64, '01 d8', { rax: 1n, rbx: 2n }), // add eax, ebx
      snip(64, '01 d8', { rax: 0x7fffffffn, rbx: 1n }),
      snip(64, '01 d8', { rax: 0x1ffffffffn, rbx: 1n }),
    ]);
    expect(reg(a!, 'rax')).toBe(3n);
    expect(flags(a!)).toBe(FIXED | PF); // 3 = 0b11: even parity
    expect(reg(b!, 'rax')).toBe(0x80000000n);
    expect(flags(b!)).toBe(FIXED | OF | SF | AF | PF); // signed overflow, carry out of bit 3, low byte 0
    expect(reg(c!, 'rax')).toBe(0n); // 32-bit destination clears bits 63:32
    expect(flags(c!)).toBe(FIXED | CF | ZF | AF | PF);
  });

  it('the same ADD in 32-bit protected mode and (with 66h) in real mode', async () => {
    const [p, r, r16] = await runOnKvm([
      snip(32, '01 d8', { rax: 0xffffffffn, rbx: 1n }),
      snip(16, '66 01 d8', { rax: 0x7fffffffn, rbx: 1n }),
      snip(16, '01 d8', { rax: 0x1234ffffn, rbx: 1n }), // add ax, bx keeps bits 31:16
    ]);
    expect(reg(p!, 'rax') & 0xffffffffn).toBe(0n);
    expect(flags(p!)).toBe(FIXED | CF | ZF | AF | PF);
    expect(reg(r!, 'rax') & 0xffffffffn).toBe(0x80000000n);
    expect(flags(r!)).toBe(FIXED | OF | SF | AF | PF);
    expect(reg(r16!, 'rax') & 0xffffffffn).toBe(0x12340000n);
    expect(flags(r16!)).toBe(FIXED | CF | ZF | AF | PF);
  });

  it('SUB 0 - 1 borrows: CF SF AF PF', async () => {
    const [a] = await runOnKvm([snip(64, '29 d8', { rax: 0n, rbx: 1n })]);
    expect(reg(a!, 'rax')).toBe(0xffffffffn);
    expect(flags(a!)).toBe(FIXED | CF | SF | AF | PF);
  });

  it('SHL: count 0 leaves the flags, count 1 defines OF = MSB(result) xor CF (AF undefined)', async () => {
    const [z, one] = await runOnKvm([
      snip(64, 'd3 e0', { rax: 0x1234n, rcx: 0n }, FIXED | OF | SF | ZF | AF | PF | CF), // shl eax, cl
      snip(64, 'd1 e0', { rax: 0x80000001n }), // shl eax, 1
    ]);
    expect(reg(z!, 'rax')).toBe(0x1234n);
    expect(flags(z!)).toBe(FIXED | OF | SF | ZF | AF | PF | CF);
    expect(reg(one!, 'rax')).toBe(2n);
    expect(flags(one!, AF)).toBe(FIXED | CF | OF);
  });

  it('DIV by zero raises #DE (vector 0) in every mode with the state before the instruction', async () => {
    const init = { rax: 5n, rdx: 0n, rbx: 0n };
    const st = FIXED | OF | SF | CF;
    const res = await runOnKvm([snip(64, 'f7 f3', init, st), snip(32, 'f7 f3', init, st), snip(16, '66 f7 f3', init, st)]);
    for (const a of res) {
      expect(a.outcome).toBe('exception');
      if (a.outcome !== 'exception') continue;
      expect(a.vector).toBe(0);
      expect(reg(a, 'rax') & 0xffffffffn).toBe(5n);
      expect(reg(a, 'rsp') & 0xffffffffn).toBe(BigInt(SNIPPET_STACK_TOP)); // exception frame undone
      expect(flags(a)).toBe(st);
    }
  });

  it('UD2 raises #UD (vector 6); real mode may be refused by this KVM (emulation failure)', async () => {
    const [a, b, c] = await runOnKvm([snip(64, '0f 0b', {}), snip(32, '0f 0b', {}), snip(16, '0f 0b', {})]);
    expect(a).toMatchObject({ outcome: 'exception', vector: 6 });
    expect(b).toMatchObject({ outcome: 'exception', vector: 6 });
    if (c!.outcome === 'nooracle') console.warn(`[kvm-oracle] real-mode UD2: no oracle (${c!.detail})`);
    else expect(c).toMatchObject({ outcome: 'exception', vector: 6 });
  });

  it('#PF above the 2 MiB identity map and #GP on a non-canonical address (64-bit)', async () => {
    const [pf, gp] = await runOnKvm([
      snip(64, '8b 04 25 00 00 40 00', { rax: 7n }), // mov eax, [0x400000]
      snip(64, '8b 03', { rax: 7n, rbx: 0x8000000000000000n }), // mov eax, [rbx]
    ]);
    expect(pf).toMatchObject({ outcome: 'exception', vector: 14 });
    expect(reg(pf!, 'rax')).toBe(7n);
    expect(reg(pf!, 'rsp')).toBe(BigInt(SNIPPET_STACK_TOP));
    expect(gp).toMatchObject({ outcome: 'exception', vector: 13 });
  });

  it('the data area holds the documented pattern in every mode', async () => {
    const [a, b, c] = await runOnKvm([
      snip(64, '48 8b 04 25 10 00 02 00', {}), // mov rax, [0x20010]
      snip(32, '8b 05 34 12 02 00', {}), // mov eax, [0x21234]
      snip(16, '66 a1 ff 7f', {}), // mov eax, [ds:0x7fff], DS base 0x20000
    ]);
    expect(reg(a!, 'rax')).toBe(snippetDataValue(0x10, 8));
    expect(reg(b!, 'rax') & 0xffffffffn).toBe(snippetDataValue(0x1234, 4));
    expect(reg(c!, 'rax') & 0xffffffffn).toBe(snippetDataValue(0x7fff, 4));
  });

  it('PUSH/POP through the stack at 0x9000; only the status flags and DF survive from the input RFLAGS', async () => {
    const [a, b] = await runOnKvm([
      snip(64, '50 5b', { rax: 0x1122334455667788n }), // push rax; pop rbx
      snip(32, '', {}, 0xffffffff),
    ]);
    expect(reg(a!, 'rbx')).toBe(0x1122334455667788n);
    expect(reg(a!, 'rsp')).toBe(BigInt(SNIPPET_STACK_TOP));
    expect(b!.outcome === 'nooracle' ? -1 : b!.rflags).toBe(0xcd5 | FIXED);
  });

  it('a snippet that never halts is "no oracle" (timeout), and the next case still runs', async () => {
    const [a, b] = await runOnKvm([snip(64, 'eb fe', {}), snip(64, '01 d8', { rax: 1n, rbx: 2n })], { timeoutMs: 200 });
    expect(a).toMatchObject({ outcome: 'nooracle' });
    expect((a as { detail: string }).detail).toMatch(/timeout/);
    expect(reg(b!, 'rax')).toBe(3n);
  });
});
