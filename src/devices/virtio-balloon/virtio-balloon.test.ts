// Traditional memory balloon (virtio 1.2, 5.5).
import { describe, expect, it } from 'vitest';
import { DescFlag, DeviceStatus } from '../virtio/virtio-spec.js';
import * as L from '../virtio/legacy-registers.js';
import * as M from '../virtio/modern-registers.js';
import { harness, legacyInit, legacyRead, legacyWrite, modernInit, modernNotify, modernRead, modernWrite, writeDesc } from '../virtio/virtio-test-driver.js';
import { BALLOON_CONFIG_SIZE, VIRTIO_BALLOON_F_STATS_VQ, VirtioBalloon } from './virtio-balloon.js';

const RAM = 1 << 20;
const PFNS = 0x50000;

function pfnBuffer(mem: import('../../machine/memory.js').GuestMemory, pfns: number[]): number {
  pfns.forEach((p, i) => mem.write32(PFNS + 4 * i, p));
  return pfns.length * 4;
}

describe('virtio-balloon', () => {
  it('config: num_pages is the host target (read-only to the driver), actual is the driver\'s (5.5.4)', () => {
    const model = new VirtioBalloon('b', RAM);
    const h = harness(model, RAM);
    model.setTargetPages(100);
    expect(modernRead(h, M.DEVICE_CFG_OFFSET, 4)).toBe(100);
    modernWrite(h, M.DEVICE_CFG_OFFSET, 4, 5);
    expect(modernRead(h, M.DEVICE_CFG_OFFSET, 4)).toBe(100);
    modernWrite(h, M.DEVICE_CFG_OFFSET + 4, 4, 42);
    expect(model.actual).toBe(42);
    expect(legacyRead(h, L.LEGACY_CONFIG + 4, 4)).toBe(42); // legacy view, MSI-X off: config at 20
    legacyWrite(h, L.LEGACY_CONFIG + 5, 1, 1);
    expect(model.actual).toBe(42 + 256);
    expect(BALLOON_CONFIG_SIZE).toBe(8);
  });

  it('setTargetPages raises the configuration change notification and bumps config_generation (4.1.4.3, 4.1.4.5)', () => {
    const model = new VirtioBalloon('b', RAM);
    const h = harness(model, RAM);
    modernInit(h, 0, 1, []);
    const gen = modernRead(h, M.CC_CONFIG_GENERATION, 1);
    model.setTargetPages(64);
    expect(modernRead(h, M.CC_CONFIG_GENERATION, 1)).toBe((gen + 1) & 0xff);
    expect(h.intx.at(-1)).toBe(true);
    expect(modernRead(h, M.ISR_CFG_OFFSET, 1)).toBe(2);
    expect(h.intx.at(-1)).toBe(false);
  });

  it('inflate and deflate 4 KiB PFNs through the legacy interface (5.5.6)', () => {
    const model = new VirtioBalloon('b', RAM);
    const h = harness(model, RAM);
    const [inflate, deflate] = legacyInit(h, 0, [{ queue: 0, pfn: 0x10 }, { queue: 1, pfn: 0x20 }]);
    // 0x100 is past the end of a 1 MiB RAM (256 pages): ignored.
    writeDesc(h.mem, inflate.desc, 0, PFNS, pfnBuffer(h.mem, [0x80, 0x81, 0x90, 0x100, 0x81]), 0, 0);
    inflate.post(0);
    legacyWrite(h, L.LEGACY_QUEUE_NOTIFY, 2, 0);
    expect(inflate.usedElem(0)).toEqual({ id: 0, len: 0 });
    expect(model.balloonedPages).toBe(3);
    expect(model.isBallooned(0x81)).toBe(true);
    writeDesc(h.mem, deflate.desc, 0, PFNS, pfnBuffer(h.mem, [0x81, 0x55]), 0, 0);
    deflate.post(0);
    legacyWrite(h, L.LEGACY_QUEUE_NOTIFY, 2, 1);
    expect(model.balloonedPages).toBe(2);
    expect(model.isBallooned(0x81)).toBe(false);
    expect(model.isBallooned(0x90)).toBe(true);
    // State round trip keeps the set.
    const copy = new VirtioBalloon('b2', RAM);
    copy.loadState(JSON.parse(JSON.stringify(model.saveState())));
    expect(copy.balloonedPages).toBe(2);
    expect(copy.isBallooned(0x90)).toBe(true);
    // Reset (status 0) empties the balloon.
    legacyWrite(h, L.LEGACY_STATUS, 1, 0);
    expect(model.balloonedPages).toBe(0);
  });

  it('stats queue: the device keeps the buffer, parses {le16 tag; le64 val} and returns it on request (5.5.6.3)', () => {
    const model = new VirtioBalloon('b', RAM);
    const h = harness(model, RAM);
    const rings = modernInit(h, 1 << VIRTIO_BALLOON_F_STATS_VQ, 1, [{ queue: 2, size: 8, base: 0x10000 }])!;
    const stats = 0x60000;
    h.mem.write16(stats, 4); // MEMFREE
    h.mem.write64(stats + 2, 0x1234, 1);
    h.mem.write16(stats + 10, 5); // MEMTOT
    h.mem.write64(stats + 12, 0x8000000, 0);
    writeDesc(h.mem, rings[0].desc, 3, stats, 20, 0, 0);
    rings[0].post(3);
    modernNotify(h, 2);
    expect(rings[0].usedIdx()).toBe(0);
    expect(model.stat(4)).toBe(0x1_0000_1234);
    expect(model.stat(5)).toBe(0x8000000);
    expect(model.stat(6)).toBeNull();
    expect(model.requestStats()).toBe(true);
    expect(rings[0].usedElem(0)).toEqual({ id: 3, len: 0 });
    expect(model.requestStats()).toBe(false);
    expect(modernRead(h, M.CC_DEVICE_STATUS, 1) & DeviceStatus.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('a buffer of odd length and device-writable descriptors carry no PFNs beyond whole entries', () => {
    const model = new VirtioBalloon('b', RAM);
    const h = harness(model, RAM);
    const [inflate] = legacyInit(h, 0, [{ queue: 0, pfn: 0x10 }]);
    pfnBuffer(h.mem, [0x10, 0x11]);
    writeDesc(h.mem, inflate.desc, 0, PFNS, 7, DescFlag.NEXT, 1);
    writeDesc(h.mem, inflate.desc, 1, PFNS + 4, 4, DescFlag.WRITE, 0);
    inflate.post(0);
    legacyWrite(h, L.LEGACY_QUEUE_NOTIFY, 2, 0);
    expect(model.balloonedPages).toBe(1);
    expect(model.isBallooned(0x10)).toBe(true);
  });
});
