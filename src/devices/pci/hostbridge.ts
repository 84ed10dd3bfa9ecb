// The host bridge function bhyve puts at 0:0.0 (`-s 0,hostbridge` / `-s 0,amd_hostbridge`):
// class 06/00 (bridge, host), no BARs, no interrupt, and a PCI Express capability that makes it
// a root port (PCIe base spec 3.0, 7.8: capabilities version 2, device/port type 4), as bhyve's
// hostbridge does. IDs: bhyve's (NetApp 0x1275:0x1275; AMD 0x1022:0x7432 for amd_hostbridge);
// `vendor=` and `devid=` in the conf override them, as in bhyve.

import { PciFunction } from './pci-function.js';
import { PCI_CAP_ID_PCIE } from './pci-config.js';

export const HOSTBRIDGE_IDS = { vendorId: 0x1275, deviceId: 0x1275 } as const;
export const AMD_HOSTBRIDGE_IDS = { vendorId: 0x1022, deviceId: 0x7432 } as const;
export const CLASS_BRIDGE_HOST = 0x06_00_00;

/** PCI Express capability structure length (7.8: through Slot Status 2). */
const PCIE_CAP_LENGTH = 0x3c;
/** PCI Express Capabilities register: version 2, Device/Port Type 0100b = root port (7.8.2). */
const PCIE_CAPS_V2_ROOT_PORT = 0x0002 | (0x4 << 4);
/** Device Capabilities bit 15: Role-Based Error Reporting (required from 1.1 on, 7.8.3). */
const PCIE_DEVCAP_RBER = 0x8000;
/** Link Capabilities / Link Status: 2.5 GT/s, x1 (7.8.6, 7.8.8). */
const PCIE_LINK_GEN1_X1_CAP = 0x411;
const PCIE_LINK_GEN1_X1_STATUS = 0x11;

export class HostBridge extends PciFunction {
  constructor(name: string, ids: { vendorId: number; deviceId: number }) {
    super({
      vendorId: ids.vendorId & 0xffff,
      deviceId: ids.deviceId & 0xffff,
      classCode: CLASS_BRIDGE_HOST,
      revision: 0,
      subsystemVendorId: 0,
      subsystemId: 0,
      interruptPin: 0,
    }, name);
    const cap = this.addCapability(PCI_CAP_ID_PCIE, PCIE_CAP_LENGTH);
    this.initConfig(cap + 0x02, 2, PCIE_CAPS_V2_ROOT_PORT);
    this.initConfig(cap + 0x04, 4, PCIE_DEVCAP_RBER);
    this.initConfig(cap + 0x0c, 4, PCIE_LINK_GEN1_X1_CAP);
    this.initConfig(cap + 0x12, 2, PCIE_LINK_GEN1_X1_STATUS);
  }
}

/** Parse bhyve's hostbridge conf (`vendor=N,devid=N`, C-style numbers); an error string on failure. */
export function parseHostBridgeConf(conf: string | null, defaults: { vendorId: number; deviceId: number }): { vendorId: number; deviceId: number } | string {
  const ids = { vendorId: defaults.vendorId, deviceId: defaults.deviceId };
  if (conf === null || conf === '') return ids;
  for (const item of conf.split(',')) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (key !== 'vendor' && key !== 'devid') return `unknown hostbridge option "${item}" (expected vendor=ID or devid=ID)`;
    const n = /^0x[0-9a-f]{1,4}$/i.test(value) ? parseInt(value.slice(2), 16) : /^[0-9]{1,5}$/.test(value) ? Number(value) : -1;
    if (n < 0 || n > 0xffff) return `invalid ${key} "${value}" (a 16-bit number)`;
    if (key === 'vendor') ids.vendorId = n;
    else ids.deviceId = n;
  }
  return ids;
}
