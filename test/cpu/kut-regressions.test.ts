// CPU bugs found by running kvm-unit-tests under hvsim (tools/kvm-unit-tests), each reduced
// to a snippet. Every case faults, and the state must be what the SDM says it is at the fault.
//  - A near branch to a non-canonical address (64-bit mode) or beyond the CS limit faults
//    with #GP(0) on the branch itself, RSP untouched (SDM vol. 2 JMP/CALL/RET;
//    kvm-unit-tests x86/emulator64.c test_jmp_noncanonical).
//  - LGDT/LIDT with a non-canonical base is #GP(0) (kvm-unit-tests x86/la57.c).
//  - CR4 bits of features CPUID does not enumerate are reserved: CR4.PCIDE without
//    CPUID.1:ECX.PCID is #GP(0) (SDM vol. 3, 2.5; kvm-unit-tests x86/pcid.c).

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF } from '../helpers/x86-ref.js';
import { RAX, RSP } from '../helpers/cpu-run.js';
import { arbU64, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';

const GP = 13;

/** Non-canonical 64-bit values: bits 63:47 neither all zero nor all one. */
const arbNonCanonical = arbU64.map((v) => {
  const top = v >> 47n;
  return top === 0n || top === 0x1ffffn ? v ^ (1n << 52n) : v;
});

function gp(mode: SnippetMode, src: string, plant: Case['plant'], adjust: (regs: bigint[]) => void = () => {}, undefRegs: number[] = [], undef = 0): Case {
  return {
    mode, w: 64, runs: 6, src, arbs: [arbNonCanonical],
    plant,
    model: (st) => {
      adjust(st.regs);
      return { vector: GP, regs: st.regs, flags: st.rflags, undefRegs, undef };
    },
  };
}

function cases(): Case[] {
  const rax = (regs: bigint[], v: bigint[]): void => {
    regs[RAX] = v[0];
  };
  return [
    gp(64, 'jmp rax', rax),
    gp(64, 'call rax', rax),
    // RET pops a non-canonical address: #GP(0) with RSP still pointing at it.
    gp(64, 'push rax\nret', rax, (r) => { r[RSP] -= 8n; }),
    gp(64, 'push rax\nret 0x10', rax, (r) => { r[RSP] -= 8n; }),
    gp(64, 'push rax\njmp qword ptr [rsp]', rax, (r) => { r[RSP] -= 8n; }),
    gp(64, 'push rax\ncall qword ptr [rsp]', rax, (r) => { r[RSP] -= 8n; }),
    // LGDT/LIDT of a pseudo-descriptor whose 8-byte base is non-canonical.
    gp(64, 'lea rsp, [rsp - 16]\nmov qword ptr [rsp + 2], rax\nlgdt [rsp]', rax, (r) => { r[RSP] -= 16n; }),
    gp(64, 'lea rsp, [rsp - 16]\nmov qword ptr [rsp + 2], rax\nlidt [rsp]', rax, (r) => { r[RSP] -= 16n; }),
    // CR4.PCIDE: hvsim's CPUID does not enumerate PCID.
    gp(64, 'mov rax, cr4\nbts rax, 17\nmov cr4, rax', rax, () => {}, [RAX], CF),
    // 16-bit code: a 32-bit near JMP/CALL beyond the CS limit (0xffff) faults on the branch.
    {
      mode: 16, w: 32, runs: 6, src: 'jmp eax', arbs: [fc.bigInt({ min: 0x10000n, max: 0xffffffffn })],
      plant: rax,
      model: (st) => ({ vector: GP, regs: st.regs, flags: st.rflags }),
    },
    {
      mode: 16, w: 32, runs: 6, src: 'call eax', arbs: [fc.bigInt({ min: 0x10000n, max: 0xffffffffn })],
      plant: rax,
      model: (st) => ({ vector: GP, regs: st.regs, flags: st.rflags }),
    },
  ];
}

const PLAN = cases();
prefetch(PLAN);

describe.skipIf(!HAVE_AS)('bugs found by kvm-unit-tests', () => {
  test('near branches to non-canonical or out-of-limit targets, LGDT/LIDT bases, CR4 reserved by CPUID', () => PLAN.forEach(runCase));
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
