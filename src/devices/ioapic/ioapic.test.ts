// IOAPIC checks against the Intel 82093AA datasheet (290566-001): sections cited per test.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ApicMessage } from '../../machine/irq.js';
import { Ioapic, IOAPIC_PIN_COUNT } from './ioapic.js';

function make(id = 4) {
  const sent: ApicMessage[] = [];
  const io = new Ioapic({ id, send: (m) => sent.push(m) });
  const rd = (index: number) => {
    io.mmioWrite(0x00, 4, index);
    return io.mmioRead(0x10, 4);
  };
  const wr = (index: number, v: number) => {
    io.mmioWrite(0x00, 4, index);
    io.mmioWrite(0x10, 4, v);
  };
  /** Program entry n: low dword then high dword. */
  const rte = (n: number, lo: number, hi = 0) => {
    wr(0x11 + 2 * n, hi);
    wr(0x10 + 2 * n, lo);
  };
  return { io, sent, rd, wr, rte };
}

const LEVEL = 1 << 15;
const MASK = 1 << 16;
const REMOTE_IRR = 1 << 14;
const LOGICAL = 1 << 11;

describe('IOAPIC registers (82093AA 3.0, 3.2)', () => {
  it('IOREGSEL reads back; IOAPICID, IOAPICVER, IOAPICARB', () => {
    const { io, rd, wr } = make(4);
    io.mmioWrite(0, 4, 0x13);
    expect(io.mmioRead(0, 4)).toBe(0x13);
    expect(rd(0x00)).toBe(0x04000000); // 3.2.1: ID in bits 27:24
    // 3.2.2: version in bits 7:0, maximum redirection entry (pins - 1) in bits 23:16
    expect(rd(0x01)).toBe(((IOAPIC_PIN_COUNT - 1) << 16) | 0x11);
    expect(rd(0x02)).toBe(0x04000000); // 3.2.3: arbitration ID
    wr(0x01, 0xffffffff); // read-only
    expect(rd(0x01)).toBe(0x001f0011);
    wr(0x02, 0); // read-only
    expect(rd(0x02)).toBe(0x04000000);
    wr(0x00, 0x0a00ffff); // reserved bits ignored; ARB reloads from the new ID (3.2.3)
    expect(rd(0x00)).toBe(0x0a000000);
    expect(rd(0x02)).toBe(0x0a000000);
  });

  it('redirection entries reset masked; RO and reserved bits ignore writes (3.2.4)', () => {
    const { rd, wr } = make();
    for (let n = 0; n < IOAPIC_PIN_COUNT; n++) {
      expect(rd(0x10 + 2 * n)).toBe(MASK);
      expect(rd(0x11 + 2 * n)).toBe(0);
    }
    wr(0x10, 0xffffffff);
    // bits 12 (delivery status) and 14 (Remote IRR) read-only, 17-31 reserved
    expect(rd(0x10)).toBe(0x1ffff & ~(1 << 12) & ~REMOTE_IRR);
    wr(0x11, 0xffffffff);
    expect(rd(0x11) >>> 0).toBe(0xff000000); // destination field 63:56 only
  });

  it('byte accesses see byte lanes; other offsets read 0 and ignore writes', () => {
    const { io, rd } = make();
    io.mmioWrite(0, 1, 0x10);
    io.mmioWrite(0x10, 1, 0x31); // vector byte of entry 0
    expect(rd(0x10)).toBe(MASK | 0x31);
    io.mmioWrite(0, 4, 0x10);
    expect(io.mmioRead(0x12, 1)).toBe(0x01); // bits 23:16 = mask
    expect(io.mmioRead(0x20, 4)).toBe(0);
    expect(io.mmioRead(0x40, 4)).toBe(0); // no EOI register in version 0x11
    io.mmioWrite(0x40, 4, 0x31);
  });

  it('unimplemented register indexes read 0', () => {
    const { rd, wr } = make();
    wr(0x03, 0x1234);
    expect(rd(0x03)).toBe(0);
    wr(0x10 + 2 * IOAPIC_PIN_COUNT, 0x1234);
    expect(rd(0x10 + 2 * IOAPIC_PIN_COUNT)).toBe(0);
  });
});

describe('IOAPIC delivery (82093AA 3.2.4)', () => {
  it('edge: a rising edge sends one fixed message with the entry fields', () => {
    const { io, sent, rte } = make();
    rte(2, 0x30, 0x03000000);
    io.setIrq(2, true);
    io.setIrq(2, true); // no new edge
    io.setIrq(2, false);
    io.setIrq(2, true);
    expect(sent).toEqual([
      { vector: 0x30, deliveryMode: 0, logical: false, dest: 3, levelTriggered: false, assert: true, shorthand: 0, source: -1 },
      { vector: 0x30, deliveryMode: 0, logical: false, dest: 3, levelTriggered: false, assert: true, shorthand: 0, source: -1 },
    ]);
  });

  it('message fields: lowest priority, logical destination, NMI, ExtINT', () => {
    const { io, sent, rte } = make();
    rte(3, 0x41 | (1 << 8) | LOGICAL, 0xf0000000);
    io.setIrq(3, true);
    expect(sent[0]).toMatchObject({ vector: 0x41, deliveryMode: 1, logical: true, dest: 0xf0 });
    rte(4, (4 << 8) | LEVEL, 0x01000000); // NMI: always edge (3.2.4 "NMI")
    io.setIrq(4, true);
    expect(sent[1]).toMatchObject({ deliveryMode: 4, dest: 1, levelTriggered: false });
    rte(0, 0x99 | (7 << 8)); // ExtINT: the 8259 supplies the vector
    io.setIrq(0, true);
    expect(sent[2]).toMatchObject({ deliveryMode: 7, vector: 0 });
    rte(5, 0x50 | (3 << 8)); // reserved delivery mode: nothing sent
    io.setIrq(5, true);
    expect(sent.length).toBe(3);
  });

  it('masked edge interrupts are lost (3.2.4 "Interrupt Mask")', () => {
    const { io, sent, rte } = make();
    rte(1, 0x31 | MASK);
    io.setIrq(1, true);
    io.setIrq(1, false);
    rte(1, 0x31);
    expect(sent.length).toBe(0);
    io.setIrq(1, true);
    expect(sent.length).toBe(1);
  });

  it('level: delivers once, sets Remote IRR until the EOI, re-delivers while asserted', () => {
    const { io, sent, rte, rd } = make();
    rte(20, 0x60 | LEVEL, 0x01000000);
    io.setIrq(20, true);
    expect(sent.length).toBe(1);
    expect(sent[0]).toMatchObject({ vector: 0x60, levelTriggered: true, dest: 1 });
    expect(rd(0x10 + 40) & REMOTE_IRR).toBe(REMOTE_IRR);
    io.setIrq(20, true);
    expect(sent.length).toBe(1); // Remote IRR blocks
    io.eoi(0x61); // other vector: no effect
    expect(rd(0x10 + 40) & REMOTE_IRR).toBe(REMOTE_IRR);
    io.eoi(0x60); // still asserted: delivered again
    expect(sent.length).toBe(2);
    expect(rd(0x10 + 40) & REMOTE_IRR).toBe(REMOTE_IRR);
    io.setIrq(20, false);
    io.eoi(0x60);
    expect(sent.length).toBe(2);
    expect(rd(0x10 + 40) & REMOTE_IRR).toBe(0);
  });

  it('masked level interrupts are delivered on unmask while asserted', () => {
    const { io, sent, rte } = make();
    rte(9, 0x29 | LEVEL | MASK);
    io.setIrq(9, true);
    expect(sent.length).toBe(0);
    rte(9, 0x29 | LEVEL);
    expect(sent.length).toBe(1);
    rte(10, 0x2a | LEVEL | MASK);
    io.setIrq(10, true);
    io.setIrq(10, false);
    rte(10, 0x2a | LEVEL); // no longer asserted
    expect(sent.length).toBe(1);
  });

  it('switching an entry to edge clears Remote IRR (and rewriting as level redelivers)', () => {
    const { io, sent, rte, rd } = make();
    rte(16, 0x70 | LEVEL);
    io.setIrq(16, true);
    rte(16, 0x70 | MASK);
    expect(rd(0x10 + 32) & REMOTE_IRR).toBe(0);
    rte(16, 0x70 | LEVEL);
    expect(sent.length).toBe(2);
  });

  it('the polarity bit does not invert the logical input level', () => {
    const { io, sent, rte, rd } = make();
    rte(9, 0x29 | LEVEL | (1 << 13));
    expect(rd(0x10 + 18) & (1 << 13)).toBe(1 << 13);
    io.setIrq(9, true);
    expect(sent.length).toBe(1);
  });
});

describe('IOAPIC state and hostile input', () => {
  it('saveState/loadState round-trips and reset masks everything', () => {
    const a = make();
    a.rte(7, 0x37 | LEVEL, 0x02000000);
    a.io.setIrq(7, true);
    const s = JSON.parse(JSON.stringify(a.io.saveState()));
    const b = make();
    b.io.loadState(s);
    expect(b.io.saveState()).toEqual(a.io.saveState());
    b.io.eoi(0x37);
    expect(b.sent.length).toBe(1); // still asserted after restore
    b.io.reset();
    expect(b.rd(0x10 + 14)).toBe(MASK);
    expect(() => b.io.loadState({})).toThrow(TypeError);
  });

  it('never throws on any offset, size, value, pin or vector', () => {
    const { io, sent } = make();
    const num = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constantFrom(NaN, Infinity, -1, 0.5, 2 ** 53));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(4), num, num, num), { maxLength: 60 }), (ops) => {
        for (const [op, a, b, c] of ops) {
          if (op === 0) io.mmioWrite(a & 0xfff, b & 15, c);
          else if (op === 1) expect(Number.isInteger(io.mmioRead(a & 0xfff, b & 15))).toBe(true);
          else if (op === 2) io.setIrq(a, (b & 1) === 1);
          else if (op === 3) io.eoi(a);
          else io.mmioWrite(0x10, 4, c);
        }
        for (const m of sent) expect(m.vector >= 0 && m.vector <= 255 && m.dest >= 0 && m.dest <= 255).toBe(true);
      }),
    );
  });
});
