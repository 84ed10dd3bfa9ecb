// Comparing two events field by field (the replayer: recorded vs produced; `hvsim trace diff`:
// trace vs trace). The fields are event-fields.ts's, so a report names them as `trace show`
// prints them.

import type { TraceEvent } from './encoding.js';
import { eventFields, exact, fieldsText } from './event-fields.js';

/** Every field of an event with its exact value, the stamp first: [name, value]. */
export function exactFields(e: TraceEvent): [string, string][] {
  const out: [string, string][] = [
    ['kind', e.kind],
    ['vcpu', String(e.vcpu)],
    ['icount', String(e.icount)],
  ];
  for (const f of eventFields(e)) out.push([f.name, exact(f)]);
  return out;
}

/** Names of the fields that differ (a field present in only one counts), in record order. */
export function differingFields(a: TraceEvent, b: TraceEvent): string[] {
  const fb = new Map(exactFields(b));
  const out: string[] = [];
  for (const [k, v] of exactFields(a)) {
    if (fb.get(k) !== v) out.push(k);
    fb.delete(k);
  }
  for (const k of fb.keys()) out.push(k);
  return out;
}

/** One line: the kind, then the fields as `hvsim trace show` prints them. */
export function formatEvent(e: TraceEvent): string {
  return `${e.kind} ${fieldsText(eventFields(e))}`.trimEnd();
}
