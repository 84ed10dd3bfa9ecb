// A split virtqueue (virtio 1.2, 2.7): the device side of the descriptor table, the available
// ring (driver -> device) and the used ring (device -> driver).
//
// How a device model uses it (see virtio-device.ts):
//
//   queueNotify(q: Virtqueue): void {
//     for (let chain = q.pop(); chain !== null; chain = q.pop()) {
//       const n = chain.write(0, bytes);         // or chain.read(...) for requests
//       q.pushUsed(chain, n);                    // used element {id: head, len: bytes written}
//     }
//     q.notifyDriver();                          // interrupt unless suppressed (2.7.7.2 / 2.7.10)
//   }
//
// pop() returns null when the queue is not live (not enabled, DRIVER_OK not set, bus mastering
// off, or broken) or has nothing available. Any driver error found on the way (an avail index
// that moved by more than the queue size, a ring outside RAM, a bad chain: descriptor-chain.ts)
// marks the queue broken: it does no more work until the driver resets the device, and the
// transport sets DEVICE_NEEDS_RESET (2.1.2) with a configuration-change interrupt. Work per
// pop() is bounded (one chain, at most queueSize + 32768 descriptors), and a notify handler
// can pop at most `size` chains before the ring is empty (the avail index is read once per pop
// but may not move more than `size` ahead of what was consumed).
//
// Ring layout (2.7.2): modern drivers give three addresses; legacy ones one page frame, with the
// used ring at the next 4096-byte boundary (setLegacyPfn).

import type { DeviceState } from '../device.js';
import { stateBool, stateNum, stateNums } from '../state.js';
import { walkChain, type DescriptorChain, type VirtioDma } from './descriptor-chain.js';
import { DESC_SIZE, LEGACY_PFN_SHIFT, LEGACY_VRING_ALIGN, VIRTIO_MSI_NO_VECTOR, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY, needEvent } from './virtio-spec.js';

/** What a virtqueue needs from its transport. */
export interface VirtqueueHost {
  readonly dma: VirtioDma;
  /** DRIVER_OK set, FAILED clear: the device may use its queues (2.1.2, 3.1.1). */
  deviceLive(): boolean;
  /** VIRTIO_F_RING_EVENT_IDX / VIRTIO_F_INDIRECT_DESC negotiated. */
  eventIdx(): boolean;
  indirectDesc(): boolean;
  /** Send this queue's used-buffer notification (MSI-X vector, or ISR bit 0 + INTx). */
  interrupt(queue: Virtqueue): void;
  /** A driver error on this queue: the transport sets DEVICE_NEEDS_RESET. */
  driverError(queue: Virtqueue, why: string): void;
}

export class Virtqueue {
  /** Current size (power of two, <= maxSize); 0 = the queue does not exist. */
  size: number;
  /** Modern queue_enable, or legacy QUEUE_PFN != 0. */
  ready = false;
  /** Guest-physical addresses of the three parts (2.7); above 2^53 they are inexact but then never in RAM anyway. */
  descAddr = 0;
  availAddr = 0;
  usedAddr = 0;
  /** The addresses as the driver wrote them (queue_desc/driver/device lo, hi: 4.1.4.3), read back exactly. */
  readonly addrWords = new Uint32Array(6);
  msixVector = VIRTIO_MSI_NO_VECTOR;
  /** Next available-ring entry to take (free-running u16). */
  lastAvailIdx = 0;
  /** Used-ring idx the device last published (free-running u16). */
  usedIdx = 0;
  /** Used idx when the driver was last considered for a notification. */
  signalledUsedIdx = 0;
  /** A driver error stopped the queue (until reset). */
  broken = false;
  /** Why it broke (diagnostics; not guest visible). */
  lastError = '';

  constructor(
    readonly index: number,
    /** Largest size the device offers (power of two, <= 32768). */
    readonly maxSize: number,
    private readonly host: VirtqueueHost,
  ) {
    this.size = maxSize;
  }

  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = this.availAddr = this.usedAddr = 0;
    this.addrWords.fill(0);
    this.msixVector = VIRTIO_MSI_NO_VECTOR;
    this.lastAvailIdx = this.usedIdx = this.signalledUsedIdx = 0;
    this.broken = false;
    this.lastError = '';
  }

  /** Legacy QUEUE_PFN (4.1.4.8): the rings laid out contiguously from pfn * 4096; 0 disables. */
  setLegacyPfn(pfn: number): void {
    if (pfn === 0) {
      const vector = this.msixVector;
      this.reset();
      this.msixVector = vector;
      return;
    }
    const size = this.maxSize;
    this.size = size;
    this.descAddr = pfn * (1 << LEGACY_PFN_SHIFT);
    this.availAddr = this.descAddr + DESC_SIZE * size;
    const availEnd = this.availAddr + 2 * (3 + size);
    this.usedAddr = Math.ceil(availEnd / LEGACY_VRING_ALIGN) * LEGACY_VRING_ALIGN;
    this.syncWords();
    this.lastAvailIdx = this.usedIdx = this.signalledUsedIdx = 0;
    this.ready = true;
  }

  /** Modern address write: word 0-5 = desc lo/hi, driver (avail) lo/hi, device (used) lo/hi. */
  setAddrWord(word: number, value: number): void {
    const w = this.addrWords;
    w[word] = value >>> 0;
    this.descAddr = w[1] * 0x1_0000_0000 + w[0];
    this.availAddr = w[3] * 0x1_0000_0000 + w[2];
    this.usedAddr = w[5] * 0x1_0000_0000 + w[4];
  }

  private syncWords(): void {
    const w = this.addrWords;
    w[0] = this.descAddr % 0x1_0000_0000; w[1] = Math.floor(this.descAddr / 0x1_0000_0000);
    w[2] = this.availAddr % 0x1_0000_0000; w[3] = Math.floor(this.availAddr / 0x1_0000_0000);
    w[4] = this.usedAddr % 0x1_0000_0000; w[5] = Math.floor(this.usedAddr / 0x1_0000_0000);
  }

  get legacyPfn(): number {
    return this.ready ? Math.floor(this.descAddr / LEGACY_VRING_ALIGN) : 0;
  }

  private fail(why: string): null {
    if (!this.broken) {
      this.broken = true;
      this.lastError = why;
      this.host.driverError(this, why);
    }
    return null;
  }

  private live(): boolean {
    return this.ready && !this.broken && this.size !== 0 && this.host.deviceLive() && this.host.dma.dmaAllowed();
  }

  /** True if the driver has made a buffer available that pop() would take. */
  hasAvailable(): boolean {
    if (!this.live()) return false;
    const availIdx = this.host.dma.memory.read16(this.availAddr + 2);
    return availIdx !== null && availIdx !== this.lastAvailIdx;
  }

  /** Take the next available chain, or null (empty, not live, or a driver error: see header). */
  pop(): DescriptorChain | null {
    if (!this.live()) return null;
    const mem = this.host.dma.memory;
    const availIdx = mem.read16(this.availAddr + 2);
    if (availIdx === null) return this.fail('avail ring outside guest RAM');
    const pending = (availIdx - this.lastAvailIdx) & 0xffff;
    if (pending === 0) return null;
    if (pending > this.size) return this.fail(`avail idx moved by ${pending} > queue size ${this.size}`);
    const head = mem.read16(this.availAddr + 4 + 2 * (this.lastAvailIdx & (this.size - 1)));
    if (head === null) return this.fail('avail ring outside guest RAM');
    const chain = walkChain(this.host.dma, this.descAddr, this.size, head, this.host.indirectDesc());
    if (typeof chain === 'string') return this.fail(chain);
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    // avail_event (2.7.10): tell the driver to notify again once it adds past what we took.
    if (this.host.eventIdx() && !mem.write16(this.usedAddr + 4 + 8 * this.size, this.lastAvailIdx)) {
      return this.fail('used ring outside guest RAM');
    }
    return chain;
  }

  /**
   * Return a chain to the driver: used element {id = head, len} then used idx (2.7.8). `len`
   * is clipped to the chain's writable length (defaults to the bytes written through it).
   */
  pushUsed(chain: DescriptorChain, len: number = chain.bytesWritten): void {
    this.pushUsedHead(chain.head, len < 0 ? 0 : len > chain.writableLength ? chain.writableLength : len);
  }

  /**
   * pushUsed for a chain the device kept only by its head index (e.g. the balloon's stats
   * buffer, held until the host wants new statistics). `len` must be what the device wrote.
   */
  pushUsedHead(head: number, len: number): void {
    if (!this.live()) return;
    const mem = this.host.dma.memory;
    const used = len >>> 0;
    const elem = this.usedAddr + 4 + 8 * (this.usedIdx & (this.size - 1));
    if (!mem.write32(elem, head) || !mem.write32(elem + 4, used)) {
      this.fail('used ring outside guest RAM');
      return;
    }
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    if (!mem.write16(this.usedAddr + 2, this.usedIdx)) this.fail('used ring outside guest RAM');
  }

  /**
   * Ask the driver not to notify this queue (VIRTQ_USED_F_NO_NOTIFY, 2.7.7.1), e.g. while the
   * device is busy with it; only meaningful without EVENT_IDX (with it, avail_event is
   * maintained by pop()). A hint: drivers may still notify, and notify() still works.
   */
  setNotifySuppressed(on: boolean): void {
    if (!this.live() || this.host.eventIdx()) return;
    if (!this.host.dma.memory.write16(this.usedAddr, on ? VIRTQ_USED_F_NO_NOTIFY : 0)) this.fail('used ring outside guest RAM');
  }

  /**
   * After a batch of pushUsed: notify the driver unless it suppressed notifications
   * (VIRTQ_AVAIL_F_NO_INTERRUPT, 2.7.7.2; or used_event with EVENT_IDX, 2.7.10).
   */
  notifyDriver(): void {
    if (!this.live()) return;
    const oldIdx = this.signalledUsedIdx;
    const newIdx = this.usedIdx;
    if (oldIdx === newIdx) return;
    this.signalledUsedIdx = newIdx;
    const mem = this.host.dma.memory;
    if (this.host.eventIdx()) {
      const usedEvent = mem.read16(this.availAddr + 4 + 2 * this.size);
      if (usedEvent === null) { this.fail('avail ring outside guest RAM'); return; }
      if (!needEvent(usedEvent, newIdx, oldIdx)) return;
    } else {
      const flags = mem.read16(this.availAddr);
      if (flags === null) { this.fail('avail ring outside guest RAM'); return; }
      if ((flags & VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0) return;
    }
    this.host.interrupt(this);
  }

  saveState(): DeviceState {
    return {
      size: this.size, ready: this.ready, addrWords: Array.from(this.addrWords),
      msixVector: this.msixVector, lastAvailIdx: this.lastAvailIdx, usedIdx: this.usedIdx,
      signalledUsedIdx: this.signalledUsedIdx, broken: this.broken,
    };
  }

  loadState(s: DeviceState): void {
    this.size = stateNum(s, 'size');
    this.ready = stateBool(s, 'ready');
    const words = stateNums(s, 'addrWords', 6);
    for (let i = 0; i < 6; i++) this.setAddrWord(i, words[i]);
    this.msixVector = stateNum(s, 'msixVector');
    this.lastAvailIdx = stateNum(s, 'lastAvailIdx');
    this.usedIdx = stateNum(s, 'usedIdx');
    this.signalledUsedIdx = stateNum(s, 'signalledUsedIdx');
    this.broken = stateBool(s, 'broken');
    this.lastError = '';
  }
}
