// Differential test of hvsim's CPU against the machine's KVM (/dev/kvm): K generated snippets per
// instruction group (test/differential/arbitraries.ts, fixed seed), run on KVM through
// tools/kvm-oracle and in hvsim through runSnippet (src/machine/cpu/snippet-runner.ts); GPRs,
// the status flags and DF (minus what the SDM leaves undefined) and the outcome/vector must agree.
// A case KVM cannot answer counts as "no oracle", never as a pass; the summary at the end gives,
// per group, how many cases had an answer.
//
// HVSIM_DIFF_K=<n> and HVSIM_DIFF_SEED=<n> change the number of cases per group and the seed;
// HVSIM_DIFF_SHOW=<n> how many mismatches per group are printed (default 5).

import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnippetInput, SnippetResult, SnippetRunner } from '../../src/machine/snippet.js';
import { kvmOracleAvailable, runOnKvm, type OracleAnswer } from '../oracle/kvm.js';
import { caseArb, GROUPS, type Case, type Group } from './arbitraries.js';
import { compareResults, describeCase } from './compare.js';

const K = Number(process.env.HVSIM_DIFF_K ?? 50);
const SEED = Number(process.env.HVSIM_DIFF_SEED ?? 0x5eed0001);
const SHOW = Number(process.env.HVSIM_DIFF_SHOW ?? 5); // mismatches printed per group

const here = dirname(fileURLToPath(import.meta.url));
const RUNNER_TS = resolve(here, '../../src/machine/cpu/snippet-runner.ts');
const RUNNER_MODULE = '../../src/machine/cpu/snippet-runner.js';

const avail = kvmOracleAvailable();
if (!avail.ok) console.warn(`[kvm-vs-hvsim] skipped: ${avail.reason}`);

function hostCpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

/** hvsim's runner, or why it cannot be used. A runner file that exists but fails to load is an error. */
async function loadRunner(): Promise<SnippetRunner | string> {
  if (!existsSync(RUNNER_TS)) return 'hvsim snippet runner not available yet';
  const mod = (await import(/* @vite-ignore */ RUNNER_MODULE)) as { runSnippet?: unknown };
  if (typeof mod.runSnippet !== 'function') throw new Error('src/machine/cpu/snippet-runner.ts does not export a runSnippet function');
  return mod.runSnippet as SnippetRunner;
}

// Calibration for the groups whose instructions this KVM may not execute as hardware does (its
// instruction emulator refuses POPCNT and runs LZCNT/TZCNT as BSR/BSF): one hand-computed case each
// (SDM Vol.2 POPCNT/LZCNT/TZCNT), 64-bit mode, RBX as the source, RAX as the destination.
const CALIBRATION: Record<string, { code: number[]; rbx: number; rax: number; flags: number; what: string }> = {
  popcnt: { code: [0xf3, 0x0f, 0xb8, 0xc3], rbx: 0x00f00f01, rax: 9, flags: 0, what: 'popcnt eax, ebx (ebx=0xf00f01) = 9' },
  lzcnt: { code: [0xf3, 0x0f, 0xbd, 0xc3], rbx: 1, rax: 31, flags: 0, what: 'lzcnt eax, ebx (ebx=1) = 31, CF=0' },
  tzcnt: { code: [0xf3, 0x0f, 0xbc, 0xc3], rbx: 0, rax: 32, flags: 1, what: 'tzcnt eax, ebx (ebx=0) = 32, CF=1' },
};

function calibrationInput(c: (typeof CALIBRATION)[string]): SnippetInput {
  const gprs: Array<[number, number]> = Array.from({ length: 16 }, () => [0, 0]);
  gprs[3] = [c.rbx, 0];
  gprs[4] = [0x9000, 0];
  return { mode: 64, code: Uint8Array.from([...c.code, 0xf4]), gprs, rflags: 2 };
}

interface GroupRun {
  group: Group;
  cases: Case[];
  answers: OracleAnswer[];
  /** Why the whole group has no oracle (missing CPU feature, failed calibration). */
  excluded?: string;
  compared: number;
  mismatches: number;
}

const runs: GroupRun[] = [];
let runner: SnippetRunner | string = 'not loaded';
let kvmMs = 0;
let hvsimMs = 0;

describe.skipIf(!avail.ok)(`hvsim CPU vs /dev/kvm${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    const flags = hostCpuFlags();
    const all: SnippetInput[] = [];
    const calib = Object.entries(CALIBRATION);
    const calibAnswers = await runOnKvm(calib.map(([, c]) => calibrationInput(c)));
    GROUPS.forEach((group, gi) => {
      const cases = fc.sample(caseArb(group), { seed: SEED + gi, numRuns: K });
      let excluded: string | undefined;
      if (group.cpuFlag && !flags.has(group.cpuFlag)) excluded = `host CPU lacks ${group.cpuFlag}`;
      const ci = calib.findIndex(([name]) => name === group.name);
      if (!excluded && ci >= 0) {
        const c = calib[ci]![1];
        const a = calibAnswers[ci]!;
        if (a.outcome === 'nooracle') excluded = `KVM cannot run ${group.name}: ${a.detail}`;
        else if (a.outcome !== 'hlt' || a.gprs[0]![0] !== c.rax || (a.rflags & 1) !== c.flags) {
          excluded = `KVM gets ${c.what} wrong (eax=${a.gprs[0]![0]}, CF=${a.rflags & 1}${c.code[2] === 0xbd || c.code[2] === 0xbc ? '; it runs the instruction as BSR/BSF' : ''})`;
        }
      }
      runs.push({ group, cases, answers: [], excluded, compared: 0, mismatches: 0 });
      if (!excluded) all.push(...cases.map((c) => c.input));
    });
    const t0 = performance.now();
    const answers = await runOnKvm(all);
    kvmMs = performance.now() - t0;
    let k = 0;
    for (const run of runs) {
      run.answers = run.excluded ? run.cases.map(() => ({ outcome: 'nooracle', detail: run.excluded! })) : answers.slice(k, (k += run.cases.length));
    }
    runner = await loadRunner();
  }, 120_000);

  afterAll(() => {
    const rows = runs.map((r) => {
      const no = r.answers.filter((a) => a.outcome === 'nooracle') as Array<{ detail: string }>;
      const reasons = new Map<string, number>();
      for (const n of no) {
        const why = n.detail.replace(/ at rip [0-9a-f]+.*$/, '').replace(/bytes [0-9a-f]+/, '');
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
      }
      const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([w, n]) => `${n}x ${w}`).join('; ');
      const cmp = typeof runner === 'string' ? 'not compared' : `${r.compared} compared, ${r.mismatches} mismatched`;
      return `${r.group.name.padEnd(18)} ${String(r.cases.length).padStart(4)} cases: ${String(r.cases.length - no.length).padStart(4)} oracle, ${String(no.length).padStart(4)} no oracle; ${cmp}${top ? ` [${top}]` : ''}`;
    });
    const total = runs.reduce((s, r) => s + r.cases.length, 0);
    const answered = runs.reduce((s, r) => s + r.answers.filter((a) => a.outcome !== 'nooracle').length, 0);
    const timing = `KVM ${(kvmMs / 1000).toFixed(1)} s` + (typeof runner === 'string' ? '' : `, hvsim ${(hvsimMs / 1000).toFixed(1)} s`);
    console.log(`[kvm-vs-hvsim] seed ${SEED}, ${K} cases per group: ${answered}/${total} with an oracle answer; ${timing}` +
      (typeof runner === 'string' ? ` (${runner})` : '') + '\n' + rows.join('\n'));
  });

  describe.each(GROUPS.map((g) => [g.name, g] as const))('%s', (_name, group) => {
    const run = () => runs.find((r) => r.group === group)!;

    it('KVM stops every generated snippet at HLT or with a vector the generator expects', () => {
      const r = run();
      const bad: string[] = [];
      r.cases.forEach((c, i) => {
        const a = r.answers[i]!;
        if (a.outcome === 'nooracle' || a.outcome === 'hlt') return;
        if (a.outcome === 'exception' && c.built.faultVectors.includes(a.vector!)) return;
        bad.push(describeCase(c, a));
      });
      if (bad.length) console.log(`[${group.name}] unexpected KVM outcomes (generator or oracle problem):\n\n${bad.slice(0, SHOW).join('\n\n')}`);
      expect(bad.length, `${bad.length} snippets stopped unexpectedly on KVM`).toBe(0);
    });

    it('hvsim matches KVM', (ctx) => {
      if (typeof runner === 'string') {
        console.log(`[${group.name}] ${runner}: comparison skipped`);
        ctx.skip();
        return;
      }
      const r = run();
      const shown: string[] = [];
      const t0 = performance.now();
      r.compared = 0;
      r.mismatches = 0;
      r.cases.forEach((c, i) => {
        const a = r.answers[i]!;
        if (a.outcome === 'nooracle') return;
        r.compared++;
        let hv: SnippetResult | undefined;
        let diffs: string[];
        try {
          hv = (runner as SnippetRunner)(c.input);
          diffs = compareResults(c, a, hv);
        } catch (e) {
          diffs = [`hvsim threw: ${(e as Error).stack ?? String(e)}`];
        }
        if (diffs.length) {
          r.mismatches++;
          if (shown.length < SHOW) shown.push(describeCase(c, a, hv, diffs));
        }
      });
      hvsimMs += performance.now() - t0;
      if (shown.length) console.log(`[${group.name}] ${r.mismatches}/${r.compared} mismatches; first ${shown.length}:\n\n${shown.join('\n\n')}`);
      expect(r.mismatches, `${r.mismatches} of ${r.compared} ${group.name} snippets differ between KVM and hvsim`).toBe(0);
    });
  });
});
