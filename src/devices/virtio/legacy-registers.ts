// The legacy virtio-pci register block in I/O BAR0 (virtio 1.2, 4.1.4.8 "Legacy Interfaces: A
// Note on PCI Device Layout"), as a view of the transport. Legacy drivers (and bhyve's
// legacy-only devices' drivers) use only this block; QUEUE_PFN places the rings with the
// legacy 4096-byte layout (2.7.2 legacy interface, virtqueue.ts setLegacyPfn).
//
//   0  HOST_FEATURES  u32 R     4  GUEST_FEATURES u32 RW    8  QUEUE_PFN u32 RW
//   12 QUEUE_NUM      u16 R     14 QUEUE_SEL      u16 RW    16 QUEUE_NOTIFY u16 W
//   18 STATUS         u8  RW    19 ISR            u8  R (read clears)
//   20 MSI config vector u16, 22 MSI queue vector u16   -- only while MSI-X is enabled
//   20 (24 with MSI-X enabled) device-specific configuration
//
// Accesses may be of any width at any offset: a read returns the bytes of the registers it
// covers (unbacked bytes read 0), a write updates the bytes it covers (merged into the rest of
// the register); a narrow write to a wider register is a read-modify-write of that register.
// Nothing here can throw.

import type { BarHandler } from '../pci/pci-function.js';
import type { VirtioTransport } from './virtio-transport.js';
import { VIRTIO_MSI_NO_VECTOR } from './virtio-spec.js';

export const LEGACY_HOST_FEATURES = 0;
export const LEGACY_GUEST_FEATURES = 4;
export const LEGACY_QUEUE_PFN = 8;
export const LEGACY_QUEUE_NUM = 12;
export const LEGACY_QUEUE_SEL = 14;
export const LEGACY_QUEUE_NOTIFY = 16;
export const LEGACY_STATUS = 18;
export const LEGACY_ISR = 19;
export const LEGACY_MSI_CONFIG_VECTOR = 20;
export const LEGACY_MSI_QUEUE_VECTOR = 22;
export const LEGACY_CONFIG = 20;
export const LEGACY_CONFIG_MSIX = 24;

/** Register starts and widths of the fixed part (through the MSI-X vectors). */
const STARTS = [0, 4, 8, 12, 14, 16, 18, 19, 20, 22];
const WIDTHS = [4, 4, 4, 2, 2, 2, 1, 1, 2, 2];

/** The smallest power-of-two I/O BAR (>= 4 bytes, <= 256) holding the block and `configSize` bytes of config. */
export function legacyBarSize(configSize: number): number {
  let size = 32;
  while (size < LEGACY_CONFIG_MSIX + configSize) size *= 2;
  return size;
}

export class LegacyRegisters implements BarHandler {
  constructor(
    private readonly t: VirtioTransport,
    private readonly msixEnabled: () => boolean,
  ) {}

  private configBase(): number {
    return this.msixEnabled() ? LEGACY_CONFIG_MSIX : LEGACY_CONFIG;
  }

  /** Value of the fixed register starting at `start` (no side effects except ISR). */
  private regRead(start: number): number {
    const t = this.t;
    const q = t.selectedQueue();
    switch (start) {
      case LEGACY_HOST_FEATURES: return t.offeredLo;
      case LEGACY_GUEST_FEATURES: return t.driverFeaturesLo;
      case LEGACY_QUEUE_PFN: return q === null ? 0 : q.legacyPfn;
      case LEGACY_QUEUE_NUM: return q === null ? 0 : q.maxSize;
      case LEGACY_QUEUE_SEL: return t.queueSelect;
      case LEGACY_QUEUE_NOTIFY: return 0;
      case LEGACY_STATUS: return t.status;
      case LEGACY_ISR: return t.readIsr();
      case LEGACY_MSI_CONFIG_VECTOR: return t.configVector;
      case LEGACY_MSI_QUEUE_VECTOR: return q === null ? VIRTIO_MSI_NO_VECTOR : q.msixVector;
      default: return 0;
    }
  }

  private regWrite(start: number, value: number): void {
    const t = this.t;
    const q = t.selectedQueue();
    switch (start) {
      case LEGACY_GUEST_FEATURES: t.writeLegacyGuestFeatures(value); break;
      case LEGACY_QUEUE_PFN: if (q !== null) q.setLegacyPfn(value >>> 0); break;
      case LEGACY_QUEUE_SEL: t.queueSelect = value & 0xffff; break;
      case LEGACY_QUEUE_NOTIFY: t.notify(value & 0xffff); break;
      case LEGACY_STATUS: t.writeStatus(value & 0xff); break;
      case LEGACY_MSI_CONFIG_VECTOR: t.configVector = t.checkVector(value); break;
      case LEGACY_MSI_QUEUE_VECTOR: if (q !== null) q.msixVector = t.checkVector(value); break;
      default: break; // read-only registers
    }
  }

  read(offset: number, size: number): number {
    const n = size === 1 ? 1 : size === 2 ? 2 : 4;
    const cfg = this.configBase();
    if (offset >= cfg) return this.configRead(offset - cfg, n);
    let v = 0;
    for (let i = 0; i < STARTS.length; i++) {
      const s = STARTS[i];
      const w = WIDTHS[i];
      if (s >= cfg || s + w <= offset || s >= offset + n) continue;
      const reg = this.regRead(s);
      // place the bytes of [s, s+w) that fall in [offset, offset+n)
      for (let b = 0; b < w; b++) {
        const at = s + b - offset;
        if (at >= 0 && at < n) v |= ((reg >>> (8 * b)) & 0xff) << (8 * at);
      }
    }
    return v >>> 0; // a read straddling into the config space reads 0 for those bytes
  }

  write(offset: number, size: number, value: number): void {
    const n = size === 1 ? 1 : size === 2 ? 2 : 4;
    const cfg = this.configBase();
    if (offset >= cfg) { this.configWrite(offset - cfg, n, value); return; }
    for (let i = 0; i < STARTS.length; i++) {
      const s = STARTS[i];
      const w = WIDTHS[i];
      if (s >= cfg || s + w <= offset || s >= offset + n) continue;
      let reg = s === offset && w === n ? value : s === LEGACY_ISR || s === LEGACY_QUEUE_NOTIFY ? 0 : this.regRead(s);
      if (!(s === offset && w === n)) {
        for (let b = 0; b < w; b++) {
          const at = s + b - offset;
          if (at >= 0 && at < n) reg = (reg & ~(0xff << (8 * b))) | (((value >>> (8 * at)) & 0xff) << (8 * b));
        }
      }
      this.regWrite(s, reg >>> 0);
    }
  }

  private configRead(offset: number, n: number): number {
    const m = this.t.model;
    if (offset + n > m.configSize) return 0;
    return m.configRead(offset, n) >>> 0;
  }

  private configWrite(offset: number, n: number, value: number): void {
    const m = this.t.model;
    if (offset + n > m.configSize) return;
    m.configWrite(offset, n, value);
  }
}
