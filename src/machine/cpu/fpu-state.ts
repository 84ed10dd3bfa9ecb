// The x87 FPU and SSE register file (SDM vol. 1, chapters 8 and 10): XMM0-15 as 32-bit lanes
// with float views of the same bytes, MXCSR, and the x87 stack kept exactly in its 80-bit
// form (mantissa halves plus sign/exponent), so FLD/FSTP m80, FXSAVE/FXRSTOR and FNSAVE/FRSTOR
// round-trip every bit pattern. x87 arithmetic converts to doubles (see exec-x87.ts).

/** MXCSR fields (SDM vol. 1, 10.2.3). */
export const enum Mxcsr {
  IE = 1 << 0, DE = 1 << 1, ZE = 1 << 2, OE = 1 << 3, UE = 1 << 4, PE = 1 << 5,
  DAZ = 1 << 6, IM = 1 << 7, DM = 1 << 8, ZM = 1 << 9, OM = 1 << 10, UM = 1 << 11, PM = 1 << 12,
  RC_SHIFT = 13, FZ = 1 << 15,
  /** Power-on value: every exception masked, round to nearest. */
  DEFAULT = 0x1f80,
  /** Writable bits (MXCSR_MASK as FXSAVE reports it: DAZ supported). */
  MASK = 0xffff,
}

/** x87 status word bits (SDM vol. 1, 8.1.3); TOP (bits 13:11) is kept apart in `top`. */
export const enum Fsw {
  IE = 1 << 0, DE = 1 << 1, ZE = 1 << 2, OE = 1 << 3, UE = 1 << 4, PE = 1 << 5, SF = 1 << 6, ES = 1 << 7,
  C0 = 1 << 8, C1 = 1 << 9, C2 = 1 << 10, C3 = 1 << 14, B = 1 << 15,
}

/** FNINIT's control word: all exceptions masked, 64-bit precision, round to nearest (SDM vol. 1, 8.1.5). */
export const FCW_INIT = 0x037f;
/** The control word at power-on (SDM vol. 3, table 10-1). */
export const FCW_RESET = 0x0040;

export class FpuState {
  /** XMM0-15, four 32-bit lanes each (lane 0 = bits 31:0); a 17th register (lanes 64-67) is
   *  the MMX unit's scratch. */
  readonly xmm = new Int32Array(68);
  /** The same bytes as singles and doubles (little-endian host, so lane order matches). */
  readonly xmmF32 = new Float32Array(this.xmm.buffer);
  readonly xmmF64 = new Float64Array(this.xmm.buffer);
  readonly xmmU8 = new Uint8Array(this.xmm.buffer);
  readonly xmmS8 = new Int8Array(this.xmm.buffer);
  readonly xmmU16 = new Uint16Array(this.xmm.buffer);
  readonly xmmS16 = new Int16Array(this.xmm.buffer);
  mxcsr = Mxcsr.DEFAULT as number;

  fcw = FCW_RESET;
  /** Status word without TOP. */
  fsw = 0;
  top = 0;
  /** Bit i set: physical register i is not empty (the abridged tag of FXSAVE). */
  tagValid = 0;
  /** Physical registers R0-R7 in 80-bit form: [mantissa 31:0, mantissa 63:32, sign<<15|exponent]. */
  readonly st = new Int32Array(24);
  /** Last x87 instruction pointer, data pointer and opcode (SDM vol. 1, 8.1.8, 8.1.9). */
  fop = 0;
  fipLo = 0;
  fipHi = 0;
  fcs = 0;
  fdpLo = 0;
  fdpHi = 0;
  fds = 0;

  /** Power-on state (SDM vol. 3, table 10-1): FCW 0040H, FSW 0, all registers +0 and empty... */
  reset(): void {
    this.xmm.fill(0);
    this.mxcsr = Mxcsr.DEFAULT;
    this.st.fill(0);
    this.fcw = FCW_RESET;
    this.fsw = 0;
    this.top = 0;
    // ...except that table 10-1 gives the tag word as 5555H (every register "zero", i.e. valid).
    this.tagValid = 0xff;
    this.fop = this.fipLo = this.fipHi = this.fcs = this.fdpLo = this.fdpHi = this.fds = 0;
  }

  /** FNINIT (SDM vol. 2, FINIT/FNINIT): registers keep their contents but are all tagged empty. */
  init(): void {
    this.fcw = FCW_INIT;
    this.fsw = 0;
    this.top = 0;
    this.tagValid = 0;
    this.fop = this.fipLo = this.fipHi = this.fcs = this.fdpLo = this.fdpHi = this.fds = 0;
  }

  /** The status word with TOP in bits 13:11. */
  statusWord(): number {
    return (this.fsw & ~(7 << 11)) | (this.top << 11);
  }
  setStatusWord(v: number): void {
    this.top = (v >> 11) & 7;
    this.fsw = v & 0xc7ff;
  }

  /** The full tag word (2 bits per physical register: 00 valid, 01 zero, 10 special, 11 empty). */
  tagWord(): number {
    let w = 0;
    for (let i = 0; i < 8; i++) w |= this.tagOf(i) << (2 * i);
    return w;
  }

  private tagOf(i: number): number {
    if ((this.tagValid & (1 << i)) === 0) return 3;
    const lo = this.st[3 * i];
    const hi = this.st[3 * i + 1];
    const exp = this.st[3 * i + 2] & 0x7fff;
    if (exp === 0x7fff) return 2; // infinity, NaN
    if (exp === 0) return lo === 0 && hi === 0 ? 1 : 2; // zero, or denormal
    return hi < 0 ? 0 : 2; // integer bit clear: unnormal (special)
  }
}

// ---------------------------------------------------------------------------------------
// 80-bit extended <-> double conversions (SDM vol. 1, 4.2.2 and 8.2). Scratch views avoid
// allocation; no Math.pow.
// ---------------------------------------------------------------------------------------

const cvt = new Float64Array(1);
const cvtI = new Int32Array(cvt.buffer);

/** Result of toF80: mantissa halves and sign/exponent. */
export const f80 = { lo: 0, hi: 0, se: 0 };

/** Convert a double exactly to 80-bit form (every double is representable). */
export function doubleToF80(v: number): void {
  cvt[0] = v;
  const lo = cvtI[0];
  const hi = cvtI[1];
  const sign = (hi >>> 31) << 15;
  const e = (hi >>> 20) & 0x7ff;
  let mHi = hi & 0xfffff;
  let mLo = lo;
  if (e === 0x7ff) {
    // Infinity or NaN: integer bit set, fraction shifted to the top (payload kept).
    f80.hi = (0x80000000 | (mHi << 11) | (mLo >>> 21)) | 0;
    f80.lo = mLo << 11;
    f80.se = sign | 0x7fff;
    return;
  }
  if (e === 0) {
    if (mHi === 0 && mLo === 0) {
      f80.lo = f80.hi = 0;
      f80.se = sign;
      return;
    }
    // Double denormal: normalise (the 80-bit exponent range covers it).
    let exp = 1 - 1023 + 16383;
    while ((mHi & 0x100000) === 0) {
      mHi = (mHi << 1) | (mLo >>> 31);
      mLo <<= 1;
      exp--;
    }
    f80.hi = ((mHi << 11) | (mLo >>> 21)) | 0;
    f80.lo = mLo << 11;
    f80.se = sign | exp;
    return;
  }
  f80.hi = (0x80000000 | (mHi << 11) | (mLo >>> 21)) | 0;
  f80.lo = mLo << 11;
  f80.se = sign | (e - 1023 + 16383);
}

/**
 * Convert an 80-bit value to the nearest double (round to nearest even). Pseudo-denormals and
 * unnormals are taken by their value; pseudo-NaN/pseudo-infinity (integer bit clear with
 * exponent 7FFFH) become the default NaN, as the x87 treats them as invalid operands.
 */
export function f80ToDouble(lo: number, hi: number, se: number, rc = 0): number {
  const sign = se & 0x8000 ? 0x80000000 : 0;
  const exp = se & 0x7fff;
  if (exp === 0x7fff) {
    if (hi >= 0) return setBits(0, 0xfff80000); // pseudo-NaN / pseudo-infinity: invalid
    const fracHi = hi & 0x7fffffff;
    if (fracHi === 0 && lo === 0) return sign ? -Infinity : Infinity;
    // NaN: keep the top 52 fraction bits; never let the payload become zero.
    let mHi = (fracHi >>> 11) & 0xfffff;
    let mLo = (fracHi << 21) | (lo >>> 11);
    if (mHi === 0 && mLo === 0) mLo = 1;
    mHi |= 0x7ff00000;
    return setBits(mLo, (sign | mHi) | 0);
  }
  if (hi === 0 && lo === 0) return sign ? -0 : 0;
  // Normalise the 64-bit mantissa so its top bit is set.
  let mHi = hi >>> 0;
  let mLo = lo >>> 0;
  let e = exp === 0 ? 1 : exp; // denormals and pseudo-denormals use exponent 1
  while ((mHi & 0x80000000) === 0) {
    mHi = ((mHi << 1) | (mLo >>> 31)) >>> 0;
    mLo = (mLo << 1) >>> 0;
    e--;
  }
  // Unbiased exponent of the leading bit.
  const ue = e - 16383;
  if (ue > 1023) return overflowValue(sign, rc);
  // Bits to drop from the 64-bit mantissa: 11 for a normal double, more for a denormal.
  let drop = 11;
  if (ue < -1022) drop += -1022 - ue;
  if (drop > 64) {
    // Below half the smallest denormal: zero, or the smallest denormal when rounding away.
    if (rc === 1 && sign) return -5e-324;
    if (rc === 2 && !sign) return 5e-324;
    return sign ? -0 : 0;
  }
  // Round the 64-bit mantissa to (64 - drop) bits, nearest even.
  let qHi: number, qLo: number, rem: boolean, half: boolean, odd: boolean;
  if (drop < 32) {
    qLo = ((mLo >>> drop) | (drop === 0 ? 0 : mHi << (32 - drop))) >>> 0;
    qHi = mHi >>> drop;
    const lowMask = drop === 0 ? 0 : (0xffffffff >>> (32 - drop));
    const dropped = mLo & lowMask;
    const halfBit = drop === 0 ? 0 : 1 << (drop - 1);
    half = (dropped & halfBit) !== 0;
    rem = (dropped & (halfBit - 1 >>> 0)) !== 0;
  } else {
    const d2 = drop - 32;
    qHi = 0;
    qLo = d2 === 32 ? 0 : mHi >>> d2;
    const lowMaskHi = d2 === 0 ? 0 : 0xffffffff >>> (32 - d2);
    const droppedHi = mHi & lowMaskHi;
    if (d2 === 0) {
      half = (mLo & 0x80000000) !== 0;
      rem = (mLo & 0x7fffffff) !== 0;
    } else {
      const halfBit = 1 << (d2 - 1);
      half = (droppedHi & halfBit) !== 0;
      rem = (droppedHi & (halfBit - 1 >>> 0)) !== 0 || mLo !== 0;
    }
  }
  odd = (qLo & 1) !== 0;
  const inexact = half || rem;
  const up = rc === 0 ? half && (rem || odd) : rc === 1 ? inexact && sign !== 0 : rc === 2 ? inexact && sign === 0 : false;
  if (up) {
    qLo = (qLo + 1) >>> 0;
    if (qLo === 0) qHi = (qHi + 1) >>> 0;
  }
  // q now holds the significand with its leading bit at position 52 (normal) or lower
  // (denormal); a carry may move it to 53. Build the double from value = q * 2^(ue - 52 + extra).
  if (drop === 11) {
    let be = ue + 1023;
    if (qHi >= 0x200000) {
      // Rounding carried into bit 53.
      qLo = ((qLo >>> 1) | (qHi << 31)) >>> 0;
      qHi >>>= 1;
      be++;
    }
    if (be >= 0x7ff) return overflowValue(sign, rc);
    return setBits(qLo | 0, (sign | (be << 20) | (qHi & 0xfffff)) | 0);
  }
  // Denormal double: q is the fraction field directly (a carry into bit 52 gives the smallest normal).
  return setBits(qLo | 0, (sign | qHi) | 0);
}

/** The result of an overflow: infinity, or the largest finite value when rounding toward zero or away from the sign. */
function overflowValue(sign: number, rc: number): number {
  const toMax = rc === 3 || (rc === 1 && !sign) || (rc === 2 && sign !== 0);
  if (!toMax) return sign ? -Infinity : Infinity;
  return sign ? -1.7976931348623157e308 : 1.7976931348623157e308;
}

function setBits(lo: number, hi: number): number {
  cvtI[0] = lo;
  cvtI[1] = hi;
  return cvt[0];
}
