// Hostile guest input: no offset, size, value or MSR makes the LAPIC throw, and a property over
// random operation sequences keeps the priority invariants of Intel SDM vol. 3A 11.8.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeApic } from './test-harness.js';

describe('LAPIC: hostile input', () => {
  it('every MMIO offset and size, in every mode, with odd values', () => {
    const h = makeApic();
    const values = [0, 0xffffffff, 0x80000000, -1, 1.5, NaN, 2 ** 40];
    for (const mode of [0xfee00900, 0xfee00d00, 0xfee00100]) {
      h.apic.wrmsr(0x1b, mode, 0);
      for (let off = -8; off < 0x1010; off += 1) {
        for (const size of [1, 2, 4, 8, 3, 0]) {
          expect(() => h.apic.mmioRead(off, size)).not.toThrow();
          const r = h.apic.mmioRead(off, size);
          expect(Number.isInteger(r) && r >= 0 && r <= 0xffffffff).toBe(true);
        }
        if ((off & 0xf) === 0) for (const v of values) h.apic.mmioWrite(off, 4, v);
        h.apic.mmioWrite(off, 1, 0xff);
      }
      h.clock.advanceBy(1_000_000);
    }
  });

  it('a narrow read returns the bytes of the register it falls in', () => {
    const { apic } = makeApic();
    expect(apic.mmioRead(0x30, 1)).toBe(0x14);
    expect(apic.mmioRead(0x32, 1)).toBe(0x05);
    expect(apic.mmioRead(0x32, 2)).toBe(0x0005);
    expect(apic.mmioRead(0x34, 4)).toBe(0);
  });

  it('unaligned and narrow writes have no effect', () => {
    const { apic, rd } = makeApic();
    apic.mmioWrite(0x81, 4, 0x50);
    apic.mmioWrite(0x80, 1, 0x50);
    apic.mmioWrite(0x80, 2, 0x50);
    expect(rd(0x80)).toBe(0);
  });

  it('every MSR of the x2APIC range with hostile values, and loadState of garbage fails cleanly', () => {
    const h = makeApic();
    h.apic.wrmsr(0x1b, 0xfee00d00, 0);
    for (let msr = 0x7f0; msr < 0x910; msr++) {
      for (const [lo, hi] of [[0, 0], [-1, -1], [0xff, 0], [0x4500, 0xffffffff]]) {
        expect(() => h.apic.wrmsr(msr, lo, hi)).not.toThrow();
      }
      expect(() => h.rdmsr(msr)).not.toThrow();
    }
    expect(() => h.apic.wrmsr(0x6e0, -1, -1)).not.toThrow();
    expect(() => h.apic.loadState({})).toThrow(TypeError);
  });

  it('random register writes, bus messages, INTA and EOI keep the PPR/ISR invariants', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('w' as const), off: fc.integer({ min: 0, max: 0x3ff }), v: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ k: fc.constant('irq' as const), v: fc.integer({ min: 0, max: 255 }), level: fc.boolean() }),
      fc.record({ k: fc.constant('ack' as const) }),
      fc.record({ k: fc.constant('eoi' as const) }),
      fc.record({ k: fc.constant('tpr' as const), v: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ k: fc.constant('time' as const), v: fc.integer({ min: 0, max: 100_000 }) }),
      fc.record({ k: fc.constant('msr' as const), msr: fc.integer({ min: 0x800, max: 0x83f }), v: fc.integer({ min: 0, max: 0xffffffff }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const h = makeApic();
        for (const o of ops) {
          switch (o.k) {
            case 'w':
              h.wr(o.off & ~0xf, o.v);
              break;
            case 'irq':
              h.fixed(o.v, o.level);
              break;
            case 'ack': {
              const had = h.apic.hasInterrupt();
              const ppr = h.rd(0xa0);
              const v = h.apic.acknowledge();
              // 11.8.4: only a vector of a class above the PPR is dispatched; ISR gets it.
              if (had && !h.apic.lastAckWasExtInt) {
                expect(v & 0xf0).toBeGreaterThan(ppr & 0xf0);
                expect((h.rd(0x100 + (v >> 5) * 16) >>> (v & 31)) & 1).toBe(1);
              }
              break;
            }
            case 'eoi':
              h.wr(0xb0, 0);
              break;
            case 'tpr':
              h.wr(0x80, o.v);
              break;
            case 'time':
              h.clock.advanceBy(o.v);
              break;
            case 'msr':
              h.apic.wrmsr(o.msr, o.v, 0);
              break;
          }
          // PPR (11.8.3.1): the TPR or the highest in-service class, whichever is higher.
          const tpr = h.rd(0x80);
          const ppr = h.rd(0xa0);
          let isrv = 0;
          for (let i = 7; i >= 0 && !isrv; i--) {
            const w = h.rd(0x100 + i * 16);
            if (w) isrv = i * 32 + 31 - Math.clz32(w);
          }
          expect(ppr).toBe((tpr & 0xf0) >= (isrv & 0xf0) ? tpr : isrv & 0xf0);
          // Vectors 0-15 never enter the IRR or ISR.
          expect(h.rd(0x100) & 0xffff).toBe(0);
          expect(h.rd(0x200) & 0xffff).toBe(0);
        }
      }),
      { numRuns: 300, seed: 6 },
    );
  });
});
