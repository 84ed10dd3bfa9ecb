// Xen time (hypervisor-interfaces.md §3.9, §3.1-§3.3): vCPU 0's vcpu_time_info in shared_info, as
// the xen-guest fixture maps it, read at arbitrary points across TSC changes and pauses: even
// version between updates, monotonic, and the virtual clock within the §3.3 scaling error.

import type { XenPersonality } from '../src/hypervisors/xen.js';
import { defineProperty } from './define.js';
import { fixture } from './guest.js';
import { gapsArb, migrateArgs, migrationsArb, pvclockRead, sampledRun } from './sampling.js';

export const xenTimeProperties = [
  defineProperty({
    area: 'xen-time',
    name: 'vcpu_time_info: even version between updates, monotonic, equal to virtual time within the scaling error',
    specClause: 'hypervisor-interfaces.md §3.9 (same formula as §3.3), §3.2',
    quickRuns: 3,
    arbitrary: (fc) => fc.record({ migrations: migrationsArb(fc, 600_000), gaps: gapsArb(fc) }),
    predicate: (c, { guest }) => {
      let xen: XenPersonality | null = null;
      let prev = -1n;
      const args = ['-m', '8M', '--hypervisor', 'xen', '--kv', 'vm-data/foo=bar', '--kv-ro', 'vm-data/ro=fixed', '--kernel', fixture('xen-guest'), ...migrateArgs(c.migrations)];
      const r = sampledRun(
        guest,
        args,
        'xen-time',
        c.gaps,
        (m) => {
          xen = m.config.personalities.find((p) => p.name === 'xen') as XenPersonality;
        },
        (m) => {
          const si = xen!.domain?.sharedInfo;
          if (si === undefined) return null;
          const base = si.registered[0] ?? si.gpa;
          if (base === null) return null;
          const bytes = m.mem.readBytes(base + 32, 32); // vcpu_info.time (§3.9)
          if (bytes === null) return null;
          const t = pvclockRead(bytes, BigInt(m.clock.tsc()));
          if (t.version === 0) return null; // never written yet
          if (t.version % 2 !== 0) return `odd version ${t.version} between updates`;
          if (t.ns < prev) return `time went back from ${prev} to ${t.ns} ns`;
          prev = t.ns;
          const now = BigInt(m.clock.nowNs());
          const v = new DataView(bytes.buffer, bytes.byteOffset, 32);
          const sinceUpdate = now - v.getBigUint64(16, true);
          // §3.4 scaling: 2^-30 of the time since the update, one TSC tick, the floors
          const slack = (sinceUpdate >> 29n) + BigInt(Math.ceil(1_000_000 / m.clock.tscKHz)) + 2n;
          if (t.ns > now + slack || t.ns + slack < now) return `vcpu_time_info reads ${t.ns} ns at virtual ${now} ns (slack ${slack})`;
          return null;
        },
      );
      if (r.violation !== null) throw new Error(r.violation);
      if (r.run.status !== 1) throw new Error(`the xen-guest fixture failed (status ${r.run.status}): ${r.run.serial.split('\n').filter((l) => l.includes('FAIL')).join('; ')}`);
    },
  }),
];
