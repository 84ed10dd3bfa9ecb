// One descriptor chain of a split virtqueue (virtio 1.2, 2.7.5), walked and validated as it
// is read, then offered to the device as two byte streams: the device-readable buffers in
// chain order, then the device-writable ones (2.7.4.2: readable elements come first).
//
// Validation (each failure is a driver error; the queue then stops and the device asks for a
// reset, see virtqueue.ts):
// - every descriptor index is below the table size (queue size, or the indirect table's
//   entry count), and a chain visits at most that many descriptors (a loop or an over-long
//   chain, 2.7.5.3.1 "MUST NOT create a descriptor chain longer than the Queue Size");
// - INDIRECT only if VIRTIO_F_INDIRECT_DESC was negotiated, never inside an indirect table and
//   never together with NEXT (2.7.5.3.1); the table length is a non-zero multiple of 16 and
//   at most MAX_QUEUE_SIZE entries (hvsim's bound on the work one chain can cost);
// - every buffer lies wholly in guest RAM (not MMIO, not above RAM, the address's high word
//   zero); zero-length buffers are accepted and carry nothing, whatever their address;
// - no device-readable buffer after a device-writable one (2.7.4.2);
// - the total length fits in 32 bits (2.7.5.2: "MUST NOT add a descriptor chain longer than
//   2^32 bytes in total").
// The device writes only through write(), which stays inside the writable buffers.

import type { GuestMemory } from '../../machine/memory.js';
import { DESC_SIZE, DescFlag, MAX_QUEUE_SIZE } from './virtio-spec.js';

/** DMA through the PCI function: memory, and whether bus mastering is on (PCI COMMAND bit 2). */
export interface VirtioDma {
  readonly memory: GuestMemory;
  dmaAllowed(): boolean;
}

export class DescriptorChain {
  /** Index of the head descriptor: the `id` the used ring element gets (2.7.8). */
  readonly head: number;
  /** Total bytes of the device-readable buffers. */
  readableLength = 0;
  /** Total bytes of the device-writable buffers. */
  writableLength = 0;
  /** Highest writable offset written so far + 1 (what `len` of the used element should say). */
  bytesWritten = 0;
  private readonly readAddr: number[] = [];
  private readonly readLen: number[] = [];
  private readonly writeAddr: number[] = [];
  private readonly writeLen: number[] = [];

  constructor(private readonly dma: VirtioDma, head: number) {
    this.head = head;
  }

  get readableSegments(): number { return this.readAddr.length; }
  get writableSegments(): number { return this.writeAddr.length; }

  /** @internal used by the walker */
  addBuffer(addr: number, len: number, writable: boolean): void {
    if (len === 0) return;
    if (writable) { this.writeAddr.push(addr); this.writeLen.push(len); this.writableLength += len; }
    else { this.readAddr.push(addr); this.readLen.push(len); this.readableLength += len; }
  }

  /** `len` bytes of the readable stream from `offset`, or null if that passes its end or DMA is off. */
  read(offset: number, len: number): Uint8Array | null {
    if (!this.dma.dmaAllowed() || offset < 0 || len < 0 || offset + len > this.readableLength) return null;
    const out = new Uint8Array(len);
    const mem = this.dma.memory;
    let done = 0;
    let skip = offset;
    for (let i = 0; i < this.readAddr.length && done < len; i++) {
      const segLen = this.readLen[i];
      if (skip >= segLen) { skip -= segLen; continue; }
      const n = Math.min(segLen - skip, len - done);
      const part = mem.readBytes(this.readAddr[i] + skip, n);
      if (part === null) return null; // RAM changed under the chain (cannot happen today: MMIO lies above RAM)
      out.set(part, done);
      done += n;
      skip = 0;
    }
    return out;
  }

  /** The whole readable stream (null if DMA is off). */
  readAll(): Uint8Array | null {
    return this.read(0, this.readableLength);
  }

  /**
   * Write `data` into the writable stream at `offset`, clipped at its end. Returns the number
   * of bytes written (0 if DMA is off or offset is past the end).
   */
  write(offset: number, data: Uint8Array): number {
    if (!this.dma.dmaAllowed() || offset < 0 || offset >= this.writableLength) return 0;
    const len = Math.min(data.length, this.writableLength - offset);
    const mem = this.dma.memory;
    let done = 0;
    let skip = offset;
    for (let i = 0; i < this.writeAddr.length && done < len; i++) {
      const segLen = this.writeLen[i];
      if (skip >= segLen) { skip -= segLen; continue; }
      const n = Math.min(segLen - skip, len - done);
      if (!mem.writeBytes(this.writeAddr[i] + skip, data.subarray(done, done + n))) break;
      done += n;
      skip = 0;
    }
    if (offset + done > this.bytesWritten) this.bytesWritten = offset + done;
    return done;
  }
}

/** Why a chain was refused (for logs and tests; the guest only sees NEEDS_RESET). */
export type ChainError = string;

/**
 * Walk the chain starting at `head` of the descriptor table at `descAddr` (`queueSize`
 * entries). Reads at most queueSize + MAX_QUEUE_SIZE descriptors.
 */
export function walkChain(dma: VirtioDma, descAddr: number, queueSize: number, head: number, indirectAllowed: boolean): DescriptorChain | ChainError {
  const mem = dma.memory;
  const chain = new DescriptorChain(dma, head);
  let table = descAddr;
  let tableSize = queueSize;
  let inIndirect = false;
  let visited = 0;
  let seenWritable = false;
  let total = 0;
  let idx = head;
  for (;;) {
    if (idx >= tableSize) return `descriptor index ${idx} >= table size ${tableSize}`;
    if (++visited > tableSize) return 'descriptor chain loops or is longer than its table';
    const at = table + idx * DESC_SIZE;
    const addrLo = mem.read32(at);
    const addrHi = mem.read32(at + 4);
    const len = mem.read32(at + 8);
    const flagsNext = mem.read32(at + 12);
    if (addrLo === null || addrHi === null || len === null || flagsNext === null) return 'descriptor table outside guest RAM';
    const flags = flagsNext & 0xffff;
    if ((flags & DescFlag.INDIRECT) !== 0) {
      if (!indirectAllowed) return 'INDIRECT without VIRTIO_F_INDIRECT_DESC';
      if (inIndirect) return 'INDIRECT inside an indirect table';
      if ((flags & DescFlag.NEXT) !== 0) return 'INDIRECT together with NEXT';
      if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > MAX_QUEUE_SIZE) return `bad indirect table length ${len}`;
      if (addrHi !== 0 || !mem.isRam(addrLo, len)) return 'indirect table outside guest RAM';
      table = addrLo;
      tableSize = len / DESC_SIZE;
      inIndirect = true;
      visited = 0;
      idx = 0;
      continue;
    }
    if (len !== 0 && (addrHi !== 0 || !mem.isRam(addrLo, len))) return 'buffer outside guest RAM';
    const writable = (flags & DescFlag.WRITE) !== 0;
    if (writable) seenWritable = true;
    // 2.7.4.2: every device-writable element after every device-readable one, zero-length ones
    // included (checking only non-empty ones made the rule depend on lengths).
    else if (seenWritable) return 'device-readable buffer after a device-writable one';
    total += len;
    if (total > 0xffff_ffff) return 'chain longer than 2^32 bytes';
    chain.addBuffer(addrLo, len, writable);
    if ((flags & DescFlag.NEXT) === 0) return chain;
    idx = flagsNext >>> 16;
  }
}
