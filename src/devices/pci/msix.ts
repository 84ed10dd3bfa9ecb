// The MSI-X capability (PCI Local Bus 3.0, 6.8.2): a table of {address, data, vector control}
// entries and a Pending Bit Array, both in memory BARs, plus Function Mask and MSI-X Enable in
// Message Control.
//
// MsixCapability is a BarHandler for the table and PBA. With `dedicatedBar`, the function gives
// it a BAR of its own (table at 0, PBA right after it: 6.8.2 lets them share a 4 KiB range as long
// as they do not overlap); otherwise the function's own
// BAR handler forwards the offsets for which covers() is true to read()/write().
//
// Model:
// - notify(v): MSI-X disabled: nothing (6.8.2: the function uses INTx or nothing then).
//   Masked (function or vector mask): the Pending bit is set; clearing the mask sends the message
//   and clears the bit (6.8.2.9). Otherwise the entry's message is sent. With BUS_MASTER clear a
//   message is not sent (dropped: messages are memory writes).
// - Reset: every vector's Mask bit set, everything else 0 (6.8.2.9).
// - Table accesses of 1/2/4 bytes are served (the spec requires dword and qword; an 8-byte access
//   reaches us as its low dword). Reserved Vector Control bits read 0. PBA is read-only.

import type { DeviceState } from '../device.js';
import { stateNums } from '../state.js';
import { PCI_CAP_ID_MSIX } from './pci-config.js';
import type { BarHandler, CapabilityPort } from './pci-function.js';

export const MSIX_CTRL_TABLE_SIZE_MASK = 0x07ff;
export const MSIX_CTRL_FUNCTION_MASK = 0x4000;
export const MSIX_CTRL_ENABLE = 0x8000;
export const MSIX_ENTRY_SIZE = 16;
export const MSIX_VECTOR_CTRL_MASK = 0x1;

export interface MsixOptions {
  /** Table entries: 1-2048. */
  vectors: number;
  /** BAR holding the table and PBA (BIR). */
  bar: number;
  /** Table offset in the BAR (8-byte aligned); default 0. */
  tableOffset?: number;
  /** PBA offset in the BAR (8-byte aligned); default: right after the table. */
  pbaOffset?: number;
  /** Define a mem32 BAR `bar` that holds only the table and PBA. */
  dedicatedBar?: boolean;
}

export class MsixCapability implements BarHandler {
  readonly offset: number;
  readonly vectors: number;
  readonly bar: number;
  readonly tableOffset: number;
  readonly pbaOffset: number;
  private readonly port: CapabilityPort;
  /** 4 dwords per entry: address lo, address hi, data, vector control. */
  private readonly table: Uint32Array;
  private readonly pending: Uint8Array;

  constructor(opts: MsixOptions, port: CapabilityPort) {
    const n = opts.vectors;
    if (!Number.isInteger(n) || n < 1 || n > 2048) throw new RangeError(`MSI-X: bad vector count ${n}`);
    if (!Number.isInteger(opts.bar) || opts.bar < 0 || opts.bar > 5) throw new RangeError(`MSI-X: bad BAR ${opts.bar}`);
    this.vectors = n;
    this.bar = opts.bar;
    this.tableOffset = opts.tableOffset ?? 0;
    this.pbaOffset = opts.pbaOffset ?? this.tableOffset + n * MSIX_ENTRY_SIZE;
    if ((this.tableOffset & 7) !== 0 || (this.pbaOffset & 7) !== 0) throw new RangeError('MSI-X: table and PBA must be 8-byte aligned');
    this.port = port;
    this.table = new Uint32Array(n * 4);
    this.pending = new Uint8Array(n);
    this.offset = port.add(PCI_CAP_ID_MSIX, 12, { onWrite: () => this.controlWritten() });
    port.init(this.offset + 2, 2, n - 1, MSIX_CTRL_FUNCTION_MASK | MSIX_CTRL_ENABLE);
    port.init(this.offset + 4, 4, (this.tableOffset | this.bar) >>> 0, 0);
    port.init(this.offset + 8, 4, (this.pbaOffset | this.bar) >>> 0, 0);
    this.reset();
  }

  /** Size of a BAR holding just this table and PBA (a power of two, at least 4 KiB). */
  dedicatedBarSize(): number {
    const end = this.pbaOffset + this.pbaBytes();
    let size = 4096;
    while (size < end) size *= 2;
    return size;
  }

  private pbaBytes(): number {
    return ((this.vectors + 63) >>> 6) * 8;
  }

  private control(): number {
    return this.port.read(this.offset + 2, 2);
  }

  get enabled(): boolean {
    return (this.control() & MSIX_CTRL_ENABLE) !== 0;
  }

  get functionMasked(): boolean {
    return (this.control() & MSIX_CTRL_FUNCTION_MASK) !== 0;
  }

  vectorMasked(v: number): boolean {
    return (this.table[v * 4 + 3] & MSIX_VECTOR_CTRL_MASK) !== 0;
  }

  isPending(v: number): boolean {
    return this.pending[v] !== 0;
  }

  /** The device no longer needs vector v's interrupt (6.8.2: it may clear the Pending bit). */
  clearPending(v: number): void {
    if (v >= 0 && v < this.vectors) this.pending[v] = 0;
  }

  /** Signal vector v. Out-of-range vectors are ignored. */
  notify(v: number): void {
    if (!this.enabled || !(v >= 0 && v < this.vectors)) return;
    if (this.functionMasked || this.vectorMasked(v)) {
      this.pending[v] = 1;
      return;
    }
    this.send(v);
  }

  private send(v: number): void {
    if (!this.port.canSend()) return;
    const t = this.table;
    this.port.send(t[v * 4], t[v * 4 + 1], t[v * 4 + 2]);
  }

  private deliver(v: number): void {
    if (this.pending[v] !== 0 && this.enabled && !this.functionMasked && !this.vectorMasked(v)) {
      this.pending[v] = 0;
      this.send(v);
    }
  }

  private controlWritten(): void {
    this.port.enableChanged();
    for (let v = 0; v < this.vectors; v++) this.deliver(v);
  }

  /** True if `barOffset` lies in the table or the PBA. */
  covers(barOffset: number): boolean {
    return (barOffset >= this.tableOffset && barOffset < this.tableOffset + this.vectors * MSIX_ENTRY_SIZE) ||
      (barOffset >= this.pbaOffset && barOffset < this.pbaOffset + this.pbaBytes());
  }

  read(barOffset: number, size: number): number {
    const n = size === 1 ? 1 : size === 2 ? 2 : 4;
    const mask = n === 4 ? 0xffffffff : n === 2 ? 0xffff : 0xff;
    let dword: number;
    let rel: number;
    if (barOffset >= this.tableOffset && barOffset < this.tableOffset + this.vectors * MSIX_ENTRY_SIZE) {
      rel = barOffset - this.tableOffset;
      dword = this.table[rel >>> 2];
    } else if (barOffset >= this.pbaOffset && barOffset < this.pbaOffset + this.pbaBytes()) {
      rel = barOffset - this.pbaOffset;
      const first = (rel & ~3) * 8;
      dword = 0;
      for (let b = 0; b < 32 && first + b < this.vectors; b++) if (this.pending[first + b] !== 0) dword |= 1 << b;
    } else {
      return 0;
    }
    const shift = (rel & 3) * 8;
    if (shift + n * 8 > 32) return (dword >>> shift) & mask; // straddles a dword: the rest reads 0
    return ((dword >>> shift) & mask) >>> 0;
  }

  write(barOffset: number, size: number, value: number): void {
    if (!(barOffset >= this.tableOffset && barOffset < this.tableOffset + this.vectors * MSIX_ENTRY_SIZE)) return; // PBA is read-only
    const n = size === 1 ? 1 : size === 2 ? 2 : 4;
    const rel = barOffset - this.tableOffset;
    const idx = rel >>> 2;
    const shift = (rel & 3) * 8;
    const mask = n === 4 ? 0xffffffff : n === 2 ? 0xffff : 0xff;
    let v = ((this.table[idx] & ~((mask << shift) >>> 0)) | (((value & mask) << shift) >>> 0)) >>> 0;
    const field = idx & 3;
    if (field === 0) v &= 0xfffffffc; // Message Address bits 1:0 are 0 (6.8.2.6)
    if (field === 3) v &= MSIX_VECTOR_CTRL_MASK; // only the Mask bit is defined (6.8.2.9)
    this.table[idx] = v;
    if (field === 3) this.deliver(idx >>> 2);
  }

  reset(): void {
    this.table.fill(0);
    for (let v = 0; v < this.vectors; v++) this.table[v * 4 + 3] = MSIX_VECTOR_CTRL_MASK;
    this.pending.fill(0);
  }

  saveState(): DeviceState {
    return { table: Array.from(this.table), pending: Array.from(this.pending) };
  }

  loadState(s: DeviceState): void {
    const t = stateNums(s, 'table', this.vectors * 4);
    for (let i = 0; i < t.length; i++) this.table[i] = (i & 3) === 3 ? t[i] & 1 : t[i] >>> 0;
    const p = stateNums(s, 'pending', this.vectors);
    for (let i = 0; i < p.length; i++) this.pending[i] = p[i] ? 1 : 0;
  }
}
