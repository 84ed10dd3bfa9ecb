// The migration knob (src/machine/migration.ts) with the kvmclock fixture running: the TSC frequency
// changes and the VM pauses while the guest is inside its read loop. The guest itself checks its
// clock never goes backwards; a host-side sampler reads the structure between instructions all
// through the run (version always even there, §3.2; readings never decrease; the reading stays the
// machine's time, §3.3/§3.4).

import { describe, expect, it } from 'vitest';
import { ExitKind } from '../../src/machine/exit.js';
import type { Machine } from '../../src/machine/machine.js';
import { scheduleMigration } from '../../src/machine/migration.js';
import type { KvmPersonality } from '../../src/hypervisors/kvm.js';
import type { VmmPersonality } from '../../src/hypervisors/vmm.js';
import { parseKvmclockOutput, runKvmclock } from './kvm-fixture-run.js';

interface Sample {
  icount: number;
  nowNs: number;
  version: number;
  flags: number;
  guestNs: bigint;
}

/** §3.3 read of the structure at gpa with the machine's TSC now, written out here. */
function read(m: Machine, gpa: number): Omit<Sample, 'icount' | 'nowNs'> {
  const v = new DataView(m.mem.readBytes(gpa, 32)!.buffer);
  const M64 = (1n << 64n) - 1n;
  const shift = v.getInt8(28);
  let d = (BigInt(m.clock.tsc()) - v.getBigUint64(8, true)) & M64;
  d = shift >= 0 ? (d << BigInt(shift)) & M64 : d >> BigInt(-shift);
  return {
    version: v.getUint32(0, true),
    flags: v.getUint8(29),
    guestNs: v.getBigUint64(16, true) + ((d * BigInt(v.getUint32(24, true))) >> 32n),
  };
}

// Points inside the fixture's read loop (it runs from about 10 000 to about 1 070 000 instruction
// times); each later point adds the pauses before it, since a pause moves the clock ahead.
const PAUSE1 = 5_000_000; // 5 ms
const PAUSE2 = 1_000_000_000; // 1 s
const PLAN = [
  { atInsn: 200_000, tscKHz: 2_400_000 },
  { atInsn: 400_000, pauseNs: PAUSE1 },
  { atInsn: 600_000 + PAUSE1, tscKHz: 1_000_000 },
  { atInsn: 800_000 + PAUSE1, tscKHz: 3_000_000, pauseNs: PAUSE2 },
];

function runWithMigrations(hv: 'kvm' | 'vmm') {
  const samples: Sample[] = [];
  /** The machine's TSC right after each migration. */
  const tscAfter: number[] = [];
  let gpaOf: () => number | null = () => null;
  const r = runKvmclock([hv], {
    maxInsns: 3_000_000_000,
    before: (m) => {
      const p = m.config.personalities[0];
      gpaOf = hv === 'kvm' ? () => (p as KvmPersonality).clock.gpaOf(0) : () => (p as VmmPersonality).msrs.systemTimeOf(0).lo & ~0xf || null;
      let first: number | null = null;
      const sample = (): void => {
        // the guest's structure from enabling until its hostile probes move it elsewhere at the end
        const gpa = gpaOf();
        first ??= gpa;
        if (gpa !== null && gpa === first) samples.push({ icount: m.clock.icount, nowNs: m.clock.nowNs(), ...read(m, gpa) });
      };
      for (const plan of PLAN) {
        m.clock.schedule(plan.atInsn - 1, sample); // just before
        scheduleMigration(m, plan);
        m.clock.schedule(plan.atInsn, () => {
          sample(); // right after, at the same instant (past the pause, if any)
          tscAfter.push(m.clock.tsc());
        });
      }
      const tick = (): void => {
        sample();
        m.clock.schedule(m.clock.icount + 997, tick);
      };
      m.clock.schedule(1, tick);
    },
  });
  return { r, samples, tscAfter, o: parseKvmclockOutput(r.text) };
}

describe('migration while the guest reads kvmclock', () => {
  for (const hv of ['kvm', 'vmm'] as const) {
    it(`${hv}: the guest sees no step back and passes; the host sees an even version and monotonic, exact time`, () => {
      const { r, samples, tscAfter, o } = runWithMigrations(hv);
      expect(r.exit).toEqual({ kind: ExitKind.DebugExit, code: 0 });
      expect(o.lines).toContain('kvmclock: ok monotonic over 0x00002710 reads');
      expect(o.lines).toContain('kvmclock: all passed');

      // every migration happened while the structure was enabled and the guest was still reading
      for (const p of PLAN) expect(samples.some((s) => s.icount === p.atInsn - 1)).toBe(true);
      expect(r.machine.clock.tscKHz).toBe(3_000_000);
      expect(tscAfter).toHaveLength(PLAN.length);
      expect(o.lastTsc > BigInt(tscAfter[PLAN.length - 1])).toBe(true);

      let prev = -1n;
      for (const s of samples) {
        expect(s.version % 2, `version at ${s.icount}`).toBe(0); // never caught mid-update (§3.2)
        expect(s.guestNs >= prev, `step back at ${s.icount}`).toBe(true);
        prev = s.guestNs;
        // the reading is the machine's time: never ahead, behind by a little (scaling error, §3.4)
        const lag = BigInt(s.nowNs) - s.guestNs;
        expect(lag >= -1n && lag <= 4_000n, `lag ${lag} at ${s.icount}`).toBe(true);
      }
      // the pauses are in the guest's time: it jumped by the pause across each pausing migration
      for (const p of PLAN.filter((q) => q.pauseNs !== undefined)) {
        const before = samples.find((s) => s.icount === p.atInsn - 1)!;
        const after = samples.find((s) => s.icount >= p.atInsn + p.pauseNs! && s.nowNs >= before.nowNs + p.pauseNs!)!;
        expect(after.guestNs - before.guestNs >= BigInt(p.pauseNs!)).toBe(true);
      }
      // the last structure has the destination's scale (§3.4 table for 3 GHz; vmm: (1e9 << 20) / 3e9)
      expect([o.struct.mul, o.struct.shift]).toEqual(hv === 'kvm' ? [0xaaaaaaaa, -1] : [Number((10n ** 9n << 20n) / 3_000_000_000n), 12]);
      // KVM flags the pause for the guest (PVCLOCK_GUEST_STOPPED, which this guest never clears); vmm knows no such flag
      const afterPause = samples.filter((s) => s.icount >= PLAN[1].atInsn + PAUSE1);
      for (const s of afterPause) expect(s.flags).toBe(hv === 'kvm' ? 3 : 1);
    });
  }
});

describe('scheduleMigration', () => {
  function machine(): Machine {
    return runKvmclock(['kvm'], { before: () => {} }).machine;
  }

  it('refuses bad plans', () => {
    const m = machine();
    for (const bad of [{ atInsn: -1 }, { atInsn: 1.5 }, { atInsn: 0, tscKHz: 999 }, { atInsn: 0, tscKHz: 1e9 }, { atInsn: 0, pauseNs: -5 }, { atInsn: 0, pauseNs: 0.5 }, { atInsn: Number.NaN }]) {
      expect(() => scheduleMigration(m, bad), JSON.stringify(bad)).toThrow(RangeError);
    }
  });

  it('runs at the exact instant; the TSC keeps its value across a frequency change; a pause adds exactly its time', () => {
    const seen: Array<[number, number, number]> = [];
    runKvmclock(['kvm'], {
      before: (m) => {
        const note = (): number => seen.push([m.clock.icount, m.clock.tsc(), m.clock.nowNs()]);
        m.clock.schedule(300_000, note);
        scheduleMigration(m, { atInsn: 300_000, tscKHz: 1_500_000, pauseNs: 2_000_000 });
        m.clock.schedule(300_000, note);
      },
    });
    const [[i0, tsc0, ns0], [i1, tsc1, ns1]] = seen;
    expect(i0).toBe(300_000);
    expect(ns0).toBe(300_000);
    expect(tsc0).toBe(600_000); // 2 GHz
    expect(i1).toBe(300_000 + 2_000_000); // the 2 ms pause is 2 000 000 instruction times of 1 ns
    expect(ns1).toBe(ns0 + 2_000_000);
    expect(tsc1).toBe(tsc0 + 4_000_000); // paused time counted at the old rate, then the new rate from here
  });
});
