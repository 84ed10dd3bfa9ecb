// Hyper-V time (hypervisor-interfaces.md §3.8, TLFS timers): TIME_REF_COUNT, the reference TSC
// page and the virtual clock agree at every read point of the hyperv-clock fixture, across
// arbitrary TSC frequency changes and pauses.

import type { HypervPersonality } from '../src/hypervisors/hyperv.js';
import { ns100 } from '../src/hypervisors/hyperv-reference-time.js';
import { defineProperty } from './define.js';
import { fixture } from './guest.js';
import { gapsArb, migrateArgs, migrationsArb, sampledRun } from './sampling.js';

const M64 = (1n << 64n) - 1n;

export const hypervTimeProperties = [
  defineProperty({
    area: 'hyperv-time',
    name: 'reference TSC page = TIME_REF_COUNT = virtual time in 100 ns units, monotonic, across TSC changes and pauses',
    specClause: 'hypervisor-interfaces.md §3.8 (TLFS timers: ReferenceTime = ((tsc * TscScale) >> 64) + TscOffset)',
    quickRuns: 3,
    arbitrary: (fc) => fc.record({ migrations: migrationsArb(fc, 400_000), gaps: gapsArb(fc) }),
    predicate: (c, { guest }) => {
      let hv: HypervPersonality | null = null;
      let prev = -1n;
      let tickUnits = 0n;
      const args = ['-m', '8M', '--hypervisor', 'hyperv', '--kernel', fixture('hyperv-clock'), ...migrateArgs(c.migrations)];
      const r = sampledRun(
        guest,
        args,
        'hyperv-time',
        c.gaps,
        (m) => {
          hv = m.config.personalities.find((p) => p.name === 'hyperv') as HypervPersonality;
        },
        (m) => {
          const count = hv!.referenceCounter();
          if (count === null) return 'no reference counter';
          if (count < prev) return `TIME_REF_COUNT went back from ${prev} to ${count}`;
          prev = count;
          // one TSC tick, in 100 ns units, is what a TSC-derived counter may trail by at each
          // frequency change (the counter stays continuous, §3.8)
          const tick = BigInt(Math.ceil(10_000 / m.clock.tscKHz)) + 1n;
          if (tick > tickUnits) tickUnits = tick;
          const virtual = BigInt(ns100(m.clock.nowNs()));
          const slack = tickUnits * BigInt(c.migrations.length + 1);
          if (count > virtual + slack || count + slack < virtual) return `TIME_REF_COUNT ${count} vs virtual time ${virtual} (100 ns units, slack ${slack})`;
          const ref = hv!.referenceTsc;
          if ((ref.lo & 1) === 0) return null;
          const gpa = (ref.hi >>> 0) * 4294967296 + ((ref.lo & ~0xfff) >>> 0);
          const page = m.mem.readBytes(gpa, 24);
          if (page === null) return null;
          const v = new DataView(page.buffer, page.byteOffset, 24);
          const seq = v.getUint32(0, true);
          if (seq === 0) return null; // §3.8: not valid, the guest falls back to the MSR
          const pageTime = ((((BigInt(m.clock.tsc()) & M64) * v.getBigUint64(8, true)) >> 64n) + v.getBigUint64(16, true)) & M64;
          if (pageTime !== count) return `reference TSC page reads ${pageTime}, TIME_REF_COUNT ${count} (sequence ${seq})`;
          return null;
        },
      );
      if (r.violation !== null) throw new Error(r.violation);
      // The fixture's own checks are an oracle only without migrations: it compares the
      // TSC_FREQUENCY MSR with the page's TscScale outside any sequence protocol, so a frequency
      // change between the two reads fails it; and below 10 MHz TscScale has no 64-bit value, the
      // page rightly says TscSequence 0 (§3.8: use the MSR) while the fixture insists on a page.
      if (c.migrations.length === 0 && r.run.status !== 1) throw new Error(`the hyperv-clock guest failed (status ${r.run.status}): ${r.run.serial.split('\n').filter((l) => l.includes('FAIL')).join('; ')}`);
    },
  }),
];
