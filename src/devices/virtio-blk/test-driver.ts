// A minimal split-virtqueue driver for unit tests of virtio device models (blk, net): lays out
// each queue's rings in guest RAM, negotiates features through the transport, posts chains and
// reads used elements back, as virtio 1.2 section 2.7 describes the driver side.

import { GuestMemory } from '../../machine/memory.js';
import type { VirtioDeviceModel } from '../virtio/virtio-device.js';
import { VirtioTransport } from '../virtio/virtio-transport.js';
import { DeviceStatus } from '../virtio/virtio-spec.js';

export interface Buf {
  /** Guest address; by default the driver allocates one. */
  addr?: number;
  len: number;
  /** Device-writable (VIRTQ_DESC_F_WRITE). */
  write: boolean;
  /** Initial contents (device-readable buffers). */
  data?: Uint8Array;
  /** Descriptor flags to use instead of NEXT/WRITE (hostile tests). */
  rawFlags?: number;
  /** `next` to use instead of the following descriptor (hostile tests). */
  rawNext?: number;
}

const QUEUE_AREA = 0x10_0000; // rings from 1 MiB
const QUEUE_STRIDE = 0x1_0000;
const DATA_AREA = 0x20_0000; // buffers from 2 MiB

export class TestDriver {
  readonly mem: GuestMemory;
  readonly transport: VirtioTransport;
  readonly intx: boolean[] = [];
  private nextData = DATA_AREA;
  private availIdx: number[] = [];
  private usedSeen: number[] = [];
  private nextDesc: number[] = [];

  constructor(readonly model: VirtioDeviceModel, memBytes = 16 << 20) {
    this.mem = new GuestMemory(memBytes);
    this.transport = new VirtioTransport(model, { memory: this.mem, dmaAllowed: () => true }, {
      msixEnabled: () => false,
      msixVectors: () => 0,
      sendMsix: () => {},
      setIntx: (l) => this.intx.push(l),
    });
  }

  /** 3.1.1: ACKNOWLEDGE, DRIVER, features (lo/hi words), FEATURES_OK, queues, DRIVER_OK. */
  init(featuresLo: number, featuresHi = 1, opts: { driverOk?: boolean } = {}): void {
    const t = this.transport;
    t.writeStatus(DeviceStatus.ACKNOWLEDGE);
    t.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    t.writeDriverFeatures(0, featuresLo & t.offeredLo);
    t.writeDriverFeatures(1, featuresHi & t.offeredHi);
    t.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
    for (const q of t.queues) {
      const base = QUEUE_AREA + q.index * QUEUE_STRIDE;
      q.descAddr = base;
      q.availAddr = base + 16 * q.size;
      q.usedAddr = base + 0x8000;
      q.ready = true;
      this.mem.ram.fill(0, base, base + QUEUE_STRIDE); // fresh rings, as a driver allocates them
      this.availIdx[q.index] = 0;
      this.usedSeen[q.index] = 0;
      this.nextDesc[q.index] = 0;
    }
    if (opts.driverOk !== false) this.driverOk();
  }

  driverOk(): void {
    this.transport.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
  }

  get status(): number {
    return this.transport.status;
  }

  /** Allocate guest memory for a buffer (16-byte aligned). */
  alloc(len: number): number {
    const a = this.nextData;
    this.nextData += (len + 15) & ~15;
    if (this.nextData > this.mem.size) throw new Error('test driver out of guest memory');
    return a;
  }

  /** Post one chain on queue `qi` (without notifying); returns the buffers' addresses. */
  post(qi: number, bufs: Buf[]): number[] {
    const q = this.transport.queues[qi];
    const addrs: number[] = [];
    const head = this.nextDesc[qi];
    for (let i = 0; i < bufs.length; i++) {
      const b = bufs[i];
      const addr = b.addr ?? this.alloc(b.len);
      addrs.push(addr);
      if (b.data !== undefined && b.addr === undefined) this.mem.writeBytes(addr, b.data);
      const d = this.nextDesc[qi];
      this.nextDesc[qi] = (d + 1) % q.size;
      const at = q.descAddr + 16 * d;
      this.mem.write64(at, addr >>> 0, Math.floor(addr / 0x1_0000_0000));
      this.mem.write32(at + 8, b.len);
      const last = i === bufs.length - 1;
      const flags = b.rawFlags ?? ((last ? 0 : 1) | (b.write ? 2 : 0));
      this.mem.write16(at + 12, flags);
      this.mem.write16(at + 14, b.rawNext ?? (last ? 0 : (d + 1) % q.size));
    }
    const idx = this.availIdx[qi];
    this.mem.write16(q.availAddr + 4 + 2 * (idx % q.size), head);
    this.availIdx[qi] = (idx + 1) & 0xffff;
    this.mem.write16(q.availAddr + 2, this.availIdx[qi]);
    return addrs;
  }

  notify(qi: number): void {
    this.transport.notify(qi);
  }

  /** Post and notify; returns the buffers' addresses. */
  submit(qi: number, bufs: Buf[]): number[] {
    const a = this.post(qi, bufs);
    this.notify(qi);
    return a;
  }

  /** Used elements published since the last call: [{id, len}]. */
  takeUsed(qi: number): { id: number; len: number }[] {
    const q = this.transport.queues[qi];
    const idx = this.mem.read16(q.usedAddr + 2)!;
    const out: { id: number; len: number }[] = [];
    while (this.usedSeen[qi] !== idx) {
      const e = q.usedAddr + 4 + 8 * (this.usedSeen[qi] % q.size);
      out.push({ id: this.mem.read32(e)!, len: this.mem.read32(e + 4)! });
      this.usedSeen[qi] = (this.usedSeen[qi] + 1) & 0xffff;
    }
    return out;
  }

  bytes(addr: number, len: number): Uint8Array {
    return this.mem.readBytes(addr, len)!;
  }
}
