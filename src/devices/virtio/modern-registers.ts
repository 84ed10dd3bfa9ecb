// The virtio 1.x structures of a virtio-pci function (virtio 1.2, 4.1.4), all in one memory
// BAR, one 4 KiB page each (so a driver can map them separately):
//
//   0x0000 common configuration  struct virtio_pci_common_cfg (4.1.4.3), 0x38 bytes
//   0x1000 ISR status            1 byte, read clears (4.1.4.5)
//   0x2000 device configuration  the model's config space (4.1.4.6)
//   0x3000 notifications         queue q at q * NOTIFY_OFF_MULTIPLIER (4.1.4.4): queue_notify_off = q
//
// Common configuration fields are served for natural-width accesses and narrower ones inside a
// field (4.1.3.1 asks drivers for natural widths; a narrow write is merged into the field);
// anything else reads 0 / is ignored. 64-bit fields are two 32-bit halves (4.1.3.1 allows it).
// Writes that the spec forbids are ignored: queue_size that is not a power of two or exceeds the
// maximum, queue fields of an enabled queue, queue_enable = 0 (4.1.4.3.2), features after
// FEATURES_OK.

import type { BarHandler } from '../pci/pci-function.js';
import type { VirtioTransport } from './virtio-transport.js';
import { VIRTIO_MSI_NO_VECTOR } from './virtio-spec.js';

export const COMMON_CFG_OFFSET = 0x0000;
export const COMMON_CFG_LENGTH = 0x38;
export const ISR_CFG_OFFSET = 0x1000;
export const ISR_CFG_LENGTH = 4;
export const DEVICE_CFG_OFFSET = 0x2000;
export const NOTIFY_CFG_OFFSET = 0x3000;
export const NOTIFY_OFF_MULTIPLIER = 4;
/** Size of the memory BAR holding the four regions. */
export const MODERN_BAR_SIZE = 0x4000;

// virtio_pci_common_cfg (4.1.4.3)
export const CC_DEVICE_FEATURE_SELECT = 0;
export const CC_DEVICE_FEATURE = 4;
export const CC_DRIVER_FEATURE_SELECT = 8;
export const CC_DRIVER_FEATURE = 12;
export const CC_CONFIG_MSIX_VECTOR = 16;
export const CC_NUM_QUEUES = 18;
export const CC_DEVICE_STATUS = 20;
export const CC_CONFIG_GENERATION = 21;
export const CC_QUEUE_SELECT = 22;
export const CC_QUEUE_SIZE = 24;
export const CC_QUEUE_MSIX_VECTOR = 26;
export const CC_QUEUE_ENABLE = 28;
export const CC_QUEUE_NOTIFY_OFF = 30;
export const CC_QUEUE_DESC_LO = 32;
export const CC_QUEUE_DESC_HI = 36;
export const CC_QUEUE_DRIVER_LO = 40;
export const CC_QUEUE_DRIVER_HI = 44;
export const CC_QUEUE_DEVICE_LO = 48;
export const CC_QUEUE_DEVICE_HI = 52;

/** Field start -> width. */
function fieldWidth(start: number): number {
  switch (start) {
    case CC_DEVICE_FEATURE_SELECT: case CC_DEVICE_FEATURE: case CC_DRIVER_FEATURE_SELECT: case CC_DRIVER_FEATURE:
    case CC_QUEUE_DESC_LO: case CC_QUEUE_DESC_HI: case CC_QUEUE_DRIVER_LO: case CC_QUEUE_DRIVER_HI:
    case CC_QUEUE_DEVICE_LO: case CC_QUEUE_DEVICE_HI:
      return 4;
    case CC_DEVICE_STATUS: case CC_CONFIG_GENERATION:
      return 1;
    default:
      return 2;
  }
}

/** The start of the common-cfg field containing `offset` (fields are naturally aligned). */
function fieldStart(offset: number): number {
  if (offset === CC_CONFIG_GENERATION) return offset;
  if (offset < 16 || offset >= 32) return offset & ~3;
  return offset & ~1;
}

export class ModernRegisters implements BarHandler {
  constructor(private readonly t: VirtioTransport) {}

  read(offset: number, size: number): number {
    const n = size === 1 ? 1 : size === 2 ? 2 : 4;
    if (offset >= COMMON_CFG_OFFSET && offset + n <= COMMON_CFG_OFFSET + COMMON_CFG_LENGTH) {
      const start = fieldStart(offset - COMMON_CFG_OFFSET);
      const shift = offset - COMMON_CFG_OFFSET - start;
      if (shift + n > fieldWidth(start)) return 0;
      const v = this.commonRead(start);
      return n === 4 ? v >>> 0 : (v >>> (8 * shift)) & (n === 2 ? 0xffff : 0xff);
    }
    if (offset >= ISR_CFG_OFFSET && offset < ISR_CFG_OFFSET + ISR_CFG_LENGTH) {
      return offset === ISR_CFG_OFFSET ? this.t.readIsr() : 0;
    }
    const m = this.t.model;
    if (offset >= DEVICE_CFG_OFFSET && offset + n <= DEVICE_CFG_OFFSET + m.configSize) {
      return m.configRead(offset - DEVICE_CFG_OFFSET, n) >>> 0;
    }
    return 0; // notify region and gaps read 0
  }

  write(offset: number, size: number, value: number): void {
    const n = size === 1 ? 1 : size === 2 ? 2 : 4;
    if (offset >= COMMON_CFG_OFFSET && offset + n <= COMMON_CFG_OFFSET + COMMON_CFG_LENGTH) {
      const start = fieldStart(offset - COMMON_CFG_OFFSET);
      const shift = offset - COMMON_CFG_OFFSET - start;
      const width = fieldWidth(start);
      if (shift + n > width) return;
      let v = value;
      if (n < width) {
        const mask = (n === 2 ? 0xffff : 0xff) << (8 * shift);
        v = (this.commonRead(start) & ~mask) | ((value << (8 * shift)) & mask);
      }
      this.commonWrite(start, v >>> 0);
      return;
    }
    const t = this.t;
    const m = t.model;
    if (offset >= DEVICE_CFG_OFFSET && offset + n <= DEVICE_CFG_OFFSET + m.configSize) {
      m.configWrite(offset - DEVICE_CFG_OFFSET, n, value);
      return;
    }
    if (offset >= NOTIFY_CFG_OFFSET && offset < NOTIFY_CFG_OFFSET + NOTIFY_OFF_MULTIPLIER * t.queues.length) {
      const rel = offset - NOTIFY_CFG_OFFSET;
      // The queue is the one whose notify address was written (4.1.4.4); the data is its index.
      if (rel % NOTIFY_OFF_MULTIPLIER === 0) t.notify(rel / NOTIFY_OFF_MULTIPLIER);
    }
  }

  private commonRead(start: number): number {
    const t = this.t;
    const q = t.selectedQueue();
    switch (start) {
      case CC_DEVICE_FEATURE_SELECT: return t.deviceFeatureSelect;
      case CC_DEVICE_FEATURE: return t.offeredWord(t.deviceFeatureSelect);
      case CC_DRIVER_FEATURE_SELECT: return t.driverFeatureSelect;
      case CC_DRIVER_FEATURE: return t.driverFeatureSelect === 0 ? t.driverFeaturesLo : t.driverFeatureSelect === 1 ? t.driverFeaturesHi : 0;
      case CC_CONFIG_MSIX_VECTOR: return t.configVector;
      case CC_NUM_QUEUES: return t.queues.length;
      case CC_DEVICE_STATUS: return t.status;
      case CC_CONFIG_GENERATION: return t.configGeneration;
      case CC_QUEUE_SELECT: return t.queueSelect;
      default: break;
    }
    // 4.1.4.3.1: an unavailable queue (queue_select out of range) reads queue_size 0.
    if (q === null) return start === CC_QUEUE_MSIX_VECTOR ? VIRTIO_MSI_NO_VECTOR : 0;
    switch (start) {
      case CC_QUEUE_SIZE: return q.size;
      case CC_QUEUE_MSIX_VECTOR: return q.msixVector;
      case CC_QUEUE_ENABLE: return q.ready ? 1 : 0;
      case CC_QUEUE_NOTIFY_OFF: return q.index;
      default: return start >= CC_QUEUE_DESC_LO && start <= CC_QUEUE_DEVICE_HI ? q.addrWords[(start - CC_QUEUE_DESC_LO) >>> 2] : 0;
    }
  }

  private commonWrite(start: number, v: number): void {
    const t = this.t;
    switch (start) {
      case CC_DEVICE_FEATURE_SELECT: t.deviceFeatureSelect = v; return;
      case CC_DRIVER_FEATURE_SELECT: t.driverFeatureSelect = v; return;
      case CC_DRIVER_FEATURE: t.writeDriverFeatures(t.driverFeatureSelect, v); return;
      case CC_CONFIG_MSIX_VECTOR: t.configVector = t.checkVector(v); return;
      case CC_DEVICE_STATUS: t.writeStatus(v); return;
      case CC_QUEUE_SELECT: t.queueSelect = v & 0xffff; return;
      default: break;
    }
    const q = t.selectedQueue();
    if (q === null) return;
    if (start === CC_QUEUE_MSIX_VECTOR) { q.msixVector = t.checkVector(v); return; }
    if (q.ready) return; // 4.1.4.3.2: queue fields are set before queue_enable
    switch (start) {
      case CC_QUEUE_SIZE:
        if (v !== 0 && v <= q.maxSize && (v & (v - 1)) === 0) q.size = v;
        return;
      case CC_QUEUE_ENABLE:
        if (v === 1 && q.size !== 0) {
          q.lastAvailIdx = q.usedIdx = q.signalledUsedIdx = 0;
          q.ready = true;
        }
        return;
      default:
        if (start >= CC_QUEUE_DESC_LO && start <= CC_QUEUE_DEVICE_HI) q.setAddrWord((start - CC_QUEUE_DESC_LO) >>> 2, v);
        return; // other fields are read-only
    }
  }
}
