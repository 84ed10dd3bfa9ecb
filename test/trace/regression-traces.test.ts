// Regression traces (fixtures/traces/README.md): every committed trace replays identically in
// verify mode, event for event, with the run ending as recorded. The oracle is the recording: a
// change to anything the guest sees diverges at the first event it changes.

import { describe, expect, it } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTraceCodec, TraceReader } from '../../src/trace/index.js';
import { replayReader } from '../../src/trace/replay.js';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/traces');
const TRACES = readdirSync(DIR).filter((f) => f.endsWith('.trace.zst')).sort();

describe('fixtures/traces replay identically', () => {
  it('holds a few small traces', () => {
    expect(TRACES.length).toBeGreaterThanOrEqual(5);
    for (const t of TRACES) expect(statSync(join(DIR, t)).size, t).toBeLessThan(256 * 1024);
  });

  for (const t of TRACES) {
    it(t, async () => {
      await loadTraceCodec();
      const reader = await TraceReader.open(join(DIR, t));
      try {
        expect(reader.complete).toBe(true);
        const recorded = [...reader.events()].length;
        const r = replayReader(reader);
        const d = r.divergence;
        // A deliberate change to what guests see diverges here too: check the event is the one
        // intended, then re-record (fixtures/traces/README.md, node fixtures/traces/rerecord.mjs).
        const why = d === null ? null : `event ${d.event}: ${d.fields.join(', ')} (${d.expected?.kind ?? 'none'} recorded, ${d.actual?.kind ?? 'none'} produced)`;
        expect(why, 'the replay diverged; if the change is deliberate, re-record: see fixtures/traces/README.md').toBeNull();
        expect(r.identical).toBe(true);
        expect(r.events).toBe(recorded);
      } finally {
        reader.close();
      }
    });
  }
});
