// Test-only: a PlatformDescription of the PC that platform-layout.ts describes, as the machine
// is expected to build it (the firmware code itself never imports the machine).

import * as L from '../machine/platform-layout.js';
import { hpetBlockId, uuidFromName, type PlatformDescription, type PciRoute } from './platform-description.js';

export function sampleDescription(over: Partial<PlatformDescription> & { slots?: number[] } = {}): PlatformDescription {
  const vcpus = over.vcpus ?? 1;
  const routes: PciRoute[] = [];
  for (const slot of over.slots ?? [0, 3, 4]) {
    for (let pin = 0; pin < 4; pin++) routes.push({ slot, pin, gsi: L.pciIntxGsi(slot, pin), isaIrq: L.pciIntxIsaIrq(slot, pin) });
  }
  const { slots: _slots, ...rest } = over;
  void _slots;
  return {
    vcpus,
    x2apic: false,
    ramBytes: 256 * 1024 * 1024,
    cpuid1: { eax: 0x000906ea, edx: 0x0f8bfbff },
    cpuVendor: 'GenuineIntel',
    lapic: { address: L.LAPIC_BASE, version: 0x14 },
    ioapic: { id: L.ioapicId(vcpus), address: L.IOAPIC_BASE, gsiBase: 0, pins: L.IOAPIC_PINS, version: 0x11 },
    isaOverrides: [
      { isaIrq: 0, gsi: L.isaIrqToGsi(0), polarity: 'high', trigger: 'edge' },
      { isaIrq: L.SCI_IRQ, gsi: L.SCI_IRQ, polarity: 'low', trigger: 'level' },
    ],
    hpet: {
      address: L.HPET_BASE,
      blockId: hpetBlockId({ revisionId: 1, timers: L.HPET_TIMERS, counter64: true, legacyRoute: true, vendorId: 0x8086 }),
      minimumTick: 0x80,
    },
    pm: {
      evt: L.PM1A_EVT_BLK, cnt: L.PM1A_CNT_BLK, tmr: L.PM_TMR_BLK, smiCmd: L.SMI_CMD,
      enable: L.ACPI_ENABLE, disable: L.ACPI_DISABLE, sci: L.SCI_IRQ, s5: L.SLP_TYP_S5,
      resetPort: L.RESET_PORT, resetValue: L.RESET_VALUE,
    },
    pci: { routes, ioWindow: [L.PCI_IO_BASE, L.PCI_IO_LIMIT], mmioWindow: [L.PCI_MMIO_BASE, L.PCI_MMIO_LIMIT] },
    uarts: [{ name: 'com1', port: 0x3f8, irq: 4 }, { name: 'com2', port: 0x2f8, irq: 3 }],
    rtc: { port: 0x70, length: 2, irq: 8, centuryIndex: 0x32 },
    uuid: uuidFromName('testvm'),
    vmname: 'testvm',
    oemId: 'HVSIM ',
    oemTableId: 'HVSIMPC ',
    biosVendor: 'hvsim',
    biosVersion: '0.1.0',
    biosDate: '01/01/2026',
    systemVendor: 'hvsim',
    systemProduct: 'hvsim PC',
    areas: { mptable: L.MPTABLE_BASE, smbios: L.SMBIOS_BASE, acpi: L.ACPI_BASE, end: L.BIOS_AREA_BASE + L.BIOS_AREA_SIZE },
    ...rest,
  };
}
