// Exact integer arithmetic on doubles for converting virtual nanoseconds to device clocks
// (PIT 1.193182 MHz, RTC 32.768 kHz) and back. Every intermediate value stays below 2^53,
// and the float divisions are corrected with exact integer checks, so the result never
// depends on how the engine rounds.

/**
 * floor(a * b / c) for integers 0 <= a < 2^53, 1 <= b, c with b * c < 2^53 and a result
 * below 2^53. a * b itself may exceed 2^53.
 */
export function mulDivFloor(a: number, b: number, c: number): number {
  return mulDivParts(a, b, c)[0];
}

/** ceil(a * b / c) under the same conditions as mulDivFloor. */
export function mulDivCeil(a: number, b: number, c: number): number {
  const [q, rem] = mulDivParts(a, b, c);
  return rem > 0 ? q + 1 : q;
}

/** [floor(a*b/c), (a*b) mod c]. */
function mulDivParts(a: number, b: number, c: number): [number, number] {
  // a = q*c + r, 0 <= r < c; then a*b/c = q*b + r*b/c and r*b < c*b < 2^53 is exact.
  // The float quotients below are off by at most one for operands below 2^53; one exact
  // correction step each fixes them (and can never loop, whatever the input).
  let q = Math.floor(a / c);
  let r = a - q * c;
  if (r < 0) {
    q -= 1;
    r += c;
  } else if (r >= c) {
    q += 1;
    r -= c;
  }
  const t = r * b;
  let q2 = Math.floor(t / c);
  if (q2 * c > t) q2 -= 1;
  else if ((q2 + 1) * c <= t) q2 += 1;
  return [q * b + q2, t - q2 * c];
}

/** floor(a / b) for integers of any sign (|a| < 2^53, b > 0), exact. */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q -= 1;
  else if ((q + 1) * b <= a) q += 1;
  return q;
}

/** a mod b in [0, b) for integers of any sign (b > 0). */
export function floorMod(a: number, b: number): number {
  return a - floorDiv(a, b) * b;
}
