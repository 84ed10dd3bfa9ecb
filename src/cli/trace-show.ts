// `hvsim trace show FILE`: the header, then one line per event (or one JSON object per
// line with --json), optionally filtered by kind, vCPU, icount range and event range.

import { TRACE_FORMAT_VERSION, type TraceEvent, type TraceReader } from '../trace/index.js';
import { eventFields, eventJson, fieldsText } from '../trace/event-fields.js';
import { numberedEvents, openTrace } from './trace-open.js';
import { grouped, table, type LineOut } from './trace-output.js';

export interface ShowOptions {
  kinds: ReadonlySet<string> | null;
  vcpu: number | null;
  fromIcount: number | null;
  toIcount: number | null;
  /** Inclusive event-number range. */
  fromEvent: number | null;
  toEvent: number | null;
  headerOnly: boolean;
  json: boolean;
  limit: number | null;
  allowIncomplete: boolean;
}

export async function showTrace(file: string, opts: ShowOptions, out: LineOut): Promise<void> {
  const r = await openTrace(file, opts.allowIncomplete);
  try {
    if (opts.json) out.line(JSON.stringify(headerJson(r)));
    else for (const l of headerLines(file, r, out)) out.line(l);
    if (opts.headerOnly) return;
    await showEvents(file, r, opts, out);
  } finally {
    r.close();
  }
}

function headerJson(r: TraceReader): Record<string, unknown> {
  return { header: r.header, formatVersion: TRACE_FORMAT_VERSION, complete: r.complete, indexed: r.indexed, frames: r.frames.length, events: r.eventCount };
}

/** How a trace's completeness reads in one phrase. */
export function completeness(r: TraceReader): string {
  if (r.complete && r.tailBytes === 0) return r.indexed ? 'complete' : 'complete (index missing: read by walking its frames)';
  const tail = r.tailBytes > 0 ? `; the last ${grouped(r.tailBytes)} bytes are an incomplete frame, ignored` : '';
  return `INCOMPLETE: no end event (the recording was interrupted)${tail}`;
}

function headerLines(file: string, r: TraceReader, out: LineOut): string[] {
  const h = r.header;
  const label = (s: string): string => out.c.bold(s);
  const rows: string[][] = [
    ['trace', file],
    ['format', `version ${TRACE_FORMAT_VERSION}, recorded by hvsim ${h.hvsimVersion}`],
    ['contents', `${grouped(r.eventCount)} events in ${r.frames.length} frames, ${grouped(r.fileSize)} bytes; ${completeness(r)}`],
    ['command', commandText(h.commandLine)],
    ['seed', h.seed],
  ];
  const lines = table(rows).map((l, i) => l.replace(rows[i][0], label(rows[i][0])));
  const cfg = configSummary(h.config);
  const pad = ' '.repeat(10);
  lines.push(label('config') + (cfg.length === 0 ? '    (none)' : ''));
  lines.push(...table(cfg, [], pad));
  lines.push(label('images') + (h.images.length === 0 ? '    (none)' : ''));
  if (h.images.length > 0) {
    const rows2 = [['#', 'role', 'name', 'size', 'sha256', 'embedded']];
    h.images.forEach((im, i) => rows2.push([String(i), im.role, im.name, grouped(im.size), im.sha256, im.embedded ? 'yes' : 'no (hash only)']));
    lines.push(...table(rows2, ['r', 'l', 'l', 'r'], pad));
  }
  return lines;
}

/** The command line as a shell would take it back (single quotes where needed). */
export function commandText(argv: readonly string[]): string {
  const quote = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return argv.length === 0 ? '(library use: no command line)' : ['hvsim', ...argv.map(quote)].join(' ');
}

const MAX_VALUE = 72;

/** The configuration flattened to sorted `dotted.key  value` rows (values as JSON). */
export function configSummary(config: unknown): string[][] {
  const flat = flattenConfig(config);
  return [...flat.keys()].sort().map((k) => {
    const v = flat.get(k)!;
    return [k, v.length > MAX_VALUE ? v.slice(0, MAX_VALUE - 1) + '…' : v];
  });
}

/** Dotted paths of every leaf of a JSON-plain value (arrays of scalars stay whole). */
export function flattenConfig(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object') {
    const isArray = Array.isArray(value);
    const scalars = isArray && value.every((x) => x === null || typeof x !== 'object');
    if (!scalars) {
      const entries = isArray ? value.map((x, i) => [String(i), x] as const) : Object.entries(value as Record<string, unknown>);
      if (entries.length > 0) {
        for (const [k, v] of entries) flattenConfig(v, isArray ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : k, out);
        return out;
      }
    }
  }
  if (prefix !== '' || value !== undefined) out.set(prefix || '(config)', JSON.stringify(value) ?? 'undefined');
  return out;
}

/** Column widths of the event lines, fixed from what the index knows so output can stream. */
function columnWidths(r: TraceReader): { event: number; vcpu: number; icount: number } {
  let vcpus = 1;
  let icount = 0;
  for (const f of r.frames) {
    vcpus = Math.max(vcpus, f.icounts.length);
    for (const x of f.icounts) icount = Math.max(icount, x);
  }
  return {
    event: Math.max(5, String(Math.max(0, r.eventCount - 1)).length),
    vcpu: Math.max(4, String(vcpus - 1).length),
    icount: Math.max(10, String(icount).length + 1),
  };
}

const KIND_WIDTH = 'host-output'.length;

async function showEvents(file: string, r: TraceReader, opts: ShowOptions, out: LineOut): Promise<void> {
  const w = columnWidths(r);
  if (!opts.json) {
    out.line();
    out.line(out.c.bold(`${'event'.padStart(w.event)} ${'vcpu'.padStart(w.vcpu)} ${'icount'.padStart(w.icount)} ${'kind'.padEnd(KIND_WIDTH)} fields`));
  }
  // Start where the index says the first wanted event can be.
  const seek =
    opts.fromEvent !== null
      ? { fromEvent: opts.fromEvent }
      : opts.vcpu !== null && opts.fromIcount !== null
        ? { fromFrame: r.frameForIcount(opts.vcpu, opts.fromIcount) }
        : {};
  const wanted = (e: TraceEvent): boolean =>
    (opts.vcpu === null || e.vcpu === opts.vcpu) &&
    (opts.fromIcount === null || e.icount >= opts.fromIcount) &&
    (opts.toIcount === null || e.icount <= opts.toIcount) &&
    (opts.kinds === null || opts.kinds.has(e.kind));
  let shown = 0;
  if (opts.limit === 0) return;
  for (const [n, e] of numberedEvents(file, r, seek)) {
    if (out.closed) break;
    // A vCPU's icount never goes back, so past --to on the chosen vCPU nothing more can match.
    if (opts.vcpu !== null && opts.toIcount !== null && e.vcpu === opts.vcpu && e.icount > opts.toIcount) break;
    if (wanted(e)) {
      if (opts.json) {
        out.line(JSON.stringify(eventJson(n, e)));
      } else {
        const kind = e.kind === 'end' ? out.c.bold(e.kind.padEnd(KIND_WIDTH)) : out.c.cyan(e.kind.padEnd(KIND_WIDTH));
        const line = `${String(n).padStart(w.event)} ${String(e.vcpu).padStart(w.vcpu)} ${String(e.icount).padStart(w.icount)} ${kind} ${fieldsText(eventFields(e))}`;
        out.line(line.trimEnd());
      }
      shown++;
      await out.maybeFlush();
    }
    // Stop without decoding one more event (it may sit in a damaged frame the user did not ask for).
    if ((opts.limit !== null && shown >= opts.limit) || (opts.toEvent !== null && n >= opts.toEvent)) break;
  }
}
