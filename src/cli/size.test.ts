import { describe, expect, it } from 'vitest';
import {
  INT64_MAX,
  NumberFormatError,
  UINT64_MAX,
  expandNumber,
  expandUnsigned,
  formatBytes,
  parseCIntInRange,
  parseDecimalCount,
  parseMemSize,
  strtoul0,
} from './size.js';

const K = 1n << 10n;
const M = 1n << 20n;
const G = 1n << 30n;
const T = 1n << 40n;
const P = 1n << 50n;
const E = 1n << 60n;
const INT64_MIN = -(1n << 63n);

function errnoOf(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof NumberFormatError) return e.errno;
    throw e;
  }
}

// The cases of FreeBSD's lib/libutil/tests/expand_number_test.c (2025), which pins down
// expand_number(3)'s behaviour: suffixes in both cases, the optional trailing 'b', signs,
// white space, the int64 limits per unit, and what is EINVAL versus ERANGE.
describe('expandNumber (expand_number(3), int64_t destination)', () => {
  const ok: Array<[string, bigint]> = [
    // bare numbers, signs, leading white space
    ['-0', 0n], [' 0', 0n], ['+0', 0n],
    ['-1', -1n], [' 1', 1n], ['+1', 1n],
    ['-10', -10n], [' 10', 10n], ['+10', 10n],
    // upper-case units
    ['1B', 1n], ['1K', K], ['1M', M], ['1G', G], ['1T', T], ['1P', P], ['1E', E],
    // lower-case units
    ['2b', 2n], ['2k', 2n * K], ['2m', 2n * M], ['2g', 2n * G], ['2t', 2n * T], ['2p', 2n * P], ['2e', 2n * E],
    // unit followed by 'B'
    ['3KB', 3n * K], ['3MB', 3n * M], ['3GB', 3n * G], ['3TB', 3n * T], ['3PB', 3n * P], ['3EB', 3n * E],
    // negative
    ['-1B', -1n], ['-1K', -K], ['-1M', -M], ['-1G', -G], ['-1T', -T], ['-1P', -P], ['-1E', -E],
    ['-2b', -2n], ['-2k', -2n * K], ['-2m', -2n * M], ['-2g', -2n * G], ['-2t', -2n * T], ['-2p', -2n * P], ['-2e', -2n * E],
    ['-3KB', -3n * K], ['-3MB', -3n * M], ['-3GB', -3n * G], ['-3TB', -3n * T], ['-3PB', -3n * P], ['-3EB', -3n * E],
    // the largest value for each unit
    ['7E', 7n * E], ['8191P', 8191n * P], ['8388607T', 8388607n * T], ['8589934591G', 8589934591n * G],
    ['8796093022207M', 8796093022207n * M], ['9007199254740991K', 9007199254740991n * K],
    ['9223372036854775807', INT64_MAX],
    // the smallest
    ['-7E', -7n * E], ['-8191P', -8191n * P], ['-8388607T', -8388607n * T], ['-8589934591G', -8589934591n * G],
    ['-8796093022207M', -8796093022207n * M], ['-9007199254740991K', -9007199254740991n * K],
    ['-9223372036854775808', INT64_MIN],
    // strtoumax() base 0 after the digit check: hex, octal, binary (FreeBSD 15 libc)
    ['0x10', 16n], ['0x10M', 16n * M], ['010', 8n], ['0b101', 5n], ['0b', 0n], ['0', 0n],
  ];
  it.each(ok)('%j → %s', (input, want) => {
    expect(expandNumber(input)).toBe(want);
  });

  const bad: Array<[string, 'EINVAL' | 'ERANGE']> = [
    // no digits
    ['', 'EINVAL'], ['b', 'EINVAL'], ['k', 'EINVAL'], ['m', 'EINVAL'], ['g', 'EINVAL'], ['t', 'EINVAL'],
    ['p', 'EINVAL'], ['e', 'EINVAL'], ['-', 'EINVAL'], ['-b', 'EINVAL'], ['-k', 'EINVAL'], ['-m', 'EINVAL'],
    ['-g', 'EINVAL'], ['-t', 'EINVAL'], ['-p', 'EINVAL'], ['-e', 'EINVAL'], ['not_a_number', 'EINVAL'],
    // invalid units
    ...'acdfhijlnoqrsuvwxyz'.split('').map((u): [string, 'EINVAL'] => [`1${u}`, 'EINVAL']),
    // trailing garbage
    ['1K foo', 'EINVAL'], ['1Mfoo', 'EINVAL'], ['1KBB', 'EINVAL'], ['1BK', 'EINVAL'], ['1 ', 'EINVAL'],
    // overflow per unit
    ['8E', 'ERANGE'], ['8192P', 'ERANGE'], ['8388608T', 'ERANGE'], ['8589934592G', 'ERANGE'],
    ['8796093022208M', 'ERANGE'], ['9007199254740992K', 'ERANGE'], ['9223372036854775808', 'ERANGE'],
    ['18446744073709551616', 'ERANGE'],
    // multiple signs, white space after the sign
    ['--1', 'EINVAL'], ['-+1', 'EINVAL'], ['+-1', 'EINVAL'], ['++1', 'EINVAL'], [' - 1', 'EINVAL'], [' + 1', 'EINVAL'],
    // no fractions, no exponents
    ['1.5G', 'EINVAL'], ['0x', 'EINVAL'], ['08', 'EINVAL'],
  ];
  it.each(bad)('%j → %s', (input, errno) => {
    expect(errnoOf(() => expandNumber(input))).toBe(errno);
  });
});

describe('expandUnsigned (expand_number(3) with a uint64_t / size_t destination)', () => {
  const cases: Array<[string, bigint | 'ERANGE']> = [
    ['0', 0n], ['+0', 0n], ['-0', 0n], ['1', 1n], ['+1', 1n], ['-1', 'ERANGE'],
    ['18446744073709551615', UINT64_MAX], ['+18446744073709551615', UINT64_MAX], ['-18446744073709551615', 'ERANGE'],
    ['8E', 8n * E], ['15E', 15n * E], ['16E', 'ERANGE'], ['-0K', 0n], ['-1K', 'ERANGE'],
  ];
  it.each(cases)('%j → %s', (input, want) => {
    if (want === 'ERANGE') expect(errnoOf(() => expandUnsigned(input))).toBe('ERANGE');
    else expect(expandUnsigned(input)).toBe(want);
  });
});

describe('strtoul0 (strtoul(3) base 0, LP64)', () => {
  const cases: Array<[string, bigint, number, boolean?]> = [
    ['123', 123n, 3],
    ['  \t42', 42n, 5],
    ['+7', 7n, 2],
    ['-1', UINT64_MAX, 2], // negated modulo 2^64
    ['-0', 0n, 2],
    ['0x1F', 31n, 4],
    ['0X1f', 31n, 4],
    ['0x', 0n, 1], // "0x" without a hex digit: the 0 is octal, "x" is left
    ['0xg', 0n, 1],
    ['017', 15n, 3],
    ['09', 0n, 1],
    ['0b11', 3n, 4],
    ['0b2', 0n, 1],
    ['12abc', 12n, 2],
    ['abc', 0n, 0],
    ['', 0n, 0],
    ['- 1', 0n, 0],
    ['18446744073709551615', UINT64_MAX, 20],
    ['18446744073709551616', UINT64_MAX, 20, true],
    ['-99999999999999999999', UINT64_MAX, 21, true], // overflow: ULONG_MAX, sign not applied
  ];
  it.each(cases)('%j → %s, end %i', (input, value, end, overflow = false) => {
    const r = strtoul0(input);
    expect(r.value).toBe(value);
    expect(r.end).toBe(end);
    expect(r.overflow).toBe(overflow);
  });
});

describe('parseMemSize (libvmmapi vm_parse_memsize(), what bhyve -m accepts)', () => {
  const cases: Array<[string, bigint | 'EINVAL' | 'ERANGE', string]> = [
    // bhyve.8 EXAMPLES
    ['1G', G, 'bhyve -c 2 ... -m 1G vm1'],
    ['24G', 24n * G, 'bhyve ... -m 24G bigvm'],
    ['8G', 8n * G, 'bhyve -c 4 ... -m 8G'],
    ['4G', 4n * G, 'bhyve -c 2 -m 4G ... uefivm'],
    ['4g', 4n * G, 'bhyve -c 2 -m 4g ... uefivm (VARS example)'],
    ['256', 256n * M, 'bhyve -c 2 -m 256 ... vm0 (config.dump example): no suffix means MiB'],
    ['256M', 256n * M, 'bhyve_init_config(): the default memory.size'],
    // bhyve.8 -m: K, M, G or T, either case
    ['262144K', 256n * M, 'K'], ['262144k', 256n * M, 'k'], ['512m', 512n * M, 'm'], ['1t', T, 't'], ['1T', T, 'T'],
    // vm_parse_memsize(): bare numbers below 1 MiB are MiB, the rest bytes
    ['1', M, 'bare 1 = 1 MiB'],
    ['1048575', 1048575n * M, 'largest bare MiB count'],
    ['1048576', M, 'first bare byte count'],
    ['268435456', 256n * M, 'bare bytes'],
    ['0x100', 256n * M, 'hex bare number below 1 MiB is MiB too'],
    ['0x10000000', 256n * M, 'hex bytes'],
    ['0400', 256n * M, 'octal bare number'],
    ['0b1', M, 'binary bare number (C23 prefix)'],
    [' 256', 256n * M, 'strtoul() skips leading white space'],
    ['+256', 256n * M, 'strtoul() takes a sign'],
    ['-1', UINT64_MAX, 'strtoul() negates modulo 2^64: a huge byte count'],
    ['-0', 0n, '-0 is 0 MiB'],
    ['99999999999999999999', UINT64_MAX, 'strtoul() overflow is UINT64_MAX, errno unchecked'],
    // expand_number(3) path
    ['256MB', 256n * M, 'unit then B'],
    ['4096B', 4096n, 'B alone: bytes'],
    ['4096b', 4096n, 'b alone: bytes'],
    ['0x10M', 16n * M, 'hex with a unit'],
    [' 2G', 2n * G, 'white space before a suffixed number'],
    ['1E', E, 'exbibytes parse (the caller refuses them)'],
    ['15E', 15n * E, 'size_t holds up to 15E'],
    ['16E', 'ERANGE', 'beyond size_t'],
    ['-1G', 'ERANGE', 'negative with a unit: expand_unsigned() refuses'],
    ['12Q', 'EINVAL', 'unknown unit'],
    ['1.5G', 'EINVAL', 'no fractions'],
    ['1 G', 'EINVAL', 'no space before the unit'],
    ['1GiB', 'EINVAL', 'no IEC "iB"'],
    ['1Gfoo', 'EINVAL', 'trailing garbage (the 2025 expand_number refuses it)'],
    ['', 'EINVAL', 'empty'],
    ['G', 'EINVAL', 'no digits'],
    ['0x', 'EINVAL', '0x without digits'],
  ];
  it.each(cases)('%j → %s (%s)', (input, want) => {
    if (typeof want === 'string') expect(errnoOf(() => parseMemSize(input))).toBe(want);
    else expect(parseMemSize(input)).toBe(want);
  });
});

describe('parseCIntInRange (bhyve parse_int_value(): strtol base 0, whole string, range)', () => {
  const cases: Array<[string, number | null]> = [
    ['4', 4], ['0x10', 16], ['010', 8], ['0b11', 3], [' 2', 2], ['+2', 2],
    ['0', null], ['65536', null], ['65535', 65535], ['2 ', null], ['', null], ['x', null], ['08', null],
    ['-1', null], ['9223372036854775808', null], ['1.0', null],
  ];
  it.each(cases)('%j → %s', (input, want) => {
    expect(parseCIntInRange(input, 1, 65535)).toBe(want);
  });
});

describe('parseDecimalCount (--max-insns: SI multipliers of 1000)', () => {
  const cases: Array<[string, bigint | null]> = [
    ['1', 1n], ['1000', 1000n], ['5k', 5000n], ['5K', 5000n], ['2M', 2_000_000n], ['2m', 2_000_000n],
    ['3G', 3_000_000_000n], ['3g', 3_000_000_000n], ['0', 0n], ['007', 7n],
    ['1e9', null], ['1.5M', null], ['-1', null], ['+1', null], [' 1', null], ['1T', null], ['1KB', null],
    ['', null], ['k', null], ['0x10', null], ['1_000', null],
  ];
  it.each(cases)('%j → %s', (input, want) => {
    expect(parseDecimalCount(input)).toBe(want);
  });
});

describe('formatBytes', () => {
  it.each([
    [256 * 1024 * 1024, '256 MiB'],
    [0xe000_0000, '3.5 GiB'],
    [4096, '4 KiB'],
    [1025 * 1024, '1025 KiB'],
    [1000, '1000 bytes'],
    [1536, '1.5 KiB'],
  ])('%i → %s', (n, want) => {
    expect(formatBytes(n)).toBe(want);
  });
});
