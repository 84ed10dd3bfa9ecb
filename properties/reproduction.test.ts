// Reproduction (issue 8): a failing property's shrunk case is written as a trace with a JSON of
// the property, the seeds and the counterexample, and exactly one command replays it. Shown with
// a deliberately broken property, injected here only: "the hello guest never prints a 'q'",
// false as soon as its command line holds one (the guest echoes it, fixtures/guests/README.md).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, type ConformReport } from '../src/cli/conform.js';
import { replayCommand } from '../src/cli/replay.js';
import { replayTrace } from '../src/trace/replay.js';
import { capture } from '../test/helpers/cli-capture.js';
import { defineProperty } from './define.js';
import { fixture } from './guest.js';
import { runSuite } from './runner.js';
import { GuestRecorder } from './guest.js';
import { migrateArgs, sampledRun } from './sampling.js';

/** Command lines over a few letters, q among them. */
const appendArb = (f: typeof fc) => f.string({ unit: f.constantFrom('a', 'b', 'q', 'x', ' '), maxLength: 20 });

const noQ = (serial: string): void => {
  if (serial.includes('q')) throw new Error(`the guest printed a 'q': ${JSON.stringify(serial.split('\n').find((l) => l.includes('q')))}`);
};

const BROKEN = defineProperty({
  area: 'determinism',
  name: 'deliberately broken: the hello guest never prints a q',
  specClause: 'none (test-only, README "Time")',
  quickRuns: 50,
  arbitrary: (f) => appendArb(f),
  predicate: (append, { guest }) => {
    const r = guest.record(['-m', '4M', '--kernel', fixture('hello'), '--append', append], 'hello');
    noQ(r.serial);
  },
});

describe('a failing property leaves a replayable trace', () => {
  const out = mkdtempSync(join(tmpdir(), 'hvsim-conform-repro-'));
  let report: ConformReport;

  it('is reported with its shrunk counterexample, a JSON and one replay command', async () => {
    try {
      report = await runSuite({ seed: 42, runs: null, deep: false, personality: null, areas: null, out }, [BROKEN]);
    } catch (e) {
      rmSync(out, { recursive: true, force: true });
      throw e;
    }
    expect(report.failures).toBe(1);
    const f = report.properties[0].failure!;
    expect(f).not.toBeNull();
    // shrunk to the smallest command line that holds a q
    expect(JSON.parse(f.counterexample)).toBe('q');
    expect(f.trace).toBe(join(out, 'determinism-deliberately-broken-the-hello-guest-never-prints-a-q.trace.zst'));
    expect(existsSync(f.trace!)).toBe(true);
    expect(f.command).toBe(`hvsim replay ${f.trace}`);
    const json = JSON.parse(readFileSync(f.json, 'utf8'));
    expect(json).toMatchObject({ property: BROKEN.name, area: 'determinism', seed: 42, counterexample: f.counterexample, trace: f.trace });
    expect(json.path).toMatch(/^\d+(:\d+)*$/);
    // the table prints that command once, on a line of its own
    const lines = formatReport(report).split('\n').map((l) => l.trim());
    expect(lines.filter((l) => l.startsWith('hvsim replay '))).toEqual([f.command]);
    // and fast-check's seed and path replay the same shrunk case (the guest echoes its command
    // line, so "prints a q" is "the command line holds a q")
    const again = fc.check(fc.property(appendArb(fc), (s) => !s.includes('q')), { seed: json.seed, path: json.path });
    expect(again.failed).toBe(true);
    expect(again.counterexample).toEqual(['q']);
  }, 120_000);

  it('the trace replays identically, and to the same failure', async () => {
    const f = report.properties[0].failure!;
    const r = await capture(replayCommand, [f.trace!]);
    expect(r.stdout).toMatch(/^identical: /);
    expect(r.status).toBe(0);
    // the replayed guest prints the same line, so the property fails on the replay too
    let serial = '';
    const res = await replayTrace(f.trace!, { console: { com1: (b) => void (serial += String.fromCharCode(b)) } });
    expect(res.identical).toBe(true);
    expect(() => noQ(serial)).toThrow(f.error);
    rmSync(out, { recursive: true, force: true });
  });
});

describe('a run driven in slices (the clock properties) records a trace that replays', () => {
  it('kvmclock with migrations, read between slices of 1-7 instructions: identical on replay', async () => {
    const guest = new GuestRecorder();
    try {
      let reads = 0;
      const args = ['-m', '8M', '--hypervisor', 'kvm', '--kernel', fixture('kvmclock'), ...migrateArgs([{ at: 300_000, tscKHz: 1000 }, { at: 600_000, pauseNs: 5_000_000 }])];
      const r = sampledRun(guest, args, 'sliced', [1, 7, 5000, 3, 20_000], () => {}, (m) => (m.mem.readBytes(0x1000, 32) !== null && reads++, null));
      expect(r.run.status).toBe(1); // the guest's own checks passed
      expect(r.samples).toBeGreaterThan(100);
      const res = await replayTrace(r.run.trace);
      expect(res.divergence).toBeNull();
      expect(res.identical).toBe(true);
    } finally {
      guest.dispose();
    }
  }, 60_000);
});
