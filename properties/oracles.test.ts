// The properties can fail: with a bug planted in the code under test (test-only, undone after),
// the model-based properties find it. A property that cannot fail proves nothing.

import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KvStore } from '../src/hypervisors/kv-store.js';
import { Vmm } from '../src/api/vmm.js';
import { GuestRecorder } from './guest.js';
import { ALL_PROPERTIES } from './index.js';

const undo: Array<() => void> = [];
afterEach(() => {
  for (const u of undo.splice(0)) u();
});

function plant<T extends object, K extends keyof T>(proto: T, key: K, impl: T[K]): void {
  const orig = proto[key];
  proto[key] = impl;
  undo.push(() => void (proto[key] = orig));
}

async function outcome(area: string, nameStart: string) {
  const p = ALL_PROPERTIES.find((q) => q.area === area && q.name.startsWith(nameStart))!;
  expect(p, `${area} ${nameStart}`).toBeDefined();
  const guest = new GuestRecorder();
  try {
    return await p.run(fc, { seed: 1, numRuns: 200, personality: null, guest });
  } finally {
    guest.dispose();
  }
}

describe('planted bugs are found', () => {
  it('a store that lets the guest overwrite read-only keys fails every information-store property', async () => {
    plant(KvStore.prototype, 'set', function (this: KvStore, key: string, value: string) {
      (this as unknown as { values: Map<string, string> }).values.set(key, value);
      this.writes.push({ key, value });
      return 'ok' as const;
    });
    // XenStore asks isReadOnly itself before writing (permissions), so that answer goes too
    plant(KvStore.prototype, 'isReadOnly', () => false);
    for (const name of ['the generic KvStore', 'VMware guestinfo', 'XenStore']) {
      const r = await outcome('info-stores', name);
      expect(r.failure, name).not.toBeNull();
      expect(r.failure!.counterexample).toMatch(/ro/);
    }
  });

  it('an intr() that takes any vector fails the VM API property (vmm(4): EINVAL outside 16-255)', async () => {
    const orig = Vmm.prototype.intr;
    plant(Vmm.prototype, 'intr', function (this: Vmm, id: number, vcpu: number, vector: number) {
      return orig.call(this, id, vcpu, Math.min(255, Math.max(16, Math.floor(vector))));
    });
    const r = await outcome('vm-api', 'any sequence');
    expect(r.failure).not.toBeNull();
    expect(r.failure!.error).toMatch(/intr\(.*success, the model says EINVAL/);
  });
});
