// Every property of the suite, by area (the order of AREAS in types.ts).

import type { ConformProperty } from './types.js';
import { determinismProperties } from './determinism.js';
import { replayProperties } from './replay-fidelity.js';

export const ALL_PROPERTIES: readonly ConformProperty[] = [
  ...determinismProperties,
  ...replayProperties,
];
