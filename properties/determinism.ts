// Determinism (README "Time", hypervisor-interfaces.md §8: guest time is the retired-instruction
// count): any configuration and seed, run twice, gives byte-identical trace files.

import { readFileSync } from 'node:fs';
import { defineProperty } from './define.js';
import { runCaseArb } from './arbitraries.js';

export const determinismProperties = [
  defineProperty({
    area: 'determinism',
    name: 'any configuration and seed, run twice, records byte-identical traces',
    specClause: 'README "Time"; hypervisor-interfaces.md §8 (virtual time only)',
    quickRuns: 6,
    arbitrary: (fc, opts) => runCaseArb(fc, opts),
    predicate: (c, { guest }) => {
      const a = guest.record(c.args, 'determinism');
      if (a.stderr !== '') throw new Error(`hvsim run: ${a.stderr}`);
      const first = readFileSync(a.trace);
      const b = guest.record(c.args, 'determinism');
      const second = readFileSync(b.trace);
      if (a.status !== b.status) throw new Error(`status ${a.status} then ${b.status}`);
      if (a.serial !== b.serial) throw new Error('the serial output differs between the runs');
      if (Buffer.compare(first, second) !== 0) throw new Error(`the traces differ (${first.length} and ${second.length} bytes)`);
    },
  }),
];
