// What a virtio device model implements, and what the transport gives it. The transport
// (virtio-transport.ts, exposed over PCI by virtio-pci.ts) owns everything generic: feature
// negotiation, device status, the virtqueues, ISR/MSI-X notifications, reset. A device model
// only says who it is (type, features, queue sizes, config space) and serves its queues.
//
// Contract (stable API for virtio-blk / virtio-net / virtio-rnd / virtio-balloon):
// - deviceType: the virtio device ID (5: 1 net, 2 block, 4 entropy, 5 balloon).
// - deviceFeaturesLo/Hi: the device-specific feature bits offered (bits 0-23 and, for the high
//   word, bits 50+ if any). The transport adds VIRTIO_F_RING_INDIRECT_DESC (28),
//   VIRTIO_F_RING_EVENT_IDX (29) and VIRTIO_F_VERSION_1 (32) itself.
// - queueMaxSizes: one entry per virtqueue, the largest size offered (a power of two <= 32768).
// - configSize / configRead / configWrite: the device-specific configuration space (little
//   endian; legacy x86 drivers read it the same way). The transport guarantees
//   0 <= offset, offset + size <= configSize and size in {1, 2, 4}; must never throw.
// - attach(ctx): called once by the transport before anything else.
// - queueNotify(queue): the driver notified the queue (or DRIVER_OK was set with buffers
//   already available). Called only while the queue is live. Pop chains, push used, then
//   queue.notifyDriver() (see virtqueue.ts). Never throws on guest data: a malformed
//   request the device understands (e.g. a too-short block header) is answered with the
//   device's error status where its section says so, or ctx.needsReset(why).
// - driverReady(): optional; DRIVER_OK was set (features are final: ctx.hasFeature).
// - reset(): back to power-on state (the transport calls it when the driver writes status 0
//   and on PCI reset); queues are reset by the transport.
// - saveState/loadState: JSON-plain device state (queues are saved by the transport).

import type { DeviceState } from '../device.js';
import type { VirtioDma } from './descriptor-chain.js';
import type { Virtqueue } from './virtqueue.js';

export interface VirtioDeviceContext {
  /** DMA access (checked, gated by PCI bus mastering). */
  readonly dma: VirtioDma;
  /** Was feature `bit` (0-63) negotiated? (Legacy drivers: the bits they wrote to GUEST_FEATURES.) */
  hasFeature(bit: number): boolean;
  /** The device's virtqueue `index` (for devices that fill queues outside queueNotify, e.g. RX). */
  queue(index: number): Virtqueue;
  /** The device changed its config space: new config_generation, configuration-change interrupt. */
  configChanged(): void;
  /** The driver did something the device cannot recover from: DEVICE_NEEDS_RESET (2.1.2). */
  needsReset(why: string): void;
  /** DRIVER_OK set and FAILED / NEEDS_RESET clear. */
  driverOk(): boolean;
}

export interface VirtioDeviceModel {
  readonly name: string;
  readonly deviceType: number;
  readonly deviceFeaturesLo: number;
  readonly deviceFeaturesHi: number;
  readonly queueMaxSizes: readonly number[];
  readonly configSize: number;
  attach(ctx: VirtioDeviceContext): void;
  configRead(offset: number, size: number): number;
  configWrite(offset: number, size: number, value: number): void;
  queueNotify(queue: Virtqueue): void;
  /** Optional extra check of the driver's feature set at FEATURES_OK (3.1.1 step 5); false refuses it. */
  validateFeatures?(lo: number, hi: number): boolean;
  driverReady?(): void;
  reset(): void;
  saveState(): DeviceState;
  loadState(state: DeviceState): void;
}

/** Little-endian helpers for config spaces kept as byte arrays (no allocation). */
export function readLe(bytes: Uint8Array, offset: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (offset + i < bytes.length ? bytes[offset + i] : 0);
  return v >>> 0;
}

export function writeLe(bytes: Uint8Array, offset: number, size: number, value: number): void {
  for (let i = 0; i < size && offset + i < bytes.length; i++) bytes[offset + i] = (value >>> (8 * i)) & 0xff;
}
