// A minimal virtio driver for tests: builds rings in guest RAM and talks to a VirtioPciFunction
// through its BAR handlers and configuration space, the way a guest would (virtio 1.2, 3.1.1
// initialization, 4.1.4.8 legacy, 4.1.4.3 modern). Test support only; not used by the machine.

import { GuestMemory } from '../../machine/memory.js';
import type { PciFunctionEnv } from '../pci/pci-function.js';
import { LEGACY_BAR, MODERN_BAR, VirtioPciFunction } from './virtio-pci.js';
import type { VirtioDeviceModel } from './virtio-device.js';
import { DeviceStatus } from './virtio-spec.js';
import * as L from './legacy-registers.js';
import * as M from './modern-registers.js';

export interface Harness {
  mem: GuestMemory;
  fn: VirtioPciFunction;
  intx: boolean[];
  msi: { lo: number; hi: number; data: number }[];
}

export function harness(model: VirtioDeviceModel, ramBytes = 1 << 20): Harness {
  const mem = new GuestMemory(ramBytes);
  const fn = new VirtioPciFunction(model, mem, model.name);
  const h: Harness = { mem, fn, intx: [], msi: [] };
  const env: PciFunctionEnv = {
    mapper: { mapIo: () => true, unmapIo: () => {}, mapMem: () => true, unmapMem: () => {} },
    interrupts: { intx: (l) => h.intx.push(l), msi: (lo, hi, data) => h.msi.push({ lo, hi, data }) },
  };
  fn.attach(env);
  // COMMAND: I/O space, memory space, bus master (PCI 3.0, 6.2.2).
  fn.cfgWrite(4, 2, 0x7);
  return h;
}

export function legacyRead(h: Harness, off: number, size: number): number {
  return h.fn.barSpec(LEGACY_BAR)!.handler.read(off, size);
}
export function legacyWrite(h: Harness, off: number, size: number, v: number): void {
  h.fn.barSpec(LEGACY_BAR)!.handler.write(off, size, v);
}
export function modernRead(h: Harness, off: number, size: number): number {
  return h.fn.barSpec(MODERN_BAR)!.handler.read(off, size);
}
export function modernWrite(h: Harness, off: number, size: number, v: number): void {
  h.fn.barSpec(MODERN_BAR)!.handler.write(off, size, v);
}

export function writeDesc(mem: GuestMemory, table: number, i: number, addr: number, len: number, flags: number, next: number): void {
  mem.write64(table + 16 * i, addr, 0);
  mem.write32(table + 16 * i + 8, len);
  mem.write16(table + 16 * i + 12, flags);
  mem.write16(table + 16 * i + 14, next);
}

/** A split ring the test driver owns. */
export class TestRing {
  availIdx = 0;
  constructor(readonly mem: GuestMemory, readonly size: number, readonly desc: number, readonly avail: number, readonly used: number) {}

  static legacy(mem: GuestMemory, size: number, pfn: number): TestRing {
    const desc = pfn * 4096;
    const avail = desc + 16 * size;
    const used = Math.ceil((avail + 2 * (3 + size)) / 4096) * 4096;
    return new TestRing(mem, size, desc, avail, used);
  }

  /** Make chain `head` available (avail ring entry, then idx: 2.7.13). */
  post(head: number): void {
    this.mem.write16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.write16(this.avail + 2, this.availIdx);
  }
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.mem.write16(this.avail + 2, this.availIdx);
  }
  usedIdx(): number { return this.mem.read16(this.used + 2)!; }
  usedElem(i: number): { id: number; len: number } {
    const at = this.used + 4 + 8 * (i % this.size);
    return { id: this.mem.read32(at)!, len: this.mem.read32(at + 4)! };
  }
  /** used_event (driver -> device, with EVENT_IDX). */
  setUsedEvent(v: number): void { this.mem.write16(this.avail + 4 + 2 * this.size, v); }
  availEvent(): number { return this.mem.read16(this.used + 4 + 8 * this.size)!; }
  setAvailFlags(v: number): void { this.mem.write16(this.avail, v); }
}

/** Legacy init (4.1.4.8 / 3.1.2): reset, ACK, DRIVER, features, queues by PFN, DRIVER_OK. */
export function legacyInit(h: Harness, features: number, rings: { queue: number; pfn: number }[]): TestRing[] {
  legacyWrite(h, L.LEGACY_STATUS, 1, 0);
  legacyWrite(h, L.LEGACY_STATUS, 1, DeviceStatus.ACKNOWLEDGE);
  legacyWrite(h, L.LEGACY_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
  legacyWrite(h, L.LEGACY_GUEST_FEATURES, 4, features & legacyRead(h, L.LEGACY_HOST_FEATURES, 4));
  const out: TestRing[] = [];
  for (const r of rings) {
    legacyWrite(h, L.LEGACY_QUEUE_SEL, 2, r.queue);
    const size = legacyRead(h, L.LEGACY_QUEUE_NUM, 2);
    legacyWrite(h, L.LEGACY_QUEUE_PFN, 4, r.pfn);
    out.push(TestRing.legacy(h.mem, size, r.pfn));
  }
  legacyWrite(h, L.LEGACY_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.DRIVER_OK);
  return out;
}

/** Modern init (3.1.1). Returns the rings, or null if the device refused FEATURES_OK. */
export function modernInit(h: Harness, featuresLo: number, featuresHi: number, rings: { queue: number; size: number; base: number }[]): TestRing[] | null {
  modernWrite(h, M.CC_DEVICE_STATUS, 1, 0);
  modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE);
  modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
  modernWrite(h, M.CC_DRIVER_FEATURE_SELECT, 4, 0);
  modernWrite(h, M.CC_DRIVER_FEATURE, 4, featuresLo);
  modernWrite(h, M.CC_DRIVER_FEATURE_SELECT, 4, 1);
  modernWrite(h, M.CC_DRIVER_FEATURE, 4, featuresHi);
  modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
  if ((modernRead(h, M.CC_DEVICE_STATUS, 1) & DeviceStatus.FEATURES_OK) === 0) return null;
  const out: TestRing[] = [];
  for (const r of rings) {
    const desc = r.base;
    const avail = desc + 16 * r.size;
    const used = (avail + 6 + 2 * r.size + 3) & ~3;
    modernWrite(h, M.CC_QUEUE_SELECT, 2, r.queue);
    modernWrite(h, M.CC_QUEUE_SIZE, 2, r.size);
    modernWrite(h, M.CC_QUEUE_DESC_LO, 4, desc);
    modernWrite(h, M.CC_QUEUE_DESC_HI, 4, 0);
    modernWrite(h, M.CC_QUEUE_DRIVER_LO, 4, avail);
    modernWrite(h, M.CC_QUEUE_DRIVER_HI, 4, 0);
    modernWrite(h, M.CC_QUEUE_DEVICE_LO, 4, used);
    modernWrite(h, M.CC_QUEUE_DEVICE_HI, 4, 0);
    modernWrite(h, M.CC_QUEUE_ENABLE, 2, 1);
    out.push(new TestRing(h.mem, r.size, desc, avail, used));
  }
  modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
  return out;
}

export function modernNotify(h: Harness, queue: number): void {
  modernWrite(h, M.NOTIFY_CFG_OFFSET + queue * M.NOTIFY_OFF_MULTIPLIER, 2, queue);
}
