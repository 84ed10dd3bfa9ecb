// Near control transfer against the SDM's Operation sections (vol. 2): CALL rel / r/m, RET and
// RET imm16, JMP r/m (register and memory), LOOP/LOOPE/LOOPNE and JrCXZ with every address size
// (16/32 outside 64-bit mode, 32/64 inside: the counter is CX, ECX or RCX by address size).
// Return addresses are checked against the position of the next instruction, measured by
// assembling the instruction alone (its encoding does not depend on where it is).

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { ZF, trunc, type Width, type Expected } from '../helpers/x86-ref.js';
import { RAX, RCX, RDX, RBX, RSP, type CpuState } from '../helpers/cpu-run.js';
import { reg, locName, setLoc, memSlot } from '../helpers/operands.js';
import { arbU64, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';
import { assemble } from '../helpers/asm.js';
import { SNIPPET_CODE_ADDR } from '../oracle/snippet-env.js';

const MODES: SnippetMode[] = [16, 32, 64];
const natural = (mode: SnippetMode): Width => (mode === 16 ? 16 : mode === 32 ? 32 : 64);
/** IP/EIP/RIP of the snippet's first byte (16-bit: CS = 0x1000, IP = 0). */
const start = (mode: SnippetMode): bigint => (mode === 16 ? 0n : BigInt(SNIPPET_CODE_ADDR));
/** Length of one self-contained instruction (as assembled alone, minus the HLT). */
const len = (mode: SnippetMode, text: string): bigint => BigInt(assemble(mode, text).length - 1);
const ok = (st: CpuState): Expected => ({ regs: st.regs, flags: st.rflags });

function callRetCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const w = natural(mode);
  const R = (r: number): string => locName(reg(r), w);
  const m = memSlot(mode);
  // CALL rel: pushes the address of the next instruction; POP it back.
  out.push({
    mode, w, runs: 4, src: `call 1f\n1: pop ${R(RAX)}`, arbs: [arbU64],
    plant: (regs, v) => { regs[RAX] = v[0]; },
    model: (st) => { setLoc(st.regs, reg(RAX), w, start(mode) + len(mode, 'call 1f\n1:')); return ok(st); },
  });
  // CALL rel then RET: execution continues after the CALL, the stack is balanced.
  out.push({
    mode, w, runs: 4, src: `call 1f\nmov ${R(RBX)}, 7\nhlt\n1: mov ${R(RAX)}, 3\nret`, arbs: [arbU64, arbU64],
    plant: (regs, v) => { regs[RAX] = v[0]; regs[RBX] = v[1]; },
    model: (st) => { setLoc(st.regs, reg(RAX), w, 3n); setLoc(st.regs, reg(RBX), w, 7n); return ok(st); },
  });
  // RET imm16: releases imm16 bytes after popping the return address.
  for (const imm of [0, 2, 8, 0x10, 0x100]) {
    out.push({
      mode, w, runs: 3, src: `sub ${R(RSP)}, ${imm}\ncall 1f\nmov ${R(RBX)}, 7\nhlt\n1: ret ${imm}`, arbs: [arbU64],
      plant: (regs, v) => { regs[RBX] = v[0]; },
      model: (st) => { setLoc(st.regs, reg(RBX), w, 7n); return { regs: st.regs, flags: st.rflags, undef: 0x8d5 }; },
    });
  }
  // CALL r/m and JMP r/m (register and memory): the target is computed from CALL's own push.
  const base = `call 2f\n2: pop ${R(RBX)}\nadd ${R(RBX)}, 1f - 2b`;
  const targets: Array<[string, string]> = [
    ['jmp reg', `${base}\njmp ${R(RBX)}\nmov ${R(RAX)}, 1\nhlt\n1: mov ${R(RAX)}, 2\nmov ${R(RBX)}, 0`],
    ['jmp mem', `${base}\nmov ${m.text(w)}, ${R(RBX)}\njmp ${m.text(w)}\nmov ${R(RAX)}, 1\nhlt\n1: mov ${R(RAX)}, 2\nmov ${R(RBX)}, 0`],
    ['call reg', `${base}\ncall ${R(RBX)}\nmov ${R(RAX)}, 1\nhlt\n1: mov ${R(RAX)}, 2\npop ${R(RCX)}\nsub ${R(RCX)}, ${R(RBX)}\nmov ${R(RBX)}, 0`],
    ['call mem', `${base}\nmov ${m.text(w)}, ${R(RBX)}\ncall ${m.text(w)}\nmov ${R(RAX)}, 1\nhlt\n1: mov ${R(RAX)}, 2\npop ${R(RCX)}\nsub ${R(RCX)}, ${R(RBX)}\nmov ${R(RBX)}, 0`],
  ];
  for (const [name, src] of targets) {
    const isCall = name.startsWith('call');
    out.push({
      mode, w, runs: 4, src, arbs: [arbU64, arbU64],
      plant: (regs, v) => { regs[RAX] = v[0]; regs[RCX] = v[1]; regs[m.base] = m.baseVal; },
      model: (st) => {
        setLoc(st.regs, reg(RAX), w, 2n);
        setLoc(st.regs, reg(RBX), w, 0n);
        // The pushed return address is the instruction after the CALL: `mov rAX, 1`, whose
        // distance to label 1 is its own length plus HLT's.
        if (isCall) setLoc(st.regs, reg(RCX), w, trunc(-(len(mode, `mov ${R(RAX)}, 1`) + 1n), w));
        return { regs: st.regs, flags: st.rflags, undef: 0x8d5 }; // ADD/SUB set the flags
      },
    });
  }
  return out;
}

/** LOOP/LOOPE/LOOPNE/JrCXZ (SDM LOOP/LOOPcc, Jcc): count register by address size. */
function loopCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const asizes: Array<16 | 32 | 64> = mode === 64 ? [64, 32] : [16, 32];
  const acc = mode === 16 ? 'ax' : 'eax';
  for (const asz of asizes) {
    const pfx = asz === natural(mode) ? '' : asz === 16 ? 'addr16 ' : 'addr32 ';
    const jcx = asz === 16 ? 'jcxz' : asz === 32 ? 'jecxz' : 'jrcxz';
    for (const op of ['loop', 'loope', 'loopne', jcx]) {
      const src = `mov ${acc}, 1\n${op === jcx ? '' : pfx}${op} 1f\nmov ${acc}, 2\n1:`;
      out.push({
        mode, w: asz, runs: 24, src,
        arbs: [arbU64, fc.constantFrom(0n, 1n, 2n, 0x10000n, 0x10001n, 0x100000000n, 0x100000001n, 0xffffffffn, 0xffffn), arbU64],
        flags: fc.constantFrom(0, ZF, 0x8d5, 0x8d5 & ~ZF),
        plant: (regs, v) => {
          regs[RAX] = v[2];
          // Mostly small/boundary counts in the low bits, random bits above.
          regs[RCX] = (v[0] & ~0xffffffffn) | v[1];
          if (v[0] & 1n) regs[RCX] = v[1];
          regs[RDX] = v[0];
        },
        model: (st) => {
          let count = trunc(st.regs[RCX], asz);
          let taken: boolean;
          if (op === jcx) taken = count === 0n;
          else {
            count = trunc(count - 1n, asz);
            setLoc(st.regs, reg(RCX), asz, count); // a 32-bit count write zero-extends RCX
            const zf = (st.rflags & ZF) !== 0;
            taken = count !== 0n && (op === 'loop' || (op === 'loope' ? zf : !zf));
          }
          setLoc(st.regs, reg(RAX), mode === 16 ? 16 : 32, taken ? 1n : 2n);
          return ok(st);
        },
      });
    }
  }
  return out;
}

const GROUPS = { 'call/ret/jmp r/m': callRetCases, 'loop/loope/loopne/jrcxz': loopCases };
const PLAN = new Map<string, Case[]>();
for (const mode of MODES) for (const [name, f] of Object.entries(GROUPS)) PLAN.set(`${mode}:${name}`, f(mode));
prefetch([...PLAN.values()].flat());
void RDX;

describe.skipIf(!HAVE_AS)('control transfer vs the SDM', () => {
  for (const mode of MODES) {
    for (const name of Object.keys(GROUPS)) test(`${name} (${mode}-bit mode)`, () => PLAN.get(`${mode}:${name}`)!.forEach(runCase));
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
