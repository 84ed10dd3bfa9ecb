// The conformance suite's entry point: what `hvsim conform` loads (src/cli/conform.ts).

import type { ConformReport, ConformSuiteOptions } from '../src/cli/conform.js';
import { PERSONALITY_NAMES } from '../src/hypervisors/index.js';
import { ALL_PROPERTIES } from './registry.js';
import { runSuite } from './runner.js';
import { AREAS } from './types.js';

export { AREAS, PERSONALITY_NAMES, ALL_PROPERTIES };

export function runConformance(o: ConformSuiteOptions): Promise<ConformReport> {
  return runSuite(o, ALL_PROPERTIES);
}
