// The virtio block device (OASIS virtio 1.2, section 5.2) over a BlockBackend.
//
// One request queue. Every request completes inside the driver's notify (synchronous host I/O),
// so when it completes is a function of the instruction count alone. Disk data read for the
// guest passes, chunk by chunk, through hostInput (the trace records it; a replayer returns the
// recorded bytes, so a replay needs no image: ZeroBlockBackend of the recorded size stands in).
//
// Request layout (5.2.6): a 16-byte device-readable header {le32 type; le32 reserved; le64
// sector}, the data (device-readable for OUT, device-writable for IN and GET_ID), and one
// device-writable status byte, the last writable byte of the chain. The descriptor chain gives
// the readable and writable parts as two streams (../virtio/descriptor-chain.ts), so any
// descriptor layout works (VIRTIO_F_ANY_LAYOUT is implied for 1.x and harmless for legacy).

import type { DeviceState } from '../device.js';
import type { DescriptorChain } from '../virtio/descriptor-chain.js';
import { readLe, type VirtioDeviceContext, type VirtioDeviceModel } from '../virtio/virtio-device.js';
import type { Virtqueue } from '../virtio/virtqueue.js';
import { VirtioDeviceType } from '../virtio/virtio-spec.js';
import type { BlockBackend } from './block-backend.js';
import { BLK_ID_BYTES, BLK_REQ_HEADER, BLK_SECTOR, BlkConfig, BlkFeature, BlkRequestType, BlkStatus } from './blk-spec.js';

/** Queue size offered (bhyve's VTBLK_RINGSZ). */
export const BLK_QUEUE_SIZE = 128;
/** seg_max: data segments per request. Two descriptors of a chain are the header and the status
 *  (a chain is at most queue-size long, 2.7.5.3.1), as bhyve clamps it. */
export const BLK_SEG_MAX = BLK_QUEUE_SIZE - 2;
/** Host I/O granularity: a request's data moves through the backend and hostInput in chunks of
 *  at most this many bytes, so a huge request never needs a huge host buffer. */
export const BLK_IO_CHUNK = 256 * 1024;

export interface VirtioBlkParams {
  /** "virtio-blk@bus:slot.function": the hostInput device name and the trace's. */
  name: string;
  backend: BlockBackend;
  /** `ro`: refuse writes and offer VIRTIO_BLK_F_RO (also when the backend is read-only). */
  readOnly: boolean;
  logicalSectorSize: number;
  physicalSectorSize: number;
  /** GET_ID answer, at most 20 bytes of ASCII. */
  serial: string;
  /** Every chunk of disk data on its way to the guest: returns the bytes the guest gets. `data`
   *  is the device's scratch buffer, valid during the call only (copy it to keep it). */
  hostInput(device: string, data: Uint8Array): Uint8Array;
}

export class VirtioBlk implements VirtioDeviceModel {
  readonly name: string;
  readonly deviceType = VirtioDeviceType.BLOCK;
  readonly deviceFeaturesLo: number;
  readonly deviceFeaturesHi = 0;
  readonly queueMaxSizes = [BLK_QUEUE_SIZE];
  readonly configSize = BlkConfig.SIZE;
  /** Capacity in 512-byte sectors (5.2.4), from the backend's size rounded down as bhyve does. */
  readonly capacitySectors: number;
  /** The image size in bytes: what a replay's stand-in needs (blk-config.ts standInBytes). */
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  private readonly config = new Uint8Array(BlkConfig.SIZE);
  private readonly ident = new Uint8Array(BLK_ID_BYTES);
  private readonly scratch = new Uint8Array(BLK_IO_CHUNK);
  private ctx: VirtioDeviceContext | null = null;
  /** Statistics (device state, not guest visible). */
  private stats = { reads: 0, writes: 0, flushes: 0, getIds: 0, errors: 0, unsupported: 0, bytesRead: 0, bytesWritten: 0 };

  constructor(private readonly p: VirtioBlkParams) {
    this.name = p.name;
    this.readOnly = p.readOnly || p.backend.readOnly;
    this.sizeBytes = p.backend.sizeBytes;
    this.capacitySectors = Math.floor(p.backend.sizeBytes / BLK_SECTOR);
    let physExp = 0; // log2(physical / logical), both powers of two (blk-options.ts)
    while (physExp < 16 && (p.logicalSectorSize << physExp) < p.physicalSectorSize) physExp++;
    let f = (1 << BlkFeature.SEG_MAX) | (1 << BlkFeature.BLK_SIZE) | (1 << BlkFeature.FLUSH);
    if (physExp > 0) f |= 1 << BlkFeature.TOPOLOGY;
    if (this.readOnly) f |= 1 << BlkFeature.RO;
    this.deviceFeaturesLo = f;
    const dv = new DataView(this.config.buffer);
    dv.setUint32(BlkConfig.CAPACITY, this.capacitySectors >>> 0, true);
    dv.setUint32(BlkConfig.CAPACITY + 4, Math.floor(this.capacitySectors / 0x1_0000_0000), true);
    dv.setUint32(BlkConfig.SEG_MAX, BLK_SEG_MAX, true);
    dv.setUint32(BlkConfig.BLK_SIZE, p.logicalSectorSize, true);
    this.config[BlkConfig.PHYSICAL_BLOCK_EXP] = physExp;
    dv.setUint16(BlkConfig.MIN_IO_SIZE, 1, true); // in logical blocks
    dv.setUint16(BlkConfig.NUM_QUEUES, 1, true); // meaningful only with MQ, which is not offered
    for (let i = 0; i < BLK_ID_BYTES && i < p.serial.length; i++) this.ident[i] = p.serial.charCodeAt(i) & 0x7f;
  }

  attach(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
  }

  configRead(offset: number, size: number): number {
    return readLe(this.config, offset, size);
  }

  /** The block config space is read-only without CONFIG_WCE (not offered): writes are ignored. */
  configWrite(_offset: number, _size: number, _value: number): void {}

  queueNotify(q: Virtqueue): void {
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      const used = this.serve(chain);
      q.pushUsed(chain, used);
    }
    q.notifyDriver();
  }

  /** Serve one request; returns the used length (bytes written into the chain). */
  serve(chain: DescriptorChain): number {
    if (chain.writableLength === 0) {
      // No status byte: the request cannot be answered (5.2.6.1: the driver MUST supply it).
      this.stats.errors++;
      this.ctx?.needsReset('virtio-blk request without a device-writable status byte');
      return 0;
    }
    const status = this.execute(chain);
    if (status !== BlkStatus.OK) {
      if (status === BlkStatus.UNSUPP) this.stats.unsupported++;
      else this.stats.errors++;
    }
    const statusByte = chain.writableLength - 1;
    chain.write(statusByte, status === BlkStatus.OK ? OK_BYTE : status === BlkStatus.IOERR ? IOERR_BYTE : UNSUPP_BYTE);
    return chain.bytesWritten;
  }

  private execute(chain: DescriptorChain): BlkStatus {
    if (chain.readableLength < BLK_REQ_HEADER) return BlkStatus.IOERR;
    const hdr = chain.read(0, BLK_REQ_HEADER);
    if (hdr === null) return BlkStatus.IOERR;
    const dv = new DataView(hdr.buffer, hdr.byteOffset, BLK_REQ_HEADER);
    const type = dv.getUint32(0, true);
    const sectorLo = dv.getUint32(8, true);
    const sectorHi = dv.getUint32(12, true);
    const dataIn = chain.writableLength - 1; // device-writable bytes before the status byte
    const dataOut = chain.readableLength - BLK_REQ_HEADER; // device-readable bytes after the header
    switch (type) {
      case BlkRequestType.IN:
        if (dataOut !== 0) return BlkStatus.IOERR; // data in a device-readable buffer: wrong direction
        return this.readSectors(chain, sectorLo, sectorHi, dataIn);
      case BlkRequestType.OUT:
        // 5.2.6.2: with VIRTIO_BLK_F_RO offered the device MUST answer IOERR and write nothing.
        if (this.readOnly) return BlkStatus.IOERR;
        if (dataIn !== 0) return BlkStatus.IOERR; // data in a device-writable buffer: wrong direction
        return this.writeSectors(chain, sectorLo, sectorHi, dataOut);
      case BlkRequestType.FLUSH:
        this.stats.flushes++;
        return this.p.backend.flush() ? BlkStatus.OK : BlkStatus.IOERR;
      case BlkRequestType.GET_ID: {
        // 5.2.6.2: 20 bytes, NUL-padded, no terminator when the serial is 20 characters long.
        this.stats.getIds++;
        chain.write(0, dataIn >= BLK_ID_BYTES ? this.ident : this.ident.subarray(0, dataIn));
        return BlkStatus.OK;
      }
      default:
        // GET_LIFETIME, DISCARD, WRITE_ZEROES, SECURE_ERASE: their features are not offered.
        return BlkStatus.UNSUPP;
    }
  }

  /** Byte offset of a request, or -1 if [sector, sector + bytes / 512) is not within capacity. */
  private requestOffset(sectorLo: number, sectorHi: number, bytes: number): number {
    if (bytes % BLK_SECTOR !== 0) return -1; // 5.2.6.1: data is a multiple of 512 bytes
    if (sectorHi >= 0x20_0000) return -1; // beyond 2^53 bytes: certainly past the end
    const sector = sectorHi * 0x1_0000_0000 + sectorLo;
    if (sector + bytes / BLK_SECTOR > this.capacitySectors) return -1;
    return sector * BLK_SECTOR;
  }

  private readSectors(chain: DescriptorChain, lo: number, hi: number, bytes: number): BlkStatus {
    const offset = this.requestOffset(lo, hi, bytes);
    if (offset < 0) return BlkStatus.IOERR;
    this.stats.reads++;
    for (let done = 0; done < bytes; ) {
      const n = Math.min(BLK_IO_CHUNK, bytes - done);
      // One scratch buffer per device: hostInput sees the bytes during the call only (it
      // records or replaces them then), so no request allocates.
      const buf = n === BLK_IO_CHUNK ? this.scratch : this.scratch.subarray(0, n);
      if (!this.p.backend.read(offset + done, buf)) return BlkStatus.IOERR;
      const got = this.p.hostInput(this.name, buf);
      if (got.length === n) chain.write(done, got);
      else {
        // A replayer's answer of another length: the guest gets what it says, zero-padded.
        const fixed = new Uint8Array(n);
        fixed.set(got.subarray(0, n));
        chain.write(done, fixed);
      }
      done += n;
    }
    this.stats.bytesRead += bytes;
    return BlkStatus.OK;
  }

  private writeSectors(chain: DescriptorChain, lo: number, hi: number, bytes: number): BlkStatus {
    const offset = this.requestOffset(lo, hi, bytes);
    if (offset < 0) return BlkStatus.IOERR;
    this.stats.writes++;
    for (let done = 0; done < bytes; ) {
      const n = Math.min(BLK_IO_CHUNK, bytes - done);
      const data = chain.read(BLK_REQ_HEADER + done, n);
      if (data === null || !this.p.backend.write(offset + done, data)) return BlkStatus.IOERR;
      done += n;
    }
    this.stats.bytesWritten += bytes;
    // 5.2.5: a driver that did not accept VIRTIO_BLK_F_FLUSH (nor CONFIG_WCE, never offered)
    // assumes a write-through cache: the write is made durable before it completes.
    if (this.ctx !== null && !this.ctx.hasFeature(BlkFeature.FLUSH) && !this.p.backend.flush()) return BlkStatus.IOERR;
    return BlkStatus.OK;
  }

  reset(): void {}

  saveState(): DeviceState {
    return { capacitySectors: this.capacitySectors, readOnly: this.readOnly, ...this.stats };
  }

  loadState(s: DeviceState): void {
    for (const k of Object.keys(this.stats) as (keyof typeof this.stats)[]) {
      const v = s[k];
      if (typeof v === 'number' && Number.isFinite(v)) this.stats[k] = v;
    }
  }

  close(): void {
    this.p.backend.close();
  }
}

const OK_BYTE = Uint8Array.of(BlkStatus.OK);
const IOERR_BYTE = Uint8Array.of(BlkStatus.IOERR);
const UNSUPP_BYTE = Uint8Array.of(BlkStatus.UNSUPP);
