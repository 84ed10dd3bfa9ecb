// The host bridge's configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): CONFIG_ADDRESS at
// 0xcf8 (dword only) and CONFIG_DATA at 0xcfc-0xcff, routing configuration cycles to the
// PciFunctions of buses 0-255.
//
// - CONFIG_ADDRESS: bit 31 enable, 30:24 reserved (read 0), 23:16 bus, 15:11 device, 10:8
//   function, 7:2 register, 1:0 read 0. Only a full dword access at 0xcf8 reaches it; other
//   accesses to 0xcf8-0xcfb are "normal I/O transactions" (3.2.2.3.2) that nothing claims here:
//   reads give all ones, writes are dropped. (0xcf9 byte accesses belong to the reset control
//   register, which the PC registers itself.)
// - CONFIG_DATA: a byte/word/dword access at 0xcfc + n reaches register offset (7:2) + n; an
//   access not naturally aligned (a word at 0xcfd or 0xcff, a dword not at 0xcfc) reads all ones
//   and writes nothing, as bhyve does (the spec leaves such accesses undefined).
//   With the enable bit clear, or no function at that address, reads give all ones (the master
//   abort of 3.2.2.3.2 / 6.1: "vendor ID 0xFFFF") and writes are dropped.
// - Every present function answers, function 0 or not (as bhyve; software scans functions 1-7
//   only when function 0 exists and its Header Type bit 7 is set, which the platform sets).
// - BAR mapping: after a COMMAND or BAR write of any function, refreshMappings() unmaps every
//   stale BAR first, then maps the pending ones, in bus/device/function order.

import type { DeviceState, PortDevice } from '../device.js';
import type { PortSpan } from '../port-device.js';
import { stateNum, stateObj } from '../state.js';
import type { BarMapper, PciFunction, PciInterrupts } from './pci-function.js';

export const CONFIG_ADDRESS_ENABLE = 0x8000_0000;
/** Writable bits of CONFIG_ADDRESS: enable, bus, device, function, register (7:2). */
const CONFIG_ADDRESS_MASK = 0x80ff_fffc;

export interface PciHostOptions {
  /** Port of CONFIG_ADDRESS (0xcf8); CONFIG_DATA is at +4. */
  configAddressPort: number;
  mapper: BarMapper;
}

/** bus:device.function as lspci prints it. */
export function pciAddressName(bus: number, dev: number, fn: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(bus, 2)}:${h(dev, 2)}.${fn}`;
}

export class PciHost implements PortDevice {
  readonly name = 'pci-host';
  readonly ports: readonly PortSpan[];
  private readonly addrPort: number;
  private readonly mapper: BarMapper;
  /** Indexed by bus << 8 | device << 3 | function. */
  private readonly slots: (PciFunction | null)[] = new Array<PciFunction | null>(65536).fill(null);
  /** Present functions in bus/device/function order. */
  private readonly ordered: { key: number; fn: PciFunction }[] = [];
  private configAddress = 0;

  constructor(opts: PciHostOptions) {
    this.addrPort = opts.configAddressPort;
    this.mapper = opts.mapper;
    const a = opts.configAddressPort;
    // 0xcf9 is left to the reset control register.
    this.ports = [
      { first: a, count: 1, name: 'pci-config-address' },
      { first: a + 2, count: 2, name: 'pci-config-address' },
      { first: a + 4, count: 4, name: 'pci-config-data' },
    ];
  }

  /** Put `fn` at bus:device.function (throws if taken or out of range: a platform bug). */
  add(bus: number, dev: number, func: number, fn: PciFunction, interrupts: PciInterrupts): void {
    if (!(bus >= 0 && bus <= 255 && dev >= 0 && dev <= 31 && func >= 0 && func <= 7)) throw new RangeError(`bad PCI address ${bus}:${dev}.${func}`);
    const key = (bus << 8) | (dev << 3) | func;
    if (this.slots[key] !== null) throw new Error(`PCI ${pciAddressName(bus, dev, func)} is already in use`);
    this.slots[key] = fn;
    this.ordered.push({ key, fn });
    this.ordered.sort((x, y) => x.key - y.key);
    fn.attach({ mapper: this.mapper, interrupts });
    fn.remapRequest = () => this.refreshMappings();
  }

  functionAt(bus: number, dev: number, func: number): PciFunction | null {
    return this.slots[((bus & 0xff) << 8) | ((dev & 31) << 3) | (func & 7)];
  }

  /** Present functions with their addresses, in bus/device/function order. */
  functions(): { bus: number; dev: number; func: number; fn: PciFunction }[] {
    return this.ordered.map(({ key, fn }) => ({ bus: key >>> 8, dev: (key >>> 3) & 31, func: key & 7, fn }));
  }

  refreshMappings(): void {
    const list = this.ordered;
    for (let i = 0; i < list.length; i++) list[i].fn.unmapStaleBars();
    for (let i = 0; i < list.length; i++) list[i].fn.mapBars();
  }

  /** The function CONFIG_ADDRESS selects, or null (disabled, absent). */
  private selected(): PciFunction | null {
    const a = this.configAddress;
    if ((a & CONFIG_ADDRESS_ENABLE) === 0) return null;
    return this.slots[(a >>> 8) & 0xffff];
  }

  ioRead(port: number, size: number): number {
    const ones = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    const off = (port - this.addrPort) & 0xffff;
    if (off === 0) return size === 4 ? this.configAddress >>> 0 : ones;
    if (off < 4 || off > 7) return ones;
    const fn = this.selected();
    const reg = (this.configAddress & 0xfc) | (off - 4);
    // An access that is not naturally aligned within the dword gets the master-abort answer (as bhyve).
    if (fn === null || (reg & (size - 1)) !== 0) return ones;
    return fn.cfgRead(reg, size);
  }

  ioWrite(port: number, size: number, value: number): void {
    const off = (port - this.addrPort) & 0xffff;
    if (off === 0) {
      if (size === 4) this.configAddress = (value & CONFIG_ADDRESS_MASK) >>> 0;
      return;
    }
    if (off < 4 || off > 7) return;
    const fn = this.selected();
    const reg = (this.configAddress & 0xfc) | (off - 4);
    if (fn !== null && (reg & (size - 1)) === 0) fn.cfgWrite(reg, size, value);
  }

  reset(): void {
    this.configAddress = 0;
    for (const { fn } of this.ordered) fn.reset();
  }

  saveState(): DeviceState {
    const functions: DeviceState = {};
    for (const { key, fn } of this.ordered) functions[pciAddressName(key >>> 8, (key >>> 3) & 31, key & 7)] = fn.saveState();
    return { configAddress: this.configAddress, functions };
  }

  loadState(s: DeviceState): void {
    this.configAddress = (stateNum(s, 'configAddress') & CONFIG_ADDRESS_MASK) >>> 0;
    const f = stateObj(s, 'functions');
    for (const { key, fn } of this.ordered) fn.loadState(stateObj(f, pciAddressName(key >>> 8, (key >>> 3) & 31, key & 7)));
    this.refreshMappings();
  }
}
