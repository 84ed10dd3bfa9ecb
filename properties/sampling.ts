// Reading a paravirtual clock the way a guest would, at arbitrary points of a recorded run: the
// property drives the fixture in slices of generated lengths and, between two instructions,
// reads the structure from guest memory (a host-side read, invisible to the guest and the trace).

import type { Arbitrary } from 'fast-check';
import { ExitKind, type VmExit } from '../src/machine/exit.js';
import type { Machine } from '../src/machine/machine.js';
import type { GuestRecorder, GuestRun } from './guest.js';
import type { FastCheck } from './types.js';

const M64 = (1n << 64n) - 1n;

/** A migration plan as `--migrate` takes it. */
export interface Migration {
  at: number;
  tscKHz?: number;
  pauseNs?: number;
}

export const migrateArgs = (ms: readonly Migration[]): string[] =>
  ms.flatMap((m) => ['--migrate', [String(m.at), ...(m.tscKHz !== undefined ? [`tsc=${m.tscKHz}`] : []), ...(m.pauseNs !== undefined ? [`pause=${m.pauseNs}`] : [])].join(',')]);

/** Migrations within `span` instruction times, TSC frequencies over the whole range the VM API takes (1 MHz-100 GHz). */
export function migrationsArb(fc: FastCheck, span: number, maxLength = 3): Arbitrary<Migration[]> {
  const one = fc
    .record({
      at: fc.integer({ min: 0, max: span }),
      tscKHz: fc.option(fc.oneof(fc.constantFrom(1000, 100_000_000, 2_000_000), fc.integer({ min: 1000, max: 100_000_000 })), { nil: undefined }),
      pauseNs: fc.option(fc.integer({ min: 1, max: 2_000_000_000 }), { nil: undefined }),
    })
    .map((m) => (m.tscKHz === undefined && m.pauseNs === undefined ? { at: m.at, pauseNs: 1 } : m));
  return fc.array(one, { maxLength });
}

/** Slice lengths between reads (cycled through the run). */
export const gapsArb = (fc: FastCheck): Arbitrary<number[]> => fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 8 });

/** §3.3: system_time + ((tsc - tsc_timestamp) shifted, times mul, >> 32) from a 32-byte structure. */
export function pvclockRead(bytes: Uint8Array, tsc: bigint): { version: number; ns: bigint; flags: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, 32);
  const shift = v.getInt8(28);
  let d = (tsc - v.getBigUint64(8, true)) & M64;
  d = shift >= 0 ? (d << BigInt(shift)) & M64 : d >> BigInt(-shift);
  return { version: v.getUint32(0, true), ns: (v.getBigUint64(16, true) + ((d * BigInt(v.getUint32(24, true))) >> 32n)) & M64, flags: v.getUint8(29) };
}

export interface SampledRun {
  run: GuestRun;
  /** The first violation seen (the run still goes on to its end, so its trace replays). */
  violation: string | null;
  samples: number;
}

/**
 * Drive `args` to the end in slices of `gaps`, calling `sample` between slices; `setup` runs
 * before the first instruction (hooks on the personality).
 */
export function sampledRun(
  guest: GuestRecorder,
  args: readonly string[],
  label: string,
  gaps: readonly number[],
  setup: (m: Machine, violate: (msg: string) => void) => void,
  sample: (m: Machine) => string | null,
  /** Retired instructions after which the run is cut (a guest that never ends); pauses do not count. */
  maxInsns = 30_000_000,
): SampledRun {
  let violation: string | null = null;
  let samples = 0;
  const violate = (msg: string): void => {
    if (violation === null) violation = `${msg} (icount ${m0?.clock.icount})`;
  };
  let m0: Machine | null = null;
  const run = guest.drive(args, label, (s) => {
    const m = s.machine;
    m0 = m;
    setup(m, violate);
    let i = 0;
    for (;;) {
      const left = maxInsns - m.cpus[0].insns;
      if (left <= 0) return { kind: ExitKind.Limit } as VmExit;
      const exit = s.vmm.run(s.id, 0, { maxInsns: Math.min(left, gaps[i++ % gaps.length]) });
      if (exit.kind !== ExitKind.Limit) return exit;
      samples++;
      const v = sample(m);
      if (v !== null) violate(v);
    }
  });
  return { run, violation, samples };
}
