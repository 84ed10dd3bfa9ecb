// Comparing two events field by field (the replayer: recorded vs produced; `hvsim trace diff`:
// trace vs trace). The fields are event-fields.ts's, so a report names them as `trace show`
// prints them.

import type { TraceEvent, U64 } from './encoding.js';
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

const sameU64 = (x: U64, y: U64): boolean => x[0] === y[0] && x[1] === y[1];
const sameBytes = (x: Uint8Array, y: Uint8Array): boolean => x.length === y.length && x.every((v, i) => v === y[i]);

/**
 * True when two events are equal in every field, without building strings: the replayer's
 * per-event check and `hvsim trace diff`'s walk (differingFields explains a difference once
 * there is one).
 */
export function sameEvent(a: TraceEvent, b: TraceEvent): boolean {
  if (a.kind !== b.kind || a.vcpu !== b.vcpu || a.icount !== b.icount) return false;
  switch (a.kind) {
    case 'io':
    case 'mmio': {
      const y = b as typeof a;
      return a.write === y.write && a.size === y.size && a.value === y.value && (a.kind === 'io' ? a.port === (y as typeof a).port : a.gpa === (y as typeof a).gpa);
    }
    case 'cpuid': {
      const y = b as typeof a;
      return a.leaf === y.leaf && a.subleaf === y.subleaf && a.result.every((v, i) => v === y.result[i]);
    }
    case 'rdmsr':
    case 'wrmsr': {
      const y = b as typeof a;
      return a.msr === y.msr && a.gp === y.gp && sameU64(a.value, y.value);
    }
    case 'hypercall': {
      const y = b as typeof a;
      return a.insn === y.insn && (a.ud === true) === (y.ud === true) && sameU64(a.result, y.result) && a.args.length === y.args.length && a.args.every((v, i) => sameU64(v, y.args[i]));
    }
    case 'hlt':
    case 'pause':
    case 'reset':
    case 'poweroff':
      return true;
    case 'shutdown':
      return a.reason === (b as typeof a).reason;
    case 'debug-exit':
      return a.code === (b as typeof a).code;
    case 'interrupt': {
      const y = b as typeof a;
      return a.vector === y.vector && a.source === y.source;
    }
    case 'dma': {
      const y = b as typeof a;
      if (a.toGuest !== y.toGuest || a.device !== y.device || a.gpa !== y.gpa || a.length !== y.length) return false;
      if ('data' in a) return 'data' in y && sameBytes(a.data, y.data);
      return 'digest' in y && sameBytes(a.digest, y.digest);
    }
    case 'host-input':
    case 'host-output': {
      const y = b as typeof a;
      return a.device === y.device && sameBytes(a.data, y.data);
    }
    case 'digest': {
      const y = b as typeof a;
      return sameBytes(a.hash, y.hash) && a.parts.length === y.parts.length && a.parts.every((p, i) => p.name === y.parts[i].name && sameBytes(p.hash, y.parts[i].hash));
    }
    case 'end': {
      const y = b as typeof a;
      return a.reason === y.reason && a.exitStatus === y.exitStatus && sameBytes(a.digest, y.digest);
    }
    case 'kv-write': {
      const y = b as typeof a;
      return a.key === y.key && a.value === y.value;
    }
  }
  // A kind added to the format but not here yet: compare the exact fields.
  return differingFields(a, b).length === 0;
}

/** Names of the fields that differ (position by position, so repeated names count apart), in record order. */
export function differingFields(a: TraceEvent, b: TraceEvent): string[] {
  // Events of different kinds have different fields: the kind (and the stamp) is the difference.
  if (a.kind !== b.kind) return ['kind', ...(a.vcpu !== b.vcpu ? ['vcpu'] : []), ...(a.icount !== b.icount ? ['icount'] : [])];
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
