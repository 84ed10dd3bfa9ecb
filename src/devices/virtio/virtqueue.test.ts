// Split virtqueue and chain walking (virtio 1.2, 2.7), driven through the modern transport with
// the entropy device as the consumer (it writes into every writable buffer it is given).
import { describe, expect, it } from 'vitest';
import { VirtioRnd } from '../virtio-rnd/virtio-rnd.js';
import { DescFlag, DeviceStatus, FeatureBit, needEvent } from './virtio-spec.js';
import * as M from './modern-registers.js';
import { harness, modernInit, modernNotify, modernRead, writeDesc, type Harness, type TestRing } from './virtio-test-driver.js';

const INDIRECT = 1 << FeatureBit.RING_INDIRECT_DESC;
const EVENT_IDX = 1 << FeatureBit.RING_EVENT_IDX;
const VERSION_1_HI = 1;
const BUF = 0x40000;

function counting(): VirtioRnd {
  let n = 0;
  return new VirtioRnd('rnd', { nextBytes: (k) => Uint8Array.from({ length: k }, () => (n++ & 0x7f) | 0x80) });
}

function setup(featuresLo = INDIRECT, size = 8): { h: Harness; ring: TestRing } {
  const h = harness(counting());
  const rings = modernInit(h, featuresLo, VERSION_1_HI, [{ queue: 0, size, base: 0x10000 }]);
  if (rings === null) throw new Error('FEATURES_OK refused');
  return { h, ring: rings[0] };
}

function needsReset(h: Harness): boolean {
  return (modernRead(h, M.CC_DEVICE_STATUS, 1) & DeviceStatus.DEVICE_NEEDS_RESET) !== 0;
}

describe('split virtqueue', () => {
  it('serves a writable chain: used element id = head, len = bytes written (2.7.8)', () => {
    const { h, ring } = setup();
    writeDesc(h.mem, ring.desc, 3, BUF, 16, DescFlag.WRITE | DescFlag.NEXT, 5);
    writeDesc(h.mem, ring.desc, 5, BUF + 0x100, 8, DescFlag.WRITE, 0);
    ring.post(3);
    modernNotify(h, 0);
    expect(ring.usedIdx()).toBe(1);
    expect(ring.usedElem(0)).toEqual({ id: 3, len: 24 });
    expect(h.mem.read8(BUF + 15)).toBeGreaterThanOrEqual(0x80);
    expect(h.mem.read8(BUF + 16)).toBe(0); // nothing past the buffer
    expect(h.mem.read8(BUF + 0x107)).toBeGreaterThanOrEqual(0x80);
    expect(h.mem.read8(BUF + 0x108)).toBe(0);
    expect(needsReset(h)).toBe(false);
  });

  it('follows an indirect table (2.7.5.3)', () => {
    const { h, ring } = setup();
    const table = 0x30000;
    writeDesc(h.mem, table, 0, BUF, 4, DescFlag.WRITE | DescFlag.NEXT, 2);
    writeDesc(h.mem, table, 2, BUF + 0x10, 4, DescFlag.WRITE, 0);
    writeDesc(h.mem, ring.desc, 0, table, 48, DescFlag.INDIRECT, 0);
    ring.post(0);
    modernNotify(h, 0);
    expect(ring.usedElem(0)).toEqual({ id: 0, len: 8 });
  });

  it('wraps ring indices modulo the queue size with free-running u16 idx (2.7.6)', () => {
    const { h, ring } = setup(INDIRECT, 4);
    writeDesc(h.mem, ring.desc, 1, BUF, 1, DescFlag.WRITE, 0);
    for (let i = 0; i < 10; i++) { ring.post(1); modernNotify(h, 0); }
    expect(ring.usedIdx()).toBe(10);
    expect(ring.usedElem(9)).toEqual({ id: 1, len: 1 });
  });

  const errors: [string, (h: Harness, ring: TestRing) => void][] = [
    ['head index >= queue size', (h, r) => { r.post(8); }],
    ['next index >= queue size', (h, r) => { writeDesc(h.mem, r.desc, 0, BUF, 4, DescFlag.WRITE | DescFlag.NEXT, 9); r.post(0); }],
    ['a loop (chain longer than the queue size, 2.7.5.3.1)', (h, r) => {
      writeDesc(h.mem, r.desc, 0, BUF, 4, DescFlag.WRITE | DescFlag.NEXT, 1);
      writeDesc(h.mem, r.desc, 1, BUF, 4, DescFlag.WRITE | DescFlag.NEXT, 0);
      r.post(0);
    }],
    ['a buffer beyond RAM', (h, r) => { writeDesc(h.mem, r.desc, 0, 0xff000, 0x2000, DescFlag.WRITE, 0); r.post(0); }],
    ['a buffer above 4 GiB', (h, r) => { writeDesc(h.mem, r.desc, 0, BUF, 4, DescFlag.WRITE, 0); h.mem.write32(r.desc + 4, 1); r.post(0); }],
    ['INDIRECT inside an indirect table (2.7.5.3.1)', (h, r) => {
      writeDesc(h.mem, 0x30000, 0, 0x31000, 16, DescFlag.INDIRECT, 0);
      writeDesc(h.mem, r.desc, 0, 0x30000, 16, DescFlag.INDIRECT, 0);
      r.post(0);
    }],
    ['INDIRECT with NEXT (2.7.5.3.1)', (h, r) => {
      writeDesc(h.mem, 0x30000, 0, BUF, 4, DescFlag.WRITE, 0);
      writeDesc(h.mem, r.desc, 0, 0x30000, 16, DescFlag.INDIRECT | DescFlag.NEXT, 1);
      writeDesc(h.mem, r.desc, 1, BUF, 4, DescFlag.WRITE, 0);
      r.post(0);
    }],
    ['an indirect table length not a multiple of 16', (h, r) => { writeDesc(h.mem, r.desc, 0, 0x30000, 20, DescFlag.INDIRECT, 0); r.post(0); }],
    ['a loop inside an indirect table', (h, r) => {
      writeDesc(h.mem, 0x30000, 0, BUF, 4, DescFlag.WRITE | DescFlag.NEXT, 1);
      writeDesc(h.mem, 0x30000, 1, BUF, 4, DescFlag.WRITE | DescFlag.NEXT, 0);
      writeDesc(h.mem, r.desc, 0, 0x30000, 32, DescFlag.INDIRECT, 0);
      r.post(0);
    }],
    ['a readable buffer after a writable one (2.7.4.2)', (h, r) => {
      writeDesc(h.mem, r.desc, 0, BUF, 4, DescFlag.WRITE | DescFlag.NEXT, 1);
      writeDesc(h.mem, r.desc, 1, BUF + 8, 4, 0, 0);
      r.post(0);
    }],
    ['avail idx moving by more than the queue size', (h, r) => { writeDesc(h.mem, r.desc, 0, BUF, 4, DescFlag.WRITE, 0); r.setAvailIdx(9); }],
  ];
  for (const [what, build] of errors) {
    it(`refuses ${what}: DEVICE_NEEDS_RESET, config interrupt, nothing written (2.1.2)`, () => {
      const { h, ring } = setup();
      build(h, ring);
      const before = h.mem.ram.slice();
      modernNotify(h, 0);
      expect(needsReset(h)).toBe(true);
      expect(h.fn.transport.isr & 2).toBe(2); // configuration change (4.1.4.5 ISR bit 1)
      expect(ring.usedIdx()).toBe(0);
      expect(Buffer.compare(h.mem.ram, before)).toBe(0);
      // The queue stays stopped: a valid chain posted later is not served until reset.
      writeDesc(h.mem, ring.desc, 2, BUF, 4, DescFlag.WRITE, 0);
      ring.post(2);
      modernNotify(h, 0);
      expect(ring.usedIdx()).toBe(0);
    });
  }

  it('refuses INDIRECT when VIRTIO_F_INDIRECT_DESC was not negotiated', () => {
    const { h, ring } = setup(0);
    writeDesc(h.mem, 0x30000, 0, BUF, 4, DescFlag.WRITE, 0);
    writeDesc(h.mem, ring.desc, 0, 0x30000, 16, DescFlag.INDIRECT, 0);
    ring.post(0);
    modernNotify(h, 0);
    expect(needsReset(h)).toBe(true);
  });

  it('accepts zero-length buffers and writes nothing there', () => {
    const { h, ring } = setup();
    writeDesc(h.mem, ring.desc, 0, 0xfffff000, 0, DescFlag.WRITE | DescFlag.NEXT, 1);
    writeDesc(h.mem, ring.desc, 1, BUF, 2, DescFlag.WRITE, 0);
    ring.post(0);
    modernNotify(h, 0);
    expect(ring.usedElem(0)).toEqual({ id: 0, len: 2 });
    expect(needsReset(h)).toBe(false);
  });

  it('suppresses interrupts with VIRTQ_AVAIL_F_NO_INTERRUPT (2.7.7.2)', () => {
    const { h, ring } = setup();
    writeDesc(h.mem, ring.desc, 0, BUF, 4, DescFlag.WRITE, 0);
    ring.setAvailFlags(1);
    ring.post(0);
    modernNotify(h, 0);
    expect(ring.usedIdx()).toBe(1);
    expect(h.fn.transport.isr).toBe(0);
    ring.setAvailFlags(0);
    ring.post(0);
    modernNotify(h, 0);
    expect(h.fn.transport.isr).toBe(1);
  });

  it('uses used_event / avail_event with VIRTIO_F_EVENT_IDX (2.7.10)', () => {
    const { h, ring } = setup(INDIRECT | EVENT_IDX);
    writeDesc(h.mem, ring.desc, 0, BUF, 4, DescFlag.WRITE, 0);
    ring.setUsedEvent(1); // interrupt only once used idx passes 1, i.e. becomes 2
    ring.post(0);
    modernNotify(h, 0);
    expect(ring.availEvent()).toBe(1); // device asks for a kick when avail idx passes 1
    expect(h.fn.transport.isr).toBe(0);
    ring.post(0);
    modernNotify(h, 0);
    expect(ring.usedIdx()).toBe(2);
    expect(h.fn.transport.isr).toBe(1);
  });

  it('VIRTQ_USED_F_NO_NOTIFY is the used ring flags word (2.7.7.1)', () => {
    const { h, ring } = setup();
    const q = h.fn.transport.queues[0];
    q.setNotifySuppressed(true);
    expect(h.mem.read16(ring.used)).toBe(1);
    q.setNotifySuppressed(false);
    expect(h.mem.read16(ring.used)).toBe(0);
  });

  it('state round trip mid-run: a restored function continues the same ring (saveState/loadState)', () => {
    const { h, ring } = setup();
    writeDesc(h.mem, ring.desc, 0, BUF, 4, DescFlag.WRITE, 0);
    ring.post(0);
    modernNotify(h, 0);
    const saved = JSON.parse(JSON.stringify(h.fn.saveState()));
    const h2 = harness(counting());
    h2.mem.ram.set(h.mem.ram);
    h2.fn.loadState(saved);
    const ring2 = Object.assign(Object.create(Object.getPrototypeOf(ring)), ring, { mem: h2.mem }) as TestRing;
    ring2.post(0);
    modernNotify(h2, 0);
    expect(ring2.usedIdx()).toBe(2);
    expect(ring2.usedElem(1)).toEqual({ id: 0, len: 4 });
    expect(needsReset(h2)).toBe(false);
  });

  it('needEvent is vring_need_event (2.7.10)', () => {
    expect(needEvent(0, 1, 0)).toBe(true);
    expect(needEvent(1, 1, 0)).toBe(false);
    expect(needEvent(0xffff, 0, 0xffff)).toBe(true); // wrap
    expect(needEvent(5, 10, 3)).toBe(true);
    expect(needEvent(10, 10, 3)).toBe(false);
  });

  it('does no DMA with bus mastering off (PCI 3.0, 6.2.2 bit 2)', () => {
    const { h, ring } = setup();
    writeDesc(h.mem, ring.desc, 0, BUF, 4, DescFlag.WRITE, 0);
    ring.post(0);
    h.fn.cfgWrite(4, 2, 0x3);
    const before = h.mem.ram.slice();
    modernNotify(h, 0);
    expect(Buffer.compare(h.mem.ram, before)).toBe(0);
    h.fn.cfgWrite(4, 2, 0x7);
    modernNotify(h, 0);
    expect(ring.usedIdx()).toBe(1);
  });
});
