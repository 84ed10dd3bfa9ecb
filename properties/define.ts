// defineProperty: a property from an arbitrary and a predicate. The run is fast-check's
// (seeded, shrinking); a failing case is re-run once after shrinking with the guest recorder
// cleared, so the trace left behind is the shrunk counterexample's own.

import type { Arbitrary } from 'fast-check';
import type { AreaName, ConformProperty, FastCheck, PropertyOutcome, PropertyRunOptions } from './types.js';

export interface PropertySpec<T> {
  area: AreaName;
  name: string;
  specClause: string;
  quickRuns: number;
  /** A reason the property cannot run on this host (checked before running), or null. */
  unavailable?(): string | null;
  arbitrary(fc: FastCheck, opts: PropertyRunOptions): Arbitrary<T>;
  /** Throw (or return false) when the case breaks the clause. */
  predicate(value: T, opts: PropertyRunOptions): boolean | void | Promise<boolean | void>;
}

function message(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export function defineProperty<T>(spec: PropertySpec<T>): ConformProperty {
  return {
    area: spec.area,
    name: spec.name,
    specClause: spec.specClause,
    quickRuns: spec.quickRuns,
    async run(fc: FastCheck, opts: PropertyRunOptions): Promise<PropertyOutcome> {
      const why = spec.unavailable?.() ?? null;
      if (why !== null) return { runs: 0, skipped: why, failure: null };
      const prop = fc.asyncProperty(spec.arbitrary(fc, opts), async (v) => {
        const ok = await spec.predicate(v, opts);
        return ok !== false;
      });
      const d = await fc.check(prop, { seed: opts.seed, numRuns: opts.numRuns, endOnFailure: false });
      if (!d.failed) return { runs: d.numRuns, skipped: null, failure: null };
      if (d.counterexample === null) {
        return { runs: d.numRuns, skipped: null, failure: { seed: d.seed, path: d.counterexamplePath ?? '', counterexample: '(none)', error: message(d.errorInstance), trace: null } };
      }
      const [value] = d.counterexample;
      // Re-run the shrunk case alone: its guest run (if any) is the trace kept.
      opts.guest.forget();
      let error = message(d.errorInstance);
      try {
        if ((await spec.predicate(value, opts)) === false) error = 'the property returned false';
      } catch (e) {
        error = message(e);
      }
      return {
        runs: d.numRuns,
        skipped: null,
        failure: { seed: d.seed, path: d.counterexamplePath ?? '', counterexample: fc.stringify(value), error, trace: opts.guest.last },
      };
    },
  };
}
