// Stack instructions against the SDM's Operation sections (vol. 2): PUSH/POP of registers,
// immediates and memory with every operand size (incl. 16-bit pushes in 32/64-bit mode),
// PUSH rSP (the old value), POP rSP, POP m with rSP as base (address after the increment),
// PUSHA/PUSHAD/POPA/POPAD, PUSHF/POPF, ENTER with nesting levels 0-3 (and 33 = 1 mod 32),
// LEAVE. The stack is SS:rSP with SS base 0 and rSP = 0x9000 at the start.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { STATUS, DF, mask, trunc, sx, type Width, type Expected } from '../helpers/x86-ref.js';
import { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, type CpuState } from '../helpers/cpu-run.js';
import { reg, locName, setLoc } from '../helpers/operands.js';
import { arbU64, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';
import { Mem } from '../helpers/mem-model.js';

const MODES: SnippetMode[] = [16, 32, 64];
const natural = (mode: SnippetMode): 16 | 32 | 64 => (mode === 16 ? 16 : mode === 32 ? 32 : 64);

/** SDM Push/Pop with the mode's stack size (SS base 0 in every snippet mode). */
class Stack {
  constructor(readonly st: CpuState, readonly mem: Mem, readonly ssize: 16 | 32 | 64) {}
  get sp(): bigint {
    return trunc(this.st.regs[RSP], this.ssize);
  }
  set sp(v: bigint) {
    setLoc(this.st.regs, reg(RSP), this.ssize, trunc(v, this.ssize));
  }
  push(v: bigint, w: Width): void {
    this.sp = this.sp - BigInt(w / 8);
    this.mem.write(Number(this.sp), w / 8, trunc(v, w));
  }
  pop(w: Width): bigint {
    const v = this.mem.read(Number(this.sp), w / 8);
    this.sp = this.sp + BigInt(w / 8);
    return v;
  }
}

const ok = (st: CpuState): Expected => ({ regs: st.regs, flags: st.rflags });

function pushPopCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const ssize = natural(mode);
  const sizes: Width[] = mode === 64 ? [64, 16] : [32, 16];
  const sfx = (w: Width): string => (w === 16 ? 'w' : w === 32 ? 'd' : 'q');
  for (const w of sizes) {
    const R = (r: number): string => locName(reg(r), w);
    // PUSH r / POP r in a sequence, then the stack read back by POPs into other registers.
    const regsUsed = mode === 64 ? [RBX, 12, RSI, RCX] : [RBX, RSI, RCX];
    out.push({
      mode, w, runs: 15, src: [`push ${R(regsUsed[0])}`, `push ${R(regsUsed[1])}`, `pop ${R(RAX)}`, `push ${R(regsUsed[2])}`, `pop ${R(RDX)}`, `pop ${R(RDI)}`].join('\n'),
      arbs: [arbU64, arbU64, arbU64, arbU64, arbU64],
      plant: (regs, v) => { regsUsed.forEach((r, i) => (regs[r] = v[i])); regs[RAX] = v[3]; regs[RDX] = v[4]; regs[RDI] = v[4]; },
      model: (st) => {
        const s = new Stack(st, new Mem(), ssize);
        s.push(st.regs[regsUsed[0]], w);
        s.push(st.regs[regsUsed[1]], w);
        setLoc(st.regs, reg(RAX), w, s.pop(w));
        s.push(st.regs[regsUsed[2]], w);
        setLoc(st.regs, reg(RDX), w, s.pop(w));
        setLoc(st.regs, reg(RDI), w, s.pop(w));
        return ok(st);
      },
    });
    // PUSH imm8 (sign-extended, 6A), imm16/32 (68; sign-extended to 64 in 64-bit mode).
    for (const imm of [-5n, 0x7fn, -0x80n, 0x1234n, -0x8000n, ...(w !== 16 ? [0x12345678n, -0x80000000n] : [])]) {
      out.push({
        mode, w, runs: 2, src: `push${sfx(w)} ${imm}\npop ${R(RBX)}`,
        arbs: [arbU64],
        plant: (regs, v) => { regs[RBX] = v[0]; },
        model: (st) => { setLoc(st.regs, reg(RBX), w, trunc(imm, w)); st.regs[RSP] = st.regs[RSP]; return ok(st); },
      });
    }
    // PUSH m / POP m (FF /6, 8F /0) through the data area.
    const base = mode === 64 ? 'r13' : mode === 32 ? 'edi' : 'di';
    const baseReg = mode === 64 ? 13 : RDI;
    const P = w === 16 ? 'word ptr' : w === 32 ? 'dword ptr' : 'qword ptr';
    out.push({
      mode, w, runs: 10, src: `push ${P} [${base}+0x20]\npop ${P} [${base}+0x60]\nmov ${R(RAX)}, ${P} [${base}+0x60]`,
      arbs: [arbU64],
      plant: (regs, v) => { regs[baseReg] = mode === 16 ? 0x100n : 0x20100n; regs[RAX] = v[0]; },
      model: (st) => {
        const mem = new Mem();
        setLoc(st.regs, reg(RAX), w, mem.read(0x20120, w / 8));
        return ok(st);
      },
    });
    // PUSH rSP pushes the value before the push; POP rSP loads the popped value.
    out.push({
      mode, w, runs: 3, src: `push ${R(RSP)}\npop ${R(RAX)}`, arbs: [arbU64],
      plant: (regs, v) => { regs[RAX] = v[0]; },
      model: (st) => { setLoc(st.regs, reg(RAX), w, trunc(st.regs[RSP], w)); return ok(st); },
    });
    out.push({
      mode, w, runs: 8, src: `push ${R(RBX)}\npop ${R(RSP)}`, arbs: [arbU64],
      plant: (regs, v) => { regs[RBX] = v[0]; },
      model: (st) => { setLoc(st.regs, reg(RSP), w, trunc(st.regs[RBX], w)); return ok(st); },
    });
    // POP m with rSP as the base: the address is computed after rSP is incremented.
    const spName = mode === 16 ? null : mode === 32 ? 'esp' : 'rsp';
    if (spName !== null) {
      out.push({
        mode, w, runs: 8, src: `push ${R(RAX)}\npush ${R(RBX)}\npop ${P} [${spName}]\npop ${R(RCX)}`,
        arbs: [arbU64, arbU64, arbU64],
        plant: (regs, v) => { regs[RAX] = v[0]; regs[RBX] = v[1]; regs[RCX] = v[2]; },
        model: (st) => { setLoc(st.regs, reg(RCX), w, trunc(st.regs[RBX], w)); return ok(st); },
      });
    }
  }
  // PUSHF/POPF: status flags and DF round trip (the popped value keeps IF, TF, IOPL, NT, AC,
  // ID clear, so the snippet environment is unchanged).
  const fw = natural(mode);
  out.push({
    mode, w: fw, runs: 10, src: `pushf\npop ${locName(reg(RAX), fw)}\npush ${locName(reg(RBX), fw)}\npopf`,
    arbs: [arbU64, fc.bigInt({ min: 0n, max: BigInt(STATUS | DF) })],
    plant: (regs, v) => { regs[RAX] = v[0]; regs[RBX] = v[1] & BigInt(STATUS | DF); },
    model: (st) => {
      setLoc(st.regs, reg(RAX), fw, BigInt(st.rflags | 2));
      return { regs: st.regs, flags: Number(st.regs[RBX]) };
    },
  });
  return out;
}

/** PUSHA/PUSHAD (60) and POPA/POPAD (61): not valid in 64-bit mode (checked elsewhere). */
function pushaCases(mode: SnippetMode): Case[] {
  if (mode === 64) return [];
  const out: Case[] = [];
  const ssize = natural(mode);
  for (const w of [16, 32] as Width[]) {
    const op = w === 16 ? 'pushaw' : 'pushad';
    const R = (r: number): string => locName(reg(r), w);
    // Read the eight slots back with MOVs relative to rBP (SS): two snippets, 7 + 1 slots.
    const bp = mode === 16 ? 'bp' : 'ebp';
    const n = w / 8;
    const read7 = [RAX, RBX, RCX, RDX, RSI, RDI, RSP];
    for (const part of [0, 1]) {
      const lines = [op, `mov ${bp}, ${mode === 16 ? 'sp' : 'esp'}`];
      if (part === 0) [RAX, RBX, RCX, RDX, RSI, RDI].forEach((r, i) => lines.push(`mov ${R(r)}, [${bp}+${i * n}]`));
      else lines.push(`mov ${R(RAX)}, [${bp}+${6 * n}]`, `mov ${R(RBX)}, [${bp}+${7 * n}]`);
      out.push({
        mode, w, runs: 12, src: lines.join('\n'),
        arbs: [arbU64, arbU64, arbU64, arbU64, arbU64, arbU64, arbU64],
        plant: (regs, v) => { [RAX, RCX, RDX, RBX, RBP, RSI, RDI].forEach((r, i) => (regs[r] = v[i])); },
        model: (st) => {
          // SDM PUSHA: Temp ← (SP); Push(AX) Push(CX) Push(DX) Push(BX) Push(Temp) Push(BP) Push(SI) Push(DI).
          const s = new Stack(st, new Mem(), ssize as 16 | 32);
          const temp = st.regs[RSP];
          for (const r of [RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI]) s.push(r === RSP ? temp : st.regs[r], w);
          const slots: bigint[] = [];
          for (let i = 0; i < 8; i++) slots.push(s.mem.read(Number(s.sp) + i * n, n));
          setLoc(st.regs, reg(RBP), ssize, s.sp);
          if (part === 0) [RAX, RBX, RCX, RDX, RSI, RDI].forEach((r, i) => setLoc(st.regs, reg(r), w, slots[i]));
          else {
            setLoc(st.regs, reg(RAX), w, slots[6]);
            setLoc(st.regs, reg(RBX), w, slots[7]);
          }
          void read7;
          return ok(st);
        },
      });
    }
    // POPA: the image is built by eight PUSHes of known registers.
    const pop = w === 16 ? 'popaw' : 'popad';
    const pushed = [RBX, RCX, RAX, RSI, RDX, RDI, RBP, RBX];
    out.push({
      mode, w, runs: 12, src: [...pushed.map((r) => `push ${R(r)}`), pop].join('\n'),
      arbs: [arbU64, arbU64, arbU64, arbU64, arbU64, arbU64, arbU64],
      plant: (regs, v) => { [RAX, RCX, RDX, RBX, RBP, RSI, RDI].forEach((r, i) => (regs[r] = v[i])); },
      model: (st) => {
        const s = new Stack(st, new Mem(), ssize as 16 | 32);
        for (const r of pushed) s.push(st.regs[r], w);
        // SDM POPA: DI SI BP (skip SP) BX DX CX AX.
        for (const r of [RDI, RSI, RBP, -1, RBX, RDX, RCX, RAX]) {
          const v = s.pop(w);
          if (r >= 0) setLoc(st.regs, reg(r), w, v);
        }
        return ok(st);
      },
    });
  }
  return out;
}

/** ENTER imm16, imm8 with the mode's natural operand size, and LEAVE (SDM ENTER, LEAVE). */
function enterLeaveCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const w = natural(mode);
  const n = w / 8;
  const R = (r: number): string => locName(reg(r), w);
  const bp = R(RBP);
  // rBP points at the data area (16-bit: into the stack page, SS base 0), with three frame
  // pointers stored below it first so that the nesting copies read known values.
  const bpVal = mode === 16 ? 0x8800n : 0x20400n;
  for (const [alloc, level] of [[0, 0], [0x10, 1], [8, 2], [0x1234, 3], [4, 33], [0, 4]] as Array<[number, number]>) {
    const lines = [`mov [${bp}-${n}], ${R(RAX)}`, `mov [${bp}-${2 * n}], ${R(RCX)}`, `mov [${bp}-${3 * n}], ${R(RDX)}`, `enter ${alloc}, ${level}`];
    // Read what ENTER pushed: the old rBP at [rBP], the copies and the frame pointer below.
    const nl = level % 32;
    const slots = nl === 0 ? 1 : nl + 1;
    const dst = [RAX, RCX, RDX, RSI, RDI];
    for (let i = 0; i < Math.min(slots, dst.length); i++) lines.push(`mov ${R(dst[i])}, [${bp}-${i * n}]`);
    out.push({
      mode, w, runs: 10, src: lines.join('\n'),
      arbs: [arbU64, arbU64, arbU64, arbU64],
      plant: (regs, v) => { regs[RBP] = bpVal; regs[RAX] = v[0]; regs[RCX] = v[1]; regs[RDX] = v[2]; regs[RSI] = v[3]; regs[RDI] = v[3]; },
      model: (st) => {
        const mem = new Mem();
        const b0 = Number(bpVal);
        mem.write(b0 - n, n, trunc(st.regs[RAX], w));
        mem.write(b0 - 2 * n, n, trunc(st.regs[RCX], w));
        mem.write(b0 - 3 * n, n, trunc(st.regs[RDX], w));
        const s = new Stack(st, mem, w as 16 | 32 | 64);
        // SDM ENTER Operation.
        s.push(st.regs[RBP], w);
        const frameTemp = s.sp;
        let rbp = trunc(st.regs[RBP], w);
        if (nl > 0) {
          for (let i = 1; i < nl; i++) {
            rbp -= BigInt(n);
            s.push(mem.read(Number(rbp), n), w);
          }
          s.push(frameTemp, w);
        }
        setLoc(st.regs, reg(RBP), w, frameTemp);
        s.sp = s.sp - BigInt(alloc);
        for (let i = 0; i < Math.min(slots, dst.length); i++) setLoc(st.regs, reg(dst[i]), w, mem.read(Number(frameTemp) - i * n, n));
        return ok(st);
      },
    });
  }
  // LEAVE: rSP ← rBP; rBP ← Pop(). Also with the operand-size prefix (BP ← Pop() of a word).
  for (const lw of mode === 16 ? [16] as Width[] : [w, 16 as Width]) {
    out.push({
      mode, w: lw, runs: 10, src: `mov [${bp}], ${locName(reg(RAX), lw)}\n${lw === w ? 'leave' : 'leavew'}`,
      arbs: [arbU64, fc.bigInt({ min: 0n, max: 0x3fn })],
      plant: (regs, v) => { regs[RAX] = v[0]; regs[RBP] = (mode === 16 ? 0x8800n : 0x20400n) + v[1] * 2n; },
      model: (st) => {
        const mem = new Mem();
        mem.write(Number(st.regs[RBP]), lw / 8, trunc(st.regs[RAX], lw));
        const s = new Stack(st, mem, w as 16 | 32 | 64);
        s.sp = trunc(st.regs[RBP], w);
        setLoc(st.regs, reg(RBP), lw, s.pop(lw));
        return ok(st);
      },
    });
  }
  return out;
}

/** PUSH/POP of segment registers. Real mode: POP Sreg / MOV Sreg, r / LES load base = sel * 16
 *  (SDM vol. 3, 20.1.1), seen through a read at the new base. Protected mode: PUSH Sreg pushes
 *  the selector (with a 32-bit operand size only its low 16 bits are defined). */
function segCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const sels: Record<string, bigint> = mode === 16 ? { es: 0x2000n, cs: 0x1000n, ss: 0n, ds: 0x2000n, fs: 0n, gs: 0n }
    : mode === 32 ? { es: 0x10n, cs: 8n, ss: 0x10n, ds: 0x10n, fs: 0x10n, gs: 0x10n } : { fs: 0x10n, gs: 0x10n };
  for (const [sreg, sel] of Object.entries(sels)) {
    const w = natural(mode);
    const src = mode === 16 ? `push ${sreg}\npop ax` : `push ${sreg}\npop ${locName(reg(RAX), w)}\nmovzx eax, ax`;
    out.push({
      mode, w, runs: 3, src, arbs: [arbU64],
      plant: (regs, v) => { regs[RAX] = v[0]; },
      model: (st) => { setLoc(st.regs, reg(RAX), mode === 16 ? 16 : 32, sel); return ok(st); },
    });
  }
  if (mode === 16) {
    for (const [load, segName] of [['push ax\npop es', 'es'], ['push ax\npop ds', 'ds'], ['mov es, ax', 'es'], ['mov fs, ax', 'fs'], ['push ax\npop gs', 'gs']]) {
      out.push({
        mode, w: 16, runs: 6, src: `${load}\nmov dx, word ptr ${segName}:[bx]\nmov cx, ${segName}`,
        arbs: [fc.bigInt({ min: 0x2000n, max: 0x2f00n }), fc.bigInt({ min: 0n, max: 0xfffn }), arbU64],
        plant: (regs, v) => { regs[RAX] = (v[2] & ~0xffffn) | v[0]; regs[RBX] = v[1]; },
        model: (st) => {
          const sel = st.regs[RAX] & 0xffffn;
          setLoc(st.regs, reg(RDX), 16, new Mem().read(Number(sel * 16n + (st.regs[RBX] & 0xffffn)), 2));
          setLoc(st.regs, reg(RCX), 16, sel);
          return ok(st);
        },
      });
    }
    // LES/LDS r16, m16:16: offset then selector from memory (the data-area pattern at DS:0x40).
    for (const op of ['les', 'lds', 'lss', 'lfs', 'lgs']) {
      const sreg = op.slice(1);
      out.push({
        mode, w: 16, runs: 2, src: `${op} bx, dword ptr [0x40]\nmov cx, ${sreg}`, arbs: [arbU64],
        plant: (regs, v) => { regs[RBX] = v[0]; },
        model: (st) => {
          const mem = new Mem();
          setLoc(st.regs, reg(RBX), 16, mem.read(0x20040, 2));
          setLoc(st.regs, reg(RCX), 16, mem.read(0x20042, 2));
          return ok(st);
        },
      });
    }
  }
  return out;
}

void sx;
const GROUPS = { 'push/pop/pushf/popf': pushPopCases, 'pusha/popa': pushaCases, 'enter/leave': enterLeaveCases, 'segment registers': segCases };
const PLAN = new Map<string, Case[]>();
for (const mode of MODES) for (const [name, f] of Object.entries(GROUPS)) PLAN.set(`${mode}:${name}`, f(mode));
prefetch([...PLAN.values()].flat());

describe.skipIf(!HAVE_AS)('stack instructions vs the SDM', () => {
  for (const mode of MODES) {
    for (const name of Object.keys(GROUPS)) {
      if (PLAN.get(`${mode}:${name}`)!.length === 0) continue;
      test(`${name} (${mode}-bit mode)`, () => PLAN.get(`${mode}:${name}`)!.forEach(runCase));
    }
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
