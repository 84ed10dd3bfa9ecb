// `hvsim conform`: the property-based conformance suite (properties/, docs/conformance.md) from
// the command line. Parses the options, loads the suite, prints a table per spec area (or JSON)
// and exits 1 when any property failed, 0 otherwise, 64 on a usage error.
//
// The suite lives outside src/ (it needs fast-check, a development dependency) and is loaded at
// run time: from its compiled copy next to dist/ (`npm run conform` builds it), or from the
// source tree when running under vitest.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STATUS } from '../api/exit-status.js';

export interface ConformSuiteOptions {
  seed: number | null;
  /** Cases per property (null: the profile's count). */
  runs: number | null;
  deep: boolean;
  personality: string[] | null;
  areas: string[] | null;
  /** Where failing cases are written (default ./conform-failures). */
  out: string | null;
  onProperty?(p: ConformPropertyReport): void;
}

export interface ConformPropertyReport {
  area: string;
  name: string;
  specClause: string;
  runs: number;
  skipped: string | null;
  failed: boolean;
  seconds: number;
  failure: {
    seed: number;
    path: string;
    counterexample: string;
    error: string;
    /** The counterexample's trace in the output directory (null: the property runs no guest). */
    trace: string | null;
    json: string;
    /** The one command that reproduces the failure. */
    command: string;
  } | null;
}

export interface ConformAreaReport {
  area: string;
  properties: number;
  runs: number;
  failures: number;
  skipped: number;
  seconds: number;
  casesPerSecond: number;
}

export interface ConformReport {
  seed: number;
  profile: 'quick' | 'deep' | 'custom';
  areas: ConformAreaReport[];
  properties: ConformPropertyReport[];
  failures: number;
  totalRuns: number;
  seconds: number;
  casesPerSecond: number;
}

/** What the suite module exports (properties/index.ts). */
export interface ConformSuite {
  AREAS: readonly string[];
  PERSONALITY_NAMES: readonly string[];
  runConformance(o: ConformSuiteOptions): Promise<ConformReport>;
}

export type SuiteLoader = () => Promise<ConformSuite>;

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

export const CONFORM_HELP = `usage: hvsim conform [--seed N] [--runs N] [--personality NAME[,NAME..]] [--area A[,A..]]
                     [--json] [--out DIR] [--deep]

Runs the conformance suite: fast-check properties of the hypervisor specs, by area. A failing
property's shrunk case is written to DIR (default ./conform-failures) as a trace plus a JSON,
with the one command that replays it.

  --seed N          fast-check seed (default 0x5eed)
  --runs N          cases per property (default: the quick profile's, or 100x with --deep)
  --deep            the deep profile: 100x the quick profile's cases
  --personality S   run the personality properties with this stack only (kvm,hyperv,vmware,xen,vmm)
  --area A          only these areas (comma-separated)
  --json            one JSON report on stdout (for CI)
  --out DIR         where failing cases go

Exit status: 0 every property held, 1 a property failed, 64 usage error.`;

class ConformUsage extends Error {}

export interface ConformArgs {
  options: ConformSuiteOptions;
  json: boolean;
  help: boolean;
}

function integer(flag: string, v: string | undefined, min: number): number {
  if (v === undefined) throw new ConformUsage(`${flag} needs a value`);
  const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v.slice(2), 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new ConformUsage(`${flag} ${v}: expected an integer >= ${min}`);
  return n;
}

function list(flag: string, v: string | undefined, known: readonly string[]): string[] {
  if (v === undefined || v === '') throw new ConformUsage(`${flag} needs a value`);
  const items = v.split(',');
  for (const it of items) if (!known.includes(it)) throw new ConformUsage(`${flag} ${it}: expected one of ${known.join(', ')}`);
  if (new Set(items).size !== items.length) throw new ConformUsage(`${flag} ${v}: a name is repeated`);
  return items;
}

export function parseConformArgs(argv: readonly string[], areas: readonly string[], personalities: readonly string[]): ConformArgs {
  const o: ConformSuiteOptions = { seed: null, runs: null, deep: false, personality: null, areas: null, out: null };
  let json = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--seed': o.seed = integer(flag, value(), 0); break;
      case '--runs': o.runs = integer(flag, value(), 1); break;
      case '--personality': o.personality = list(flag, value(), personalities); break;
      case '--area': o.areas = list(flag, value(), areas); break;
      case '--out': {
        const v = value();
        if (v === undefined || v === '') throw new ConformUsage('--out needs a directory');
        o.out = v;
        break;
      }
      case '--json': json = true; break;
      case '--deep': o.deep = true; break;
      case '-h': case '--help': help = true; break;
      default: throw new ConformUsage(`unknown option ${a}`);
    }
    if (inline !== undefined && (flag === '--json' || flag === '--deep')) throw new ConformUsage(`${flag} takes no value`);
  }
  if (o.deep && o.runs !== null) throw new ConformUsage('--deep and --runs exclude each other');
  return { options: o, json, help };
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

/** The per-area table (and the failures under it). */
export function formatReport(r: ConformReport): string {
  const lines: string[] = [];
  lines.push(`hvsim conform: seed ${r.seed}, ${r.profile} profile`);
  lines.push(`${pad('area', 14)}${lpad('properties', 11)}${lpad('runs', 9)}${lpad('failures', 10)}${lpad('skipped', 9)}${lpad('cases/s', 10)}`);
  for (const a of r.areas) {
    const rate = a.runs === 0 ? '-' : a.casesPerSecond.toFixed(a.casesPerSecond < 10 ? 1 : 0);
    lines.push(`${pad(a.area, 14)}${lpad(String(a.properties), 11)}${lpad(String(a.runs), 9)}${lpad(String(a.failures), 10)}${lpad(String(a.skipped), 9)}${lpad(rate, 10)}`);
  }
  lines.push(`total: ${r.properties.length} properties, ${r.totalRuns} cases in ${r.seconds.toFixed(1)} s (${r.casesPerSecond.toFixed(1)} cases/s), ${r.failures} failed`);
  for (const p of r.properties) {
    if (p.skipped !== null) lines.push(`skipped: [${p.area}] ${p.name}: ${p.skipped}`);
  }
  for (const p of r.properties) {
    if (p.failure === null) continue;
    lines.push('');
    lines.push(`FAILED [${p.area}] ${p.name} (${p.specClause})`);
    lines.push(`  counterexample: ${p.failure.counterexample}`);
    lines.push(`  error: ${p.failure.error.split('\n')[0]}`);
    lines.push(`  seed ${p.failure.seed}, path ${p.failure.path}; details in ${p.failure.json}`);
    lines.push(`  ${p.failure.command}`);
  }
  return lines.join('\n') + '\n';
}

/** The suite: compiled next to dist/ (dist/conform/properties), else the source tree (vitest). */
export const loadSuite: SuiteLoader = async () => {
  const compiled = new URL('../conform/properties/index.js', import.meta.url);
  const url = existsSync(fileURLToPath(compiled)) ? compiled : new URL('../../properties/index.js', import.meta.url);
  return (await import(url.href)) as ConformSuite;
};

export async function conformCommand(argv: string[], io: Io = process, load: SuiteLoader = loadSuite): Promise<number> {
  let suite: ConformSuite;
  try {
    suite = await load();
  } catch (e) {
    io.stderr.write(`hvsim conform: the suite cannot be loaded (run 'npm install' and 'npm run conform'): ${(e as Error).message}\n`);
    return STATUS.INTERNAL_ERROR;
  }
  let args: ConformArgs;
  try {
    args = parseConformArgs(argv, suite.AREAS, suite.PERSONALITY_NAMES);
  } catch (e) {
    if (!(e instanceof ConformUsage)) throw e;
    io.stderr.write(`hvsim conform: ${e.message}\n`);
    return STATUS.USAGE;
  }
  if (args.help) {
    io.stdout.write(CONFORM_HELP + '\n');
    return 0;
  }
  const report = await suite.runConformance({
    ...args.options,
    onProperty: args.json
      ? undefined
      : (p) => io.stderr.write(`${p.failed ? 'FAIL' : p.skipped !== null ? 'skip' : ' ok '} [${p.area}] ${p.name}: ${p.runs} cases in ${p.seconds.toFixed(1)} s\n`),
  });
  io.stdout.write(args.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.failures > 0 ? 1 : 0;
}
