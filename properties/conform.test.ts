// The quick profile of the conformance suite (part of npm test): every property of every area
// with its quick case count, none failing; the area table; a property that cannot run here says
// why instead of passing.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, type ConformReport } from '../src/cli/conform.js';
import { ALL_PROPERTIES, AREAS, runConformance } from './index.js';

describe('hvsim conform, quick profile', () => {
  let report: ConformReport;

  it('every property holds', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hvsim-conform-quick-'));
    try {
      report = await runConformance({ seed: null, runs: null, deep: false, personality: null, areas: null, out });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    const failed = report.properties.filter((p) => p.failed).map((p) => `[${p.area}] ${p.name}: ${p.failure?.counterexample}\n  ${p.failure?.error}`);
    expect(failed).toEqual([]);
    expect(report.failures).toBe(0);
    console.log(formatReport(report));
  }, 240_000);

  it('reports every area, in order, with its properties, cases and rate', () => {
    expect(report.areas.map((a) => a.area)).toEqual([...AREAS]);
    expect(report.properties).toHaveLength(ALL_PROPERTIES.length);
    for (const a of report.areas) {
      const props = ALL_PROPERTIES.filter((p) => p.area === a.area);
      expect(a.properties).toBe(props.length);
      expect(a.properties).toBeGreaterThan(0);
    }
    for (const p of report.properties) {
      // each property names its clause, and either ran its quick cases or says why it could not
      expect(p.specClause).toMatch(/§|SDM|vmm\(4\)|trace-format|README/);
      if (p.skipped === null) expect(p.runs).toBe(ALL_PROPERTIES.find((q) => q.name === p.name)!.quickRuns);
      else expect(p.skipped.length).toBeGreaterThan(0);
    }
    expect(report.totalRuns).toBeGreaterThan(400);
    const table = formatReport(report);
    expect(table).toMatch(/^area +properties +runs +failures +skipped +cases\/s$/m);
    expect(table).toMatch(/^virtio +1 +60 +0 +0 +\d/m);
  });
});
