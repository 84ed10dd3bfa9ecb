// Number parsing with FreeBSD's semantics, for the options hvsim shares with bhyve(8).
//
// References (FreeBSD 15 sources, read for their behaviour; no code copied):
//  - strtoul(3)/strtoumax(3), lib/libc/stdlib: base 0 skips C-locale white space, takes one
//    optional sign, then "0x"/"0X" means hex only if a hex digit follows, "0b"/"0B" means binary
//    only if a binary digit follows (C23, FreeBSD 15), a leading "0" means octal, else decimal.
//    On overflow the result is UINT64_MAX with ERANGE; a '-' sign negates modulo 2^64.
//  - expand_number(3), lib/libutil/expand_number.c as rewritten in 2025: optional white space
//    and one sign, then a digit is required; the number (base 0 as above) may be followed by one
//    unit prefix k/m/g/t/p/e (any case, powers of 1024) and then an optional 'b'/'B'; nothing may
//    follow. A value that does not fit is ERANGE. With an unsigned destination (libutil.h's
//    _Generic picks expand_unsigned() for uint64_t and, on LP64, size_t) any negative value other
//    than -0 is ERANGE. lib/libutil/tests/expand_number_test.c is the behaviour the tests mirror.
//  - vm_parse_memsize(), lib/libvmmapi/vmmapi.c: if strtoul() consumes the whole (non-empty)
//    string the value is taken as is, except that a value below 1 MiB counts in MiB (backward
//    compatibility: "-m 256" is 256 MiB, "-m 1048576" is 1 MiB); otherwise expand_number().
//
// Values are bigints here: these are 64-bit C semantics, the CLI is not a hot path, and the
// callers range-check the result before turning it into a number.

export type NumberErrno = 'EINVAL' | 'ERANGE';

/** A number that expand_number(3) / vm_parse_memsize() would refuse, with the errno it would set. */
export class NumberFormatError extends Error {
  override name = 'NumberFormatError';
  constructor(
    readonly errno: NumberErrno,
    readonly input: string,
  ) {
    super(`${errno === 'EINVAL' ? 'invalid number' : 'number out of range'}: ${JSON.stringify(input)}`);
  }
}

export const UINT64_MAX = (1n << 64n) - 1n;
export const INT64_MAX = (1n << 63n) - 1n;
const TWO_64 = 1n << 64n;

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** isspace() in the C locale. */
function isCSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

/** Value of an alphanumeric digit (0-9, a-z, A-Z → 0..35), or 99 for anything else. */
function digitValue(ch: string | undefined): number {
  if (ch === undefined) return 99;
  const c = ch.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 10;
  return 99;
}

export interface StrtoResult {
  /** The value as strtoul()/strtoumax() returns it: UINT64_MAX on overflow, negated mod 2^64 after '-'. */
  value: bigint;
  /** Index of the first unconsumed character (*endptr); 0 when no digits were found. */
  end: number;
  /** True if the magnitude exceeded UINT64_MAX (errno = ERANGE). */
  overflow: boolean;
  /** True if a '-' sign was consumed. */
  negative: boolean;
  /** The magnitude before the sign was applied (UINT64_MAX on overflow). */
  magnitude: bigint;
}

/** strtoul(s, &end, 0) / strtoumax(s, &end, 0) on LP64 FreeBSD, C locale. */
export function strtoul0(s: string): StrtoResult {
  let i = 0;
  while (isCSpace(s[i])) i++;
  let negative = false;
  if (s[i] === '-') {
    negative = true;
    i++;
  } else if (s[i] === '+') {
    i++;
  }
  let base = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digitValue(s[i + 2]) < 16) {
    base = 16;
    i += 2;
  } else if (s[i] === '0' && (s[i + 1] === 'b' || s[i + 1] === 'B') && (s[i + 2] === '0' || s[i + 2] === '1')) {
    base = 2;
    i += 2;
  } else if (s[i] === '0') {
    base = 8;
  }
  const big = BigInt(base);
  let acc = 0n;
  let any = false;
  let overflow = false;
  for (; ; i++) {
    const d = digitValue(s[i]);
    if (d >= base) break;
    any = true;
    if (!overflow) {
      acc = acc * big + BigInt(d);
      if (acc > UINT64_MAX) overflow = true;
    }
  }
  if (!any) return { value: 0n, end: 0, overflow: false, negative, magnitude: 0n };
  const magnitude = overflow ? UINT64_MAX : acc;
  let value = magnitude;
  if (!overflow && negative) value = (TWO_64 - acc) % TWO_64;
  return { value, end: i, overflow, negative, magnitude };
}

/** The sign and magnitude expand_number(3) reads, before it applies the sign. */
function expandImpl(buf: string): { negative: boolean; magnitude: bigint } {
  let i = 0;
  while (isCSpace(buf[i])) i++;
  let negative = false;
  if (buf[i] === '-') {
    negative = true;
    i++;
  } else if (buf[i] === '+') {
    i++;
  }
  // A digit must come next, or strtoumax() would accept more white space and a second sign.
  if (!isDigit(buf[i])) throw new NumberFormatError('EINVAL', buf);
  const r = strtoul0(buf.slice(i));
  if (r.overflow) throw new NumberFormatError('ERANGE', buf);
  let end = i + r.end;
  let shift = 0n;
  switch (buf[end]?.toLowerCase()) {
    case 'e': shift = 60n; break;
    case 'p': shift = 50n; break;
    case 't': shift = 40n; break;
    case 'g': shift = 30n; break;
    case 'm': shift = 20n; break;
    case 'k': shift = 10n; break;
    default: shift = 0n;
  }
  if (shift !== 0n) end++;
  // A trailing 'b' is a no-op suffix, alone ("1b") or after a unit prefix ("1KB").
  if (buf[end] === 'b' || buf[end] === 'B') end++;
  if (end !== buf.length) throw new NumberFormatError('EINVAL', buf);
  const shifted = (r.magnitude << shift) & UINT64_MAX;
  if (shifted >> shift !== r.magnitude) throw new NumberFormatError('ERANGE', buf);
  return { negative, magnitude: shifted };
}

/** expand_number(3) with an int64_t destination. */
export function expandNumber(buf: string): bigint {
  const { negative, magnitude } = expandImpl(buf);
  if (negative) {
    if (magnitude > INT64_MAX + 1n) throw new NumberFormatError('ERANGE', buf);
    return -magnitude;
  }
  if (magnitude > INT64_MAX) throw new NumberFormatError('ERANGE', buf);
  return magnitude;
}

/** expand_unsigned(3): expand_number(3) with a uint64_t (or LP64 size_t) destination. */
export function expandUnsigned(buf: string): bigint {
  const { negative, magnitude } = expandImpl(buf);
  if (negative && magnitude > 0n) throw new NumberFormatError('ERANGE', buf);
  return magnitude;
}

/**
 * vm_parse_memsize() from libvmmapi: bhyve's `-m` argument to a byte count (a size_t, so any
 * uint64 value, including the wrapped results of "-1"; the caller range-checks it).
 */
export function parseMemSize(opt: string): bigint {
  const r = strtoul0(opt);
  if (opt !== '' && r.end === opt.length) {
    // A bare number below 1 MiB is a count of MiB; larger bare numbers are bytes.
    return r.value < BigInt(MiB) ? r.value * BigInt(MiB) : r.value;
  }
  return expandUnsigned(opt);
}

/**
 * strtol(value, &end, 0) checked as bhyve's parse_int_value() checks it: the whole string must
 * be one number (leading white space and a sign allowed) within [min, max]. Returns null if not.
 */
export function parseCIntInRange(value: string, min: number, max: number): number | null {
  const r = strtoul0(value);
  if (r.end === 0 || r.end !== value.length || r.overflow) return null;
  // strtol() range: LONG_MIN..LONG_MAX on LP64.
  if (r.negative ? r.magnitude > INT64_MAX + 1n : r.magnitude > INT64_MAX) return null;
  const v = r.negative ? -r.magnitude : r.magnitude;
  if (v < BigInt(min) || v > BigInt(max)) return null;
  return Number(v);
}

/**
 * hvsim's own count syntax (used by --max-insns): decimal digits with an optional multiplier
 * suffix k/K (×1000), M (×1000²) or G (×1000³). SI powers of 1000 — unlike expand_number's powers
 * of 1024 — because these count events, not bytes. Lower-case m and g are accepted too (no count
 * is ever in milli- units). No sign, no white space, no exponent ("1e9"), no fraction.
 * Returns null on a syntax error; the value is exact as a bigint.
 */
export function parseDecimalCount(text: string): bigint | null {
  const m = /^([0-9]+)([kKmMgG]?)$/.exec(text);
  if (m === null) return null;
  const mult = { '': 1n, k: 1000n, m: 1_000_000n, g: 1_000_000_000n }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return BigInt(m[1]) * mult;
}

/** A byte count for messages: "256 MiB", "3.5 GiB", "4 KiB", "1000 bytes". */
export function formatBytes(n: number | bigint): string {
  const b = BigInt(n);
  const units: Array<[bigint, string]> = [
    [1n << 60n, 'EiB'],
    [1n << 50n, 'PiB'],
    [1n << 40n, 'TiB'],
    [1n << 30n, 'GiB'],
    [1n << 20n, 'MiB'],
    [1n << 10n, 'KiB'],
  ];
  for (const [size, name] of units) {
    if (b >= size) {
      if (b % size === 0n) return `${b / size} ${name}`;
      if ((b * 2n) % size === 0n) return `${b / size}.5 ${name}`;
    }
  }
  return `${b} bytes`;
}
