// The virtio network device (OASIS virtio 1.2, section 5.1) with one receive and one transmit
// queue and a simulated peer (net-backend.ts).
//
// Transmit: each chain is a virtio_net_hdr and a frame (5.1.6.2). The frame goes out through
// hostOutput (a trace event), to the optional pcap capture with the virtual time, then to the
// backend. Receive (5.1.6.3): frames the backend queued are written, after a zeroed header, into
// the guest's receive buffers as long as it has some; each passes through hostInput on the way
// (a trace event; a replayer returns the recorded frame). No checksum or segmentation offload
// is offered, so the header is all zero except num_buffers = 1 where it exists.

import type { DeviceClock, DeviceState } from '../device.js';
import type { DescriptorChain } from '../virtio/descriptor-chain.js';
import { readLe, type VirtioDeviceContext, type VirtioDeviceModel } from '../virtio/virtio-device.js';
import type { Virtqueue } from '../virtio/virtqueue.js';
import { VirtioDeviceType } from '../virtio/virtio-spec.js';
import type { NetBackend, RxQueue } from './net-backend.js';
import { NET_HDR_LEN, NET_HDR_LEN_LEGACY, NET_HDR_NUM_BUFFERS, NET_MAX_FRAME, NET_RXQ, NET_TXQ, NetConfig, NetFeature, VIRTIO_NET_S_LINK_UP } from './net-spec.js';
import type { PcapWriter } from './pcap.js';

/** Queue size of both queues (bhyve uses 1024; 256 is plenty for a simulated link). */
export const NET_QUEUE_SIZE = 256;
/** VIRTIO_F_VERSION_1 is feature bit 32. */
const VERSION_1 = 32;

export interface VirtioNetParams {
  /** "virtio-net@bus:slot.function": the hostInput/hostOutput device name. */
  name: string;
  mac: Uint8Array;
  /** Offered through VIRTIO_NET_F_MTU when not null. */
  mtu: number | null;
  /** Frames waiting for the guest, filled by the backend. */
  rx: RxQueue;
  backend: NetBackend;
  /** Frames the guest sends are appended here too (`out=`). */
  capture: PcapWriter | null;
  clock: DeviceClock;
  hostInput(device: string, data: Uint8Array): Uint8Array;
  hostOutput(device: string, data: Uint8Array): void;
}

export class VirtioNet implements VirtioDeviceModel {
  readonly name: string;
  readonly deviceType = VirtioDeviceType.NET;
  readonly deviceFeaturesLo: number;
  readonly deviceFeaturesHi = 0;
  readonly queueMaxSizes = [NET_QUEUE_SIZE, NET_QUEUE_SIZE];
  readonly configSize = NetConfig.SIZE;
  private readonly config = new Uint8Array(NetConfig.SIZE);
  private ctx: VirtioDeviceContext | null = null;
  private readonly stats = { txFrames: 0, txBytes: 0, txErrors: 0, rxFrames: 0, rxBytes: 0, rxTooSmall: 0 };

  constructor(private readonly p: VirtioNetParams) {
    this.name = p.name;
    let f = (1 << NetFeature.MAC) | (1 << NetFeature.STATUS);
    if (p.mtu !== null) f |= 1 << NetFeature.MTU;
    this.deviceFeaturesLo = f;
    this.config.set(p.mac.subarray(0, 6), NetConfig.MAC);
    const dv = new DataView(this.config.buffer);
    dv.setUint16(NetConfig.STATUS, VIRTIO_NET_S_LINK_UP, true); // the simulated link is always up
    dv.setUint16(NetConfig.MAX_VIRTQUEUE_PAIRS, 1, true); // meaningful only with MQ (not offered)
    dv.setUint16(NetConfig.MTU, p.mtu ?? 0, true);
    p.rx.onArrival = () => this.receive();
  }

  attach(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
  }

  get mac(): Uint8Array {
    return this.config.slice(NetConfig.MAC, NetConfig.MAC + 6);
  }

  /** Header length in use: 12 with VERSION_1 or MRG_RXBUF, else 10 (5.1.6.1). */
  headerLength(): number {
    const c = this.ctx;
    if (c !== null && (c.hasFeature(VERSION_1) || c.hasFeature(NetFeature.MRG_RXBUF))) return NET_HDR_LEN;
    return NET_HDR_LEN_LEGACY;
  }

  configRead(offset: number, size: number): number {
    return readLe(this.config, offset, size);
  }

  /** 5.1.4: the mac field is driver-writable only for legacy drivers without CTRL_MAC_ADDR;
   *  hvsim keeps its configured address (a legacy interface MAY, 5.1.4.2) and ignores writes. */
  configWrite(_offset: number, _size: number, _value: number): void {}

  driverReady(): void {
    this.p.backend.start();
    this.receive();
  }

  queueNotify(q: Virtqueue): void {
    if (q.index === NET_TXQ) this.transmit(q);
    else if (q.index === NET_RXQ) this.receive();
  }

  private transmit(q: Virtqueue): void {
    const hdr = this.headerLength();
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      const frameLen = chain.readableLength - hdr;
      const frame = frameLen > 0 && frameLen <= NET_MAX_FRAME ? chain.read(hdr, frameLen) : null;
      // The used length is 0: the device writes nothing into a transmit buffer (5.1.6.2).
      q.pushUsed(chain, 0);
      if (frame === null) {
        this.stats.txErrors++; // shorter than a header, empty or oversized: dropped
        continue;
      }
      this.stats.txFrames++;
      this.stats.txBytes += frame.length;
      this.p.hostOutput(this.name, frame);
      this.p.capture?.write(this.p.clock.nowNs(), frame);
      this.p.backend.transmit(frame, this.p.clock.nowNs());
    }
    q.notifyDriver();
  }

  /** Move queued frames into the guest's receive buffers while both exist. */
  private receive(): void {
    const c = this.ctx;
    if (c === null || !c.driverOk() || this.p.rx.length === 0) return;
    const q = c.queue(NET_RXQ);
    const hdr = this.headerLength();
    let any = false;
    while (this.p.rx.length > 0) {
      const chain = q.pop();
      if (chain === null) break;
      any = true;
      const frame = this.p.hostInput(this.name, this.p.rx.shift()!);
      q.pushUsed(chain, this.fill(chain, hdr, frame));
    }
    if (any) q.notifyDriver();
  }

  /** Header + frame into one receive chain; returns the used length. A frame that does not fit
   *  is dropped and the buffer returned empty (without MRG_RXBUF one buffer holds one frame,
   *  and 5.1.6.3.1 asks the driver for buffers large enough). */
  private fill(chain: DescriptorChain, hdr: number, frame: Uint8Array): number {
    if (chain.writableLength < hdr + frame.length) {
      this.stats.rxTooSmall++;
      return 0;
    }
    const h = hdr === NET_HDR_LEN ? HDR_V1 : HDR_LEGACY;
    chain.write(0, h);
    chain.write(hdr, frame);
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    return hdr + frame.length;
  }

  reset(): void {
    this.p.rx.clear();
    this.p.backend.reset();
  }

  saveState(): DeviceState {
    return { ...this.stats, rxPending: this.p.rx.save(), rxDropped: this.p.rx.dropped, backend: this.p.backend.saveState() };
  }

  loadState(s: DeviceState): void {
    for (const k of Object.keys(this.stats) as (keyof typeof this.stats)[]) {
      const v = s[k];
      if (typeof v === 'number' && Number.isFinite(v)) this.stats[k] = v;
    }
    if (Array.isArray(s.rxPending) && s.rxPending.every((x) => typeof x === 'string')) this.p.rx.load(s.rxPending as string[]);
    if (typeof s.rxDropped === 'number') this.p.rx.dropped = s.rxDropped;
    if (typeof s.backend === 'object' && s.backend !== null) this.p.backend.loadState(s.backend as Record<string, unknown>);
  }

  close(): void {
    this.p.backend.close();
    this.p.capture?.close();
  }
}

/** Received-frame headers (5.1.6.3.2 without offloads: flags 0, gso_type NONE; num_buffers 1). */
const HDR_LEGACY = new Uint8Array(NET_HDR_LEN_LEGACY);
const HDR_V1 = new Uint8Array(NET_HDR_LEN);
HDR_V1[NET_HDR_NUM_BUFFERS] = 1;
