// Assertion helper for the loader tests: the call throws a LoaderError with this code and
// a message matching the pattern (and nothing else: no RangeError, no TypeError).

import { expect } from 'vitest';
import { LoaderError, type LoaderErrorCode } from '../errors.js';

export function expectLoaderError(fn: () => unknown, code: LoaderErrorCode, message: RegExp): LoaderError {
  let thrown: unknown = null;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a LoaderError to be thrown').toBeInstanceOf(LoaderError);
  const err = thrown as LoaderError;
  expect(err.message).toMatch(message);
  expect(err.code).toBe(code);
  // One sentence: starts with a capital letter, ends with a full stop, no line breaks.
  expect(err.message).toMatch(/^[A-Z][^\n]*\.$/);
  return err;
}

/** A small deterministic generator for the corruption tests (no Math.random). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}
