// Prefixes and undefined encodings against the SDM (vol. 2, chapter 2 and the LOCK page;
// vol. 2, appendix A opcode maps; vol. 1, 3.3.7.1 for segment overrides in 64-bit mode):
// operand/address-size prefixes, REX placement and precedence, REX vs AH..BH, segment overrides
// (effective in real mode, ignored for ES/CS/SS/DS in 64-bit mode), LOCK (#UD unless a lockable
// read-modify-write with a memory destination), instruction length above 15 bytes (#GP),
// undefined encodings (#UD, vector 6), instructions invalid in 64-bit mode (#UD), and the
// legacy-only ones (INTO, BOUND) where they are valid.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { OF, STATUS, trunc, sx, addFlags, type Expected } from '../helpers/x86-ref.js';
import { RAX, RCX, RDX, RBX, RSP, RBP, RSI, type CpuState } from '../helpers/cpu-run.js';
import { reg, setLoc } from '../helpers/operands.js';
import { arbU64, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';
import { Mem } from '../helpers/mem-model.js';
import { assemble } from '../helpers/asm.js';

const UD = 6, GP = 13, OFV = 4, BR = 5;
const MODES: SnippetMode[] = [16, 32, 64];

/** A snippet that must raise `vector` with the state before it (a fault). */
function faults(mode: SnippetMode, src: string, vector: number): Case {
  return {
    mode, w: 32, runs: 2, src, arbs: [arbU64, arbU64],
    plant: (regs, v) => { regs[RAX] = v[0]; regs[RBX] = v[1]; },
    model: (st) => ({ vector, regs: st.regs, flags: st.rflags }),
  };
}

/** A snippet whose effect is given by `f` on the state (no fault). */
function effect(mode: SnippetMode, src: string, f: (st: CpuState) => Expected, runs = 8): Case {
  return {
    mode, w: 32, runs, src, arbs: [arbU64, arbU64, arbU64],
    plant: (regs, v) => { regs[RAX] = v[0]; regs[RBX] = v[1]; regs[RCX] = v[2]; },
    model: f,
  };
}

// ---------------------------------------------------------------------------------------
// Operand/address size, REX
// ---------------------------------------------------------------------------------------

function prefixCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const addW = (w: 16 | 32 | 64) => (st: CpuState): Expected => {
    const r = addFlags(st.regs[RAX], st.regs[RBX], 0n, w);
    setLoc(st.regs, reg(RAX), w, r.res);
    return { regs: st.regs, flags: (st.rflags & ~STATUS) | r.flags };
  };
  const other = mode === 16 ? 32 : 16;
  // 66 toggles 16/32 outside 64-bit mode; in 64-bit mode 66 gives 16, REX.W 64 (and wins over 66).
  out.push(effect(mode, '.byte 0x01, 0xd8', addW(mode === 16 ? 16 : 32)));
  out.push(effect(mode, '.byte 0x66, 0x01, 0xd8', addW(mode === 64 ? 16 : other)));
  out.push(effect(mode, '.byte 0x66, 0x66, 0x01, 0xd8', addW(mode === 64 ? 16 : other))); // repeated prefix
  if (mode === 64) {
    out.push(effect(mode, '.byte 0x48, 0x01, 0xd8', addW(64)));
    out.push(effect(mode, '.byte 0x66, 0x48, 0x01, 0xd8', addW(64))); // REX.W beats 66
    out.push(effect(mode, '.byte 0x48, 0x66, 0x01, 0xd8', addW(16))); // REX not last: ignored
    out.push(effect(mode, '.byte 0x40, 0x48, 0x01, 0xd8', addW(64))); // only the last REX counts
    out.push(effect(mode, '.byte 0x48, 0x40, 0x01, 0xd8', addW(32)));
    // REX.B / REX.R select r8-r15: 4D 01 C8 = add r8, r9.
    out.push(effect(mode, '.byte 0x4d, 0x01, 0xc8', (st) => {
      const r = addFlags(st.regs[8], st.regs[9], 0n, 64);
      st.regs[8] = r.res;
      return { regs: st.regs, flags: (st.rflags & ~STATUS) | r.flags };
    }));
    // 88 E0 = mov al, ah; with any REX (40) the same encoding is mov al, spl.
    out.push(effect(mode, '.byte 0x88, 0xe0', (st) => { setLoc(st.regs, reg(RAX), 8, (st.regs[RAX] >> 8n) & 0xffn); return { regs: st.regs, flags: st.rflags }; }));
    out.push(effect(mode, '.byte 0x40, 0x88, 0xe0', (st) => { setLoc(st.regs, reg(RAX), 8, st.regs[RSP] & 0xffn); return { regs: st.regs, flags: st.rflags }; }));
    // A 32-bit destination zero-extends; a 16/8-bit one keeps bits 63:16 / 63:8.
    out.push(effect(mode, 'mov eax, ebx', (st) => { st.regs[RAX] = trunc(st.regs[RBX], 32); return { regs: st.regs, flags: st.rflags }; }));
    // 67: 32-bit addressing in 64-bit mode wraps the address at 4 GiB (LEA shows the value).
    out.push(effect(mode, '.byte 0x67, 0x48, 0x8d, 0x04, 0x0b', (st) => { st.regs[RAX] = trunc(st.regs[RBX] + st.regs[RCX], 32); return { regs: st.regs, flags: st.rflags }; }));
  } else {
    // 67 toggles 16/32-bit addressing: lea eax, [bx+si] vs lea eax, [ebx+ecx].
    out.push(effect(mode, mode === 16 ? '.byte 0x66, 0x8d, 0x00' : '.byte 0x67, 0x8d, 0x00', (st) => {
      st.regs[RAX] = trunc(st.regs[RBX] + st.regs[RSI], 16);
      return { regs: st.regs, flags: st.rflags };
    }));
    out.push(effect(mode, mode === 16 ? '.byte 0x66, 0x67, 0x8d, 0x04, 0x0b' : '.byte 0x8d, 0x04, 0x0b', (st) => {
      st.regs[RAX] = trunc(st.regs[RBX] + st.regs[RCX], 32);
      return { regs: st.regs, flags: st.rflags };
    }));
  }
  // Long NOPs (0F 1F /0) and 66 90 do nothing; F3 90 (PAUSE) does nothing visible here.
  const longNop = mode === 16 ? '.byte 0x66, 0x0f, 0x1f, 0x40, 0x00' : '.byte 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00';
  for (const nop of ['.byte 0x0f, 0x1f, 0x00', longNop, '.byte 0x66, 0x90', 'pause', '.byte 0x90']) {
    out.push(effect(mode, nop, (st) => ({ regs: st.regs, flags: st.rflags }), 3));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Segment overrides
// ---------------------------------------------------------------------------------------

function segmentCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  if (mode === 16) {
    // Real mode: CS base 0x10000 (the code), DS = ES base 0x20000, SS = FS = GS base 0.
    // A word read through each segment from offset BX; [BP] defaults to SS.
    const image = (src: string): Mem => {
      const m = new Map<number, number>();
      assemble(16, src).forEach((b, i) => m.set(0x10000 + i, b));
      return new Mem(m);
    };
    const bases: Record<string, number> = { cs: 0x10000, ds: 0x20000, es: 0x20000, ss: 0, fs: 0, gs: 0 };
    for (const [seg, base] of Object.entries(bases)) {
      const src = `mov dx, word ptr ${seg}:[bx]`;
      out.push({
        mode, w: 16, runs: 6, src, arbs: [fc.bigInt({ min: 0n, max: 0x40n })],
        plant: (regs, v) => { regs[RBX] = seg === 'cs' ? v[0] % 4n : seg === 'ss' || seg === 'fs' || seg === 'gs' ? 0x8ff0n + v[0] % 8n : 0x123n + v[0]; },
        model: (st) => {
          setLoc(st.regs, reg(RDX), 16, image(src).read(base + Number(st.regs[RBX] & 0xffffn), 2));
          return { regs: st.regs, flags: st.rflags };
        },
      });
    }
    // [BP+disp] uses SS unless overridden: write through SS, read back through DS and SS.
    out.push({
      mode, w: 16, runs: 6, src: 'mov word ptr [bp+2], ax\nmov dx, word ptr ds:[bp+2]\nmov cx, word ptr [bp+2]', arbs: [arbU64, arbU64],
      plant: (regs, v) => { regs[RBP] = 0x8f00n; regs[RAX] = v[0]; regs[RDX] = v[1]; regs[RCX] = v[1]; },
      model: (st) => {
        setLoc(st.regs, reg(RDX), 16, new Mem().read(0x20000 + 0x8f02, 2));
        setLoc(st.regs, reg(RCX), 16, st.regs[RAX] & 0xffffn);
        return { regs: st.regs, flags: st.rflags };
      },
    });
  }
  if (mode === 64) {
    // FS and GS keep their bases in 64-bit mode (set here through the FS_BASE/GS_BASE MSRs);
    // an ES override next to them changes nothing (SDM vol. 1, 3.3.7.1).
    out.push({
      mode, w: 64, runs: 6,
      src: ['mov ecx, 0xc0000100', 'mov eax, 0x1000', 'xor edx, edx', 'wrmsr', 'mov ecx, 0xc0000101', 'mov eax, 0x2008', 'wrmsr',
        'mov rbx, qword ptr fs:[0x20040]', 'mov rsi, qword ptr gs:[0x20040]', 'mov rdi, qword ptr es:[0x20040]',
        '.byte 0x26, 0x64, 0x48, 0x8b, 0x2c, 0x25, 0x40, 0x00, 0x02, 0x00'].join('\n'), // es fs mov rbp, [0x20040]
      arbs: [arbU64],
      plant: (regs, v) => { regs[RBX] = v[0]; },
      model: (st) => {
        const mem = new Mem();
        st.regs[RCX] = 0xc0000101n;
        st.regs[RAX] = 0x2008n;
        st.regs[RDX] = 0n;
        st.regs[RBX] = mem.read(0x21040, 8);
        st.regs[RSI] = mem.read(0x22048, 8);
        st.regs[7] = mem.read(0x20040, 8);
        st.regs[RBP] = mem.read(0x21040, 8);
        return { regs: st.regs, flags: st.rflags, undef: STATUS };
      },
    });
    // ES/CS/SS/DS overrides are ignored in 64-bit mode (all bases are 0 here, so this checks
    // that they decode as prefixes and change nothing).
    for (const p of ['0x26', '0x2e', '0x36', '0x3e', '0x64', '0x65']) {
      out.push({
        mode, w: 64, runs: 4, src: `.byte ${p}, 0x48, 0x8b, 0x14, 0x25, 0x40, 0x01, 0x02, 0x00`, arbs: [arbU64], // mov rdx, [0x20140]
        plant: (regs, v) => { regs[RDX] = v[0]; },
        model: (st) => { st.regs[RDX] = new Mem().read(0x20140, 8); return { regs: st.regs, flags: st.rflags }; },
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// LOCK
// ---------------------------------------------------------------------------------------

function lockCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const m = mode === 16 ? '[0x40]' : mode === 32 ? '[0x20040]' : '[0x20040]';
  const abs = 0x20040;
  // Lockable read-modify-write forms with a memory destination: executed normally.
  const ok: Array<[string, (mem: bigint, st: CpuState) => [bigint, number]]> = [
    [`lock add dword ptr ${m}, ebx`, (v, st) => { const r = addFlags(v, st.regs[RBX], 0n, 32); return [r.res, (st.rflags & ~STATUS) | r.flags]; }],
    [`lock xchg dword ptr ${m}, ebx`, (v, st) => { const old = trunc(st.regs[RBX], 32); setLoc(st.regs, reg(RBX), 32, v); return [old, st.rflags]; }],
    [`lock not dword ptr ${m}`, (v, st) => [trunc(~v, 32), st.rflags]],
    [`lock bts dword ptr ${m}, 3`, (v, st) => [v | 8n, (st.rflags & ~1) | Number((v >> 3n) & 1n)]],
  ];
  for (const [src, f] of ok) {
    out.push({
      mode, w: 32, runs: 6, src: `${src}\nmov edx, dword ptr ${m}`, arbs: [arbU64, arbU64],
      plant: (regs, v) => { regs[RBX] = v[0]; regs[RDX] = v[1]; },
      model: (st) => {
        const [nv, flags] = f(new Mem().read(abs, 4), st);
        setLoc(st.regs, reg(RDX), 32, nv);
        return { regs: st.regs, flags, undef: src.includes('bts') ? STATUS & ~1 : 0 };
      },
    });
  }
  // Everything else with LOCK is #UD: a register destination, CMP/BT/MOV/TEST, a NOP, a moffs.
  const ud = [
    '.byte 0xf0, 0x01, 0xd8', // lock add eax, ebx (register destination)
    `.byte 0xf0, 0x39, 0x1e, ${mode === 16 ? '0x40, 0x00' : '0x40, 0x00, 0x02, 0x00'}`.replace('0x1e', mode === 16 ? '0x1e' : '0x1d'), // lock cmp [m], ebx
    '.byte 0xf0, 0x90', // lock nop
    '.byte 0xf0, 0x89, 0x18', // lock mov [eax], ebx
    '.byte 0xf0, 0x0f, 0xa3, 0x18', // lock bt [eax], ebx
    '.byte 0xf0, 0x85, 0x18', // lock test [eax], ebx
    '.byte 0xf0, 0xf7, 0xd8', // lock neg eax (register)
    '.byte 0xf0, 0xa1, 0x00, 0x00, 0x00, 0x00', // lock mov eax, moffs
  ];
  for (const src of ud) out.push(faults(mode, src, UD));
  return out;
}

// ---------------------------------------------------------------------------------------
// #UD / #GP encodings
// ---------------------------------------------------------------------------------------

function invalidCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const ud = [
    'ud2', '.byte 0x0f, 0xff, 0xc0', '.byte 0x0f, 0xb9, 0xc0', // UD2, UD0, UD1
    '.byte 0x0f, 0x04', '.byte 0x0f, 0x0a', '.byte 0x0f, 0x24, 0xc0', '.byte 0x0f, 0x36', // unassigned 0F xx
    '.byte 0x8d, 0xc0', // LEA with a register operand
    '.byte 0xfe, 0xd0', '.byte 0xff, 0xf8', // FE /2, FF /7
    '.byte 0x8f, 0xc8', // 8F /1
    '.byte 0xc6, 0xc8, 0x00', // C6 /1
    '.byte 0x0f, 0xba, 0xc0, 0x01', // 0F BA /0
    '.byte 0x0f, 0xc7, 0xc0', // 0F C7 /0 register form
    '.byte 0x8c, 0xf8', '.byte 0x8e, 0xc8', // MOV from sreg 7, MOV to CS
  ];
  for (const src of ud) out.push(faults(mode, src, UD));
  // More than 15 bytes: #GP(0) (SDM vol. 2, 2.3.11 / vol. 3, 6.15 "Instruction length > 15").
  out.push(faults(mode, `.byte ${Array(15).fill('0x66').join(', ')}, 0x90`, GP));
  out.push(faults(mode, `.byte ${Array(14).fill('0x2e').join(', ')}, 0x01, 0xd8`, GP));
  // 15 bytes is fine.
  out.push(effect(mode, `.byte ${Array(14).fill('0x3e').join(', ')}, 0x90`, (st) => ({ regs: st.regs, flags: st.rflags }), 2));
  if (mode === 64) {
    // Invalid in 64-bit mode (SDM opcode map, "i64").
    const i64 = ['0x06', '0x07', '0x0e', '0x16', '0x17', '0x1e', '0x1f', '0x27', '0x2f', '0x37', '0x3f', '0x60', '0x61',
      '0x62, 0x00', '0xce', '0xd4, 0x0a', '0xd5, 0x0a', '0xd6', '0x82, 0xc0, 0x01', '0x9a, 0, 0, 0, 0, 0, 0', '0xea, 0, 0, 0, 0, 0, 0',
      '0xc4, 0x00', '0xc5, 0x00'];
    for (const b of i64) out.push(faults(mode, `.byte ${b}`, UD));
  } else {
    // INTO: #OF (a trap, state after INTO) when OF = 1, nothing otherwise.
    out.push({
      mode, w: 32, runs: 12, src: 'into', arbs: [arbU64],
      plant: (regs, v) => { regs[RAX] = v[0]; },
      model: (st) => ({ regs: st.regs, flags: st.rflags, ...((st.rflags & OF) !== 0 ? { vector: OFV } : {}) }),
    });
    // BOUND r, m: #BR (a fault) when the signed index is below [m] or above [m + size].
    for (const w of [16, 32] as const) {
      const n = w / 8;
      const base = mode === 16 ? 'di' : 'edi';
      const R = w === 16 ? ['ax', 'cx', 'dx'] : ['eax', 'ecx', 'edx'];
      out.push({
        mode, w, runs: 30,
        src: `mov [${base}], ${R[1]}\nmov [${base}+${n}], ${R[2]}\nbound ${R[0]}, [${base}]`,
        arbs: [arbU64, arbU64, arbU64, fc.bigInt({ min: 0n, max: 2n })],
        plant: (regs, v) => {
          regs[mode === 16 ? 7 : 7] = mode === 16 ? 0x200n : 0x20200n;
          let lo = v[1], hi = v[2];
          if (v[3] !== 0n) {
            // A range that holds the index half of the time.
            lo = BigInt.asUintN(w, sx(v[0], w) - (v[1] & 0xffn));
            hi = BigInt.asUintN(w, sx(v[0], w) + (v[3] === 1n ? (v[2] & 0xffn) : -1n));
          }
          regs[RAX] = v[0];
          regs[RCX] = lo;
          regs[RDX] = hi;
        },
        model: (st) => {
          const idx = sx(st.regs[RAX], w), lo = sx(st.regs[RCX], w), hi = sx(st.regs[RDX], w);
          const bad = idx < lo || idx > hi;
          return { regs: st.regs, flags: st.rflags, ...(bad ? { vector: BR } : {}) };
        },
      });
    }
  }
  return out;
}

const GROUPS = { 'operand/address size, REX, NOPs': prefixCases, 'segment overrides': segmentCases, LOCK: lockCases, '#UD/#GP encodings, 64-bit-invalid opcodes, INTO/BOUND': invalidCases };
const PLAN = new Map<string, Case[]>();
for (const mode of MODES) for (const [name, f] of Object.entries(GROUPS)) PLAN.set(`${mode}:${name}`, f(mode));
prefetch([...PLAN.values()].flat());
void RSI;

describe.skipIf(!HAVE_AS)('prefixes and undefined encodings vs the SDM', () => {
  for (const mode of MODES) {
    for (const name of Object.keys(GROUPS)) {
      if (PLAN.get(`${mode}:${name}`)!.length === 0) continue;
      test(`${name} (${mode}-bit mode)`, () => PLAN.get(`${mode}:${name}`)!.forEach(runCase));
    }
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
