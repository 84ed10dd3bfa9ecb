// The DSDT (ACPI 6.5, 5.2.11.1): the namespace Linux needs on this PC. Revision 2, so AML
// integers are 64-bit.
//   \PICF, \_PIC     interrupt model the OS chose (5.8.1): 0 PIC, 1 APIC
//   \_S5             soft-off sleep type (7.4.2)
//   \_SB.Cnnn        one ACPI0007 processor device per vCPU, _UID = the MADT's processor UID
//   \_SB.PCI0        PNP0A03 root bridge: _BBN, _CRS windows, _PRT (6.2.13) for both models
//   \_SB.PCxx        the same for each other root bus (bus number xx in hex)
//   \_SB.COMn, RTC, HPET   the ISA devices (PNP0501, PNP0B00, PNP0103) with their _CRS

import * as aml from './aml.js';
import type { Aml } from './aml.js';
import * as res from './resources.js';
import { pciRootsOf, type PciRootBus, type PciRoute, type PlatformDescription } from '../platform-description.js';
import { finishSdt, startSdt } from './sdt.js';

export const DSDT_REVISION = 2;
/** The HPET register block is 1024 bytes (IA-PC HPET 1.0a, 2.3.1). */
const HPET_BLOCK_SIZE = 0x400;
/** Configuration mechanism #1's ports, consumed by the host bridge (PCI Local Bus 3.0, 3.2.2.3.2). */
const PCI_CONFIG_PORTS = 0xcf8;
const PCI_CONFIG_PORTS_LENGTH = 8;

export function buildDsdt(d: PlatformDescription): Uint8Array {
  const w = startSdt('DSDT', DSDT_REVISION, d);
  w.bytes(dsdtBody(d));
  return finishSdt(w);
}

/** The AML after the header (exported for tests that decode it). */
export function dsdtBody(d: PlatformDescription): Aml {
  const terms: Aml[] = [
    aml.name('\\PICF', aml.integer(0)),
    aml.method('\\_PIC', 1, [aml.store(aml.arg0, '\\PICF')]),
    aml.name('\\_S5', aml.pkg([aml.integer(d.pm.s5), aml.integer(d.pm.s5), aml.integer(0), aml.integer(0)])),
  ];
  const sb: Aml[] = [];
  for (let i = 0; i < d.vcpus; i++) sb.push(processorDevice(i));
  if (d.pci) sb.push(...pciRootBridges(d.pci));
  d.uarts.forEach((u, i) => sb.push(comDevice(u, i)));
  if (d.rtc) sb.push(aml.device('RTC', [
    aml.name('_HID', aml.eisaId('PNP0B00')),
    aml.name('_CRS', aml.buffer(res.resourceTemplate([res.io(d.rtc.port, d.rtc.length), res.irqNoFlags(d.rtc.irq)]))),
  ]));
  if (d.hpet) sb.push(aml.device('HPET', [
    aml.name('_HID', aml.eisaId('PNP0103')),
    aml.name('_UID', aml.integer(0)),
    aml.name('_CRS', aml.buffer(res.resourceTemplate([res.memory32Fixed(d.hpet.address, HPET_BLOCK_SIZE, true)]))),
  ]));
  terms.push(aml.scope('\\_SB', sb));
  return terms.flat();
}

/** Device names C000..C00F: "C" + the vCPU index in three hex digits. */
export function processorDeviceName(index: number): string {
  return `C${index.toString(16).toUpperCase().padStart(3, '0')}`;
}

function processorDevice(index: number): Aml {
  return aml.device(processorDeviceName(index), [
    aml.name('_HID', aml.string('ACPI0007')),
    aml.name('_UID', aml.integer(index)),
  ]);
}

/** Root bridge device names: PCI0 for bus 0, PCxx (bus number in hex) for the others. */
export function rootBridgeName(bus: number): string {
  return bus === 0 ? 'PCI0' : `PC${bus.toString(16).toUpperCase().padStart(2, '0')}`;
}

function pciRootBridges(pci: NonNullable<PlatformDescription['pci']>): Aml[] {
  const roots = pciRootsOf(pci);
  return roots.map((root, i) => {
    // Each root decodes the buses from its own up to the next root's (so ranges never overlap).
    const lastBus = i + 1 < roots.length ? roots[i + 1].bus - 1 : 0xff;
    const routes = pci.routes.filter((r) => (r.bus ?? 0) === root.bus);
    return pciRootBridge(root, lastBus, routes);
  });
}

function pciRootBridge(root: PciRootBus, lastBus: number, routes: readonly PciRoute[]): Aml {
  const [ioFirst, ioEnd] = root.ioWindow;
  const [memFirst, memEnd] = root.mmioWindow;
  const crs: Aml[] = [res.wordBusNumber(root.bus, lastBus)];
  if (root.bus === 0) {
    crs.push(
      res.io(PCI_CONFIG_PORTS, PCI_CONFIG_PORTS_LENGTH),
      // The legacy ports below and above 0xcf8-0xcff reach the LPC devices through bus 0's bridge.
      res.dwordIo(0x0000, PCI_CONFIG_PORTS - 1),
    );
    const afterConfig = PCI_CONFIG_PORTS + PCI_CONFIG_PORTS_LENGTH;
    if (ioFirst > afterConfig) crs.push(res.dwordIo(afterConfig, ioFirst - 1));
  }
  if (ioEnd > ioFirst) crs.push(res.dwordIo(ioFirst, ioEnd - 1));
  if (memEnd > memFirst) crs.push(res.dwordMemory(memFirst, memEnd - 1));

  // _PRT entries (Table 6.79): Address = slot << 16 | 0xffff (any function), Pin, Source 0
  // (hard-wired), Source Index = the interrupt: the GSI in APIC mode, the 8259 IRQ in PIC mode.
  const prt = (irqOf: (r: PciRoute) => number): Aml =>
    aml.pkg(routes.map((r) => aml.pkg([aml.integer(((r.slot << 16) | 0xffff) >>> 0), aml.integer(r.pin), aml.integer(0), aml.integer(irqOf(r))])));
  return aml.device(rootBridgeName(root.bus), [
    aml.name('_HID', aml.eisaId('PNP0A03')),
    aml.name('_UID', aml.integer(root.bus)),
    aml.name('_BBN', aml.integer(root.bus)),
    aml.name('_CRS', aml.buffer(res.resourceTemplate(crs))),
    aml.name('PRTA', prt((r) => r.gsi)),
    aml.name('PRTP', prt((r) => r.isaIrq)),
    aml.method('_PRT', 0, [
      aml.ifThen(aml.ref('\\PICF'), [aml.returnValue(aml.ref('PRTA'))]),
      aml.returnValue(aml.ref('PRTP')),
    ]),
  ]);
}

/** COM ports: _UID is the COM number (1 for "com1"), else the position. */
function comDevice(u: PlatformDescription['uarts'][number], index: number): Aml {
  const m = /^com([1-9])$/i.exec(u.name);
  const uid = m ? Number(m[1]) : index + 1;
  return aml.device(`COM${uid}`, [
    aml.name('_HID', aml.eisaId('PNP0501')),
    aml.name('_UID', aml.integer(uid)),
    aml.name('_DDN', aml.string(`COM${uid}`)),
    aml.name('_CRS', aml.buffer(res.resourceTemplate([res.io(u.port, 8), res.irqNoFlags(u.irq)]))),
  ]);
}
