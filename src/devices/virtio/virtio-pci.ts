// A transitional virtio-pci function (virtio 1.2, 4.1): one device model behind both the legacy
// I/O register block and the virtio 1.x capabilities, so legacy drivers (bhyve's guests, old
// kernels) and modern ones (Linux virtio_pci_modern) both drive it. bhyve's own virtio devices
// are legacy-only; hvsim's offer both.
//
// Identity (4.1.2): vendor 0x1AF4, device 0x1000 + legacy id (0x1000 net, 0x1001 blk,
// 0x1002 balloon, 0x1005 rng), revision 0 (transitional), subsystem vendor 0x1AF4, subsystem
// device = the virtio device type (4.1.2.3 legacy drivers match on it). INTA#.
//
// Resources:
//   BAR0  I/O, legacy registers + device config (legacy-registers.ts)
//   BAR1  mem32 4 KiB, MSI-X table and PBA (queues + 1 vectors: one per queue and config)
//   BAR4  mem32 16 KiB, common / ISR / device / notify structures (modern-registers.ts)
// Capabilities: vendor-specific virtio_pci_cap for COMMON_CFG, NOTIFY_CFG (+ multiplier),
// ISR_CFG, DEVICE_CFG and PCI_CFG (4.1.4.9: the config-space window onto the BARs), then MSI-X.
//
// DMA (ring and buffer accesses) happens only while COMMAND.BUS_MASTER is set; notifications
// arriving with it clear are dropped (the device cannot read the rings).

import type { DeviceState } from '../device.js';
import { stateObj } from '../state.js';
import type { GuestMemory } from '../../machine/memory.js';
import { PCI_CAP_ID_VENDOR } from '../pci/pci-config.js';
import { PciFunction, type BarHandler } from '../pci/pci-function.js';
import type { VirtioDma } from './descriptor-chain.js';
import { LegacyRegisters, legacyBarSize } from './legacy-registers.js';
import { COMMON_CFG_LENGTH, COMMON_CFG_OFFSET, DEVICE_CFG_OFFSET, ISR_CFG_LENGTH, ISR_CFG_OFFSET, MODERN_BAR_SIZE, ModernRegisters, NOTIFY_CFG_OFFSET, NOTIFY_OFF_MULTIPLIER } from './modern-registers.js';
import type { VirtioDeviceModel } from './virtio-device.js';
import { VIRTIO_PCI_VENDOR, VirtioDeviceType, transitionalPciDeviceId } from './virtio-spec.js';
import { VirtioTransport } from './virtio-transport.js';

/** virtio_pci_cap.cfg_type (4.1.4). */
export const enum VirtioPciCapType { COMMON_CFG = 1, NOTIFY_CFG = 2, ISR_CFG = 3, DEVICE_CFG = 4, PCI_CFG = 5 }

export const LEGACY_BAR = 0;
export const MSIX_BAR = 1;
export const MODERN_BAR = 4;

/** PCI class code by device type (PCI Code and ID Assignment): network, SCSI storage (as other hypervisors), other. */
function classCodeFor(type: number): number {
  switch (type) {
    case VirtioDeviceType.NET: return 0x02_00_00;
    case VirtioDeviceType.BLOCK: return 0x01_00_00;
    case VirtioDeviceType.CONSOLE: return 0x07_80_00;
    default: return 0xff_00_00;
  }
}

export class VirtioPciFunction extends PciFunction implements VirtioDma {
  readonly transport: VirtioTransport;
  readonly memory: GuestMemory;
  private readonly bar: BarHandler[] = [];
  private pciCfgCap = 0;

  constructor(model: VirtioDeviceModel, memory: GuestMemory, name = model.name) {
    super({
      vendorId: VIRTIO_PCI_VENDOR,
      deviceId: transitionalPciDeviceId(model.deviceType),
      classCode: classCodeFor(model.deviceType),
      revision: 0,
      subsystemVendorId: VIRTIO_PCI_VENDOR,
      subsystemId: model.deviceType,
      interruptPin: 1,
    }, name);
    this.memory = memory;
    this.transport = new VirtioTransport(model, this, {
      msixEnabled: () => this.msix?.enabled ?? false,
      msixVectors: () => this.msix?.vectors ?? 0,
      sendMsix: (v) => this.msix?.notify(v),
      setIntx: (level) => this.setIntx(level),
    });
    const legacy = new LegacyRegisters(this.transport, () => this.msix?.enabled ?? false);
    const modern = new ModernRegisters(this.transport);
    this.defineBar(LEGACY_BAR, { kind: 'io', size: legacyBarSize(model.configSize), handler: legacy });
    this.defineBar(MODERN_BAR, { kind: 'mem32', size: MODERN_BAR_SIZE, handler: modern });
    this.bar[LEGACY_BAR] = legacy;
    this.bar[MODERN_BAR] = modern;
    this.addVirtioCap(VirtioPciCapType.COMMON_CFG, MODERN_BAR, COMMON_CFG_OFFSET, COMMON_CFG_LENGTH);
    const notify = this.addVirtioCap(VirtioPciCapType.NOTIFY_CFG, MODERN_BAR, NOTIFY_CFG_OFFSET, NOTIFY_OFF_MULTIPLIER * model.queueMaxSizes.length, 4);
    this.initConfig(notify + 16, 4, NOTIFY_OFF_MULTIPLIER);
    this.addVirtioCap(VirtioPciCapType.ISR_CFG, MODERN_BAR, ISR_CFG_OFFSET, ISR_CFG_LENGTH);
    if (model.configSize > 0) this.addVirtioCap(VirtioPciCapType.DEVICE_CFG, MODERN_BAR, DEVICE_CFG_OFFSET, model.configSize);
    this.pciCfgCap = this.addVirtioCap(VirtioPciCapType.PCI_CFG, 0, 0, 0, 4, {
      onRead: (off, size) => this.pciCfgRead(off, size),
      onWrite: (off) => this.pciCfgWrite(off),
    });
    // 4.1.4.9: bar, offset and length of the PCI_CFG window are written by the driver.
    this.initConfig(this.pciCfgCap + 4, 1, 0, 0xff);
    this.initConfig(this.pciCfgCap + 8, 4, 0, 0xffffffff);
    this.initConfig(this.pciCfgCap + 12, 4, 0, 0xffffffff);
    this.initConfig(this.pciCfgCap + 16, 4, 0, 0xffffffff);
    const msix = this.addMsix({ vectors: model.queueMaxSizes.length + 1, bar: MSIX_BAR, dedicatedBar: true });
    this.bar[MSIX_BAR] = msix;
  }

  /** virtio_pci_cap {cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2], offset, length} (4.1.4). */
  private addVirtioCap(type: number, bar: number, offset: number, length: number, extra = 0, hooks?: Parameters<PciFunction['addCapability']>[2]): number {
    const len = 16 + extra;
    const at = this.addCapability(PCI_CAP_ID_VENDOR, len, hooks);
    this.initConfig(at + 2, 1, len);
    this.initConfig(at + 3, 1, type);
    this.initConfig(at + 4, 1, bar);
    this.initConfig(at + 8, 4, offset);
    this.initConfig(at + 12, 4, length);
    return at;
  }

  // VirtioDma
  dmaAllowed(): boolean {
    return this.busMaster();
  }

  /** The PCI_CFG window (4.1.4.9): pci_cfg_data accesses reach BAR `bar` at `offset` with `length` bytes. */
  private pciCfgTarget(): { handler: BarHandler; offset: number; length: number } | null {
    const c = this.pciCfgCap;
    const bar = this.rawRead(c + 4, 1);
    const offset = this.rawRead(c + 8, 4);
    const length = this.rawRead(c + 12, 4);
    const handler = bar < this.bar.length ? this.bar[bar] : undefined;
    const spec = this.barSpec(bar);
    if (handler === undefined || spec === null || (length !== 1 && length !== 2 && length !== 4) || offset + length > spec.size) return null;
    return { handler, offset, length };
  }

  private pciCfgRead(capOffset: number, _size: number): number | null {
    if (capOffset < 16) return null;
    const t = this.pciCfgTarget();
    if (t === null) return null;
    return t.handler.read(t.offset, t.length);
  }

  private pciCfgWrite(capOffset: number): void {
    if (capOffset < 16) return;
    const t = this.pciCfgTarget();
    if (t === null) return;
    t.handler.write(t.offset, t.length, this.rawRead(this.pciCfgCap + 16, 4));
  }

  protected override onReset(): void {
    this.transport.reset();
  }

  override saveState(): DeviceState {
    return { pci: super.saveState(), virtio: this.transport.saveState() };
  }

  override loadState(s: DeviceState): void {
    super.loadState(stateObj(s, 'pci'));
    this.transport.loadState(stateObj(s, 'virtio'));
  }
}
