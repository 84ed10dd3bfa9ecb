// `npx vitest bench --run test/trace/throughput.bench.ts`: trace recording throughput
// (bench only, not part of the unit tests). Prints MB/s and bytes per event.

import { bench, describe } from 'vitest';
import { measureTraceThroughput } from '../../src/trace/throughput.js';

describe('trace recording', () => {
  bench(
    'encode + compress + write 1M io/cpuid/interrupt events',
    async () => {
      const r = await measureTraceThroughput({ events: 1_000_000 });
      console.log(
        `trace: ${r.rawBytesPerEvent.toFixed(2)} B/event encoded, ${r.fileBytesPerEvent.toFixed(3)} B/event in the file (x${r.compressionRatio.toFixed(1)}); ` +
          `encode ${r.encodeMBps.toFixed(0)} MB/s (${r.encodeMEventsPerSec.toFixed(1)} M events/s), ` +
          `encode+compress+write ${r.recordMBps.toFixed(0)} MB/s (${r.recordMEventsPerSec.toFixed(1)} M events/s), ` +
          `read+decode ${r.readMBps.toFixed(0)} MB/s (${r.readMEventsPerSec.toFixed(1)} M events/s)`,
      );
    },
    { iterations: 3, warmupIterations: 1 },
  );
});
