// Random choices for the generator: values, registers and memory operands that respect the
// snippet environment (memory operands stay inside the data area because their base and index
// registers are pinned; destinations never include a pinned register).

import fc from 'fast-check';
import { SNIPPET_DATA_ADDR } from '../../src/machine/snippet.js';
import type { Env } from './builder.js';
import { RBX, RDI, RSI, reg, type Addr, type Mem, type Mode, type Reg, type Size } from './x86.js';

/** A thin wrapper over fast-check's imperative generator. */
export class R {
  constructor(private readonly g: fc.GeneratorValue) {}
  int(min: number, max: number): number {
    return this.g(fc.integer, { min, max });
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[this.int(0, xs.length - 1)]!;
  }
  bool(p = 0.5): boolean {
    return this.int(0, 9999) < p * 10000;
  }
  big(min: bigint, max: bigint): bigint {
    return this.g(fc.bigInt, { min, max });
  }
}

export const MASK64 = (1n << 64n) - 1n;

const INTERESTING = [
  0n, 1n, 2n, 3n, 7n, 8n, 0x1fn, 0x20n, 0x3fn, 0x40n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn,
  0x10000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n,
  0xffffffffffffffffn, 0xfffffffffffffffen, 0xffffffff80000000n, 0x8000000080000000n, 0x0123456789abcdefn,
];

/** A 64-bit register value biased towards edge cases. */
export function value64(r: R): bigint {
  switch (r.int(0, 9)) {
    case 0: case 1: case 2: return r.pick(INTERESTING);
    case 3: return r.big(0n, 0x1ffn);
    case 4: return r.big(-300n, -1n) & MASK64;
    case 5: return r.big(0n, 0xffffffffn);
    case 6: return r.big(0n, 0xffffn) << BigInt(r.pick([0, 8, 16, 24, 32, 48]));
    default: return r.big(0n, MASK64);
  }
}

/** A signed immediate of `bytes` bytes, biased towards edge cases. */
export function imm(r: R, bytes: 1 | 2 | 4): number {
  const bits = bytes * 8;
  const min = -(2 ** (bits - 1));
  const max = 2 ** (bits - 1) - 1;
  switch (r.int(0, 5)) {
    case 0: return r.pick([0, 1, -1, 2, max, min, 0x7f, -0x80].filter((v) => v >= min && v <= max));
    case 1: return r.int(-8, 8);
    default: return r.int(min, max);
  }
}

export function sizesFor(mode: Mode, allowed: readonly Size[]): Size[] {
  return allowed.filter((s) => s !== 64 || mode === 64);
}

/** Whether 8-bit registers use REX encodings (spl..dil, r8b..) or the legacy al..bh set. */
export function rexByte(r: R, env: Env): boolean {
  return env.mode === 64 && r.bool();
}

/** All registers of a size, as destination ('dst': pinned ones excluded) or source. */
export function regChoices(env: Env, size: Size, rexB: boolean, role: 'dst' | 'src'): Reg[] {
  const out: Reg[] = [];
  if (size === 8 && !rexB) {
    for (let e = 0; e < 8; e++) out.push(e < 4 ? reg(e, 8) : reg(e - 4, 8, true));
  } else {
    for (let i = 0; i < env.nregs; i++) out.push(reg(i, size));
  }
  return role === 'dst' ? out.filter((x) => !env.pinned.includes(x.reg)) : out;
}

export function pickReg(r: R, env: Env, size: Size, rexB: boolean, role: 'dst' | 'src'): Reg {
  return r.pick(regChoices(env, size, rexB, role));
}

/** A register that is neither pinned nor in `avoid`, among the first `limit` registers. */
export function freeReg(r: R, env: Env, size: Size, avoid: number[] = [], limit = env.nregs): Reg {
  const xs: number[] = [];
  for (let i = 0; i < limit; i++) if (!env.pinned.includes(i) && !avoid.includes(i)) xs.push(i);
  return reg(r.pick(xs), size);
}

const SEGS: Record<Mode, number[]> = {
  16: [0x26, 0x3e], // ES and DS both have base 0x20000
  32: [0x26, 0x3e, 0x36], // flat; CS is excluded (writes through CS fault in protected mode)
  64: [0x26, 0x3e, 0x36, 0x2e, 0x64, 0x65], // ignored in 64-bit mode, FS/GS bases are 0
};

/** A memory operand inside the data area. noRex: the instruction also uses ah..bh, so the
 *  address must not need REX (no r8-r15 base/index). */
export function pickMem(r: R, env: Env, size: Size, noRex = false): Mem {
  const bytes = size / 8;
  const seg = r.bool(0.15) ? r.pick(SEGS[env.mode]) : undefined;
  const x = env.index;
  const d8 = () => r.int(-128, 127);
  const dBig = () => r.int(-0x3000, 0x3000);
  const mk = (a: Omit<Addr, 'seg'>): Mem => ({ kind: 'mem', size, addr: seg === undefined ? a : { ...a, seg } });
  const scale = () => r.pick([1, 2, 4, 8] as const);
  const forms: Array<() => Mem> = [];
  if (env.mode === 16) {
    // 16-bit addressing: [bx], [bx+si], [bx+di] (+disp8/disp16), [disp16]; DS base is the data area.
    forms.push(() => {
      const db = r.pick([0, 1, 2] as const);
      const useX = x === RSI || x === RDI ? r.bool() : false;
      return mk({ asize: 16, base: RBX, index: useX ? x : null, scale: 1, disp: db === 0 ? 0 : db === 1 ? d8() : dBig(), dispBytes: db });
    });
    forms.push(() => mk({ asize: 16, base: null, index: null, scale: 1, disp: r.int(0, 0xffff - bytes), dispBytes: 2 }));
    // 67h: 32-bit addressing with the same registers (upper halves are zero).
    forms.push(() => {
      const db = r.pick([0, 1, 4] as const);
      return mk({ asize: 32, base: RBX, index: x !== null && r.bool() ? x : null, scale: scale(), disp: db === 0 ? 0 : db === 1 ? d8() : dBig(), dispBytes: db });
    });
  } else {
    const asizes: Array<32 | 64> = env.mode === 64 ? [64, 64, 64, 32] : [32];
    const okB = !(noRex && env.base >= 8);
    const okX = x !== null && !(noRex && x >= 8);
    if (okB) {
      forms.push(() => {
        const db = r.pick([0, 1, 4] as const);
        return mk({ asize: r.pick(asizes), base: env.base, index: okX && r.bool() ? x : null, scale: scale(), disp: db === 0 ? 0 : db === 1 ? d8() : dBig(), dispBytes: db });
      });
    }
    if (okX) {
      // [index*scale + disp32]: the index alone is small, so the displacement carries the address.
      forms.push(() => mk({ asize: r.pick(asizes), base: null, index: x, scale: scale(), disp: SNIPPET_DATA_ADDR + r.int(0, 0xf000), dispBytes: 4 }));
    }
    forms.push(() => mk({ asize: r.pick(asizes), base: null, index: null, scale: 1, disp: SNIPPET_DATA_ADDR + r.int(0, 0x10000 - bytes), dispBytes: 4 }));
    if (env.mode === 64) {
      forms.push(() => mk({ asize: r.pick(asizes), base: 'rip', index: null, scale: 1, disp: SNIPPET_DATA_ADDR + r.int(0, 0x10000 - bytes), dispBytes: 4 }));
    }
  }
  return r.pick(forms)();
}

/** A register or memory operand; dst excludes pinned registers. */
export function pickRM(r: R, env: Env, size: Size, rexB: boolean, role: 'dst' | 'src', pMem = 0.35) {
  return r.bool(pMem) ? pickMem(r, env, size, size === 8 && !rexB) : pickReg(r, env, size, rexB, role);
}
