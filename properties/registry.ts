// Every property of the suite, by area (the order of AREAS in types.ts).

import type { ConformProperty } from './types.js';
import { determinismProperties } from './determinism.js';
import { replayProperties } from './replay-fidelity.js';
import { pvclockProperties } from './pvclock.js';
import { hypervTimeProperties } from './hyperv-time.js';
import { xenTimeProperties } from './xen-time.js';
import { cpuidProperties } from './cpuid.js';
import { infoStoreProperties } from './info-stores.js';
import { vmApiProperties } from './vm-api.js';
import { virtioProperties } from './virtio.js';
import { instructionProperties } from './instructions.js';

export const ALL_PROPERTIES: readonly ConformProperty[] = [
  ...determinismProperties,
  ...replayProperties,
  ...pvclockProperties,
  ...hypervTimeProperties,
  ...xenTimeProperties,
  ...cpuidProperties,
  ...infoStoreProperties,
  ...vmApiProperties,
  ...virtioProperties,
  ...instructionProperties,
];
