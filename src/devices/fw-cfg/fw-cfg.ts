// QEMU firmware configuration device, traditional I/O-port interface.
//
// Reference: QEMU docs/specs/fw_cfg.rst ("Selector (Control) Register", "Data Register",
// "Register Locations", "Firmware Configuration Items", "File Directory"), and the key
// numbers of QEMU's include/standard-headers/linux/qemu_fw_cfg.h.
//
// Ports (x86): 0x510 selector (16-bit, little-endian), 0x511 data (8-bit). As in QEMU the
// two ports are one region: a 16-bit write selects an item, a byte read (at either port)
// returns the next data byte, a byte write is a data write (ignored since QEMU 2.4). Other
// access sizes are invalid: reads return 0 and writes are ignored.
//
// Items: signature "QEMU" (0x0000), ID 0x0001 = 1 (traditional interface only: no DMA,
// so port 0x514 is not decoded), RAM size (0x0003, u64 LE), NB_CPUS (0x0005, u16 LE),
// MAX_CPUS (0x000f, u16 LE), kernel command line (0x0014 size u32 LE incl. NUL, 0x0015
// data) when given, the file directory (0x0019) and files from 0x0020 on. Selector bit 14
// (write channel) is ignored for reads and bit 15 selects the arch-local table (0x8000+),
// as in QEMU. Reading past an item's end, or an item that does not exist, returns 0.
//
// Files are kept sorted by name with selectors assigned in that order (QEMU's layout for
// current machine types). The item table is configuration, not state: only the selector and
// offset are saved; the machine re-creates the same items when it rebuilds the device.

import type { PortIoBus } from '../../machine/io-bus.js';
import type { DeviceState } from '../device.js';
import { attachPorts, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateNum } from '../state.js';

export const FW_CFG_PORT_SEL = 0x510;

// Selector keys (qemu_fw_cfg.h).
export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_UUID = 0x02;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_CMDLINE_SIZE = 0x14;
export const FW_CFG_CMDLINE_DATA = 0x15;
export const FW_CFG_FILE_DIR = 0x19;
export const FW_CFG_FILE_FIRST = 0x20;
const FW_CFG_ARCH_LOCAL = 0x8000;
/** Selector bits that index the table: not bit 14 (write channel) nor bit 15 (arch local). */
const FW_CFG_ENTRY_MASK = 0x3fff;
/** File names are NUL-terminated in a 56-byte field ("File Directory"). */
export const FW_CFG_MAX_FILE_PATH = 56;
/** Directory entry: size u32 BE, select u16 BE, reserved u16, name[56] = 64 bytes. */
const FILE_ENTRY_SIZE = 64;
/** "ID" feature bit 0: traditional interface (bit 1, DMA, is not offered). */
const FW_CFG_VERSION_TRADITIONAL = 0x01;

export interface FwCfgOptions {
  /** Guest RAM in bytes (FW_CFG_RAM_SIZE). */
  ramSize: number;
  /** Boot CPUs (FW_CFG_NB_CPUS). */
  nbCpus: number;
  /** FW_CFG_MAX_CPUS (default nbCpus). */
  maxCpus?: number;
  /** Kernel command line (FW_CFG_CMDLINE_SIZE/DATA), if any. */
  cmdline?: string;
}

interface FwCfgFile {
  name: string;
  data: Uint8Array;
}

export class FwCfg implements AttachablePortDevice {
  readonly name = 'fw_cfg';
  readonly ports: readonly PortSpan[] = [{ first: FW_CFG_PORT_SEL, count: 2, name: 'fw_cfg' }];
  /** Generic (index 0) and arch-local (index 1) items by key & 0x3fff. */
  private readonly items: [Map<number, Uint8Array>, Map<number, Uint8Array>] = [new Map(), new Map()];
  /** Files in name order; file i has selector FW_CFG_FILE_FIRST + i. */
  private files: FwCfgFile[] = [];
  private selector = 0;
  private offset = 0;

  constructor(opts: FwCfgOptions) {
    this.setItem(FW_CFG_SIGNATURE, asciiBytes('QEMU'));
    this.setItem(FW_CFG_ID, le(FW_CFG_VERSION_TRADITIONAL, 4));
    this.setItem(FW_CFG_RAM_SIZE, le(opts.ramSize, 8));
    this.setItem(FW_CFG_NB_CPUS, le(opts.nbCpus, 2));
    this.setItem(FW_CFG_MAX_CPUS, le(opts.maxCpus ?? opts.nbCpus, 2));
    if (opts.cmdline !== undefined) this.setCmdline(opts.cmdline);
    this.rebuildDirectory();
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  // ---- configuration (host side, before the guest runs) ----

  /** Set a fixed-key item (key < 0x20, or arch-local 0x8000+). Throws on a file key. */
  setItem(key: number, data: Uint8Array): void {
    const idx = key & FW_CFG_ENTRY_MASK;
    const arch = key & FW_CFG_ARCH_LOCAL ? 1 : 0;
    if (!arch && idx >= FW_CFG_FILE_DIR) throw new RangeError(`fw_cfg: key 0x${key.toString(16)} is reserved for the file directory`);
    this.items[arch].set(idx, data.slice());
  }

  /** Kernel command line: size (u32 LE, with the NUL) and NUL-terminated data. */
  setCmdline(cmdline: string): void {
    const bytes = asciiBytes(cmdline + '\0');
    this.setItem(FW_CFG_CMDLINE_SIZE, le(bytes.length, 4));
    this.setItem(FW_CFG_CMDLINE_DATA, bytes);
  }

  /**
   * Add (or replace) a named file ("etc/...", "opt/..."). Returns its selector. Selectors
   * follow name order, so adding a file may renumber the ones after it: add every file
   * before the guest runs.
   */
  addFile(name: string, data: Uint8Array): number {
    const nameBytes = asciiBytes(name);
    if (nameBytes.length === 0 || nameBytes.length >= FW_CFG_MAX_FILE_PATH) throw new RangeError(`fw_cfg: file name "${name}" must be 1-55 bytes`);
    if (nameBytes.includes(0)) throw new RangeError('fw_cfg: file name contains NUL');
    const existing = this.files.findIndex((f) => f.name === name);
    if (existing >= 0) {
      this.files[existing] = { name, data: data.slice() };
    } else {
      if (this.files.length >= FW_CFG_ENTRY_MASK + 1 - FW_CFG_FILE_FIRST) throw new RangeError('fw_cfg: too many files');
      this.files.push({ name, data: data.slice() });
      this.files.sort((a, b) => compareBytes(asciiBytes(a.name), asciiBytes(b.name)));
    }
    this.rebuildDirectory();
    return this.selectorOf(name);
  }

  /** The selector of a file, or -1. */
  selectorOf(name: string): number {
    const i = this.files.findIndex((f) => f.name === name);
    return i < 0 ? -1 : FW_CFG_FILE_FIRST + i;
  }

  private rebuildDirectory(): void {
    const dir = new Uint8Array(4 + FILE_ENTRY_SIZE * this.files.length);
    const view = new DataView(dir.buffer);
    view.setUint32(0, this.files.length, false); // count, big-endian
    this.files.forEach((f, i) => {
      const at = 4 + i * FILE_ENTRY_SIZE;
      view.setUint32(at, f.data.length, false); // size, big-endian
      view.setUint16(at + 4, FW_CFG_FILE_FIRST + i, false); // select, big-endian
      view.setUint16(at + 6, 0); // reserved
      dir.set(asciiBytes(f.name), at + 8); // name, NUL-padded
    });
    this.items[0].set(FW_CFG_FILE_DIR, dir);
  }

  // ---- Device ----

  /** QEMU's fw_cfg reset selects the signature. */
  reset(): void {
    this.selector = FW_CFG_SIGNATURE;
    this.offset = 0;
  }

  saveState(): DeviceState {
    return { selector: this.selector, offset: this.offset };
  }

  loadState(s: DeviceState): void {
    this.selector = stateNum(s, 'selector') & 0xffff;
    this.offset = Math.max(0, Math.floor(stateNum(s, 'offset')));
  }

  // ---- PortHandler ----

  ioRead(_port: number, size: number): number {
    if (size !== 1) return 0;
    const item = this.current();
    if (!item || this.offset >= item.length) return 0;
    return item[this.offset++];
  }

  ioWrite(_port: number, size: number, value: number): void {
    if (size === 2) {
      this.selector = value & 0xffff;
      this.offset = 0;
    }
    // size 1: data write, ignored (QEMU >= 2.4); size 4: invalid, ignored.
  }

  private current(): Uint8Array | undefined {
    const idx = this.selector & FW_CFG_ENTRY_MASK;
    if (this.selector & FW_CFG_ARCH_LOCAL) return this.items[1].get(idx);
    if (idx >= FW_CFG_FILE_FIRST) return this.files[idx - FW_CFG_FILE_FIRST]?.data;
    return this.items[0].get(idx);
  }
}

/** Little-endian bytes of a non-negative integer below 2^53. */
function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = Math.max(0, Math.floor(value));
  for (let i = 0; i < bytes; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

const utf8 = new TextEncoder();

/** Bytes of a name or command line (UTF-8; the spec recommends plain ASCII). */
function asciiBytes(s: string): Uint8Array {
  return utf8.encode(s);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
