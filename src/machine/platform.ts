// The platform around the PC basics: the interrupt fabric (a local APIC per vCPU, the IOAPIC,
// the APIC bus between them and MSIs), the HPET, the ACPI PM block, the PCI devices of `-s`
// and the firmware tables that describe them (ACPI, MP table, SMBIOS).
//
// The machine knows none of these devices: this file builds them, connects their lines and
// callbacks (devices never import each other), and hands the machine the local APICs it takes
// interrupts from. Every address and routing rule comes from platform-layout.ts, which the
// firmware tables describe too.

import type { Machine } from './machine.js';
import type { PcDevices } from './pc.js';
import { deviceClock } from './pc.js';
import { DeliveryMode, Shorthand, irqLine, type ApicMessage, type IrqLine, type InterruptSource } from './irq.js';
import {
  LAPIC_BASE, LAPIC_SIZE, IOAPIC_BASE, IOAPIC_SIZE, IOAPIC_PINS, HPET_BASE, HPET_SIZE, SCI_IRQ, ioapicId, isaIrqToGsi,
  PM1A_EVT_BLK, PM1A_CNT_BLK, PM_TMR_BLK, SMI_CMD, ACPI_ENABLE, ACPI_DISABLE, SLP_TYP_S5, RESET_PORT, RESET_VALUE,
  PCI_IO_BASE, PCI_IO_LIMIT, PCI_MMIO_BASE, PCI_MMIO_LIMIT, MPTABLE_BASE, SMBIOS_BASE, ACPI_BASE, BIOS_AREA_BASE, BIOS_AREA_SIZE,
} from './platform-layout.js';
import { APIC_VERSION } from '../devices/lapic/index.js';
import { IOAPIC_VERSION } from '../devices/ioapic/ioapic.js';
import { REG_CENTURY } from '../devices/index.js';
import { describePci, uuidFromName, writeFirmwareTables, type FirmwareResult, type PlatformDescription } from '../firmware/index.js';
import { HVSIM_VERSION } from '../version.js';
import { virtioBlkOf } from '../devices/virtio-blk/virtio-blk-emulation.js';
import { blkDeviceName } from '../devices/virtio-blk/blk-config.js';
import { ExitKind } from './exit.js';
import { Hpet } from '../devices/hpet/hpet.js';
import { AcpiPm } from '../devices/acpi-pm/acpi-pm.js';
import { LocalApic } from '../devices/lapic/index.js';
import { Ioapic } from '../devices/ioapic/ioapic.js';
import type { DeviceState } from '../devices/device.js';
import type { PicPair } from '../devices/index.js';
import { buildPciPlatform, type PciPlatform, type PciSlotSpec } from './pci-platform.js';
import seedrandom from 'seedrandom';

export interface PlatformOptions {
  vmname: string;
  /** Seed of guest-visible randomness (the random scheduler has its own stream). */
  seed?: number;
  /** Local APICs may enter x2APIC mode (bhyve -x; CPUID advertises it). */
  x2apic?: boolean;
  /** The PCI functions of `-s`, in command-line order. */
  pciSlots?: readonly PciSlotSpec[];
  /** -A: ACPI tables (RSDP, RSDT/XSDT, FADT, FACS, DSDT, MADT, HPET). Default off, as bhyve. */
  acpiTables?: boolean;
  /** The MP table (-Y turns it off). Default on. */
  mptable?: boolean;
  /** -U: the SMBIOS system UUID; default derived from the VM name. */
  uuid?: string | null;
  /** -c topology for SMBIOS (default one socket of `vcpus` cores). */
  topology?: { sockets: number; cores: number; threads: number };
  /** Replaying a trace: disks are stand-ins of their recorded sizes (by device name), no host file is touched. */
  replay?: { blkSizes: Readonly<Record<string, number>> };
}

/** A seeded byte stream per device, so adding a device does not shift another's bytes. */
export function seededBytes(seed: number, stream: string): { nextBytes(n: number): Uint8Array } {
  const rng = seedrandom(`hvsim:${seed}:${stream}`);
  return {
    nextBytes(n: number): Uint8Array {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const v = rng.int32();
        for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
      }
      return out;
    },
  };
}

export class Platform {
  readonly lapics: LocalApic[] = [];
  readonly ioapic: Ioapic;
  /** The PIC pair once connected (the BSP's LINT0 reaches it through ExtINT). */
  private pic: PicPair | null = null;
  /** The PCI devices of `-s` (null without any). */
  pci: PciPlatform | null = null;
  hpet: Hpet | null = null;
  pm: AcpiPm | null = null;

  constructor(
    private readonly m: Machine,
    readonly options: PlatformOptions,
  ) {
    const clock = deviceClock(m);
    this.ioapic = new Ioapic({ id: ioapicId(m.cpus.length), send: (msg) => this.route(msg) });
    m.mem.addMmio(IOAPIC_BASE, IOAPIC_SIZE, this.ioapic, 'ioapic');
    const lazyPic: InterruptSource = {
      hasInterrupt: () => this.pic !== null && this.pic.hasInterrupt(),
      acknowledge: () => (this.pic === null ? 0xff : this.pic.acknowledge()),
    };
    for (let i = 0; i < m.cpus.length; i++) {
      this.lapics.push(
        new LocalApic({
          id: i,
          bsp: i === 0,
          clock,
          tsc: () => m.clock.tsc(),
          tscKHz: () => m.clock.tscKHz,
          send: (msg) => this.route(msg),
          signal: (kind, vector) => this.signal(i, kind, vector),
          extInt: i === 0 ? lazyPic : null,
          eoi: (vector) => this.ioapic.eoi(vector),
          kick: () => {
            m.cpus[i].breakLoop = true;
          },
          x2apicSupported: options.x2apic ?? false,
        }),
      );
    }
    // Each vCPU sees its own local APIC at the same address (SDM vol. 3, 11.4.1).
    const lapics = this.lapics;
    m.mem.addMmio(
      LAPIC_BASE,
      LAPIC_SIZE,
      {
        mmioRead: (offset, size) => lapics[m.runningVcpu].mmioRead(offset, size),
        mmioWrite: (offset, size, value) => lapics[m.runningVcpu].mmioWrite(offset, size, value),
      },
      'lapic',
    );
    m.lapics = lapics;
    m.cpuidModel.setLocalApic(true);
  }

  /** INIT, StartUp or NMI for vCPU `i` from the APIC bus. INIT resets its local APIC too,
   *  all but the ID and base (SDM vol. 3, 11.4.7.3). */
  private signal(i: number, kind: 'init' | 'startup' | 'nmi', vector: number): void {
    const m = this.m;
    if (kind === 'init') {
      this.lapics[i].init();
      m.vcpuInit(i);
    } else if (kind === 'startup') m.vcpuStartup(i, vector);
    else m.vcpuNmi(i);
  }

  /** The IOAPIC input for a GSI (the ISA IRQs reach it through PcOptions.gsi). */
  gsi(gsi: number, level: boolean): void {
    this.ioapic.setIrq(gsi, level);
  }

  /**
   * Wire what needs the PC basics: the PIC behind the BSP's LINT0, then the PCI functions
   * (after the PC's ports are taken, so BAR placement avoids them). Throws PlatformError for
   * a bad `-s`.
   */
  connect(pc: PcDevices): void {
    const m = this.m;
    const pic = pc.pic;
    this.pic = pic;
    const clock = deviceClock(m);
    const isa = m.isaIrqs ?? pic;
    // HPET: comparators to IOAPIC inputs, or in legacy replacement to ISA IRQ 0 and 8.
    this.hpet = new Hpet({ clock, ioapic: { setIrq: (gsi, level) => this.ioapic.setIrq(gsi, level) }, legacy: isa });
    m.mem.addMmio(HPET_BASE, HPET_SIZE, this.hpet, 'hpet');
    const hpet = this.hpet;
    m.legacyIrqOwned = (irq) => (irq === 0 || irq === 8) && hpet.legacyReplacement;
    // ACPI fixed hardware: the PM timer, SCI on ISA IRQ 9, soft-off through PM1a_CNT.
    this.pm = new AcpiPm({ clock, sci: irqLine(isa, SCI_IRQ), powerOff: () => m.stopWith({ kind: ExitKind.PowerOff }) });
    this.pm.attach(m.io);
    const slots = this.options.pciSlots ?? [];
    if (slots.length > 0) {
      this.pci = buildPciPlatform(m, {
        slots: [...slots],
        vmname: this.options.vmname,
        rng: seededBytes(this.options.seed ?? 0, 'pci'),
        hostInput: (device, data) => m.hostInput(device, data),
        hostOutput: (device, data) => m.hostOutput(device, data),
        irq: (gsi, isaIrq, level, isaLevel) => {
          this.ioapic.setIrq(gsi, level);
          pic.setIrq(isaIrq, isaLevel);
        },
        msi: (msg) => this.route(msg),
        replay: this.options.replay,
      });
    }
    this.firmware = writeFirmwareTables(m.mem, this.describe(), {
      acpi: this.options.acpiTables ?? false,
      mptable: this.options.mptable ?? true,
      smbios: true,
    });
  }

  /** Each virtio-blk disk's size in bytes, by device name (a trace header keeps it for replay). */
  blkSizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.pci?.functions ?? []) {
      const blk = virtioBlkOf(f.fn);
      if (blk !== null) out[blkDeviceName(f.bus, f.slot, f.function)] = blk.sizeBytes;
    }
    return out;
  }

  /** Release host resources (disk image files) at the end of a run. */
  close(): void {
    for (const f of this.pci?.functions ?? []) virtioBlkOf(f.fn)?.close();
  }

  /** Where the firmware tables went (the RSDP for boot protocols that pass it). */
  firmware: FirmwareResult | null = null;

  /** The platform as the firmware tables describe it (src/firmware/platform-description.ts). */
  describe(): PlatformDescription {
    const m = this.m;
    const vcpus = m.cpus.length;
    const leaf1 = new Int32Array(4);
    m.cpuidModel.leaf(1, 0, 0, leaf1);
    const pci = this.pci;
    return {
      vcpus,
      topology: this.options.topology,
      x2apic: this.options.x2apic ?? false,
      ramBytes: m.mem.size,
      cpuid1: { eax: leaf1[0] >>> 0, edx: leaf1[3] >>> 0 },
      cpuVendor: 'GenuineIntel',
      lapic: { address: LAPIC_BASE, version: APIC_VERSION & 0xff },
      ioapic: { id: ioapicId(vcpus), address: IOAPIC_BASE, gsiBase: 0, pins: IOAPIC_PINS, version: IOAPIC_VERSION },
      isaOverrides: [
        { isaIrq: 0, gsi: isaIrqToGsi(0), polarity: 'high', trigger: 'edge' },
        { isaIrq: SCI_IRQ, gsi: SCI_IRQ, polarity: 'low', trigger: 'level' },
      ],
      hpet: this.hpet === null ? null : { address: HPET_BASE, blockId: this.hpet.mmioRead(0, 4) >>> 0, minimumTick: 0x80 },
      pm: {
        evt: PM1A_EVT_BLK, cnt: PM1A_CNT_BLK, tmr: PM_TMR_BLK, smiCmd: SMI_CMD, enable: ACPI_ENABLE, disable: ACPI_DISABLE,
        sci: SCI_IRQ, s5: SLP_TYP_S5, resetPort: RESET_PORT, resetValue: RESET_VALUE,
      },
      pci: pci === null ? null : describePci(pci.intxRoutes, [], [PCI_IO_BASE, PCI_IO_LIMIT], [PCI_MMIO_BASE, PCI_MMIO_LIMIT]),
      uarts: [
        { name: 'com1', port: 0x3f8, irq: 4 },
        { name: 'com2', port: 0x2f8, irq: 3 },
      ],
      rtc: { port: 0x70, length: 2, irq: 8, centuryIndex: REG_CENTURY },
      uuid: this.options.uuid ?? uuidFromName(this.options.vmname),
      vmname: this.options.vmname,
      oemId: 'HVSIM ',
      oemTableId: 'HVSIMPC ',
      biosVendor: 'hvsim',
      biosVersion: HVSIM_VERSION,
      biosDate: '01/01/2026',
      systemVendor: 'hvsim',
      systemProduct: 'hvsim PC',
      areas: { mptable: MPTABLE_BASE, smbios: SMBIOS_BASE, acpi: ACPI_BASE, end: BIOS_AREA_BASE + BIOS_AREA_SIZE },
    };
  }

  /**
   * The APIC bus: deliver a message to the local APICs it addresses (SDM vol. 3, 11.6.2 and
   * 11.6.3). Lowest-priority goes to the matching APIC with the lowest arbitration priority,
   * ties to the lowest APIC ID. The random scheduler may delay a message by a seeded number
   * of instructions, to move interrupts against the vCPUs.
   */
  route(msg: ApicMessage): void {
    // Only device interrupts (IOAPIC, MSI) are delayed, never IPIs, and never out of order:
    // messages keep the order they were sent in, as on the APIC bus (a StartUp IPI must not
    // overtake its INIT).
    const c = this.m.clock;
    const delay = msg.source < 0 ? this.m.scheduler.interruptDelay() : 0;
    const at = Math.max(c.icount + delay, this.lastDeliveryAt);
    if (at > c.icount) {
      this.lastDeliveryAt = at;
      c.schedule(at, () => this.deliver(msg));
    } else this.deliver(msg);
  }

  /** When the last delayed message is due (later messages may not overtake it). */
  private lastDeliveryAt = 0;

  private deliver(msg: ApicMessage): void {
    const l = this.lapics;
    const targets: LocalApic[] = [];
    switch (msg.shorthand) {
      case Shorthand.Self:
        if (msg.source >= 0 && msg.source < l.length) targets.push(l[msg.source]);
        break;
      case Shorthand.AllIncludingSelf:
        targets.push(...l);
        break;
      case Shorthand.AllExcludingSelf:
        for (let i = 0; i < l.length; i++) if (i !== msg.source) targets.push(l[i]);
        break;
      default: {
        // An IOAPIC or MSI message is xAPIC-format: 0xff is a broadcast for x2APIC-mode APICs
        // too (as KVM's kvm_apic_mda maps it).
        const xapicBroadcast = msg.source < 0 && !msg.logical && msg.dest === 0xff;
        for (const a of l) if (a.matches(msg.logical, xapicBroadcast && a.x2apicMode ? 0xffffffff : msg.dest)) targets.push(a);
      }
    }
    if (targets.length === 0) return;
    if (msg.deliveryMode === DeliveryMode.LowestPriority && targets.length > 1) {
      let best = targets[0];
      for (const a of targets) if (a.arbitrationPriority() < best.arbitrationPriority()) best = a;
      best.accept(msg);
      return;
    }
    for (const a of targets) a.accept(msg);
  }

  saveState(): DeviceState {
    return {
      ioapic: this.ioapic.saveState(),
      lapics: this.lapics.map((a) => a.saveState()),
      scheduler: this.m.scheduler.saveState(),
      lastDeliveryAt: this.lastDeliveryAt,
      pci: this.pci?.saveState() ?? null,
      hpet: this.hpet?.saveState() ?? null,
      pm: this.pm?.saveState() ?? null,
    };
  }
}

/** An IrqLine of the platform (for devices wired by GSI). */
export function gsiLine(p: Platform, gsi: number): IrqLine {
  return { set: (level) => p.gsi(gsi, level) };
}
