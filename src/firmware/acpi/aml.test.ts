// The AML encoder against ACPI 6.5 chapter 20's grammar, decoded by hand here.

import { describe, expect, it } from 'vitest';
import * as aml from './aml.js';

/** PkgLength decoder (20.2.4): bits 7:6 of the lead byte count the following bytes. */
function decodePkgLength(b: number[]): { value: number; size: number } {
  const follow = b[0] >> 6;
  if (follow === 0) return { value: b[0] & 0x3f, size: 1 };
  let value = b[0] & 0x0f;
  for (let i = 0; i < follow; i++) value |= b[1 + i] << (4 + 8 * i);
  return { value, size: 1 + follow };
}

describe('PkgLength (20.2.4)', () => {
  it('counts its own bytes and uses the fewest bytes that fit', () => {
    for (const content of [0, 1, 61, 62, 63, 64, 300, 4093, 4094, 5000, 0xffff0, 0xffffc, 0x100000]) {
      const enc = aml.pkgLength(content);
      const { value, size } = decodePkgLength(enc);
      expect(size).toBe(enc.length);
      expect(value).toBe(content + size);
      const minimal = value <= 0x3f ? 1 : value < 1 << 12 ? 2 : value < 1 << 20 ? 3 : 4;
      expect(size).toBe(minimal);
      if (size > 1) expect(enc[0] & 0x30).toBe(0); // bits 5:4 reserved when more bytes follow
    }
  });
  it('spec boundary values: 63 total in one byte, 64 needs two', () => {
    expect(aml.pkgLength(62)).toEqual([0x3f]);
    expect(aml.pkgLength(63)).toEqual([0x41, 0x04]); // 65 = 0x041
  });
});

describe('data objects (20.2.3)', () => {
  it('integers use ZeroOp, OneOp and the shortest prefix', () => {
    expect(aml.integer(0)).toEqual([0x00]);
    expect(aml.integer(1)).toEqual([0x01]);
    expect(aml.integer(2)).toEqual([0x0a, 2]);
    expect(aml.integer(0x100)).toEqual([0x0b, 0x00, 0x01]);
    expect(aml.integer(0x10000)).toEqual([0x0c, 0x00, 0x00, 0x01, 0x00]);
    expect(aml.integer(0x1_0000_0000)).toEqual([0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(() => aml.integer(-1)).toThrow();
  });
  it('strings are NUL-terminated ASCII after StringPrefix', () => {
    expect(aml.string('AB')).toEqual([0x0d, 0x41, 0x42, 0x00]);
    expect(() => aml.string('é')).toThrow();
  });
  it('EISAID compresses to the values the ACPI spec and every DSDT use', () => {
    expect(aml.eisaIdValue('PNP0A03')).toBe(0x030ad041);
    expect(aml.eisaIdValue('PNP0C09')).toBe(0x090cd041); // ACPI 6.5 19.6.35 example
    expect(aml.eisaIdValue('PNP0501')).toBe(0x0105d041);
  });
});

describe('names (20.2.2)', () => {
  it('pads segments, handles root, parent, dual and multi-segment paths', () => {
    expect(aml.nameString('_S5')).toEqual([0x5f, 0x53, 0x35, 0x5f]);
    expect(aml.nameString('\\PICF')).toEqual([0x5c, 0x50, 0x49, 0x43, 0x46]);
    expect(aml.nameString('^A')).toEqual([0x5e, 0x41, 0x5f, 0x5f, 0x5f]);
    expect(aml.nameString('\\_SB.PCI0')).toEqual([0x5c, 0x2e, ...'_SB_PCI0'.split('').map((c) => c.charCodeAt(0))]);
    expect(aml.nameString('A.B.C').slice(0, 2)).toEqual([0x2f, 3]);
    expect(() => aml.nameString('1ABC')).toThrow();
    expect(() => aml.nameString('TOOLONG')).toThrow();
  });
});

describe('named objects (20.2.5)', () => {
  it('Device is ExtOpPrefix 0x82, PkgLength, name, terms', () => {
    const dev = aml.device('ABC', [aml.name('_UID', aml.integer(0))]);
    expect(dev.slice(0, 2)).toEqual([0x5b, 0x82]);
    const { value, size } = decodePkgLength(dev.slice(2));
    expect(2 + value).toBe(dev.length); // PkgLength covers everything after the opcode
    expect(dev.slice(2 + size, 2 + size + 4)).toEqual([0x41, 0x42, 0x43, 0x5f]);
  });
  it('Package carries NumElements after its PkgLength', () => {
    const p = aml.pkg([aml.integer(5), aml.integer(0)]);
    expect(p).toEqual([0x12, 0x05, 0x02, 0x0a, 0x05, 0x00]);
  });
  it('Buffer carries its size as an integer then the bytes', () => {
    expect(aml.buffer([0x79, 0x00])).toEqual([0x11, 0x05, 0x0a, 0x02, 0x79, 0x00]);
  });
});
