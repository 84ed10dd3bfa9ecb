import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ByteReader,
  ByteWriter,
  decodeEvent,
  decodeEvents,
  encodeEvent,
  encodeEvents,
  INTERRUPT_SOURCES,
  MAX_ICOUNT,
  StampState,
  u64,
  u64ToBigInt,
  type TraceEvent,
} from '../../src/trace/encoding.js';
import { TraceFormatError } from '../../src/trace/errors.js';
import { bodyArb, eventsArb } from './arbitraries.js';

const h = (n: number, len = 32) => Uint8Array.from({ length: len }, (_, i) => (i * 7 + n) & 0xff);

/** One example of every event kind (and both DMA variants), with edge values. */
const examples: TraceEvent[] = [
  { vcpu: 0, icount: 0, kind: 'io', port: 0x3f8, size: 1, write: true, value: 0x41 },
  { vcpu: 0, icount: 10, kind: 'io', port: 0xffff, size: 4, write: false, value: 0xffffffff },
  { vcpu: 0, icount: 10, kind: 'io', port: 0, size: 2, write: false, value: 0 },
  { vcpu: 1, icount: 5, kind: 'mmio', gpa: 0xfee000b0, size: 4, write: true, value: 0 },
  { vcpu: 1, icount: 6, kind: 'mmio', gpa: Number.MAX_SAFE_INTEGER, size: 8, write: false, value: Number.MAX_SAFE_INTEGER },
  { vcpu: 0, icount: 11, kind: 'cpuid', leaf: 0x40000000, subleaf: 0xffffffff, result: [0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d] },
  { vcpu: 0, icount: 12, kind: 'rdmsr', msr: 0xc0000080, value: [0x500, 0], gp: false },
  { vcpu: 0, icount: 13, kind: 'wrmsr', msr: 0xffffffff, value: [0xffffffff, 0xffffffff], gp: true },
  { vcpu: 0, icount: 14, kind: 'hypercall', insn: 'vmcall', args: [[1, 0], [0xffffffff, 0x80000000], [0, 1]], result: [0xffffffda, 0xffffffff] },
  { vcpu: 0, icount: 15, kind: 'hypercall', insn: 'vmmcall', args: [], result: [0, 0] },
  { vcpu: 0, icount: 16, kind: 'hlt' },
  { vcpu: 0, icount: 17, kind: 'pause' },
  { vcpu: 0, icount: 18, kind: 'reset' },
  { vcpu: 0, icount: 19, kind: 'poweroff' },
  { vcpu: 0, icount: 20, kind: 'shutdown', reason: 'triple-fault' },
  { vcpu: 0, icount: 21, kind: 'debug-exit', code: 0x31 },
  ...INTERRUPT_SOURCES.map((source, i): TraceEvent => ({ vcpu: 2, icount: 100 + i, kind: 'interrupt', vector: 0x20 + i * 30, source })),
  { vcpu: 0, icount: 22, kind: 'dma', device: 'virtio-blk0', gpa: 0x100000, length: 4, toGuest: true, data: Uint8Array.of(1, 2, 3, 4) },
  { vcpu: 0, icount: 23, kind: 'dma', device: 'e1000', gpa: 0x200000, length: 1 << 30, toGuest: false, digest: h(3) },
  { vcpu: 0, icount: 24, kind: 'host-input', device: 'com1', data: new TextEncoder().encode('ls -l\n') },
  { vcpu: 0, icount: 25, kind: 'host-input', device: 'ünïcødé', data: new Uint8Array(0) },
  { vcpu: 1, icount: 26, kind: 'host-output', device: 'virtio-net@0:3.0', data: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x08, 0x06]) },
  { vcpu: 0, icount: 26, kind: 'digest', hash: h(1), parts: [{ name: 'regs', hash: h(2) }, { name: 'mem', hash: h(4) }] },
  { vcpu: 0, icount: 27, kind: 'digest', hash: h(9, 8), parts: [] },
  { vcpu: 7, icount: MAX_ICOUNT, kind: 'hlt' },
  { vcpu: 6, icount: 1, kind: 'hlt' },
  { vcpu: 65535, icount: 123456789012, kind: 'hlt' },
  { vcpu: 7, icount: 0, kind: 'hlt' }, // icount going backwards: a negative delta
  { vcpu: 0, icount: 28, kind: 'end', reason: 'debug-exit', exitStatus: 99, digest: h(5) },
  { vcpu: 0, icount: 28, kind: 'end', reason: '', exitStatus: -(2 ** 31) + 1, digest: new Uint8Array(0) },
];

describe('trace event encoding', () => {
  it('round-trips one example of every kind, alone and in sequence', () => {
    const kinds = new Set(examples.map((e) => e.kind));
    expect(kinds.size).toBe(18);
    for (const e of examples) {
      expect(decodeEvents(encodeEvents([e]))).toEqual([e]);
    }
    expect(decodeEvents(encodeEvents(examples))).toEqual(examples);
  });

  it('is compact: a typical io exit takes a few bytes', () => {
    const st = new StampState();
    const w = new ByteWriter();
    encodeEvent(w, st, { vcpu: 0, icount: 1000, kind: 'io', port: 0x3f8, size: 1, write: true, value: 0x41 });
    const first = w.pos;
    encodeEvent(w, st, { vcpu: 0, icount: 1200, kind: 'io', port: 0x3f8, size: 1, write: true, value: 0x42 });
    expect(first).toBe(7); // tag, delta(2), flags, port(2), value
    expect(w.pos - first).toBe(7);
  });

  it('encodes varints at their edges', () => {
    for (const v of [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 49, Number.MAX_SAFE_INTEGER]) {
      const w = new ByteWriter(1);
      w.varint(v);
      expect(new ByteReader(w.bytes()).varint()).toBe(v);
    }
    for (const v of [0, 1, -1, 2 ** 40, -(2 ** 40), MAX_ICOUNT, -MAX_ICOUNT]) {
      const w = new ByteWriter(1);
      w.svarint(v);
      expect(new ByteReader(w.bytes()).svarint()).toBe(v);
    }
    for (const v of [[0, 0], [0x7f, 0], [0x80, 0], [0xffffffff, 0], [0, 1], [0, 0x80000000], [0xffffffff, 0xffffffff], [0x12345678, 0x9abcdef0]] as const) {
      const w = new ByteWriter(1);
      w.u64(v[0], v[1]);
      expect(w.pos).toBeLessThanOrEqual(10);
      expect(new ByteReader(w.bytes()).u64()).toEqual([v[0], v[1]]);
    }
    expect(u64ToBigInt(u64(2 ** 52 + 5))).toBe(2n ** 52n + 5n);
  });

  it('property: decode(encode(events)) = events, and re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(eventsArb, (events) => {
        const bytes = encodeEvents(events);
        const back = decodeEvents(bytes);
        expect(back).toEqual(events);
        expect(encodeEvents(back)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('property: every strict prefix of an event is a TraceFormatError "truncated", never a RangeError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1e9 }), bodyArb, (vcpu, icount, body) => {
        const bytes = encodeEvents([{ vcpu, icount, ...body } as TraceEvent]);
        for (let n = 0; n < bytes.length; n++) {
          let err: unknown;
          try {
            decodeEvent(new ByteReader(bytes.subarray(0, n)), new StampState());
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(TraceFormatError);
          expect((err as TraceFormatError).code).toBe('truncated');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: arbitrary bytes decode or throw TraceFormatError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeEvents(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(TraceFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects corrupt bytes with clear messages', () => {
    const bad = (bytes: number[], re: RegExp) => {
      expect(() => decodeEvents(Uint8Array.from(bytes), undefined, 'frame 3')).toThrowError(re);
    };
    bad([0x00], /frame 3: corrupt: expected an event, found tag 0/);
    bad([0x1d, 0], /expected an event, found tag 29/);
    bad([0x01, 0x00, 0x07, 0x00, 0x00], /io size code 7/);
    bad([0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /varint longer than 8 bytes/);
    bad([0x0d, 0x00, 0x20, 0x09], /interrupt source 9/);
    bad([0x09, 0x00, 0x02, 0xff, 0xfe], /not UTF-8/);
    bad([0x07, 0x01], /icount of vCPU 0 would be -1/);
  });

  it('rejects events the format cannot represent with a TypeError and leaves the writer unchanged', () => {
    const w = new ByteWriter();
    const st = new StampState();
    const bad = (e: unknown, re: RegExp) => {
      expect(() => encodeEvent(w, st, e as TraceEvent)).toThrowError(re);
      expect(w.pos).toBe(0);
      expect(st.last).toEqual([]);
    };
    bad({ vcpu: 0, icount: 0, kind: 'io', port: 0x10000, size: 1, write: false, value: 0 }, /port 65536/);
    bad({ vcpu: 0, icount: 0, kind: 'io', port: 1, size: 8, write: false, value: 0 }, /size 8/);
    bad({ vcpu: 0, icount: -1, kind: 'hlt' }, /icount -1/);
    bad({ vcpu: 0, icount: 2 ** 52, kind: 'hlt' }, /icount/);
    bad({ vcpu: 1.5, icount: 0, kind: 'hlt' }, /vcpu 1.5/);
    bad({ vcpu: 0, icount: 0, kind: 'rdmsr', msr: 1, value: [2 ** 32, 0], gp: false }, /lo, hi/);
    bad({ vcpu: 0, icount: 0, kind: 'interrupt', vector: 1, source: 'apic' }, /source apic/);
    bad({ vcpu: 0, icount: 0, kind: 'dma', device: 'd', gpa: 0, length: 3, toGuest: true, data: new Uint8Array(2) }, /length is 3/);
    bad({ vcpu: 0, icount: 0, kind: 'host-input', device: 'd', data: new Uint8Array((1 << 20) + 1) }, /record a digest/);
    bad({ vcpu: 0, icount: 0, kind: 'nope' }, /unknown kind/);
  });
});
