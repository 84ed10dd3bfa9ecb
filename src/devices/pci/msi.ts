// Message Signalled Interrupts: the MSI capability (PCI Local Bus 3.0, 6.8.1) and the decoding of
// an MSI/MSI-X message into an APIC bus message (Intel SDM vol. 3, 11.11 "Message Signalled
// Interrupts": address 0xFEEx_xxxx, data register format).
//
// MsiCapability model:
// - 32- or 64-bit message address, 1-32 vectors (Multiple Message Capable), optional per-vector
//   masking (Mask Bits / Pending Bits registers).
// - notify(v): when MSI Enable is set, sends data with its low bits replaced by v (6.8.3.4: the
//   function modifies the low bits of Message Data for each vector). A vector beyond what
//   Multiple Message Enable grants is folded into the granted range (v mod granted).
// - A masked vector sets its Pending bit; clearing the mask sends it then (6.8.1.8-6.8.1.9).
// - Messages are memory writes: with COMMAND.BUS_MASTER clear they are not sent (dropped).
// - Multiple Message Enable values above Multiple Message Capable are stored but the function
//   uses at most the capable count.

import type { DeviceState } from '../device.js';
import { DeliveryMode, Shorthand, type ApicMessage } from '../../machine/irq.js';
import { stateNum } from '../state.js';
import { PCI_CAP_ID_MSI } from './pci-config.js';
import type { CapabilityPort } from './pci-function.js';

// Message Control bits (6.8.1.3, figure 6-10 register layout).
export const MSI_CTRL_ENABLE = 0x0001;
export const MSI_CTRL_MMC_SHIFT = 1; // Multiple Message Capable, bits 3:1
export const MSI_CTRL_MME_SHIFT = 4; // Multiple Message Enable, bits 6:4
export const MSI_CTRL_64BIT = 0x0080;
export const MSI_CTRL_PER_VECTOR_MASK = 0x0100;

export interface MsiOptions {
  /** Vectors requested: 1, 2, 4, 8, 16 or 32. */
  vectors: number;
  /** 64-bit Message Address capable. */
  addr64: boolean;
  /** Per-vector masking capable. */
  perVectorMask: boolean;
}

export class MsiCapability {
  /** Config offset of the capability. */
  readonly offset: number;
  private readonly port: CapabilityPort;
  private readonly opts: MsiOptions;
  private readonly mmc: number;
  private readonly dataOff: number;
  private readonly maskOff: number;
  private readonly pendingOff: number;

  constructor(opts: MsiOptions, port: CapabilityPort) {
    const mmc = [1, 2, 4, 8, 16, 32].indexOf(opts.vectors);
    if (mmc < 0) throw new RangeError(`MSI: bad vector count ${opts.vectors}`);
    this.opts = opts;
    this.port = port;
    this.mmc = mmc;
    const base = opts.addr64 ? 0x0c : 0x08;
    const length = opts.perVectorMask ? base + 0x0c : base + 2;
    this.offset = port.add(PCI_CAP_ID_MSI, length, { onWrite: (off, size, value) => this.written(off, size, value) });
    this.dataOff = this.offset + base;
    this.maskOff = opts.perVectorMask ? this.offset + base + 4 : -1;
    this.pendingOff = opts.perVectorMask ? this.offset + base + 8 : -1;
    const ctrl = (mmc << MSI_CTRL_MMC_SHIFT) | (opts.addr64 ? MSI_CTRL_64BIT : 0) | (opts.perVectorMask ? MSI_CTRL_PER_VECTOR_MASK : 0);
    port.init(this.offset + 2, 2, ctrl, MSI_CTRL_ENABLE | (7 << MSI_CTRL_MME_SHIFT));
    port.init(this.offset + 4, 4, 0, 0xfffffffc); // Message Address: bits 1:0 reserved 0
    if (opts.addr64) port.init(this.offset + 8, 4, 0, 0xffffffff);
    port.init(this.dataOff, 2, 0, 0xffff);
    if (opts.perVectorMask) {
      const implemented = opts.vectors === 32 ? 0xffffffff : (1 << opts.vectors) - 1;
      port.init(this.maskOff, 4, 0, implemented);
      port.init(this.pendingOff, 4, 0, 0);
    }
  }

  get enabled(): boolean {
    return (this.port.read(this.offset + 2, 2) & MSI_CTRL_ENABLE) !== 0;
  }

  /** Vectors granted by Multiple Message Enable (at most the capable count). */
  get grantedVectors(): number {
    const mme = (this.port.read(this.offset + 2, 2) >>> MSI_CTRL_MME_SHIFT) & 7;
    return 1 << (mme < this.mmc ? mme : this.mmc);
  }

  /** Signal vector `v` (0-based). */
  notify(v = 0): void {
    if (!this.enabled) return;
    const n = this.grantedVectors;
    const vec = (v >>> 0) % n;
    if (this.maskOff >= 0 && (this.port.read(this.maskOff, 4) & (1 << vec)) !== 0) {
      this.port.write(this.pendingOff, 4, this.port.read(this.pendingOff, 4) | (1 << vec));
      return;
    }
    this.send(vec);
  }

  private send(vec: number): void {
    if (!this.port.canSend()) return;
    const n = this.grantedVectors;
    const lo = this.port.read(this.offset + 4, 4);
    const hi = this.opts.addr64 ? this.port.read(this.offset + 8, 4) : 0;
    const data = (this.port.read(this.dataOff, 2) & ~(n - 1)) | vec;
    this.port.send(lo, hi, data & 0xffff);
  }

  private written(off: number, size: number, _value: number): void {
    const abs = this.offset + off;
    if (abs < this.offset + 4 && abs + size > this.offset + 2) this.port.enableChanged();
    // A mask cleared on a pending vector sends it now.
    if (this.maskOff >= 0 && abs < this.maskOff + 4 && abs + size > this.maskOff) this.deliverPending();
    if (abs < this.offset + 4 && abs + size > this.offset + 2) this.deliverPending();
  }

  private deliverPending(): void {
    if (this.maskOff < 0 || !this.enabled) return;
    const pending = this.port.read(this.pendingOff, 4);
    const ready = pending & ~this.port.read(this.maskOff, 4);
    if (ready === 0) return;
    this.port.write(this.pendingOff, 4, pending & ~ready);
    for (let v = 0; v < 32; v++) if ((ready & (1 << v)) !== 0) this.send(v);
  }

  reset(): void {}

  saveState(): DeviceState {
    return { offset: this.offset };
  }

  loadState(s: DeviceState): void {
    stateNum(s, 'offset'); // everything else lives in config space
  }
}

/** MSI address: bits 31:20 are 0xFEE (SDM 11.11.1). */
export const MSI_ADDRESS_BASE = 0xfee0_0000;
const MSI_ADDR_DM = 1 << 2;

/**
 * Decode an MSI message (SDM vol. 3, 11.11.1-11.11.2) into an APIC bus message, or null if the
 * write is not an interrupt message (address outside 0xFEEx_xxxx, or a reserved delivery mode).
 * Destination mode: DM (bit 2), whatever RH (bit 3) says. 11.11.1's "if RH is 0, then the DM bit
 * is ignored and the message is sent ahead independent of whether the physical or logical
 * destination mode is used" means no lowest-priority redirection, not "physical": processors
 * deliver RH=0/DM=1 messages to the logical destination, as KVM and QEMU do, and Linux's flat
 * logical APIC mode (<= 8 CPUs, xAPIC) writes exactly that (RH=0, DM=1, dest = 1 << cpu).
 * RH only matters for lowest-priority delivery, which the delivery mode already requests.
 */
export function msiToApicMessage(addressLo: number, addressHi: number, data: number): ApicMessage | null {
  if (addressHi >>> 0 !== 0 || (addressLo >>> 20) !== 0xfee) return null;
  const mode = (data >>> 8) & 7;
  // 011 and 110 are reserved in the MSI data register (11.11.2).
  if (mode === 3 || mode === 6) return null;
  const levelTriggered = (data & 0x8000) !== 0;
  return {
    vector: data & 0xff,
    deliveryMode: mode as DeliveryMode,
    logical: (addressLo & MSI_ADDR_DM) !== 0,
    dest: (addressLo >>> 12) & 0xff,
    levelTriggered,
    // Bit 14 (level) matters only for level-triggered messages; an edge message always asserts.
    assert: levelTriggered ? (data & 0x4000) !== 0 : true,
    shorthand: Shorthand.None,
    source: -1,
  };
}
