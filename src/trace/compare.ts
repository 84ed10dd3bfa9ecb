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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameU64(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/**
 * True when two events are equal in every field: the replayer's per-event check, without
 * building any strings (differingFields explains a difference once there is one).
 */
export function sameEvent(a: TraceEvent, b: TraceEvent): boolean {
  if (a.kind !== b.kind || a.vcpu !== b.vcpu || a.icount !== b.icount) return false;
  switch (a.kind) {
    case 'io': {
      const o = b as typeof a;
      return a.port === o.port && a.size === o.size && a.write === o.write && a.value === o.value;
    }
    case 'mmio': {
      const o = b as typeof a;
      return a.gpa === o.gpa && a.size === o.size && a.write === o.write && a.value === o.value;
    }
    case 'cpuid': {
      const o = b as typeof a;
      return a.leaf === o.leaf && a.subleaf === o.subleaf && a.result.every((v, i) => v === o.result[i]);
    }
    case 'rdmsr':
    case 'wrmsr': {
      const o = b as typeof a;
      return a.msr === o.msr && a.gp === o.gp && sameU64(a.value, o.value);
    }
    case 'hypercall': {
      const o = b as typeof a;
      return a.insn === o.insn && (a.ud === true) === (o.ud === true) && sameU64(a.result, o.result) && a.args.length === o.args.length && a.args.every((v, i) => sameU64(v, o.args[i]));
    }
    case 'interrupt': {
      const o = b as typeof a;
      return a.vector === o.vector && a.source === o.source;
    }
    case 'kv-write': {
      const o = b as typeof a;
      return a.key === o.key && a.value === o.value;
    }
    case 'hlt':
    case 'pause':
    case 'reset':
    case 'poweroff':
      return true;
    default:
      // The rarer kinds (digests, the end, DMA, host input): compare their exact fields.
      return differingFields(a, b).length === 0;
  }
}

/** Names of the fields that differ (position by position, so repeated names count apart), in record order. */
export function differingFields(a: TraceEvent, b: TraceEvent): string[] {
  const fa = exactFields(a);
  const fb = exactFields(b);
  const out: string[] = [];
  for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
    const x = fa[i];
    const y = fb[i];
    if (x !== undefined && y !== undefined && x[0] === y[0] && x[1] === y[1]) continue;
    for (const name of [x?.[0], y?.[0]]) if (name !== undefined && !out.includes(name)) out.push(name);
  }
  return out;
}

/** One line: the kind, then the fields as `hvsim trace show` prints them. */
export function formatEvent(e: TraceEvent): string {
  return `${e.kind} ${fieldsText(eventFields(e))}`.trimEnd();
}
