// The recorder's fast path must not change the file: TraceWriter.appendIo/appendCpuid/appendMsr
// write the same bytes as append() of the event (docs/trace-format.md, "Records": encoders
// write the shortest varints, so the same events give byte-identical files).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTraceCodec, TraceWriter, type TraceEvent } from '../../src/trace/index.js';
import { eventsArb } from './arbitraries.js';
import { HEADER, endAfter, tempDir } from './helpers.js';

describe('trace recorder fast path', () => {
  it('appendIo/appendCpuid/appendMsr give the bytes append() gives', async () => {
    await loadTraceCodec();
    const { dir, cleanup } = tempDir();
    try {
      const hot = (e: TraceEvent): boolean => e.kind === 'io' || e.kind === 'cpuid' || e.kind === 'rdmsr' || e.kind === 'wrmsr';
      fc.assert(
        fc.property(eventsArb, (all) => {
          const events = all.filter(hot);
          const a = TraceWriter.createSync(join(dir, 'a.zst'), HEADER, [], { frameBytes: 64 });
          const b = TraceWriter.createSync(join(dir, 'b.zst'), HEADER, [], { frameBytes: 64 });
          for (const e of events) {
            a.append(e);
            if (e.kind === 'io') b.appendIo(e.vcpu, e.icount, e.port, e.size, e.write, e.value);
            else if (e.kind === 'cpuid') b.appendCpuid(e.vcpu, e.icount, e.leaf, e.subleaf, Int32Array.from(e.result));
            else if (e.kind === 'rdmsr' || e.kind === 'wrmsr') b.appendMsr(e.vcpu, e.icount, e.kind === 'wrmsr', e.msr, e.value[0], e.value[1], e.gp);
          }
          a.close(endAfter(events));
          b.close(endAfter(events));
          expect(b.eventCount).toBe(a.eventCount);
          expect(readFileSync(join(dir, 'b.zst'))).toEqual(readFileSync(join(dir, 'a.zst')));
        }),
        { numRuns: 50 },
      );
    } finally {
      cleanup();
    }
  });
});
