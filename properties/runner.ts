// Runs the suite: every property of the chosen areas with the profile's case counts, the
// failures written out as replayable traces (with a JSON of the property, seeds and the shrunk
// counterexample), and a report per area for `hvsim conform` and the tests.
//
// Wall-clock time is read here (cases per second for the report), never in src/: it measures the
// suite, not the guest.

import fc from 'fast-check';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadTraceCodec } from '../src/trace/index.js';
import type { ConformAreaReport, ConformPropertyReport, ConformReport, ConformSuiteOptions } from '../src/cli/conform.js';
import { GuestRecorder } from './guest.js';
import { AREAS, type ConformProperty, type PropertyFailure } from './types.js';

/** The deep profile runs this many times the quick profile's cases. */
export const DEEP_FACTOR = 100;
export const DEFAULT_SEED = 0x5eed;

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);

/** Write a failing case: the trace (if the property ran a guest) and its JSON; returns the report part. */
function writeFailure(out: string, p: ConformProperty, f: PropertyFailure, numRuns: number): NonNullable<ConformPropertyReport['failure']> {
  mkdirSync(out, { recursive: true });
  const base = join(out, `${p.area}-${slug(p.name)}`);
  let trace: string | null = null;
  if (f.trace !== null) {
    trace = `${base}.trace.zst`;
    copyFileSync(f.trace, trace);
  }
  const json = `${base}.json`;
  const record = { property: p.name, area: p.area, specClause: p.specClause, seed: f.seed, path: f.path, counterexample: f.counterexample, error: f.error, trace };
  writeFileSync(json, JSON.stringify(record, null, 2) + '\n');
  return {
    seed: f.seed,
    path: f.path,
    counterexample: f.counterexample,
    error: f.error,
    trace,
    json,
    // no guest run: the same seed and case count find the same case again (the JSON's path replays it at once)
    command: trace !== null ? `hvsim replay ${trace}` : `hvsim conform --area ${p.area} --seed ${f.seed} --runs ${numRuns}`,
  };
}

export async function runSuite(o: ConformSuiteOptions, properties: readonly ConformProperty[]): Promise<ConformReport> {
  await loadTraceCodec();
  const seed = o.seed ?? DEFAULT_SEED;
  const out = resolve(o.out ?? 'conform-failures');
  const chosen = properties.filter((p) => o.areas === null || o.areas === undefined || o.areas.includes(p.area));
  const guest = new GuestRecorder();
  const reports: ConformPropertyReport[] = [];
  const t0 = performance.now();
  try {
    for (const p of chosen) {
      const numRuns = o.runs ?? (o.deep ? p.quickRuns * DEEP_FACTOR : p.quickRuns);
      const start = performance.now();
      guest.forget();
      const r = await p.run(fc, { seed, numRuns, personality: o.personality ?? null, guest });
      const seconds = (performance.now() - start) / 1000;
      const rep: ConformPropertyReport = {
        area: p.area, name: p.name, specClause: p.specClause, runs: r.runs, skipped: r.skipped, failed: r.failure !== null, seconds,
        failure: r.failure === null ? null : writeFailure(out, p, r.failure, numRuns),
      };
      reports.push(rep);
      o.onProperty?.(rep);
    }
  } finally {
    guest.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const areaNames: string[] = [...AREAS, ...chosen.map((p) => p.area).filter((a) => !(AREAS as readonly string[]).includes(a))];
  const wanted = areaNames.filter((a) => o.areas === null || o.areas === undefined || o.areas.includes(a));
  const areas: ConformAreaReport[] = wanted.map((area) => {
    const ps = reports.filter((r) => r.area === area);
    const runs = ps.reduce((n, r) => n + r.runs, 0);
    const secs = ps.reduce((n, r) => n + r.seconds, 0);
    return {
      area,
      properties: ps.length,
      runs,
      failures: ps.filter((r) => r.failed).length,
      skipped: ps.filter((r) => r.skipped !== null).length,
      seconds: secs,
      casesPerSecond: secs > 0 ? runs / secs : 0,
    };
  });
  const totalRuns = reports.reduce((n, r) => n + r.runs, 0);
  return {
    seed,
    profile: o.runs !== null && o.runs !== undefined ? 'custom' : o.deep ? 'deep' : 'quick',
    areas,
    properties: reports,
    failures: reports.filter((r) => r.failed).length,
    totalRuns,
    seconds,
    casesPerSecond: seconds > 0 ? totalRuns / seconds : 0,
  };
}
