// Faulting memory accesses leave the architectural state of before the instruction (SDM vol. 3,
// 6.5 "a fault ... the return address points to the faulting instruction" and the state is
// restored so it can be restarted), except for the iterations of a REP string instruction that
// already completed (SDM vol. 1, 7.3.9.2 / REP: "the registers are updated for each iteration").
//  - 64-bit mode: linear addresses at or above 2 MiB are not mapped: #PF (vector 14).
//  - real mode: an access crossing offset 0xffff of a segment is #GP(0), or #SS(0) through SS.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { trunc, DF, type Expected } from '../helpers/x86-ref.js';
import { RAX, RCX, RBX, RSP, RBP, RSI, RDI, type CpuState } from '../helpers/cpu-run.js';
import { reg, setLoc } from '../helpers/operands.js';
import { arbU64, arbFlags, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';

const PF = 14, GP = 13, SS = 12;
const HOLE = 0x200000n; // first unmapped linear address in 64-bit mode

/** `src` faults with `vector` and leaves everything as planted. */
function before(mode: SnippetMode, src: string, vector: number, set: (regs: bigint[], v: bigint[]) => void): Case {
  return {
    mode, w: 64, runs: 4, src, arbs: [arbU64, arbU64],
    plant: set,
    model: (st) => ({ vector, regs: st.regs, flags: st.rflags }),
  };
}

function cases64(): Case[] {
  const mode: SnippetMode = 64;
  const at = (regs: bigint[], v: bigint[]): void => {
    regs[RBX] = HOLE + (v[0] & 0xff8n);
    regs[RAX] = v[1];
  };
  const out: Case[] = [
    before(mode, 'add qword ptr [rbx], rax', PF, at),
    before(mode, 'xadd qword ptr [rbx], rax', PF, at),
    before(mode, 'xchg dword ptr [rbx], eax', PF, at),
    before(mode, 'cmpxchg qword ptr [rbx], rcx', PF, at),
    before(mode, 'shl dword ptr [rbx], cl', PF, at),
    before(mode, 'push qword ptr [rbx]', PF, at),
    before(mode, 'pop qword ptr [rbx]', PF, at), // RSP restored
    before(mode, 'call qword ptr [rbx]', PF, at),
    before(mode, 'div qword ptr [rbx]', PF, at),
    before(mode, 'bts qword ptr [rbx - 0x1000], rax'.replace('rax', 'rcx'), PF, (regs, v) => { regs[RBX] = 0x20000n; regs[RCX] = 0x200000n * 8n + (v[0] & 0xffn); }),
    before(mode, 'cmpxchg16b xmmword ptr [rbx]', PF, (regs, v) => { regs[RBX] = HOLE + (v[0] & 0xff0n); }),
    // Stack: a push below... the stack is writable everywhere below 2 MiB, so RSP is put in the hole.
    before(mode, 'push rax', PF, (regs, v) => { regs[RSP] = HOLE + 0x10n + (v[0] & 0xf0n); regs[RAX] = v[1]; }),
    before(mode, 'ret 8', PF, (regs, v) => { regs[RSP] = HOLE + (v[0] & 0xf0n); }),
    before(mode, 'leave', PF, (regs, v) => { regs[RBP] = HOLE + (v[0] & 0xf0n); regs[RAX] = v[1]; }),
    // ENTER 0, 2: the push of RBP succeeds, the copy of [RBP - 8] faults: RSP and RBP restored.
    before(mode, 'enter 0x10, 2', PF, (regs, v) => { regs[RBP] = HOLE + 0x8n + (v[0] & 0xf0n); }),
    // POP RSP-based destination in the hole.
    before(mode, 'pop qword ptr [rsp + 0x200000]', PF, (regs, v) => { regs[RAX] = v[0]; }),
  ];
  // REP MOVSB into the hole: the iterations before the fault are done, the registers say so.
  out.push({
    mode, w: 8, runs: 10, src: 'rep movsb', arbs: [fc.bigInt({ min: 1n, max: 6n }), fc.bigInt({ min: 1n, max: 8n })],
    flags: arbFlags.map((f) => f & ~DF),
    plant: (regs, v) => {
      regs[RSI] = 0x20100n;
      regs[RDI] = HOLE - v[0];
      regs[RCX] = v[0] + v[1];
    },
    model: (st): Expected => {
      const done = HOLE - st.regs[RDI];
      st.regs[RSI] += done;
      st.regs[RDI] += done;
      st.regs[RCX] -= done;
      return { vector: PF, regs: st.regs, flags: st.rflags };
    },
  });
  return out;
}

function cases16(): Case[] {
  const mode: SnippetMode = 16;
  const out: Case[] = [
    // A word at DS:0xffff crosses the limit: #GP(0); through SS ([bp]): #SS(0).
    before(mode, 'mov ax, word ptr [0xffff]', GP, (regs, v) => { regs[RAX] = v[0]; }),
    before(mode, 'mov ax, word ptr [bp + 0xffff]', SS, (regs, v) => { regs[RBP] = v[0] & 0xffff0000n; }),
    before(mode, 'add dword ptr [bx], eax', GP, (regs, v) => { regs[RBX] = 0xfffdn + (v[0] & 1n); regs[RAX] = v[1]; }),
    // Memory operands that hvsim reads outside the common ModRM path: BT with a register bit
    // offset (the word at 0xfffd + 2 = 0xffff straddles the limit), CMPXCHG8B, LES, far JMP
    // through memory, BOUND.
    before(mode, 'bt word ptr [0xfffd], ax', GP, (regs) => { regs[RAX] = 16n; }),
    before(mode, 'bts word ptr [0xffef], ax', GP, (regs, v) => { regs[RAX] = 0x80n + (v[0] & 0xfn); }),
    before(mode, 'cmpxchg8b qword ptr [0xfffc]', GP, (regs, v) => { regs[RAX] = v[0]; }),
    before(mode, 'les ax, dword ptr [0xfffe]', GP, (regs, v) => { regs[RAX] = v[0]; }),
    before(mode, 'jmp dword ptr [0xfffe]', GP, (regs, v) => { regs[RAX] = v[0]; }),
    before(mode, 'bound ax, dword ptr [0xfffe]', GP, (regs, v) => { regs[RAX] = v[0]; }),
    before(mode, 'xchg word ptr [0xffff], ax', GP, (regs, v) => { regs[RAX] = v[0]; }),
    before(mode, 'push word ptr [0xffff]', GP, (regs, v) => { regs[RAX] = v[0]; }),
  ];
  // REP STOSW from an odd DI: the word at 0xffff crosses the limit after the earlier stores.
  out.push({
    mode, w: 16, runs: 8, src: 'rep stosw', flags: arbFlags.map((f) => f & ~DF), arbs: [fc.bigInt({ min: 1n, max: 3n }), fc.bigInt({ min: 1n, max: 3n }), arbU64],
    plant: (regs, v) => {
      regs[RDI] = 0x10000n - 1n - 2n * v[0]; // 0xffff - 2k: k words fit, the next crosses
      regs[RCX] = (v[2] & 0xffff0000n & 0xffffffffn) | (v[0] + v[1]);
      regs[RAX] = v[2];
    },
    model: (st): Expected => {
      const k = (0xffffn - (st.regs[RDI] & 0xffffn)) / 2n;
      setLoc(st.regs, reg(RDI), 16, trunc(st.regs[RDI] + 2n * k, 16));
      setLoc(st.regs, reg(RCX), 16, trunc(st.regs[RCX] - k, 16));
      return { vector: GP, regs: st.regs, flags: st.rflags };
    },
  });
  void RAX;
  return out;
}

const PLAN = new Map<string, Case[]>([['64', cases64()], ['16', cases16()]]);
prefetch([...PLAN.values()].flat());

describe.skipIf(!HAVE_AS)('faulting instructions leave the state of before (SDM vol. 3, 6.5)', () => {
  test('#PF in 64-bit mode: RMW, stack, control transfer, ENTER/LEAVE, REP MOVS progress', () => PLAN.get('64')!.forEach(runCase));
  test('#GP/#SS at the real-mode segment limit, REP STOSW progress', () => PLAN.get('16')!.forEach(runCase));
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
