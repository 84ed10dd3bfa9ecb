// Virtqueues and the guest-hostile inputs of every device (hypervisor-interfaces.md §7): the
// area exists with no property yet. The virtio devices keep their own fast-check properties next
// to their code (src/devices/virtio/virtio-hostile.property.test.ts, run by npm test); a device
// property that should also run under `hvsim conform` is a ConformProperty (types.ts) with area
// 'virtio', added to this list. Until then the report shows the area with 0 properties.

import type { ConformProperty } from './types.js';

export const virtioProperties: ConformProperty[] = [];
