// pvclock (hypervisor-interfaces.md §3.1-§3.5, §3.7): the host's (mul, shift) against exact
// rational arithmetic for any TSC frequency, and the structure a guest reads under kvm and vmm
// across arbitrary read points, TSC frequency changes and pauses (src/machine/migration.ts).
// BigInt is the exact reference here (test code, not a hot path).

import { kvmGetTimeScale, pvclockScaleDelta, pvclockTscKHz } from '../src/hypervisors/pvclock.js';
import type { KvmPersonality } from '../src/hypervisors/kvm.js';
import type { VmmPersonality } from '../src/hypervisors/vmm.js';
import type { PvclockUpdateStep } from '../src/hypervisors/kvmclock.js';
import { defineProperty } from './define.js';
import { fixture } from './guest.js';
import { gapsArb, migrateArgs, migrationsArb, pvclockRead, sampledRun } from './sampling.js';

const NS = 1_000_000_000n;

/** floor(a / b) and the absolute difference of two bigints. */
const abs = (x: bigint): bigint => (x < 0n ? -x : x);

export const pvclockProperties = [
  defineProperty({
    area: 'pvclock',
    name: 'kvm_get_time_scale: mul is normalised and the guest formula is the exact rate within 2^-29',
    specClause: 'hypervisor-interfaces.md §3.3, §3.4',
    quickRuns: 300,
    arbitrary: (fc) =>
      fc.record({
        // TSC Hz from 1 kHz to 2^40 Hz (~1.1 THz), the extremes included
        hz: fc.oneof(fc.constantFrom(1000n, 1_000_000n, 2_400_000_000n, 100_000_000_000n, (1n << 40n) - 1n), fc.bigInt({ min: 1000n, max: 1n << 40n })),
        // TSC deltas up to 2^52 ticks (days at GHz rates)
        delta: fc.oneof(fc.constantFrom(0n, 1n), fc.bigInt({ min: 0n, max: 1n << 52n })),
      }),
    predicate: ({ hz, delta: d }) => {
      let delta = d;
      const { mul, shift } = kvmGetTimeScale(NS, hz);
      // §3.4: the second loop leaves s < t32 <= 2s, so mul = s * 2^32 / t32 lies in [2^31, 2^32)
      if (mul < 2 ** 31 || mul >= 2 ** 32) throw new Error(`mul 0x${mul.toString(16)} not normalised`);
      if (shift < -128 || shift > 127) throw new Error(`shift ${shift} does not fit tsc_shift (s8)`);
      // exact: delta ticks = delta * 1e9 / hz ns; the guest's §3.3 result may lose the truncated
      // part of mul (< 2^-31 relative, mul >= 2^31), of the base frequency halved into 32 bits
      // (< 2^-31) and of 1e9 halved in the second loop, so 2^-29 relative; plus the bits a right
      // shift drops (< 2^-shift ticks) and the final floor. (2^-30 is too tight: the deep profile
      // found 546 ns for 545 at 129 GHz.)
      // §3.3 shifts a 64-bit delta left by tsc_shift: deltas of 2^(64 - shift) ticks and more
      // wrap, as in C (at 1 kHz that is thousands of years); the clause holds below that
      if (shift > 0) delta %= 1n << BigInt(64 - shift);
      const got = pvclockScaleDelta(delta, mul, shift);
      const exact = (delta * NS) / hz;
      const dropped = shift < 0 ? ((1n << BigInt(-shift)) * NS) / hz + 1n : 0n;
      const bound = (exact >> 29n) + dropped + 2n;
      if (abs(got - exact) > bound) throw new Error(`hz ${hz} delta ${delta}: guest ${got} ns, exact ${exact} ns (bound ${bound})`);
      // pvclock_tsc_khz (§3.3) gives the frequency back within the same relative error, plus its
      // own floor, which a left shift (negative tsc_shift) multiplies
      const khz = pvclockTscKHz(mul, shift);
      const wantKhz = hz / 1000n;
      if (abs(khz - wantKhz) > (wantKhz >> 29n) + (1n << BigInt(Math.max(0, -shift))) + 1n) throw new Error(`hz ${hz}: pvclock_tsc_khz ${khz}, exact ${wantKhz}`);
    },
  }),
  defineProperty({
    area: 'pvclock',
    name: 'kvmclock under kvm and vmm: time never goes back across read points, TSC changes and pauses; version odd exactly during updates',
    specClause: 'hypervisor-interfaces.md §3.2, §3.3, §3.5, §3.7; src/machine/migration.ts',
    quickRuns: 3,
    arbitrary: (fc, opts) =>
      fc.record({
        hv: opts.personality !== null ? fc.constant(opts.personality.find((p) => p === 'kvm' || p === 'vmm') ?? 'kvm') : fc.constantFrom('kvm', 'vmm'),
        migrations: migrationsArb(fc, 1_200_000),
        gaps: gapsArb(fc),
      }),
    predicate: (c, { guest }) => {
      let gpa: number | null = null;
      let updating = false;
      let prevNs = -1n;
      let prevEven: number | null = null;
      const args = ['-m', '8M', '--hypervisor', c.hv, '--kernel', fixture('kvmclock'), ...migrateArgs(c.migrations)];
      const r = sampledRun(
        guest,
        args,
        'pvclock',
        c.gaps,
        (m, violate) => {
          const p = m.config.personalities[0];
          const clock = c.hv === 'kvm' ? (p as KvmPersonality).clock : (p as VmmPersonality).pvclock;
          clock.onStep = (s: PvclockUpdateStep) => {
            const inMem = m.mem.read32(s.gpa);
            // §3.2: odd while the fields are written, even once done, and a new even value
            if (s.phase !== 'end' && (inMem === null || inMem % 2 !== 1)) violate(`version ${inMem} during the update (${s.phase})`);
            if (s.phase === 'end') {
              if (inMem === null || inMem % 2 !== 0) violate(`version ${inMem} after the update`);
              if (s.gpa === gpa && inMem === prevEven) violate(`version ${inMem} unchanged by an update`);
              prevEven = inMem;
              if (s.vcpu === 0) gpa = s.gpa;
            }
            updating = s.phase !== 'end';
          };
        },
        (m) => {
          if (gpa === null) return null;
          if (updating) return 'an update was still in progress between two instructions';
          const bytes = m.mem.readBytes(gpa, 32);
          if (bytes === null) return null;
          const t = pvclockRead(bytes, BigInt(m.clock.tsc()));
          if (t.version % 2 !== 0) return `odd version ${t.version} between updates`;
          if (t.ns < prevNs) return `time went back from ${prevNs} to ${t.ns} ns`;
          prevNs = t.ns;
          return null;
        },
      );
      if (r.violation !== null) throw new Error(r.violation);
      // the guest's own verdict: 10 000 reads by the §3.2 protocol never went back (exit 0)
      if (r.run.status !== 1) throw new Error(`the kvmclock guest failed (status ${r.run.status}): ${r.run.serial.split('\n').filter((l) => l.includes('FAIL')).join('; ')}`);
    },
  }),
];
