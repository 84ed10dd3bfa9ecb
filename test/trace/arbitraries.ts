// fast-check arbitraries for trace events (shared by the encoding and container tests).

import fc from 'fast-check';
import { INTERRUPT_SOURCES, MAX_ICOUNT, type TraceEvent, type TraceEventBody, type U64 } from '../../src/trace/encoding.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.tuple(u32, u32) as fc.Arbitrary<U64>;
const safeUint = fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeNat());
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const name = fc.string({ maxLength: 12, unit: 'grapheme' });

export const bodyArb: fc.Arbitrary<TraceEventBody> = fc.oneof(
  fc.record({
    kind: fc.constant('io' as const),
    port: fc.integer({ min: 0, max: 0xffff }),
    size: fc.constantFrom(1 as const, 2 as const, 4 as const),
    write: fc.boolean(),
    value: u32,
  }),
  fc.record({
    kind: fc.constant('mmio' as const),
    gpa: safeUint,
    size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    write: fc.boolean(),
    value: safeUint,
  }),
  fc.record({
    kind: fc.constant('cpuid' as const),
    leaf: u32,
    subleaf: u32,
    result: fc.tuple(u32, u32, u32, u32),
  }),
  fc.record({ kind: fc.constantFrom('rdmsr' as const, 'wrmsr' as const), msr: u32, value: u64, gp: fc.boolean() }),
  fc.record({
    kind: fc.constant('hypercall' as const),
    insn: fc.constantFrom('vmcall' as const, 'vmmcall' as const),
    args: fc.array(u64, { maxLength: 9 }),
    result: u64,
  }),
  fc.record({
    kind: fc.constant('hypercall' as const),
    insn: fc.constantFrom('vmcall' as const, 'vmmcall' as const),
    args: fc.array(u64, { maxLength: 9 }),
    result: u64,
    ud: fc.constant(true),
  }),
  fc.record({ kind: fc.constant('kv-write' as const), key: name, value: fc.string({ maxLength: 40 }) }),
  fc.record({ kind: fc.constantFrom('hlt' as const, 'pause' as const, 'reset' as const, 'poweroff' as const) }),
  fc.record({ kind: fc.constant('shutdown' as const), reason: name }),
  fc.record({ kind: fc.constant('debug-exit' as const), code: u32 }),
  fc.record({ kind: fc.constant('interrupt' as const), vector: fc.integer({ min: 0, max: 255 }), source: fc.constantFrom(...INTERRUPT_SOURCES) }),
  bytes(64).chain((data) =>
    fc.record({
      kind: fc.constant('dma' as const),
      device: name,
      gpa: safeUint,
      length: fc.constant(data.length),
      toGuest: fc.boolean(),
      data: fc.constant(data),
    }),
  ),
  fc.record({ kind: fc.constant('dma' as const), device: name, gpa: safeUint, length: safeUint, toGuest: fc.boolean(), digest: bytes(32) }),
  fc.record({ kind: fc.constant('host-input' as const), device: name, data: bytes(64) }),
  fc.record({ kind: fc.constant('host-output' as const), device: name, data: bytes(64) }),
  fc.record({ kind: fc.constant('digest' as const), hash: bytes(32), parts: fc.array(fc.record({ name, hash: bytes(32) }), { maxLength: 4 }) }),
  fc.record({
    kind: fc.constant('end' as const),
    reason: name,
    exitStatus: fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }),
    digest: bytes(32),
  }),
) as fc.Arbitrary<TraceEventBody>;

/** A sequence of events with per-vCPU icounts that may jump anywhere in 0..2^52-1. */
export const eventsArb: fc.Arbitrary<TraceEvent[]> = fc.array(
  fc.tuple(
    fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff })),
    fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: MAX_ICOUNT })),
    bodyArb,
  ),
  { maxLength: 40 },
).map((xs) => xs.map(([vcpu, icount, body]) => ({ vcpu, icount, ...body }) as TraceEvent));
