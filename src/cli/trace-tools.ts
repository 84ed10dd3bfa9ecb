// `hvsim trace show|stats|diff`: reading traces (docs/trace-format.md) from the command
// line. This file parses the words after `trace` and maps the outcome to an exit status
// (REPLAY_STATUS in src/api/exit-status.ts): 0 done (diff: identical), 1 diff found a
// difference, USAGE for a bad command line, BAD_INPUT for a file that is not a readable
// trace, always as one line.

import { REPLAY_STATUS } from '../api/exit-status.js';
import { EVENT_KINDS } from '../trace/event-fields.js';
import { BadTraceFile } from './trace-open.js';
import { LineOut, type TraceIo } from './trace-output.js';
import { showTrace, type ShowOptions } from './trace-show.js';
import { statsTrace } from './trace-stats.js';
import { diffTraces } from './trace-diff.js';

const HINT = "try 'hvsim trace --help'";

export const TRACE_HELP = `usage: hvsim trace show FILE [options]    the header and one line per event
       hvsim trace stats FILE [--json]     counts per kind, port, MSR, CPUID leaf, hypercall,
                                           vector, device; sizes and compression
       hvsim trace diff A B [--json]       the first event where two traces differ

show options:
  --kind K[,K...]   only these event kinds (${EVENT_KINDS.join(', ')})
  --vcpu N          only events of vCPU N
  --from ICOUNT     only events at icount >= ICOUNT (decimal or 0x hex)
  --to ICOUNT       only events at icount <= ICOUNT
  --events A..B     only events numbered A to B (A.., ..B or a single N also work)
  --limit N         stop after N events
  --header-only     the header only
  --json            JSON lines: the header, then one object per event (bytes as hex)

every command:
  --allow-incomplete  read a trace whose recording was interrupted, up to its last
                      complete frame
  --json              machine-readable output

exit status: 0 done (diff: identical), 1 diff: the traces differ, 64 bad command line,
65 a file that is not a readable trace (the reason on one line)`;

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string[]>;
}

/** `--name value`, `--name=value`, flags, and `--` before file names starting with '-'. */
function parseWords(words: readonly string[], flags: readonly string[], valued: readonly string[]): Parsed {
  const p: Parsed = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--') {
      p.positional.push(...words.slice(i + 1));
      break;
    }
    if (!w.startsWith('-') || w === '-') {
      p.positional.push(w);
      continue;
    }
    const eq = w.indexOf('=');
    const name = eq >= 0 ? w.slice(0, eq) : w;
    if (valued.includes(name)) {
      const value = eq >= 0 ? w.slice(eq + 1) : words[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      p.values.set(name, [...(p.values.get(name) ?? []), value]);
    } else if (flags.includes(name)) {
      if (eq >= 0) throw new UsageError(`${name} takes no value`);
      p.flags.add(name);
    } else {
      throw new UsageError(`unknown option '${name}'`);
    }
  }
  return p;
}

/** A non-negative integer: decimal, or hex with 0x; '_' allowed between digits. */
function count(name: string, s: string): number {
  const t = s.replace(/_/g, '');
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${name} '${s}': expected a non-negative integer`);
  return n;
}

function last(p: Parsed, name: string): string | undefined {
  const v = p.values.get(name);
  return v?.[v.length - 1];
}

function files(p: Parsed, sub: string, n: number): string[] {
  const what = n === 1 ? 'FILE' : 'A B';
  if (p.positional.length < n) throw new UsageError(`missing ${what}: hvsim trace ${sub} ${what}`);
  if (p.positional.length > n) throw new UsageError(`unexpected '${p.positional[n]}' after ${what}`);
  return p.positional;
}

function showOptions(p: Parsed): ShowOptions {
  const num = (name: string): number | null => {
    const v = last(p, name);
    return v === undefined ? null : count(name, v);
  };
  let kinds: Set<string> | null = null;
  for (const list of p.values.get('--kind') ?? []) {
    kinds ??= new Set();
    for (const k of list.split(',')) {
      if (k === '') continue;
      if (!(EVENT_KINDS as readonly string[]).includes(k)) throw new UsageError(`--kind: unknown event kind '${k}' (kinds: ${EVENT_KINDS.join(', ')})`);
      kinds.add(k);
    }
  }
  let fromEvent: number | null = null;
  let toEvent: number | null = null;
  const range = last(p, '--events');
  if (range !== undefined) {
    const m = /^([^.]*)\.\.([^.]*)$/.exec(range);
    if (m) {
      if (m[1] === '' && m[2] === '') throw new UsageError(`--events '${range}': expected A..B, A.., ..B or N`);
      fromEvent = m[1] === '' ? null : count('--events', m[1]);
      toEvent = m[2] === '' ? null : count('--events', m[2]);
    } else {
      fromEvent = toEvent = count('--events', range);
    }
    if (fromEvent !== null && toEvent !== null && toEvent < fromEvent) throw new UsageError(`--events '${range}': the range is empty (B < A)`);
  }
  const fromIcount = num('--from');
  const toIcount = num('--to');
  if (fromIcount !== null && toIcount !== null && toIcount < fromIcount) throw new UsageError(`--from ${fromIcount} --to ${toIcount}: the range is empty`);
  return {
    kinds,
    vcpu: num('--vcpu'),
    fromIcount,
    toIcount,
    fromEvent,
    toEvent,
    headerOnly: p.flags.has('--header-only'),
    json: p.flags.has('--json'),
    limit: num('--limit'),
    allowIncomplete: p.flags.has('--allow-incomplete'),
  };
}

/** Runs `hvsim trace ...`; `argv` is the words after `trace`. Returns the exit status. */
export async function traceCommand(argv: string[], io: TraceIo): Promise<number> {
  const [sub, ...rest] = argv;
  const out = new LineOut(io.stdout);
  const where = sub === 'show' || sub === 'stats' || sub === 'diff' ? `hvsim trace ${sub}` : 'hvsim trace';
  try {
    switch (sub) {
      case 'show': {
        const p = parseWords(rest, ['--header-only', '--json', '--allow-incomplete', '--help'], ['--kind', '--vcpu', '--from', '--to', '--events', '--limit']);
        if (p.flags.has('--help')) return help(out);
        const [file] = files(p, sub, 1);
        await showTrace(file, showOptions(p), out);
        return 0;
      }
      case 'stats': {
        const p = parseWords(rest, ['--json', '--allow-incomplete', '--help'], []);
        if (p.flags.has('--help')) return help(out);
        const [file] = files(p, sub, 1);
        await statsTrace(file, { json: p.flags.has('--json'), allowIncomplete: p.flags.has('--allow-incomplete') }, out);
        return 0;
      }
      case 'diff': {
        const p = parseWords(rest, ['--json', '--allow-incomplete', '--help'], []);
        if (p.flags.has('--help')) return help(out);
        const [a, b] = files(p, sub, 2);
        const same = await diffTraces(a, b, { json: p.flags.has('--json'), allowIncomplete: p.flags.has('--allow-incomplete') }, out);
        return same ? REPLAY_STATUS.IDENTICAL : REPLAY_STATUS.DIVERGED;
      }
      case 'help':
      case '--help':
      case '-h':
        return help(out);
      case undefined:
        throw new UsageError('missing command: show, stats or diff');
      default:
        throw new UsageError(`unknown command '${sub}' (show, stats or diff)`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      await out.end();
      io.stderr.write(`${where}: ${err.message}; ${HINT}\n`);
      return REPLAY_STATUS.USAGE;
    }
    if (err instanceof BadTraceFile) {
      // What was printed before the bad frame stays (it was read correctly); then the reason.
      await out.end();
      io.stderr.write(`hvsim trace: ${err.file}: ${err.message}\n`);
      return REPLAY_STATUS.BAD_INPUT;
    }
    throw err;
  } finally {
    await out.end();
  }
}

async function help(out: LineOut): Promise<number> {
  out.line(TRACE_HELP);
  await out.flush();
  return 0;
}
