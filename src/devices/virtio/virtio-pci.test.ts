// The transitional virtio-pci function (virtio 1.2, 4.1): identity, capabilities, the legacy
// and modern register blocks, feature negotiation, status, ISR, MSI-X, reset.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtioRnd } from '../virtio-rnd/virtio-rnd.js';
import { VirtioBalloon } from '../virtio-balloon/virtio-balloon.js';
import { DescFlag, DeviceStatus, FeatureBit, VIRTIO_MSI_NO_VECTOR } from './virtio-spec.js';
import * as L from './legacy-registers.js';
import * as M from './modern-registers.js';
import { LEGACY_BAR, MODERN_BAR, MSIX_BAR } from './virtio-pci.js';
import { harness, legacyInit, legacyRead, legacyWrite, modernInit, modernNotify, modernRead, modernWrite, writeDesc, type Harness } from './virtio-test-driver.js';

function rnd(): VirtioRnd {
  return new VirtioRnd('rnd', { nextBytes: (k) => new Uint8Array(k).fill(0xa5) });
}

/** Walk the capability list (PCI 3.0, 6.7) and collect virtio_pci_cap entries (4.1.4). */
function virtioCaps(h: Harness): Map<number, { at: number; bar: number; offset: number; length: number; capLen: number }> {
  const out = new Map<number, { at: number; bar: number; offset: number; length: number; capLen: number }>();
  let p = h.fn.cfgRead(0x34, 1);
  for (let n = 0; p !== 0 && n < 48; n++) {
    if (h.fn.cfgRead(p, 1) === 0x09) {
      out.set(h.fn.cfgRead(p + 3, 1), { at: p, bar: h.fn.cfgRead(p + 4, 1), offset: h.fn.cfgRead(p + 8, 4), length: h.fn.cfgRead(p + 12, 4), capLen: h.fn.cfgRead(p + 2, 1) });
    }
    p = h.fn.cfgRead(p + 1, 1);
  }
  return out;
}

describe('virtio-pci identity and layout', () => {
  it('is a transitional device: 1af4:1005 for entropy, 1af4:1002 for the balloon, revision 0, subsystem = type (4.1.2)', () => {
    const h = harness(rnd());
    expect(h.fn.cfgRead(0, 2)).toBe(0x1af4);
    expect(h.fn.cfgRead(2, 2)).toBe(0x1005);
    expect(h.fn.cfgRead(8, 1)).toBe(0);
    expect(h.fn.cfgRead(0x2c, 2)).toBe(0x1af4);
    expect(h.fn.cfgRead(0x2e, 2)).toBe(4);
    expect(h.fn.cfgRead(0x3d, 1)).toBe(1); // INTA#
    const b = harness(new VirtioBalloon('b', 1 << 20));
    expect(b.fn.cfgRead(2, 2)).toBe(0x1002);
    expect(b.fn.cfgRead(0x2e, 2)).toBe(5);
  });

  it('has BAR0 I/O (legacy), BAR1 MSI-X, BAR4 memory with the virtio structures (4.1.4)', () => {
    const h = harness(rnd());
    expect(h.fn.barSpec(LEGACY_BAR)?.kind).toBe('io');
    expect(h.fn.barSpec(MSIX_BAR)?.kind).toBe('mem32');
    expect(h.fn.barSpec(MODERN_BAR)?.kind).toBe('mem32');
    const caps = virtioCaps(h);
    expect([...caps.keys()].sort()).toEqual([1, 2, 3, 5]); // no DEVICE_CFG: the entropy device has no config
    expect(caps.get(1)).toMatchObject({ bar: MODERN_BAR, offset: M.COMMON_CFG_OFFSET, capLen: 16 });
    expect(caps.get(2)).toMatchObject({ bar: MODERN_BAR, offset: M.NOTIFY_CFG_OFFSET, capLen: 20 });
    expect(h.fn.cfgRead(caps.get(2)!.at + 16, 4)).toBe(M.NOTIFY_OFF_MULTIPLIER);
    expect(caps.get(3)).toMatchObject({ bar: MODERN_BAR, offset: M.ISR_CFG_OFFSET });
    const b = harness(new VirtioBalloon('b', 1 << 20));
    expect(virtioCaps(b).get(4)).toMatchObject({ bar: MODERN_BAR, offset: M.DEVICE_CFG_OFFSET, length: 8 });
  });

  it('PCI_CFG capability gives access to the BARs through configuration space (4.1.4.9)', () => {
    const h = harness(rnd());
    const at = virtioCaps(h).get(5)!.at;
    h.fn.cfgWrite(at + 4, 1, MODERN_BAR);
    h.fn.cfgWrite(at + 8, 4, M.CC_NUM_QUEUES);
    h.fn.cfgWrite(at + 12, 4, 2);
    expect(h.fn.cfgRead(at + 16, 4) & 0xffff).toBe(1);
    h.fn.cfgWrite(at + 8, 4, M.CC_DEVICE_STATUS);
    h.fn.cfgWrite(at + 12, 4, 1);
    h.fn.cfgWrite(at + 16, 4, DeviceStatus.ACKNOWLEDGE);
    expect(modernRead(h, M.CC_DEVICE_STATUS, 1)).toBe(DeviceStatus.ACKNOWLEDGE);
  });
});

describe('feature negotiation and status (2.1, 2.2, 3.1.1)', () => {
  it('offers INDIRECT_DESC, EVENT_IDX and VERSION_1 besides the device bits', () => {
    const h = harness(new VirtioBalloon('b', 1 << 20));
    modernWrite(h, M.CC_DEVICE_FEATURE_SELECT, 4, 0);
    const lo = modernRead(h, M.CC_DEVICE_FEATURE, 4);
    expect(lo & (1 << FeatureBit.RING_INDIRECT_DESC)).not.toBe(0);
    expect(lo & (1 << FeatureBit.RING_EVENT_IDX)).not.toBe(0);
    expect(lo & 0b111).toBe(0b111); // MUST_TELL_HOST, STATS_VQ, DEFLATE_ON_OOM (5.5.3)
    modernWrite(h, M.CC_DEVICE_FEATURE_SELECT, 4, 1);
    expect(modernRead(h, M.CC_DEVICE_FEATURE, 4)).toBe(1); // VERSION_1 = bit 32
    modernWrite(h, M.CC_DEVICE_FEATURE_SELECT, 4, 7);
    expect(modernRead(h, M.CC_DEVICE_FEATURE, 4)).toBe(0);
    expect(legacyRead(h, L.LEGACY_HOST_FEATURES, 4)).toBe(lo);
  });

  it('refuses FEATURES_OK when the driver accepted a feature not offered (3.1.1 step 5-6)', () => {
    const h = harness(rnd());
    expect(modernInit(h, 1 << 5, 1, [])).toBeNull();
    expect(modernRead(h, M.CC_DEVICE_STATUS, 1) & DeviceStatus.FEATURES_OK).toBe(0);
    expect(modernInit(h, 0, 1, [])).not.toBeNull();
  });

  it('freezes driver features after FEATURES_OK and resets on status 0 (2.4)', () => {
    const h = harness(rnd());
    modernInit(h, 1 << FeatureBit.RING_EVENT_IDX, 1, []);
    modernWrite(h, M.CC_DRIVER_FEATURE_SELECT, 4, 0);
    modernWrite(h, M.CC_DRIVER_FEATURE, 4, 0);
    expect(modernRead(h, M.CC_DRIVER_FEATURE, 4)).toBe(1 << FeatureBit.RING_EVENT_IDX);
    modernWrite(h, M.CC_DEVICE_STATUS, 1, 0);
    expect(modernRead(h, M.CC_DEVICE_STATUS, 1)).toBe(0);
    expect(modernRead(h, M.CC_DRIVER_FEATURE, 4)).toBe(0);
  });

  it('legacy GUEST_FEATURES keeps only offered low bits', () => {
    const h = harness(rnd());
    legacyWrite(h, L.LEGACY_GUEST_FEATURES, 4, 0xffffffff);
    expect(legacyRead(h, L.LEGACY_GUEST_FEATURES, 4)).toBe(legacyRead(h, L.LEGACY_HOST_FEATURES, 4));
  });

  it('the driver cannot set DEVICE_NEEDS_RESET', () => {
    const h = harness(rnd());
    modernWrite(h, M.CC_DEVICE_STATUS, 1, 0x7f);
    expect(modernRead(h, M.CC_DEVICE_STATUS, 1) & DeviceStatus.DEVICE_NEEDS_RESET).toBe(0);
  });
});

describe('queues, notifications and interrupts', () => {
  it('legacy driver: QUEUE_NUM, QUEUE_PFN layout, notify, ISR read clears and drops INTx (4.1.4.8, 4.1.4.5)', () => {
    const h = harness(rnd());
    const [ring] = legacyInit(h, 0, [{ queue: 0, pfn: 0x10 }]);
    expect(ring.size).toBe(64);
    legacyWrite(h, L.LEGACY_QUEUE_SEL, 2, 0);
    expect(legacyRead(h, L.LEGACY_QUEUE_PFN, 4)).toBe(0x10);
    legacyWrite(h, L.LEGACY_QUEUE_SEL, 2, 1);
    expect(legacyRead(h, L.LEGACY_QUEUE_NUM, 2)).toBe(0); // no such queue
    writeDesc(h.mem, ring.desc, 0, 0x40000, 8, DescFlag.WRITE, 0);
    ring.post(0);
    legacyWrite(h, L.LEGACY_QUEUE_NOTIFY, 2, 0);
    expect(ring.usedElem(0)).toEqual({ id: 0, len: 8 });
    expect(h.mem.read32(0x40000)).toBe(0xa5a5a5a5);
    // used ring at the next 4096 boundary after the avail ring (2.7.2 legacy layout)
    expect(ring.used).toBe(0x10000 + 4096);
    expect(h.intx).toEqual([true]);
    expect(legacyRead(h, L.LEGACY_ISR, 1)).toBe(1);
    expect(h.intx).toEqual([true, false]);
    expect(legacyRead(h, L.LEGACY_ISR, 1)).toBe(0);
  });

  it('modern: queue_size takes a smaller power of two, refuses others; fields lock after queue_enable (4.1.4.3.2)', () => {
    const h = harness(rnd());
    modernWrite(h, M.CC_QUEUE_SELECT, 2, 0);
    expect(modernRead(h, M.CC_QUEUE_SIZE, 2)).toBe(64);
    modernWrite(h, M.CC_QUEUE_SIZE, 2, 48);
    expect(modernRead(h, M.CC_QUEUE_SIZE, 2)).toBe(64);
    modernWrite(h, M.CC_QUEUE_SIZE, 2, 128);
    expect(modernRead(h, M.CC_QUEUE_SIZE, 2)).toBe(64);
    modernWrite(h, M.CC_QUEUE_SIZE, 2, 16);
    expect(modernRead(h, M.CC_QUEUE_SIZE, 2)).toBe(16);
    modernWrite(h, M.CC_QUEUE_DESC_LO, 4, 0x12340);
    modernWrite(h, M.CC_QUEUE_DESC_HI, 4, 0xffffffff);
    expect(modernRead(h, M.CC_QUEUE_DESC_HI, 4)).toBe(0xffffffff);
    expect(modernRead(h, M.CC_QUEUE_DESC_LO, 4)).toBe(0x12340);
    modernWrite(h, M.CC_QUEUE_ENABLE, 2, 1);
    modernWrite(h, M.CC_QUEUE_SIZE, 2, 8);
    expect(modernRead(h, M.CC_QUEUE_SIZE, 2)).toBe(16);
    modernWrite(h, M.CC_QUEUE_ENABLE, 2, 0);
    expect(modernRead(h, M.CC_QUEUE_ENABLE, 2)).toBe(1);
    modernWrite(h, M.CC_QUEUE_SELECT, 2, 5);
    expect(modernRead(h, M.CC_QUEUE_SIZE, 2)).toBe(0); // 4.1.4.3.1: unavailable queue
    expect(modernRead(h, M.CC_NUM_QUEUES, 2)).toBe(1);
  });

  it('uses no buffer before DRIVER_OK, and serves those already posted when it is set (2.1.2, 3.1.1 step 8)', () => {
    const h = harness(rnd());
    const [ring] = modernInit(h, 0, 1, [{ queue: 0, size: 8, base: 0x10000 }])!;
    const ready = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK;
    modernWrite(h, M.CC_DEVICE_STATUS, 1, 0); // reset; set the queue up again without DRIVER_OK
    modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    modernWrite(h, M.CC_DRIVER_FEATURE_SELECT, 4, 1);
    modernWrite(h, M.CC_DRIVER_FEATURE, 4, 1);
    modernWrite(h, M.CC_DEVICE_STATUS, 1, ready);
    expect(modernRead(h, M.CC_DEVICE_STATUS, 1)).toBe(ready);
    modernWrite(h, M.CC_QUEUE_SELECT, 2, 0);
    modernWrite(h, M.CC_QUEUE_SIZE, 2, 8);
    modernWrite(h, M.CC_QUEUE_DESC_LO, 4, ring.desc);
    modernWrite(h, M.CC_QUEUE_DRIVER_LO, 4, ring.avail);
    modernWrite(h, M.CC_QUEUE_DEVICE_LO, 4, ring.used);
    modernWrite(h, M.CC_QUEUE_ENABLE, 2, 1);
    writeDesc(h.mem, ring.desc, 0, 0x40000, 8, DescFlag.WRITE, 0);
    ring.post(0);
    modernNotify(h, 0);
    expect(ring.usedIdx()).toBe(0);
    modernWrite(h, M.CC_DEVICE_STATUS, 1, ready | DeviceStatus.DRIVER_OK);
    expect(ring.usedIdx()).toBe(1);
  });

  it('MSI-X: vectors per queue and config; NO_VECTOR for vectors the table lacks (4.1.5.1.2)', () => {
    const h = harness(rnd());
    const msix = h.fn.msix!;
    expect(msix.vectors).toBe(2);
    const capAt = msix.offset;
    h.fn.cfgWrite(capAt + 2, 2, 0x8000); // MSI-X Enable
    const table = h.fn.barSpec(MSIX_BAR)!.handler;
    table.write(16, 4, 0xfee00000); // entry 1 address
    table.write(16 + 8, 4, 0x41); // data: vector 0x41
    table.write(16 + 12, 4, 0); // unmask
    const rings = modernInit(h, 0, 1, [{ queue: 0, size: 8, base: 0x10000 }])!;
    modernWrite(h, M.CC_QUEUE_SELECT, 2, 0);
    modernWrite(h, M.CC_QUEUE_MSIX_VECTOR, 2, 1);
    expect(modernRead(h, M.CC_QUEUE_MSIX_VECTOR, 2)).toBe(1);
    modernWrite(h, M.CC_CONFIG_MSIX_VECTOR, 2, 9);
    expect(modernRead(h, M.CC_CONFIG_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    writeDesc(h.mem, rings[0].desc, 0, 0x40000, 8, DescFlag.WRITE, 0);
    rings[0].post(0);
    modernNotify(h, 0);
    expect(h.msi).toEqual([{ lo: 0xfee00000, hi: 0, data: 0x41 }]);
    expect(h.intx).toEqual([]);
    // With MSI-X on, the legacy block has the two vector registers and config moves to 24.
    legacyWrite(h, L.LEGACY_QUEUE_SEL, 2, 0);
    expect(legacyRead(h, L.LEGACY_MSI_QUEUE_VECTOR, 2)).toBe(1);
  });

  it('hostile register traffic never throws, on any offset and width', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ bar: fc.constantFrom(0, 1, 4), off: fc.nat(0x4000), size: fc.constantFrom(1, 2, 4, 8), value: fc.nat(0xffffffff), write: fc.boolean() }), { maxLength: 200 }),
      (ops) => {
        const h = harness(new VirtioBalloon('b', 1 << 20));
        for (const op of ops) {
          const spec = h.fn.barSpec(op.bar)!;
          const off = op.off % spec.size;
          if (op.write) spec.handler.write(off, op.size, op.value); else spec.handler.read(off, op.size);
        }
      },
    ), { numRuns: 200 });
  });
});
