// Exactness and rounding direction of SSE results, so that PE/UE/OE are set exactly and the
// MXCSR rounding modes other than round-to-nearest give the IEEE 754 result.
//
// JS arithmetic rounds to nearest even. For each operation the sign of (true result - rounded
// result) is recovered exactly with error-free transformations (TwoSum for addition, Dekker's
// TwoProduct for products, the residual x - q*y for division and x - r*r for square roots),
// on operands scaled by powers of two into [1, 2) so no intermediate overflows or underflows.
// A directed rounding mode then moves the round-to-nearest result one unit in the last place
// when it lies on the wrong side of the true result.

const D = new Float64Array(1);
const DI = new Int32Array(D.buffer);
const S = new Float32Array(1);
const SI = new Int32Array(S.buffer);

/** 2^k for -1022 <= k <= 1023, from its bits (no Math.pow). */
export function pow2(k: number): number {
  DI[0] = 0;
  DI[1] = (k + 1023) << 20;
  return D[0];
}

/** v * 2^k, exact whenever the result is a normal number. */
function scale(v: number, k: number): number {
  while (k > 1000) { v *= pow2(1000); k -= 1000; }
  while (k < -1000) { v *= pow2(-1000); k += 1000; }
  return v * pow2(k);
}

/** e with 2^e <= |v| < 2^(e+1), for finite nonzero v (subnormals included). */
function expOf(v: number): number {
  D[0] = v;
  const e = (DI[1] >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  D[0] = v * 18014398509481984; // 2^54
  return ((DI[1] >>> 20) & 0x7ff) - 1023 - 54;
}

/** Low part of the last twoProd: a*b = p + prodErr exactly (a, b in [1, 4)). */
let prodErr = 0;
function twoProd(a: number, b: number): number {
  const p = a * b;
  const SPLIT = 134217729; // 2^27 + 1
  const ta = SPLIT * a, ah = ta - (ta - a), al = a - ah;
  const tb = SPLIT * b, bh = tb - (tb - b), bl = b - bh;
  prodErr = al * bl - (((p - ah * bh) - al * bh) - ah * bl);
  return p;
}

const sgn = (v: number): number => (v > 0 ? 1 : v < 0 ? -1 : 0);

/** sign(x + y - r) for r = RN(x + y), finite x, y. */
export function addDir(x: number, y: number, r: number): number {
  if (!Number.isFinite(r)) return r > 0 ? -1 : 1;
  const bb = r - x;
  return sgn((x - (r - bb)) + (y - bb));
}

/** sign(x * y - r) for r the double result (x, y finite). */
export function mulDir(x: number, y: number, r: number): number {
  if (x === 0 || y === 0) return 0;
  if (!Number.isFinite(r)) return r > 0 ? -1 : 1;
  const ex = expOf(x), ey = expOf(y);
  const p = twoProd(scale(x, -ex), scale(y, -ey));
  const rs = scale(r, -(ex + ey));
  return sgn((p - rs) + prodErr);
}

/** sign(x / y - r) for r the double result (x, y finite, y nonzero). */
export function divDir(x: number, y: number, r: number): number {
  if (x === 0) return 0;
  if (!Number.isFinite(r)) return r > 0 ? -1 : 1;
  if (r === 0) return sgn(x) * sgn(y);
  const ex = expOf(x), ey = expOf(y), er = expOf(r);
  const p = twoProd(scale(r, -er), scale(y, -ey));
  const xk = scale(scale(x, -ex), ex - er - ey);
  return sgn((xk - p) - prodErr) * sgn(y);
}

/** sign(sqrt(x) - r) for r = RN(sqrt(x)), x > 0 finite. */
export function sqrtDir(x: number, r: number): number {
  if (x === 0 || !Number.isFinite(x)) return 0;
  const ex = expOf(x), er = expOf(r);
  const p = twoProd(scale(r, -er), scale(r, -er));
  const xk = scale(scale(x, -ex), ex - 2 * er);
  return sgn((xk - p) - prodErr);
}

/** The next double above / below v. */
export function nextUpD(v: number): number {
  if (v !== v || v === Infinity) return v;
  if (v === 0) return 5e-324;
  D[0] = v;
  let lo = DI[0], hi = DI[1];
  if (v > 0) { lo = (lo + 1) | 0; if (lo === 0) hi = (hi + 1) | 0; }
  else { if (lo === 0) hi = (hi - 1) | 0; lo = (lo - 1) | 0; }
  DI[0] = lo;
  DI[1] = hi;
  return D[0];
}
export function nextDownD(v: number): number {
  return -nextUpD(-v);
}
export function nextUpS(v: number): number {
  if (v !== v || v === Infinity) return v;
  if (v === 0) return 1.401298464324817e-45;
  S[0] = v;
  SI[0] = v > 0 ? SI[0] + 1 : SI[0] - 1;
  return S[0];
}
export function nextDownS(v: number): number {
  return -nextUpS(-v);
}

/**
 * Apply MXCSR.RC (0 nearest, 1 down, 2 up, 3 toward zero) to the round-to-nearest result r,
 * given dir = sign(true - r).
 */
export function directed(r: number, dir: number, rc: number, single: boolean): number {
  if (dir === 0 || rc === 0) return r;
  const down = rc === 1 ? dir < 0 : rc === 3 ? r > 0 && dir < 0 : false;
  const up = rc === 2 ? dir > 0 : rc === 3 ? r < 0 && dir > 0 : false;
  if (down) return single ? nextDownS(r) : nextDownD(r);
  if (up) return single ? nextUpS(r) : nextUpD(r);
  return r;
}
