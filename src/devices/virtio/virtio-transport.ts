// The generic half of a virtio device (virtio 1.2, 2 "Basic facilities" and 3.1 "Device
// initialization"): device status, feature negotiation, the virtqueues, ISR status, the MSI-X
// vector assignments and the configuration generation. The register maps of the legacy I/O
// BAR (legacy-registers.ts) and of the modern capabilities (modern-registers.ts) are views of
// this one object, so a transitional device behaves the same whichever interface a driver uses.
//
// Decisions:
// - Features offered: the model's plus RING_INDIRECT_DESC, RING_EVENT_IDX and VERSION_1.
//   A modern driver's FEATURES_OK is kept only if it accepted a subset of those (3.1.1 step 6:
//   the device refuses by leaving FEATURES_OK clear); a legacy driver's GUEST_FEATURES write
//   is masked to the offered low word (legacy drivers cannot see bit 32).
// - Driver features are frozen once FEATURES_OK is set (later writes are ignored).
// - Status: writing 0 resets (2.4.1); the driver cannot set or clear DEVICE_NEEDS_RESET.
// - Queues are used only after DRIVER_OK (3.1.1 step 8, 2.1.2); buffers made available
//   (and notified) before that are served when DRIVER_OK is set.
// - A driver error sets DEVICE_NEEDS_RESET and, if DRIVER_OK was set, sends the configuration
//   change notification (2.1.2). Legacy drivers see the bit too (they ignore it).
// - Notifications (4.1.4.5, 4.1.5.3/4): the ISR bit is set in every case (as QEMU does, so a
//   driver polling ISR sees it); with MSI-X enabled the vector is sent (none for NO_VECTOR),
//   otherwise INTx follows "ISR != 0" until a read of ISR clears it.

import type { DeviceState } from '../device.js';
import { stateNum, stateObj, stateObjs } from '../state.js';
import type { VirtioDma } from './descriptor-chain.js';
import type { VirtioDeviceContext, VirtioDeviceModel } from './virtio-device.js';
import { DeviceStatus, FeatureBit, ISR_CONFIG, ISR_QUEUE, VIRTIO_MSI_NO_VECTOR } from './virtio-spec.js';
import { Virtqueue, type VirtqueueHost } from './virtqueue.js';

/** How the transport sends interrupts: the PCI function's MSI-X table and INTx pin. */
export interface VirtioInterrupts {
  msixEnabled(): boolean;
  /** Number of MSI-X table entries (vectors >= this cannot be assigned). */
  msixVectors(): number;
  sendMsix(vector: number): void;
  setIntx(level: boolean): void;
}

const TRANSPORT_FEATURES_LO = (1 << FeatureBit.RING_INDIRECT_DESC) | (1 << FeatureBit.RING_EVENT_IDX);
const TRANSPORT_FEATURES_HI = 1 << FeatureBit.VERSION_1_HI;

export class VirtioTransport implements VirtqueueHost, VirtioDeviceContext {
  readonly queues: Virtqueue[];
  readonly offeredLo: number;
  readonly offeredHi: number;
  status = 0;
  driverFeaturesLo = 0;
  driverFeaturesHi = 0;
  deviceFeatureSelect = 0;
  driverFeatureSelect = 0;
  queueSelect = 0;
  isr = 0;
  configGeneration = 0;
  configVector = VIRTIO_MSI_NO_VECTOR;

  constructor(
    readonly model: VirtioDeviceModel,
    readonly dma: VirtioDma,
    private readonly irq: VirtioInterrupts,
  ) {
    this.offeredLo = ((model.deviceFeaturesLo & ~0xff00_0000) | TRANSPORT_FEATURES_LO) >>> 0;
    this.offeredHi = (model.deviceFeaturesHi | TRANSPORT_FEATURES_HI) >>> 0;
    this.queues = model.queueMaxSizes.map((max, i) => new Virtqueue(i, max, this));
    model.attach(this);
  }

  // ---- VirtqueueHost / VirtioDeviceContext ----

  deviceLive(): boolean {
    return (this.status & (DeviceStatus.DRIVER_OK | DeviceStatus.FAILED)) === DeviceStatus.DRIVER_OK;
  }
  driverOk(): boolean {
    return (this.status & (DeviceStatus.DRIVER_OK | DeviceStatus.FAILED | DeviceStatus.DEVICE_NEEDS_RESET)) === DeviceStatus.DRIVER_OK;
  }
  hasFeature(bit: number): boolean {
    if (bit < 0 || bit > 63) return false;
    return bit < 32 ? ((this.driverFeaturesLo >>> bit) & 1) === 1 : ((this.driverFeaturesHi >>> (bit - 32)) & 1) === 1;
  }
  eventIdx(): boolean { return this.hasFeature(FeatureBit.RING_EVENT_IDX); }
  indirectDesc(): boolean { return this.hasFeature(FeatureBit.RING_INDIRECT_DESC); }
  queue(index: number): Virtqueue { return this.queues[index]; }

  interrupt(queue: Virtqueue): void {
    this.raise(ISR_QUEUE, queue.msixVector);
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    this.raise(ISR_CONFIG, this.configVector);
  }

  driverError(_queue: Virtqueue | null, why: string): void {
    this.needsReset(why);
  }

  needsReset(_why: string): void {
    if ((this.status & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return;
    this.status |= DeviceStatus.DEVICE_NEEDS_RESET;
    if ((this.status & DeviceStatus.DRIVER_OK) !== 0) this.raise(ISR_CONFIG, this.configVector);
  }

  private raise(isrBit: number, vector: number): void {
    this.isr |= isrBit;
    if (this.irq.msixEnabled()) {
      if (vector !== VIRTIO_MSI_NO_VECTOR) this.irq.sendMsix(vector);
    } else {
      this.irq.setIntx(true);
    }
  }

  // ---- Register semantics shared by the legacy and modern interfaces ----

  /** ISR status read (4.1.4.5): returns and clears it, deasserting INTx. */
  readIsr(): number {
    const v = this.isr;
    this.isr = 0;
    this.irq.setIntx(false);
    return v;
  }

  /** The 32 offered feature bits of word `select` (0 or 1; others read 0). */
  offeredWord(select: number): number {
    return select === 0 ? this.offeredLo : select === 1 ? this.offeredHi : 0;
  }

  /** Modern driver_feature write (ignored after FEATURES_OK). Unoffered bits are kept so FEATURES_OK can refuse them. */
  writeDriverFeatures(select: number, value: number): void {
    if ((this.status & DeviceStatus.FEATURES_OK) !== 0) return;
    if (select === 0) this.driverFeaturesLo = value >>> 0;
    else if (select === 1) this.driverFeaturesHi = value >>> 0;
  }

  /** Legacy GUEST_FEATURES write: low word only, unoffered bits dropped. */
  writeLegacyGuestFeatures(value: number): void {
    if ((this.status & DeviceStatus.FEATURES_OK) !== 0) return;
    this.driverFeaturesLo = (value & this.offeredLo) >>> 0;
    this.driverFeaturesHi = 0;
  }

  writeStatus(value: number): void {
    value &= 0xff;
    if (value === 0) { this.reset(); return; }
    const old = this.status;
    let next = (value & ~DeviceStatus.DEVICE_NEEDS_RESET) | (old & DeviceStatus.DEVICE_NEEDS_RESET);
    if ((next & DeviceStatus.FEATURES_OK) !== 0 && (old & DeviceStatus.FEATURES_OK) === 0 && !this.featuresAcceptable()) {
      next &= ~DeviceStatus.FEATURES_OK;
    }
    // FEATURES_OK cannot be withdrawn without a reset (the features are final once accepted).
    if ((old & DeviceStatus.FEATURES_OK) !== 0) next |= DeviceStatus.FEATURES_OK;
    this.status = next;
    if ((next & DeviceStatus.DRIVER_OK) !== 0 && (old & DeviceStatus.DRIVER_OK) === 0 && this.deviceLive()) {
      this.model.driverReady?.();
      for (const q of this.queues) if (q.hasAvailable()) this.model.queueNotify(q);
    }
  }

  private featuresAcceptable(): boolean {
    if ((this.driverFeaturesLo & ~this.offeredLo) !== 0 || (this.driverFeaturesHi & ~this.offeredHi) !== 0) return false;
    return this.model.validateFeatures === undefined || this.model.validateFeatures(this.driverFeaturesLo, this.driverFeaturesHi);
  }

  /** A queue notification (legacy QUEUE_NOTIFY or a write to the notify region). */
  notify(queueIndex: number): void {
    if (queueIndex < 0 || queueIndex >= this.queues.length) return;
    const q = this.queues[queueIndex];
    if (!q.ready || q.broken || !this.deviceLive() || !this.dma.dmaAllowed()) return;
    this.model.queueNotify(q);
  }

  /** MSI-X vector writes (4.1.5.1.2): a vector the table does not have reads back NO_VECTOR. */
  checkVector(v: number): number {
    v &= 0xffff;
    return v < this.irq.msixVectors() ? v : VIRTIO_MSI_NO_VECTOR;
  }

  selectedQueue(): Virtqueue | null {
    return this.queueSelect < this.queues.length ? this.queues[this.queueSelect] : null;
  }

  /** Device reset (2.4): status 0, features, queues, ISR and vectors cleared, the model reset. */
  reset(): void {
    this.status = 0;
    this.driverFeaturesLo = this.driverFeaturesHi = 0;
    this.deviceFeatureSelect = this.driverFeatureSelect = 0;
    this.queueSelect = 0;
    this.isr = 0;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    for (const q of this.queues) q.reset();
    this.irq.setIntx(false);
    this.model.reset();
  }

  saveState(): DeviceState {
    return {
      status: this.status, driverFeaturesLo: this.driverFeaturesLo, driverFeaturesHi: this.driverFeaturesHi,
      deviceFeatureSelect: this.deviceFeatureSelect, driverFeatureSelect: this.driverFeatureSelect,
      queueSelect: this.queueSelect, isr: this.isr, configGeneration: this.configGeneration, configVector: this.configVector,
      queues: this.queues.map((q) => q.saveState()),
      model: this.model.saveState(),
    };
  }

  loadState(s: DeviceState): void {
    this.status = stateNum(s, 'status');
    this.driverFeaturesLo = stateNum(s, 'driverFeaturesLo');
    this.driverFeaturesHi = stateNum(s, 'driverFeaturesHi');
    this.deviceFeatureSelect = stateNum(s, 'deviceFeatureSelect');
    this.driverFeatureSelect = stateNum(s, 'driverFeatureSelect');
    this.queueSelect = stateNum(s, 'queueSelect');
    this.isr = stateNum(s, 'isr');
    this.configGeneration = stateNum(s, 'configGeneration');
    this.configVector = stateNum(s, 'configVector');
    const qs = stateObjs(s, 'queues', this.queues.length);
    for (let i = 0; i < qs.length; i++) this.queues[i].loadState(qs[i]);
    this.model.loadState(stateObj(s, 'model'));
  }
}
