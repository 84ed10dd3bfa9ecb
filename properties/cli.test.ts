// `hvsim conform` (src/cli/conform.ts): options, usage errors (64), the exit status (1 on any
// failure, 0 otherwise), the per-area table and --json, with a stand-in suite so the command's
// own behaviour is checked without running properties.

import { describe, expect, it } from 'vitest';
import { conformCommand, parseConformArgs, type ConformReport, type ConformSuite, type ConformSuiteOptions } from '../src/cli/conform.js';
import { main } from '../src/cli/main.js';
import { capture } from '../test/helpers/cli-capture.js';
import { STATUS } from '../src/api/exit-status.js';
import { AREAS, PERSONALITY_NAMES } from './index.js';

const report = (failures: number): ConformReport => ({
  seed: 7,
  profile: 'quick',
  areas: [
    { area: 'cpuid', properties: 2, runs: 64, failures, skipped: 0, seconds: 0.5, casesPerSecond: 128 },
    { area: 'virtio', properties: 0, runs: 0, failures: 0, skipped: 0, seconds: 0, casesPerSecond: 0 },
  ],
  properties: [
    {
      area: 'cpuid', name: 'p', specClause: '§1.1', runs: 64, skipped: null, failed: failures > 0, seconds: 0.5,
      failure: failures === 0 ? null : { seed: 7, path: '3:1', counterexample: '["kvm"]', error: 'boom', trace: '/o/cpuid-p.trace.zst', json: '/o/cpuid-p.json', command: 'hvsim replay /o/cpuid-p.trace.zst' },
    },
  ],
  failures,
  totalRuns: 64,
  seconds: 0.5,
  casesPerSecond: 128,
});

function fakeSuite(failures: number, seen: ConformSuiteOptions[] = []): () => Promise<ConformSuite> {
  return async () => ({ AREAS, PERSONALITY_NAMES, runConformance: async (o) => (seen.push(o), report(failures)) });
}

const run = (argv: string[], failures = 0, seen: ConformSuiteOptions[] = []) => capture((a, io) => conformCommand(a, io, fakeSuite(failures, seen)), argv);

describe('hvsim conform options', () => {
  it('parses every option', () => {
    const a = parseConformArgs(['--seed', '0x10', '--runs=5', '--personality', 'hyperv,kvm', '--area', 'cpuid,pvclock', '--json', '--out', 'x'], AREAS, PERSONALITY_NAMES);
    expect(a.options).toMatchObject({ seed: 16, runs: 5, deep: false, personality: ['hyperv', 'kvm'], areas: ['cpuid', 'pvclock'], out: 'x' });
    expect(a.json).toBe(true);
    expect(parseConformArgs(['--deep'], AREAS, PERSONALITY_NAMES).options.deep).toBe(true);
  });

  it.each([
    [['--runs', '0']], [['--runs', 'x']], [['--seed']], [['--seed', '-1']], [['--personality', 'bhyve']], [['--personality', 'kvm,kvm']],
    [['--area', 'nope']], [['--deep', '--runs', '3']], [['--json=1']], [['--out', '']], [['extra']],
  ])('%j is a usage error (64, one line)', async (argv) => {
    const r = await run(argv);
    expect(r.status).toBe(STATUS.USAGE);
    expect(r.stderr).toMatch(/^hvsim conform: [^\n]+\n$/);
    expect(r.stdout).toBe('');
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: hvsim conform [--seed N] [--runs N] [--personality NAME[,NAME..]] [--area A[,A..]]');
  });
});

describe('hvsim conform results', () => {
  it('all held: the table per area, status 0', async () => {
    const seen: ConformSuiteOptions[] = [];
    const r = await run(['--area', 'cpuid', '--seed', '7'], 0, seen);
    expect(r.status).toBe(0);
    expect(seen[0]).toMatchObject({ seed: 7, areas: ['cpuid'], runs: null, deep: false, personality: null, out: null });
    expect(r.stdout).toContain('hvsim conform: seed 7, quick profile\n');
    expect(r.stdout).toMatch(/^area +properties +runs +failures +skipped +cases\/s\ncpuid +2 +64 +0 +0 +128\nvirtio +0 +0 +0 +0 +-\n/m);
    expect(r.stdout).toContain('total: 1 properties, 64 cases in 0.5 s (128.0 cases/s), 0 failed\n');
  });

  it('a failure: status 1, the counterexample and one replay command', async () => {
    const r = await run([], 1);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAILED [cpuid] p (§1.1)\n  counterexample: ["kvm"]\n  error: boom\n');
    expect(r.stdout.split('\n').filter((l) => l.trim().startsWith('hvsim replay'))).toEqual(['  hvsim replay /o/cpuid-p.trace.zst']);
  });

  it('--json: the whole report as one JSON document, status as without it', async () => {
    const r = await run(['--json'], 1);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual(report(1));
    expect(r.stderr).toBe('');
  });

  it('a suite that cannot be loaded is reported in one line', async () => {
    const r = await capture((a, io) => conformCommand(a, io, async () => { throw new Error('no fast-check'); }), []);
    expect(r.status).toBe(STATUS.INTERNAL_ERROR);
    expect(r.stderr).toMatch(/^hvsim conform: the suite cannot be loaded .*no fast-check\n$/);
  });

  it('hvsim help lists the command', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      expect(await main(['help'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).toContain('hvsim conform [--seed N] [--runs N] [--personality NAME[,NAME]] [--area A] [--json] [--out DIR] [--deep]');
  });
});
