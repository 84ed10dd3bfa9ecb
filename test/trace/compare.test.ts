// The replayer's fast per-event check (sameEvent) must agree with the field-by-field
// comparison the reports use (differingFields, whose fields are `hvsim trace show`'s), for
// every event kind: equal copies are the same, and changing any single field is a difference.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sameEvent, differingFields } from '../../src/trace/compare.js';
import type { TraceEvent } from '../../src/trace/encoding.js';
import { bodyArb } from './arbitraries.js';

const eventArb: fc.Arbitrary<TraceEvent> = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 40 }), bodyArb)
  .map(([vcpu, icount, body]) => ({ vcpu, icount, ...body }) as TraceEvent);

/** Every way to change one field of `e` (numbers +1 mod 2^32, booleans flipped, strings and bytes extended). */
function mutations(e: TraceEvent): TraceEvent[] {
  const out: TraceEvent[] = [];
  const rec = e as unknown as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    if (k === 'kind') continue;
    const v = rec[k];
    const put = (nv: unknown): void => void out.push({ ...rec, [k]: nv } as unknown as TraceEvent);
    if (typeof v === 'number') put(k === 'icount' || k === 'vcpu' || k === 'gpa' || k === 'length' ? v + 1 : (v + 1) % 4294967296);
    else if (typeof v === 'boolean') put(!v);
    else if (typeof v === 'string') put(v + 'x');
    else if (v instanceof Uint8Array) put(Uint8Array.from([...v, 1]));
    else if (Array.isArray(v) && v.length > 0) {
      // result/value tuples and argument lists: change the first element
      const first = v[0];
      if (typeof first === 'number') put([(first + 1) % 4294967296, ...v.slice(1)]);
      else if (Array.isArray(first)) put([[(first[0] + 1) % 4294967296, first[1]], ...v.slice(1)]);
      else if (first !== null && typeof first === 'object') put([{ ...first, hash: Uint8Array.from([...(first as { hash: Uint8Array }).hash, 1]) }, ...v.slice(1)]);
    }
  }
  return out;
}

describe('sameEvent agrees with differingFields', () => {
  it('for independent events, copies, and every single-field change', () => {
    fc.assert(
      fc.property(eventArb, eventArb, (a, b) => {
        expect(sameEvent(a, b)).toBe(differingFields(a, b).length === 0);
        // Different kinds: the kind is the difference (plus the stamp where it differs).
        if (a.kind !== b.kind) expect(differingFields(a, b)).toEqual(['kind', ...(a.vcpu !== b.vcpu ? ['vcpu'] : []), ...(a.icount !== b.icount ? ['icount'] : [])]);
        expect(sameEvent(a, structuredClone(a))).toBe(true);
        for (const m of mutations(a)) {
          expect(differingFields(a, m).length).toBeGreaterThan(0);
          expect(sameEvent(a, m)).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
