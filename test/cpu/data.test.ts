// Data movement against the SDM's Operation sections (vol. 2): MOV (register, immediate incl.
// imm64, memory, moffs), MOVZX/MOVSX/MOVSXD, LEA with every addressing form (16-bit ModRM
// table 2-1, 32/64-bit SIB forms, RIP-relative, address-size and operand-size truncation),
// XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, CBW/CWDE/CDQE/CWD/CDQ/CQO, LAHF/SAHF.

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF, PF, AF, ZF, SF, DF, STATUS, mask, trunc, sx, addFlags, subFlags, widthsFor, PTR, type Width, type Expected } from '../helpers/x86-ref.js';
import { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, type CpuState } from '../helpers/cpu-run.js';
import { reg, locName, getLoc, setLoc, plantLoc, memSlot, immText, type RegLoc } from '../helpers/operands.js';
import { arbReg, arbU64, sample, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';
import { assemble } from '../helpers/asm.js';
import { snippetDataValue, SNIPPET_CODE_ADDR } from '../oracle/snippet-env.js';

const MODES: SnippetMode[] = [16, 32, 64];
const GP = 13, UD = 6;
const DATA = (mode: SnippetMode): bigint => (mode === 16 ? 0n : 0x20000n);

function regPairs(mode: SnippetMode, w: Width): Array<[RegLoc, RegLoc]> {
  const p: Array<[RegLoc, RegLoc]> = [[reg(3), reg(1)], [reg(0), reg(2)]];
  if (mode === 64) p.push([reg(9), reg(14)], [reg(6), reg(15)]);
  if (w === 8) p.push([reg(0, true), reg(3)], [reg(1), reg(2, true)]);
  return p;
}

// ---------------------------------------------------------------------------------------
// MOV
// ---------------------------------------------------------------------------------------

function movCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  for (const w of widthsFor(mode)) {
    // MOV r, r (88/89 and, with {load}, 8A/8B).
    for (const [i, [d, s]] of regPairs(mode, w).entries()) {
      out.push({
        mode, w, runs: 10, src: `${i === 1 ? '{load} ' : ''}mov ${locName(d, w)}, ${locName(s, w)}`,
        plant: (regs, v) => { regs[d.r] = v[0]; plantLoc(regs, s, w, v[1]); },
        model: (st) => { setLoc(st.regs, d, w, getLoc(st.regs, s, w)); return { regs: st.regs, flags: st.rflags }; },
      });
    }
    // MOV r, imm (B0+r / B8+r; in 64-bit mode also C7 /0 with a sign-extended imm32, and imm64).
    const imms = [0n, 1n, -1n, 0x80n, ...sample(fc.bigInt({ min: 0n, max: mask(w) }), 2, w + mode)];
    if (w === 64) imms.push(0x123456789abcdef0n, -0x80000000n, 0x80000000n);
    for (const imm of imms) {
      for (const d of mode === 64 ? [reg(3), reg(12)] : w === 8 ? [reg(3), reg(2, true)] : [reg(3)]) {
        out.push({
          mode, w, runs: 4, src: `mov ${locName(d, w)}, ${immText(imm, w)}`,
          arbs: [arbU64],
          plant: (regs, v) => { regs[d.r] = v[0]; },
          model: (st) => { setLoc(st.regs, d, w, trunc(imm, w)); return { regs: st.regs, flags: st.rflags }; },
        });
      }
      // MOV r/m, imm (C6/C7) to memory, read back.
      if (w !== 64 || (imm >= -0x80000000n && imm < 0x80000000n)) {
        out.push({
          mode, w, runs: 4, src: `mov ${m.text(w)}, ${immText(imm, Math.min(w, 32))}\nmov ${locName(reg(RAX), w)}, ${m.text(w)}`,
          arbs: [arbU64],
          plant: (regs, v) => { regs[m.base] = m.baseVal; regs[RAX] = v[0]; },
          model: (st) => { setLoc(st.regs, reg(RAX), w, trunc(imm, w)); return { regs: st.regs, flags: st.rflags }; },
        });
      }
    }
    // Store then reload; the reload at +1 byte checks the little-endian layout.
    if (w > 8) {
      out.push({
        mode, w, runs: 15,
        src: `mov ${m.text(w)}, ${locName(reg(RCX), w)}\nmov ${locName(reg(RBX), w)}, ${m.text(w)}\nmov dl, byte ptr [${m.text(8).split('[')[1].replace(']', '+1]')}`,
        plant: (regs, v) => { regs[m.base] = m.baseVal; regs[RCX] = v[0]; regs[RBX] = v[1]; regs[RDX] = v[1]; },
        model: (st) => {
          const v = trunc(st.regs[RCX], w);
          setLoc(st.regs, reg(RBX), w, v);
          setLoc(st.regs, reg(RDX), 8, (v >> 8n) & 0xffn);
          return { regs: st.regs, flags: st.rflags };
        },
      });
    }
    // MOV r, m from the data-area pattern.
    out.push({
      mode, w, runs: 3, src: `mov ${locName(reg(RSI), w === 8 && mode !== 64 ? 16 : w)}, ${w === 8 && mode !== 64 ? m.text(16) : m.text(w)}`,
      arbs: [arbU64],
      plant: (regs, v) => { regs[m.base] = m.baseVal; regs[RSI] = v[0]; },
      model: (st) => {
        const ww = w === 8 && mode !== 64 ? 16 : w;
        setLoc(st.regs, reg(RSI), ww, snippetDataValue(m.offset, ww / 8));
        return { regs: st.regs, flags: st.rflags };
      },
    });
    // moffs (A0-A3): load from and store to an absolute offset.
    const off = 0x123;
    const abs = DATA(mode) + BigInt(off);
    const acc = locName(reg(RAX), w);
    const mv = mode === 64 ? 'movabs' : 'mov';
    const seg = mode === 16 ? '' : 'ds:';
    out.push({
      mode, w, runs: 3, src: `${mv} ${acc}, ${seg}[${abs}]`,
      arbs: [arbU64],
      plant: (regs, v) => { regs[RAX] = v[0]; },
      model: (st) => { setLoc(st.regs, reg(RAX), w, snippetDataValue(off, w / 8)); return { regs: st.regs, flags: st.rflags }; },
    });
    out.push({
      mode, w, runs: 6, src: `${mv} ${seg}[${abs}], ${acc}\nmov ${locName(reg(RBX), w)}, ${PTR[w]} [${abs}]`,
      arbs: [arbU64, arbU64],
      plant: (regs, v) => { regs[RAX] = v[0]; regs[RBX] = v[1]; },
      model: (st) => { setLoc(st.regs, reg(RBX), w, trunc(st.regs[RAX], w)); return { regs: st.regs, flags: st.rflags }; },
    });
    if (mode === 64) {
      // 67 A1: a 32-bit moffs in 64-bit mode; 64 A1: FS override (FS base 0 here).
      out.push({
        mode, w, runs: 3, src: `addr32 mov ${acc}, ds:[${abs}]\nmovabs ${acc}, fs:[${abs}]`,
        arbs: [arbU64],
        plant: (regs, v) => { regs[RAX] = v[0]; },
        model: (st) => { setLoc(st.regs, reg(RAX), w, snippetDataValue(off, w / 8)); return { regs: st.regs, flags: st.rflags }; },
      });
    }
  }
  // MOVZX / MOVSX / MOVSXD.
  const ext: Array<[string, Width, Width]> = [['movzx', 16, 8], ['movzx', 32, 8], ['movzx', 32, 16], ['movsx', 16, 8], ['movsx', 32, 8], ['movsx', 32, 16]];
  if (mode === 64) ext.push(['movzx', 64, 8], ['movzx', 64, 16], ['movsx', 64, 8], ['movsx', 64, 16], ['movsxd', 64, 32], ['movsxd', 32, 32]);
  for (const [op, dw, sw] of ext) {
    const srcs: Array<RegLoc | 'mem'> = [reg(1), 'mem'];
    if (mode === 64) srcs.push(reg(10), ...(sw === 8 ? [reg(6)] : []));
    if (sw === 8) srcs.push(reg(3, true));
    for (const s of srcs) {
      for (const d of mode === 64 ? [reg(3), reg(13)] : [reg(3)]) {
        if (s === 'mem' && d.r === m.base) continue;
        if (s !== 'mem' && s.high8 && (d.r >= 8 || dw === 64)) continue; // AH..BH cannot take a REX prefix
        const sText = s === 'mem' ? m.text(sw) : locName(s, sw);
        out.push({
          mode, w: dw, runs: 10, src: `${op} ${locName(d, dw)}, ${sText}`,
          arbs: [arbU64, arbReg(sw)],
          plant: (regs, v) => {
            regs[d.r] = v[0];
            if (s === 'mem') regs[m.base] = m.baseVal;
            else plantLoc(regs, s, sw, v[1]);
          },
          model: (st) => {
            const sv = s === 'mem' ? snippetDataValue(m.offset, sw / 8) : getLoc(st.regs, s, sw);
            setLoc(st.regs, d, dw, op === 'movzx' ? sv : trunc(sx(sv, sw), dw));
            return { regs: st.regs, flags: st.rflags };
          },
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// LEA (SDM LEA, table 3-54: operand size vs address size)
// ---------------------------------------------------------------------------------------

interface Ea {
  text: string;
  base?: number;
  index?: number;
  scale?: number;
  disp: bigint;
  rip?: boolean;
}

function leaForms(asz: 16 | 32 | 64): Ea[] {
  const d8 = 0x7fn, dn8 = -0x80n, d16 = 0x1234n, d32 = -0x12345678n;
  if (asz === 16) {
    // SDM vol. 2, table 2-1: the eight r/m combinations, each with mod 00, 01 and 10.
    const combos: Array<[string, number, number | undefined]> = [
      ['bx+si', RBX, RSI], ['bx+di', RBX, RDI], ['bp+si', RBP, RSI], ['bp+di', RBP, RDI],
      ['si', RSI, undefined], ['di', RDI, undefined], ['bp', RBP, undefined], ['bx', RBX, undefined],
    ];
    const out: Ea[] = [];
    for (const [t, b, i] of combos) {
      for (const disp of [0n, dn8, d16]) out.push({ text: `[${t}${disp === 0n ? '' : disp < 0n ? disp : '+' + disp}]`, base: b, index: i, disp });
    }
    out.push({ text: '[0x9abc]', disp: 0x9abcn });
    return out;
  }
  const R = (r: number): string => (asz === 64 ? (r >= 8 ? `r${r}` : ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'][r]) : ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'][r]);
  const out: Ea[] = [];
  const bases = asz === 64 ? [RBX, RSP, RBP, 12, 13, RAX] : [RBX, RSP, RBP, RAX];
  const indexes = asz === 64 ? [RCX, RBP, 12, 15] : [RCX, RBP, RSI];
  for (const b of bases) {
    out.push({ text: `[${R(b)}]`, base: b, disp: 0n });
    out.push({ text: `[${R(b)}${dn8}]`, base: b, disp: dn8 });
    out.push({ text: `[${R(b)}+${d8}]`, base: b, disp: d8 });
    out.push({ text: `[${R(b)}${d32}]`, base: b, disp: d32 });
  }
  for (const [k, i] of indexes.entries()) {
    for (const s of [1, 2, 4, 8]) {
      const b = bases[(k + s) % bases.length];
      out.push({ text: `[${R(b)}+${R(i)}*${s}+${d16}]`, base: b, index: i, scale: s, disp: d16 });
      out.push({ text: `[${R(i)}*${s}${dn8}]`, index: i, scale: s, disp: dn8 }); // no base: SIB base=101, disp32
    }
  }
  // An absolute disp32 (zero-extended with 32-bit addresses, sign-extended with 64-bit ones).
  out.push(asz === 32 ? { text: `[${0x89abcdefn}]`, disp: 0x89abcdefn } : { text: `[${-0x76543211n}]`, disp: -0x76543211n });
  if (asz === 64) {
    out.push({ text: '[rip+0x1000]', rip: true, disp: 0x1000n }, { text: '[rip-0x7fffffff]', rip: true, disp: -0x7fffffffn });
  }
  return out;
}

function leaCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const asizes: Array<16 | 32 | 64> = mode === 64 ? [64, 32] : [16, 32];
  for (const asz of asizes) {
    const prefix = (mode === 64 && asz === 32) || (mode === 32 && asz === 16) || (mode === 16 && asz === 32) ? (asz === 16 ? 'addr16 ' : 'addr32 ') : '';
    const forms = leaForms(asz);
    const opsizes: Width[] = mode === 64 ? [64, 32, 16] : [32, 16];
    forms.forEach((ea, k) => {
      if (ea.rip && asz !== 64) return;
      for (const [j, ow] of opsizes.entries()) {
        if ((k + j) % opsizes.length !== 0 && !ea.rip && k > 3) continue; // every form, not every size
        const d = ow === 64 ? reg(RDX) : reg(RDX);
        const src = `${prefix}lea ${locName(d, ow)}, ${ea.text}`;
        const used = [ea.base, ea.index].filter((x): x is number => x !== undefined && x !== RSP);
        out.push({
          mode, w: ow, runs: 8, src,
          arbs: [arbU64, arbU64, arbU64],
          plant: (regs, v) => {
            regs[RDX] = v[0];
            used.forEach((r, i) => (regs[r] = v[1 + i]));
          },
          model: (st) => {
            let a = ea.disp;
            if (ea.base !== undefined) a += st.regs[ea.base];
            if (ea.index !== undefined) a += st.regs[ea.index] * BigInt(ea.scale ?? 1);
            if (ea.rip) {
              // RIP-relative: relative to the next instruction (SDM vol. 2, 2.2.1.6).
              const len = assemble(mode, src).length - 1; // the snippet is this LEA and HLT
              a += BigInt(SNIPPET_CODE_ADDR + len);
            }
            a = trunc(a, asz); // the address size
            setLoc(st.regs, d, ow, trunc(a, ow)); // then the operand size (zero-extends if wider)
            return { regs: st.regs, flags: st.rflags };
          },
        });
      }
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// XCHG, XADD, CMPXCHG, CMPXCHG8B/16B
// ---------------------------------------------------------------------------------------

function exchangeCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  for (const w of widthsFor(mode)) {
    const pairs = regPairs(mode, w);
    pairs.push([reg(RBX), reg(RBX)]);
    if (w !== 8) pairs.push([reg(RAX), reg(RBX)], [reg(RDX), reg(RAX)]); // 90+r short forms
    if (mode === 64 && w !== 8) pairs.push([reg(8), reg(RAX)]);
    for (const [d, s] of pairs) {
      // XCHG
      out.push({
        mode, w, runs: 8, src: `xchg ${locName(d, w)}, ${locName(s, w)}`,
        plant: (regs, v) => { regs[d.r] = v[0]; regs[s.r] = d.r === s.r ? v[0] : v[1]; },
        model: (st) => {
          const a = getLoc(st.regs, d, w), b = getLoc(st.regs, s, w);
          setLoc(st.regs, d, w, b);
          setLoc(st.regs, s, w, a);
          return { regs: st.regs, flags: st.rflags };
        },
      });
      // XADD: TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP (so XADD r, r leaves the sum).
      out.push({
        mode, w, runs: 12, src: `xadd ${locName(d, w)}, ${locName(s, w)}`,
        plant: (regs, v) => { regs[d.r] = v[0]; regs[s.r] = d.r === s.r ? v[0] : v[1]; },
        model: (st) => {
          const a = getLoc(st.regs, d, w), b = getLoc(st.regs, s, w);
          const r = addFlags(a, b, 0n, w);
          setLoc(st.regs, s, w, a);
          setLoc(st.regs, d, w, r.res);
          return { regs: st.regs, flags: (st.rflags & ~STATUS) | r.flags };
        },
      });
      // CMPXCHG: compare the accumulator with DEST; equal: DEST ← SRC; else accumulator ← DEST
      // and DEST ← DEST (written back). Flags as CMP accumulator, DEST.
      if (d.r !== RAX || d.high8) {
        out.push({
          mode, w, runs: 16, src: `cmpxchg ${locName(d, w)}, ${locName(s, w)}`,
          arbs: [arbReg(w), arbReg(w), arbReg(w), fc.bigInt({ min: 0n, max: 1n })],
          plant: (regs, v) => {
            regs[d.r] = v[0];
            if (s.r !== d.r) regs[s.r] = v[1];
            if (s.r !== RAX) regs[RAX] = v[2];
            if (v[3] === 1n) plantLoc(regs, reg(RAX), w, getLoc(regs, d, w)); // make it succeed
          },
          model: (st) => cmpxchgModel(st, w, d, () => getLoc(st.regs, s, w)),
        });
      }
    }
    // Memory forms: XCHG/XADD/CMPXCHG m, r with the slot filled from RSI and read back into RDI.
    const sreg = mode === 64 ? reg(10) : reg(RCX);
    const memOp = (op: string): string => `mov ${m.text(w)}, ${locName(w === 8 && mode !== 64 ? reg(RDX, true) : reg(RSI), w)}\n${op} ${m.text(w)}, ${locName(sreg, w)}\nmov ${locName(w === 8 && mode !== 64 ? reg(RBX) : reg(RBP), w)}, ${m.text(w)}`;
    const slotReg = w === 8 && mode !== 64 ? reg(RDX, true) : reg(RSI);
    const backReg = w === 8 && mode !== 64 ? reg(RBX) : reg(RBP);
    for (const op of ['xchg', 'xadd', 'cmpxchg']) {
      out.push({
        mode, w, runs: 16, src: memOp(op),
        arbs: [arbReg(w), arbReg(w), arbReg(w), fc.bigInt({ min: 0n, max: 1n })],
        plant: (regs, v) => {
          regs[m.base] = m.baseVal;
          plantLoc(regs, slotReg, w, v[0]);
          regs[sreg.r] = v[1];
          regs[RAX] = v[2];
          if (v[3] === 1n) plantLoc(regs, reg(RAX), w, v[0]);
        },
        model: (st) => {
          const mem = getLoc(st.regs, slotReg, w);
          const src = getLoc(st.regs, sreg, w);
          let flags = st.rflags;
          let newMem: bigint;
          if (op === 'xchg') {
            newMem = src;
            setLoc(st.regs, sreg, w, mem);
          } else if (op === 'xadd') {
            const r = addFlags(mem, src, 0n, w);
            newMem = r.res;
            flags = (flags & ~STATUS) | r.flags;
            setLoc(st.regs, sreg, w, mem);
          } else {
            const acc = getLoc(st.regs, reg(RAX), w);
            flags = (flags & ~STATUS) | subFlags(acc, mem, 0n, w).flags;
            if (acc === mem) newMem = src;
            else {
              newMem = mem;
              setLoc(st.regs, reg(RAX), w, mem);
            }
          }
          setLoc(st.regs, backReg, w, newMem);
          return { regs: st.regs, flags };
        },
      });
    }
  }
  // CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W): EDX:EAX vs m; equal: m ← ECX:EBX, ZF=1;
  // else EDX:EAX ← m, ZF=0. Only ZF is affected. 16B needs a 16-byte aligned operand (#GP).
  const wides: Array<64 | 128> = mode === 64 ? [64, 128] : [64];
  for (const bits of wides) {
    const hw = (bits / 2) as 32 | 64;
    const op = bits === 64 ? 'cmpxchg8b' : 'cmpxchg16b';
    const base = mode === 64 ? 'r13' : mode === 32 ? 'edi' : 'di';
    const baseReg = mode === 64 ? 13 : RDI;
    for (const disp of bits === 128 ? [0x40, 0x48] : [0x40, 0x43]) {
      const R = (r: number): string => locName(reg(r), hw);
      const src = [
        `mov ${PTR[hw]} [${base}+${disp}], ${R(RSI)}`, `mov ${PTR[hw]} [${base}+${disp + hw / 8}], ${R(RBP)}`,
        `${op} ${bits === 64 ? 'qword' : 'xmmword'} ptr [${base}+${disp}]`,
        `mov ${R(RSI)}, ${PTR[hw]} [${base}+${disp}]`, `mov ${R(RBP)}, ${PTR[hw]} [${base}+${disp + hw / 8}]`,
      ].join('\n');
      const misaligned = bits === 128 && disp % 16 !== 0;
      out.push({
        mode, w: hw, runs: 12, src,
        arbs: [arbReg(hw), arbReg(hw), arbReg(hw), arbReg(hw), arbReg(hw), arbReg(hw), fc.bigInt({ min: 0n, max: 3n })],
        plant: (regs, v) => {
          regs[baseReg] = mode === 16 ? 0x100n : 0x20100n;
          [RSI, RBP, RAX, RDX, RBX, RCX].forEach((r, i) => (regs[r] = v[i]));
          if (v[6] !== 0n) {
            regs[RAX] = v[0];
            if (v[6] !== 1n) regs[RDX] = v[1]; // 1: only the low half equal
          }
        },
        model: (st) => {
          if (misaligned) return { vector: GP, regs: st.regs, flags: st.rflags };
          const lo = trunc(st.regs[RSI], hw), hi = trunc(st.regs[RBP], hw);
          let flags = st.rflags & ~ZF;
          if (trunc(st.regs[RAX], hw) === lo && trunc(st.regs[RDX], hw) === hi) {
            flags |= ZF;
            setLoc(st.regs, reg(RSI), hw, st.regs[RBX]);
            setLoc(st.regs, reg(RBP), hw, st.regs[RCX]);
          } else {
            setLoc(st.regs, reg(RAX), hw, lo);
            setLoc(st.regs, reg(RDX), hw, hi);
            setLoc(st.regs, reg(RSI), hw, lo);
            setLoc(st.regs, reg(RBP), hw, hi);
          }
          return { regs: st.regs, flags };
        },
      });
    }
    // The register form (mod = 3) is #UD.
    out.push({
      mode, w: 32, runs: 2, src: `.byte ${bits === 128 ? '0x48, ' : ''}0x0f, 0xc7, 0xc8`,
      plant: () => {},
      model: (st) => ({ vector: UD, regs: st.regs, flags: st.rflags }),
    });
  }
  return out;
}

function cmpxchgModel(st: CpuState, w: Width, d: RegLoc, srcVal: () => bigint): Expected {
  const acc = getLoc(st.regs, reg(RAX), w);
  const dest = getLoc(st.regs, d, w);
  const src = srcVal();
  const flags = (st.rflags & ~STATUS) | subFlags(acc, dest, 0n, w).flags;
  if (acc === dest) setLoc(st.regs, d, w, src);
  else {
    setLoc(st.regs, reg(RAX), w, dest);
    setLoc(st.regs, d, w, dest); // DEST ← TEMP: a 32-bit register destination is zero-extended
  }
  return { regs: st.regs, flags };
}

// ---------------------------------------------------------------------------------------
// CBW family, LAHF/SAHF
// ---------------------------------------------------------------------------------------

function miscCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const conv: Array<[string, (st: CpuState) => void]> = [
    ['cbw', (st) => setLoc(st.regs, reg(RAX), 16, trunc(sx(st.regs[RAX], 8), 16))],
    ['cwde', (st) => setLoc(st.regs, reg(RAX), 32, trunc(sx(st.regs[RAX], 16), 32))],
    ['cwd', (st) => setLoc(st.regs, reg(RDX), 16, sx(st.regs[RAX], 16) < 0n ? 0xffffn : 0n)],
    ['cdq', (st) => setLoc(st.regs, reg(RDX), 32, sx(st.regs[RAX], 32) < 0n ? 0xffffffffn : 0n)],
  ];
  if (mode === 64) {
    conv.push(['cdqe', (st) => setLoc(st.regs, reg(RAX), 64, trunc(sx(st.regs[RAX], 32), 64))]);
    conv.push(['cqo', (st) => setLoc(st.regs, reg(RDX), 64, sx(st.regs[RAX], 64) < 0n ? mask(64) : 0n)]);
  }
  for (const [op, f] of conv) {
    out.push({
      mode, w: 32, runs: 20, src: op, arbs: [arbReg(8), arbU64],
      examples: [[0x80n, 0n], [0x7fn, 0n], [0x8000n, mask(64)], [0xffff8000n, 0n], [0x80000000n, 0n]],
      plant: (regs, v) => { regs[RAX] = v[0]; regs[RDX] = v[1]; },
      model: (st) => { f(st); return { regs: st.regs, flags: st.rflags }; },
    });
  }
  // XLAT: AL ← [DS:rBX + unsigned AL] (address size), here into the data-area pattern.
  out.push({
    mode, w: 8, runs: 20, src: 'xlatb', arbs: [arbU64, fc.bigInt({ min: 0n, max: 0xff00n })],
    plant: (regs, v) => { regs[RAX] = v[0]; regs[RBX] = (mode === 16 ? 0n : 0x20000n) + v[1] + (mode === 16 ? (v[0] & 0xffff0000n) : 0n); },
    model: (st) => {
      const off = Number((st.regs[RBX] & (mode === 16 ? 0xffffn : mask(64))) - (mode === 16 ? 0n : 0x20000n) + (st.regs[RAX] & 0xffn));
      setLoc(st.regs, reg(RAX), 8, snippetDataValue(off, 1));
      return { regs: st.regs, flags: st.rflags };
    },
  });
  // MOV r, Sreg: the selector, zero-extended for 32/64-bit registers (SDM MOV: "the upper bits
  // of the destination are cleared" on current processors); a 16-bit register keeps bits 63:16.
  const sels: Record<string, bigint> = mode === 16 ? { cs: 0x1000n, ds: 0x2000n, es: 0x2000n, ss: 0n } : mode === 32 ? { cs: 8n, ds: 0x10n, ss: 0x10n } : { cs: 0x18n, ds: 0x10n, fs: 0x10n };
  for (const [sreg, sel] of Object.entries(sels)) {
    for (const w of (mode === 64 ? [16, 32, 64] : [16, 32]) as Width[]) {
      out.push({
        mode, w, runs: 3, src: `mov ${locName(reg(RDX), w)}, ${sreg}`, arbs: [arbU64],
        plant: (regs, v) => { regs[RDX] = v[0]; },
        model: (st) => { setLoc(st.regs, reg(RDX), w, sel); return { regs: st.regs, flags: st.rflags }; },
      });
    }
  }
  // CLC/STC/CMC/CLD/STD: only their flag changes.
  for (const [op, f] of [['clc', (x: number) => x & ~CF], ['stc', (x: number) => x | CF], ['cmc', (x: number) => x ^ CF], ['cld', (x: number) => x & ~DF], ['std', (x: number) => x | DF]] as Array<[string, (x: number) => number]>) {
    out.push({
      mode, w: 8, runs: 10, src: op, arbs: [arbU64],
      plant: (regs, v) => { regs[RAX] = v[0]; },
      model: (st) => ({ regs: st.regs, flags: f(st.rflags) }),
    });
  }
  // LAHF: AH ← SF:ZF:0:AF:0:PF:1:CF. SAHF: SF ZF AF PF CF ← AH bits 7 6 4 2 0.
  out.push({
    mode, w: 8, runs: 30, src: 'lahf', arbs: [arbU64],
    plant: (regs, v) => { regs[RAX] = v[0]; },
    model: (st) => {
      setLoc(st.regs, reg(RAX, true), 8, BigInt((st.rflags & (SF | ZF | AF | PF | CF)) | 2));
      return { regs: st.regs, flags: st.rflags };
    },
  });
  out.push({
    mode, w: 8, runs: 30, src: 'sahf', arbs: [arbU64],
    plant: (regs, v) => { regs[RAX] = v[0]; },
    model: (st) => {
      const ah = Number((st.regs[RAX] >> 8n) & 0xffn);
      return { regs: st.regs, flags: (st.rflags & ~(SF | ZF | AF | PF | CF)) | (ah & (SF | ZF | AF | PF | CF)) };
    },
  });
  return out;
}

const GROUPS = { mov: movCases, lea: leaCases, exchange: exchangeCases, misc: miscCases };
const PLAN = new Map<string, Case[]>();
for (const mode of MODES) for (const [name, f] of Object.entries(GROUPS)) PLAN.set(`${mode}:${name}`, f(mode));
prefetch([...PLAN.values()].flat());

const TITLES: Record<string, string> = {
  mov: 'mov (reg, imm, mem, moffs), movzx/movsx/movsxd',
  lea: 'lea: every addressing form',
  exchange: 'xchg/xadd/cmpxchg/cmpxchg8b/cmpxchg16b',
  misc: 'cbw/cwde/cdqe/cwd/cdq/cqo, xlat, mov r/sreg, clc/stc/cmc/cld/std, lahf/sahf',
};

describe.skipIf(!HAVE_AS)('data movement vs the SDM', () => {
  for (const mode of MODES) {
    for (const name of Object.keys(GROUPS)) test(`${TITLES[name]} (${mode}-bit mode)`, () => PLAN.get(`${mode}:${name}`)!.forEach(runCase));
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
