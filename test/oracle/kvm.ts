// The /dev/kvm oracle: runs SnippetInputs on the machine's KVM through the C helper in
// tools/kvm-oracle (built on demand with the machine's gcc into the git-ignored
// tools/kvm-oracle/kvm-oracle) and returns SnippetResults in the same shape as hvsim's runner.
// A case KVM could not answer (emulation failure, internal error, unexpected exit, timeout, helper
// crash) comes back as { outcome: 'nooracle', detail }: it is neither a pass nor a failure.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GprFile, SnippetInput, SnippetResult } from '../../src/machine/snippet.js';

export interface NoOracle {
  outcome: 'nooracle';
  detail: string;
}
export type OracleAnswer = SnippetResult | NoOracle;
export type Availability = { ok: true } | { ok: false; reason: string };

const here = dirname(fileURLToPath(import.meta.url));
export const KVM_ORACLE_DIR = resolve(here, '../../tools/kvm-oracle');
export const KVM_ORACLE_BIN = join(KVM_ORACLE_DIR, 'kvm-oracle');
const SOURCES = ['kvm-oracle.c', 'build.sh'].map((f) => join(KVM_ORACLE_DIR, f));

/** Default per-case limit; straight-line snippets finish in well under a millisecond. */
export const DEFAULT_CASE_TIMEOUT_MS = 2000;

let cached: Availability | undefined;

function needsBuild(): boolean {
  if (!existsSync(KVM_ORACLE_BIN)) return true;
  const built = statSync(KVM_ORACLE_BIN).mtimeMs;
  return SOURCES.some((s) => statSync(s).mtimeMs > built);
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

function check(): Availability {
  if (process.platform !== 'linux') return { ok: false, reason: `no /dev/kvm on ${process.platform}` };
  if (process.arch !== 'x64') return { ok: false, reason: `host is ${process.arch}, not x86-64` };
  if (!existsSync('/dev/kvm')) return { ok: false, reason: '/dev/kvm does not exist' };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (e) {
    return { ok: false, reason: `cannot open /dev/kvm read-write: ${(e as Error).message}` };
  }
  if (needsBuild()) {
    const cc = process.env.CC ?? 'gcc';
    const v = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    if (v.error || v.status !== 0) return { ok: false, reason: `${cc} not available to build tools/kvm-oracle` };
    const b = spawnSync('sh', [join(KVM_ORACLE_DIR, 'build.sh')], { encoding: 'utf8' });
    if (b.error || b.status !== 0) {
      return { ok: false, reason: `building tools/kvm-oracle failed: ${firstLine(b.stderr || String(b.error))}` };
    }
  }
  const p = spawnSync(KVM_ORACLE_BIN, ['--probe'], { encoding: 'utf8', timeout: 20_000 });
  const line = firstLine(p.stdout ?? '');
  if (line !== 'ready') {
    return { ok: false, reason: `kvm-oracle --probe: ${line || firstLine(p.stderr ?? '') || String(p.error)}` };
  }
  return { ok: true };
}

/** Whether the oracle can run here (checked once per process; builds the helper if needed). */
export function kvmOracleAvailable(): Availability {
  cached ??= check();
  return cached;
}

function hex64([lo, hi]: [number, number]): string {
  return hi === 0 ? (lo >>> 0).toString(16) : (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

function parseHex64(s: string): [number, number] {
  const v = BigInt('0x' + s);
  return [Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)];
}

/** One helper input line (see the protocol in tools/kvm-oracle/kvm-oracle.c). */
export function formatCase(c: SnippetInput): string {
  if (c.gprs.length !== 16) throw new Error(`a snippet needs 16 GPRs, got ${c.gprs.length}`);
  if (c.code.length === 0 || c.code.length > 0x10000) throw new Error(`bad code length ${c.code.length}`);
  const code = Array.from(c.code, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${c.mode} ${(c.rflags >>> 0).toString(16)} ${c.gprs.map(hex64).join(' ')} ${code}`;
}

/** Parses one helper output line. */
export function parseAnswer(line: string): OracleAnswer {
  const f = line.trim().split(' ');
  const kind = f[0];
  if (kind === 'nooracle') return { outcome: 'nooracle', detail: f.slice(1).join(' ') };
  if ((kind === 'hlt' || kind === 'exception' || kind === 'timeout') && f.length === 19) {
    const gprs: GprFile = f.slice(3).map(parseHex64);
    const rflags = parseHex64(f[2]!)[0];
    if (kind === 'timeout') return { outcome: 'nooracle', detail: 'timeout: no HLT within the per-case limit' };
    const r: SnippetResult = { outcome: kind, gprs, rflags };
    if (kind === 'exception') r.vector = Number(f[1]);
    return r;
  }
  return { outcome: 'nooracle', detail: `unparsable helper output: ${line.slice(0, 200)}` };
}

export interface RunOptions {
  /** Per-case limit in milliseconds (a case that exceeds it is 'nooracle'). */
  timeoutMs?: number;
}

/** Runs the cases through one helper process (one VM, one vCPU reused for every case). */
export async function runOnKvm(cases: SnippetInput[], opts: RunOptions = {}): Promise<OracleAnswer[]> {
  const avail = kvmOracleAvailable();
  if (!avail.ok) return cases.map(() => ({ outcome: 'nooracle', detail: avail.reason }));
  if (cases.length === 0) return [];
  const timeoutMs = Math.max(1, Math.floor(opts.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS));
  const input = cases.map(formatCase).join('\n') + '\n';
  const child = spawn(KVM_ORACLE_BIN, ['--timeout-ms', String(timeoutMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  // A whole-batch guard in case the helper itself hangs (each case is bounded by timeoutMs).
  const guard = setTimeout(() => child.kill('SIGKILL'), cases.length * (timeoutMs + 100) + 20_000);
  const status = await new Promise<string>((res) => {
    child.on('error', (e) => res(`spawn failed: ${e.message}`));
    child.on('close', (code, signal) => res(signal ? `killed by ${signal}` : `exit status ${code}`));
    child.stdin.on('error', () => {}); // EPIPE when the helper dies early; reported via 'close'
    child.stdin.end(input);
  });
  clearTimeout(guard);
  const lines = out.split('\n').filter((l) => l.length > 0);
  const head = lines.shift();
  if (head !== 'ready') {
    const why = head ?? (firstLine(err) || status);
    return cases.map(() => ({ outcome: 'nooracle', detail: `kvm-oracle did not start: ${why}` }));
  }
  return cases.map((_, i) => {
    const l = lines[i];
    return l === undefined
      ? { outcome: 'nooracle', detail: `kvm-oracle stopped early (${status}) ${firstLine(err)}`.trim() }
      : parseAnswer(l);
  });
}
