// `hvsim replay FILE`: re-run a recorded trace and prove the run identical, or show the
// first divergence. Exit status: 0 identical, 1 diverged, 64 usage, 65 not a usable trace
// (or a missing image), 70 internal error.

import { readFileSync } from 'node:fs';
import chalk from 'chalk';
import { REPLAY_STATUS } from '../api/exit-status.js';
import { loadTraceCodec, TraceFormatError, type TraceEvent } from '../trace/index.js';
import { replayReader, ReplayInputError, type ReplayResult } from '../trace/replay.js';
import { openTrace, BadTraceFile } from './trace-open.js';
import { VmmError } from '../api/vmm.js';
import { LoaderError } from '../loaders/index.js';
import type { ReplayMode } from '../trace/replayer.js';
import { exactFields, formatEvent } from '../trace/compare.js';
import { disassembleForReport } from './disassembly.js';

type Io = { stdout: NodeJS.WritableStream & { isTTY?: boolean }; stderr: NodeJS.WritableStream & { isTTY?: boolean } };

const USAGE = `usage: hvsim replay [options] FILE

Re-run the trace FILE (made by hvsim run --record) and check that every event is the same.

  --mode verify|standalone  verify (default): devices run for real and every event they
                            produce is compared; standalone: port reads are answered from
                            the trace, so a changed device model does not derail the run.
  --image ROLE=PATH         the file for an image the trace holds only by hash (ROLE is
                            kernel, initrd or module:N; see hvsim trace show --header-only).
  --allow-incomplete        replay a trace whose run was killed, up to its last frame.
  --console                 show the guest's serial output (COM1 on stdout).
  --json                    print the result as one JSON object.
  --quiet                   no progress bar.

Exit status: 0 identical, 1 diverged, 64 usage, 65 not a usable trace, 70 internal error.
`;

interface ReplayArgs {
  file: string;
  mode: ReplayMode;
  images: Record<string, string>;
  allowIncomplete: boolean;
  console: boolean;
  json: boolean;
  quiet: boolean;
}

function parse(argv: string[]): ReplayArgs | string {
  const a: ReplayArgs = { file: '', mode: 'verify', images: {}, allowIncomplete: false, console: false, json: false, quiet: false };
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i];
    const eq = w.indexOf('=');
    const name = w.startsWith('--') && eq > 0 ? w.slice(0, eq) : w;
    const value = (): string | null => (eq > 0 && w.startsWith('--') ? w.slice(eq + 1) : i + 1 < argv.length ? argv[++i] : null);
    switch (name) {
      case '--mode': {
        const v = value();
        if (v !== 'verify' && v !== 'standalone') return `--mode: expected verify or standalone, got ${v ?? 'nothing'}`;
        a.mode = v;
        break;
      }
      case '--image': {
        const v = value();
        const e = v === null ? -1 : v.indexOf('=');
        if (v === null || e <= 0) return `--image: expected ROLE=PATH, got ${v ?? 'nothing'}`;
        a.images[v.slice(0, e)] = v.slice(e + 1);
        break;
      }
      case '--allow-incomplete': a.allowIncomplete = true; break;
      case '--console': a.console = true; break;
      case '--json': a.json = true; break;
      case '--quiet': a.quiet = true; break;
      default:
        if (w.startsWith('-') && w !== '-') return `unknown option ${w}`;
        files.push(w);
    }
  }
  if (files.length !== 1) return files.length === 0 ? 'a trace FILE is required' : `one trace FILE, got ${files.length}`;
  a.file = files[0];
  return a;
}

export async function replayCommand(argv: string[], io: Io = process): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const a = parse(argv);
  if (typeof a === 'string') {
    io.stderr.write(`hvsim replay: ${a} (see hvsim replay --help)\n`);
    return REPLAY_STATUS.USAGE;
  }
  const images: Record<string, Uint8Array> = {};
  for (const [role, path] of Object.entries(a.images)) {
    try {
      images[role] = new Uint8Array(readFileSync(path));
    } catch (e) {
      io.stderr.write(`hvsim replay: --image ${role}=${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return REPLAY_STATUS.BAD_INPUT;
    }
  }
  await loadTraceCodec();
  const progress = !a.quiet && !a.json && io.stderr.isTTY === true ? new ProgressBar(io.stderr) : null;
  let r: ReplayResult;
  try {
    const reader = await openTrace(a.file, a.allowIncomplete);
    try {
      r = replayReader(reader, {
      mode: a.mode,
        images,
        allowIncomplete: a.allowIncomplete,
        console: a.console ? { com1: (b) => io.stdout.write(Uint8Array.of(b)) } : {},
        onProgress: progress === null ? undefined : (n, total) => progress.show(n, total),
      });
    } finally {
      reader.close();
    }
  } catch (e) {
    progress?.clear();
    if (e instanceof BadTraceFile) {
      io.stderr.write(`hvsim replay: ${a.file}: ${e.message}\n`);
      return REPLAY_STATUS.BAD_INPUT;
    }
    if (e instanceof VmmError || e instanceof LoaderError) {
      // The header names a machine or an image hvsim cannot build: the trace is not usable.
      io.stderr.write(`hvsim replay: ${a.file}: the recorded machine cannot be built: ${e.message}\n`);
      return REPLAY_STATUS.BAD_INPUT;
    }
    if (e instanceof TraceFormatError || e instanceof ReplayInputError) {
      io.stderr.write(`hvsim replay: ${a.file}: ${e.message}\n`);
      return REPLAY_STATUS.BAD_INPUT;
    }
    io.stderr.write(`hvsim replay: internal error: ${(e as Error).stack ?? e}\n`);
    return REPLAY_STATUS.INTERNAL_ERROR;
  }
  progress?.clear();
  if (a.json) io.stdout.write(JSON.stringify(resultJson(a.file, r)) + '\n');
  else io.stdout.write(resultText(a.file, r));
  return r.identical ? REPLAY_STATUS.IDENTICAL : REPLAY_STATUS.DIVERGED;
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function resultText(file: string, r: ReplayResult): string {
  const d = r.divergence;
  if (d === null) {
    const upTo = r.incomplete ? ' up to the end of the incomplete trace' : '';
    return `${chalk.green('identical')}${upTo}: ${file}: ${r.events} events, ${r.instructions} instructions (${r.mode})\n`;
  }
  const ev = d.expected ?? d.actual!;
  const lines = [
    `${chalk.red('DIVERGED')} at event ${d.event}: ${file} (${r.mode})`,
    `  vCPU ${ev.vcpu}, icount ${d.actual?.icount ?? ev.icount}`,
  ];
  if (r.context !== null) lines.push(`  guest: rip ${hex(r.context.rip)} (after the instruction), ${r.context.mode}, CPL ${r.context.cpl}`);
  if (d.expected === null) lines.push(`  the re-run produced an event the trace does not have: ${formatEvent(d.actual!)}`);
  else if (d.actual === null) lines.push(`  the re-run ended before the recorded event: ${formatEvent(d.expected)}`);
  else {
    const exp = exactFields(d.expected);
    const act = new Map(exactFields(d.actual));
    const w = Math.max(...exp.map(([k]) => k.length), ...[...act.keys()].map((k) => k.length));
    lines.push(`  ${'field'.padEnd(w)}  ${'recorded'.padEnd(22)} replayed`);
    for (const [k, v] of exp) {
      const other = act.get(k) ?? '-';
      const mark = d.fields.includes(k) || !act.has(k) ? chalk.red('*') : ' ';
      lines.push(` ${mark}${k.padEnd(w)}  ${v.padEnd(22)} ${other}`);
      act.delete(k);
    }
    for (const [k, v] of act) lines.push(` ${chalk.red('*')}${k.padEnd(w)}  ${'-'.padEnd(22)} ${v}`);
  }
  lines.push(
    d.lastDigest === null
      ? '  last matching digest: none (no digest before this event)'
      : `  last matching digest: event ${d.lastDigest.event}, icount ${d.lastDigest.icount}, ${hexBytes(d.lastDigest.hash)}`,
  );
  if (r.context !== null && r.context.lastInstructions.length > 0) {
    lines.push('  last instructions before the divergence:');
    for (const line of disassembleForReport(r.context.lastInstructions, r.context.mode)) lines.push(`    ${line}`);
  }
  return lines.join('\n') + '\n';
}

function resultJson(file: string, r: ReplayResult): object {
  const d = r.divergence;
  const ev = (e: TraceEvent | null): unknown => (e === null ? null : Object.fromEntries(exactFields(e)));
  return {
    file,
    mode: r.mode,
    identical: r.identical,
    incomplete: r.incomplete,
    events: r.events,
    instructions: r.instructions,
    divergence:
      d === null
        ? null
        : {
            event: d.event,
            fields: d.fields,
            expected: ev(d.expected),
            actual: ev(d.actual),
            lastDigest: d.lastDigest === null ? null : { event: d.lastDigest.event, icount: d.lastDigest.icount, hash: hexBytes(d.lastDigest.hash) },
            guest: r.context === null ? null : { rip: hex(r.context.rip), mode: r.context.mode, cpl: r.context.cpl },
            lastInstructions: r.context === null ? [] : disassembleForReport(r.context.lastInstructions, r.context.mode),
          },
  };
}

/** One line on stderr, redrawn in place (only on a TTY). */
class ProgressBar {
  private last = '';
  constructor(private readonly out: NodeJS.WritableStream) {}

  show(n: number, total: number): void {
    const pct = total > 0 ? Math.min(100, Math.floor((n * 100) / total)) : 0;
    const width = 30;
    const fill = Math.round((pct * width) / 100);
    const line = `replay [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${pct}% ${(n / 1e6).toFixed(0)}M insns`;
    if (line !== this.last) this.out.write(`\r${line}`);
    this.last = line;
  }

  clear(): void {
    if (this.last !== '') this.out.write(`\r${' '.repeat(this.last.length)}\r`);
  }
}
