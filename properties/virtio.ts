// Virtqueues and the guest-hostile inputs of every device (hypervisor-interfaces.md §7; virtio
// 1.2 2.7.4.2, 2.7.5, 2.7.13): a driver that writes anything at all into its descriptor table,
// indirect tables and avail ring, with any feature set, must get the architectural answer from
// each of virtio-rnd, virtio-blk, virtio-net and virtio-balloon: no host exception, bounded
// work, guest RAM changed only where the device may write (a buffer some descriptor marks
// device-writable, the used ring and avail_event), and a device status that is still a valid
// status (DEVICE_NEEDS_RESET allowed). The devices keep sharper properties against an exact
// reference walk next to their code (src/devices/virtio*/...property.test.ts).

import type { Arbitrary } from 'fast-check';
import { VirtioRnd } from '../src/devices/virtio-rnd/virtio-rnd.js';
import { VirtioBalloon } from '../src/devices/virtio-balloon/virtio-balloon.js';
import { createVirtioBlk } from '../src/devices/virtio-blk/blk-config.js';
import { createVirtioNet } from '../src/devices/virtio-net/net-config.js';
import { FakeClock } from '../src/devices/fake-clock.js';
import { harness, modernInit, modernNotify, modernRead, modernWrite } from '../src/devices/virtio/virtio-test-driver.js';
import { DescFlag, DeviceStatus } from '../src/devices/virtio/virtio-spec.js';
import type { VirtioDeviceModel } from '../src/devices/virtio/virtio-device.js';
import * as M from '../src/devices/virtio/modern-registers.js';
import { defineProperty } from './define.js';
import type { ConformProperty, FastCheck } from './types.js';

const RAM = 0x20000;
const RING = 0x1000; // descriptor table, then avail, then used (modernInit's layout)
const TABLES = 0x4000; // indirect tables
const DATA = 0x8000;

const DEVICES = ['virtio-rnd', 'virtio-blk', 'virtio-net', 'virtio-balloon'] as const;
type DeviceName = (typeof DEVICES)[number];

function makeDevice(name: DeviceName): VirtioDeviceModel {
  const identity = (_d: string, b: Uint8Array): Uint8Array => b;
  switch (name) {
    case 'virtio-rnd':
      return new VirtioRnd('rnd', { nextBytes: (n) => new Uint8Array(n).fill(0xa5) });
    case 'virtio-balloon':
      return new VirtioBalloon('balloon', RAM);
    case 'virtio-blk':
      return createVirtioBlk({ bus: 0, slot: 3, function: 0, conf: 'disk.img', hostInput: identity, standInBytes: 1 << 20 });
    case 'virtio-net':
      return createVirtioNet({ bus: 0, slot: 4, function: 0, conf: 'echo', vmname: 'conform', run: {}, clock: new FakeClock(), hostInput: identity, hostOutput: () => {} });
  }
}

interface Desc { lo: number; hi: number; len: number; flags: number; next: number }
interface Case {
  device: DeviceName;
  queue: number;
  log2: number;
  table: Desc[];
  indirect: Desc[];
  heads: number[];
  availIdx: number;
  featuresLo: number;
}

function caseArb(fc: FastCheck): Arbitrary<Case> {
  const desc = fc.record({
    lo: fc.oneof(fc.integer({ min: DATA, max: RAM - 1 }), fc.constant(TABLES), fc.integer({ min: RAM - 64, max: RAM + 64 }), fc.constantFrom(0, 0xfee00000, 0xffffffff)),
    hi: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(0xffffffff) }),
    len: fc.oneof(fc.integer({ min: 0, max: 0x600 }), fc.constantFrom(16, 32, 0x8000, 0xffffffff)),
    flags: fc.oneof(fc.constantFrom(0, DescFlag.NEXT, DescFlag.WRITE, DescFlag.WRITE | DescFlag.NEXT, DescFlag.INDIRECT), fc.nat(0xffff)),
    next: fc.nat(40),
  });
  return fc.record({
    device: fc.constantFrom(...DEVICES),
    queue: fc.nat(2),
    log2: fc.integer({ min: 0, max: 5 }),
    table: fc.array(desc, { minLength: 32, maxLength: 32 }),
    indirect: fc.array(desc, { minLength: 0, maxLength: 16 }),
    heads: fc.array(fc.nat(40), { minLength: 32, maxLength: 32 }),
    availIdx: fc.oneof(fc.nat(40), fc.nat(0xffff)),
    featuresLo: fc.nat(0xffffffff),
  });
}

/** Bytes the device may write: every range a descriptor marks device-writable, the used ring and avail_event. */
function writableMask(c: Case, n: number, usedAt: number): Uint8Array {
  const ok = new Uint8Array(RAM);
  const mark = (lo: number, len: number): void => {
    for (let a = Math.max(0, lo); a < Math.min(RAM, lo + len); a++) ok[a] = 1;
  };
  for (const d of [...c.table.slice(0, n), ...c.indirect]) if (d.hi === 0 && (d.flags & DescFlag.WRITE) !== 0) mark(d.lo, Math.min(d.len, RAM));
  mark(usedAt, 6 + 8 * n); // flags, idx, ring[n], avail_event
  return ok;
}

export const virtioProperties: ConformProperty[] = [
  defineProperty({
    area: 'virtio',
    name: 'any driver input gets a status, never a host exception, unbounded work or a stray write',
    specClause: 'hypervisor-interfaces.md §7; virtio 1.2 2.1.2 (DEVICE_NEEDS_RESET), 2.7.4.2, 2.7.5.3, 2.7.13',
    quickRuns: 60,
    arbitrary: (fc) => caseArb(fc),
    predicate: (c) => {
      const model = makeDevice(c.device);
      const h = harness(model, RAM);
      const queue = c.queue % model.queueMaxSizes.length;
      const n = Math.min(1 << c.log2, model.queueMaxSizes[queue]);
      // Any subset of what the device offers (a driver accepting more is refused at FEATURES_OK, 3.1.1).
      modernWrite(h, M.CC_DEVICE_FEATURE_SELECT, 4, 0);
      const lo = c.featuresLo & modernRead(h, M.CC_DEVICE_FEATURE, 4);
      const rings = modernInit(h, lo, 1 /* VERSION_1 */, [{ queue, size: n, base: RING }]);
      if (rings === null) throw new Error(`${c.device} refused features 0x${lo.toString(16)} it offered`);
      const ring = rings[0];
      c.table.slice(0, n).forEach((d, i) => {
        const at = ring.desc + 16 * i;
        h.mem.write32(at, d.lo);
        h.mem.write32(at + 4, d.hi);
        h.mem.write32(at + 8, d.len);
        h.mem.write16(at + 12, d.flags);
        h.mem.write16(at + 14, d.next);
      });
      c.indirect.forEach((d, i) => {
        h.mem.write32(TABLES + 16 * i, d.lo);
        h.mem.write32(TABLES + 16 * i + 4, d.hi);
        h.mem.write32(TABLES + 16 * i + 8, d.len);
        h.mem.write16(TABLES + 16 * i + 12, d.flags);
        h.mem.write16(TABLES + 16 * i + 14, d.next);
      });
      for (let i = 0; i < n; i++) h.mem.write16(ring.avail + 4 + 2 * i, c.heads[i]);
      ring.setAvailIdx(c.availIdx);
      const before = h.mem.ram.slice();
      let reads = 0;
      const read32 = h.mem.read32.bind(h.mem);
      h.mem.read32 = (a: number) => (reads++, read32(a));
      modernNotify(h, queue);
      modernNotify(h, queue);
      // Bounded work: each chain reads at most queue-size + indirect-table descriptors (4 words each).
      if (reads > 2 * (n + 1) * (n + 4096) * 4) throw new Error(`${reads} descriptor words read for a ${n}-entry queue`);
      const ok = writableMask(c, n, ring.used);
      for (let a = 0; a < RAM; a++) {
        if (h.mem.ram[a] !== before[a] && ok[a] === 0) throw new Error(`${c.device} wrote guest RAM at 0x${a.toString(16)}, outside every buffer the driver gave it`);
      }
      const status = modernRead(h, M.CC_DEVICE_STATUS, 1);
      const valid = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK | DeviceStatus.DEVICE_NEEDS_RESET;
      if ((status & ~valid) !== 0) throw new Error(`device status 0x${status.toString(16)} has bits no device sets`);
    },
  }),
];
