// `hvsim trace diff A B`: walks two traces in step and reports the first event where they
// part (every field of both events, the differing ones marked), whether an event was
// dropped or added there, how the headers differ, and how each run ended.
//
// Header fields that say how the trace was written rather than what the guest saw are shown
// when they differ but do not make the traces "different": two recordings of one run differ
// at least in their output path, and the format version, not the build, decides replay
// compatibility (docs/trace-format.md, "Versioning"). The rest of the configuration, the
// seed and the images' contents do.

import type { TraceEvent, TraceReader } from '../trace/index.js';
import { eventFields, eventJson, exact, type Field } from '../trace/event-fields.js';
import { sameEvent } from '../trace/compare.js';
import { numberedEvents, openTrace } from './trace-open.js';
import { grouped, table, type LineOut } from './trace-output.js';
import { commandText, completeness, flattenConfig } from './trace-show.js';

export interface DiffOptions {
  json: boolean;
  allowIncomplete: boolean;
}

export interface HeaderDifference {
  field: string;
  a: string;
  b: string;
  /** True for fields that do not change what the trace replays (hvsim version, command line). */
  informational: boolean;
}

const MISSING = '(absent)';

/** `hvsim run` options that change the recording, not the run (src/cli/args.ts RunConfig). */
const RECORDING_ONLY_CONFIG = new Set([
  'config.record', // --record FILE: where the trace goes
  'config.recordImages', // --record-images: images embedded or hashed (their SHA-256 is compared)
  'config.quiet', // --quiet: hvsim's own progress output
]);

export function headerDifferences(ra: TraceReader, rb: TraceReader): HeaderDifference[] {
  const a = ra.header;
  const b = rb.header;
  const out: HeaderDifference[] = [];
  const cmp = (field: string, x: string, y: string, informational = false): void => {
    if (x !== y) out.push({ field, a: x, b: y, informational });
  };
  cmp('hvsimVersion', a.hvsimVersion, b.hvsimVersion, true);
  cmp('commandLine', commandText(a.commandLine), commandText(b.commandLine), true);
  cmp('seed', a.seed, b.seed);
  const ca = flattenConfig(a.config, 'config');
  const cb = flattenConfig(b.config, 'config');
  for (const k of [...new Set([...ca.keys(), ...cb.keys()])].sort()) cmp(k, ca.get(k) ?? MISSING, cb.get(k) ?? MISSING, RECORDING_ONLY_CONFIG.has(k));
  cmp('images.length', String(a.images.length), String(b.images.length));
  for (let i = 0; i < Math.min(a.images.length, b.images.length); i++) {
    for (const k of ['name', 'role', 'size', 'sha256', 'embedded'] as const) cmp(`images[${i}].${k}`, String(a.images[i][k]), String(b.images[i][k]), k === 'embedded');
  }
  return out;
}

/** An event's fields with its stamp first, as diff lists them. */
function stampedFields(e: TraceEvent): Field[] {
  return [{ name: 'vcpu', text: String(e.vcpu) }, { name: 'icount', text: String(e.icount) }, { name: 'kind', text: e.kind }, ...eventFields(e)];
}

interface FieldRow {
  name: string;
  a: string;
  b: string;
  differs: boolean;
}

/** Both events field by field: A's fields in order, then fields only B has. */
export function fieldRows(a: TraceEvent | null, b: TraceEvent | null): FieldRow[] {
  const fa = a ? stampedFields(a) : [];
  const fb = b ? stampedFields(b) : [];
  const names = [...fa.map((f) => f.name), ...fb.map((f) => f.name).filter((n) => !fa.some((f) => f.name === n))];
  return names.map((name) => {
    const x = fa.find((f) => f.name === name);
    const y = fb.find((f) => f.name === name);
    return {
      name,
      a: x ? x.text : a ? MISSING : '(no event)',
      b: y ? y.text : b ? MISSING : '(no event)',
      differs: !x || !y || exact(x) !== exact(y),
    };
  });
}

export interface Divergence {
  event: number;
  a: TraceEvent | null;
  b: TraceEvent | null;
  /** What the next events say about it: one trace has an event the other lacks, if so. */
  note: string | null;
}

interface Side {
  file: string;
  r: TraceReader;
  end: Extract<TraceEvent, { kind: 'end' }> | null;
}

/** The end event (it is the trace's last), read from the last frame only. */
function endEvent(file: string, r: TraceReader): Side['end'] {
  if (!r.complete || r.eventCount === 0) return null;
  let last: TraceEvent | null = null;
  for (const [, e] of numberedEvents(file, r, { fromEvent: r.eventCount - 1 })) last = e;
  return last && last.kind === 'end' ? last : null;
}

function firstDivergence(A: Side, B: Side): Divergence | null {
  const ia = numberedEvents(A.file, A.r);
  const ib = numberedEvents(B.file, B.r);
  for (let n = 0; ; n++) {
    const x = ia.next();
    const y = ib.next();
    if (x.done && y.done) return null;
    const ea = x.done ? null : x.value[1];
    const eb = y.done ? null : y.value[1];
    if (ea && eb && sameEvent(ea, eb)) continue;
    // One event ahead on each side tells a dropped or an added event from a changed one.
    const na = ia.next();
    const nb = ib.next();
    const nextA = na.done ? null : na.value[1];
    const nextB = nb.done ? null : nb.value[1];
    let note: string | null = null;
    if (ea && eb && nextA && sameEvent(nextA, eb)) note = `B's event ${n} is A's event ${n + 1}: A's event ${n} is missing from B`;
    else if (ea && eb && nextB && sameEvent(ea, nextB)) note = `A's event ${n} is B's event ${n + 1}: B's event ${n} is missing from A`;
    else if (!eb) note = `B ends after ${grouped(n)} events; A goes on`;
    else if (!ea) note = `A ends after ${grouped(n)} events; B goes on`;
    ia.return();
    ib.return();
    return { event: n, a: ea, b: eb, note };
  }
}

/** Compares two traces; true if their headers (see above) and event streams are the same. */
export async function diffTraces(fileA: string, fileB: string, opts: DiffOptions, out: LineOut): Promise<boolean> {
  const ra = await openTrace(fileA, opts.allowIncomplete);
  let rb: TraceReader;
  try {
    rb = await openTrace(fileB, opts.allowIncomplete);
  } catch (err) {
    ra.close();
    throw err;
  }
  try {
    const A: Side = { file: fileA, r: ra, end: endEvent(fileA, ra) };
    const B: Side = { file: fileB, r: rb, end: endEvent(fileB, rb) };
    const headers = headerDifferences(ra, rb);
    const div = firstDivergence(A, B);
    const identical = div === null && headers.every((d) => d.informational);
    if (opts.json) out.line(JSON.stringify(diffJson(A, B, headers, div, identical)));
    else for (const l of diffLines(A, B, headers, div, identical, out)) out.line(l);
    return identical;
  } finally {
    ra.close();
    rb.close();
  }
}

function sideJson(s: Side): Record<string, unknown> {
  return {
    file: s.file,
    events: s.r.eventCount,
    complete: s.r.complete,
    end: s.end ? { reason: s.end.reason, exitStatus: s.end.exitStatus, icount: s.end.icount, vcpu: s.end.vcpu } : null,
  };
}

function diffJson(A: Side, B: Side, headers: HeaderDifference[], div: Divergence | null, identical: boolean): Record<string, unknown> {
  return {
    identical,
    a: sideJson(A),
    b: sideJson(B),
    header: headers,
    firstDifference: div && {
      event: div.event,
      fields: fieldRows(div.a, div.b)
        .filter((r) => r.differs)
        .map((r) => r.name),
      a: div.a && eventJson(div.event, div.a),
      b: div.b && eventJson(div.event, div.b),
      note: div.note,
    },
  };
}

function sideLine(label: string, s: Side): string[] {
  const end = s.end ? `ended by ${s.end.reason}, exit status ${s.end.exitStatus}` : 'no end event';
  return [label, s.file, `${grouped(s.r.eventCount)} events`, end, completeness(s.r)];
}

function diffLines(A: Side, B: Side, headers: HeaderDifference[], div: Divergence | null, identical: boolean, out: LineOut): string[] {
  const c = out.c;
  const lines = table([sideLine('A', A), sideLine('B', B)]);
  lines.push('');
  if (headers.length === 0) lines.push(`${c.bold('header')}: identical`);
  else {
    const real = headers.filter((d) => !d.informational).length;
    lines.push(`${c.bold('header')}: ${real} difference${real === 1 ? '' : 's'}${real < headers.length ? ` (+ ${headers.length - real} informational)` : ''}`);
    const rows = [['field', 'A', 'B', ''], ...headers.map((d) => [d.field, d.a, d.b, d.informational ? '(informational)' : ''])];
    lines.push(...table(rows, [], '  '));
  }
  lines.push('');
  if (div === null) {
    lines.push(`${c.bold('events')}: identical (${grouped(A.r.eventCount)} events)`);
  } else {
    lines.push(`${c.bold('events')}: first difference at event ${c.bold(String(div.event))}`);
    const rows = fieldRows(div.a, div.b);
    const text = table([['', 'field', 'A', 'B'], ...rows.map((r) => [r.differs ? '*' : '', r.name, r.a, r.b])], [], '  ');
    lines.push(text[0], ...text.slice(1).map((l, i) => (rows[i].differs ? c.red(l) : l)));
    if (div.note) lines.push(`  ${div.note}`);
  }
  lines.push('', identical ? 'the traces are identical' : c.bold('the traces differ'));
  return lines;
}
