// Test helpers for the PCI unit tests: a function with every feature, a recording BarMapper and
// recording interrupt outputs.

import { PciFunction, type BarHandler, type BarMapper, type PciInterrupts } from './pci-function.js';
import type { MsiOptions } from './msi.js';

export class RecordingMapper implements BarMapper {
  readonly io = new Map<number, number>();
  readonly mem = new Map<number, number>();
  readonly log: string[] = [];
  /** Ranges that refuse mappings (as if another device were there). */
  busyIo: { base: number; size: number }[] = [];
  mapIo(base: number, size: number, _h: BarHandler, _name: string): boolean {
    if (base + size > 0x10000 || this.busyIo.some((b) => base < b.base + b.size && b.base < base + size)) {
      this.log.push(`refuse io ${base.toString(16)}`);
      return false;
    }
    this.io.set(base, size);
    this.log.push(`map io ${base.toString(16)}`);
    return true;
  }
  unmapIo(base: number): void {
    this.io.delete(base);
    this.log.push(`unmap io ${base.toString(16)}`);
  }
  mapMem(base: number, size: number): boolean {
    this.mem.set(base, size);
    this.log.push(`map mem ${base.toString(16)}`);
    return true;
  }
  unmapMem(base: number): void {
    this.mem.delete(base);
    this.log.push(`unmap mem ${base.toString(16)}`);
  }
}

export class RecordingInterrupts implements PciInterrupts {
  readonly intxLog: boolean[] = [];
  readonly msis: [number, number, number][] = [];
  intx(level: boolean): void {
    this.intxLog.push(level);
  }
  msi(lo: number, hi: number, data: number): void {
    this.msis.push([lo, hi, data]);
  }
}

export interface TestFunctionOptions {
  msi?: MsiOptions;
  msixVectors?: number;
}

/** vendor 0x1af4, device 0x1234, class 0x020000; BAR0 io 32, BAR1 mem 4 KiB, optional MSI/MSI-X (BAR2). */
export class TestFunction extends PciFunction {
  readonly regs = new Uint32Array(1024);
  commandChanges: [number, number][] = [];
  constructor(opts: TestFunctionOptions = {}) {
    super({ vendorId: 0x1af4, deviceId: 0x1234, classCode: 0x020000, revision: 3, subsystemVendorId: 0x1af4, subsystemId: 0x0001, interruptPin: 1 }, 'test');
    const handler: BarHandler = {
      read: (off) => this.regs[(off >>> 2) & 1023],
      write: (off, _s, v) => {
        this.regs[(off >>> 2) & 1023] = v;
      },
    };
    this.defineBar(0, { kind: 'io', size: 32, handler });
    this.defineBar(1, { kind: 'mem32', size: 4096, handler, prefetchable: true });
    if (opts.msi) this.addMsi(opts.msi);
    if (opts.msixVectors) this.addMsix({ vectors: opts.msixVectors, bar: 2, dedicatedBar: true });
  }
  protected override onCommandChange(o: number, n: number): void {
    this.commandChanges.push([o, n]);
  }
  latchStatus(mask: number): void {
    this.setStatusBits(mask);
  }
  vendorCap(length: number): number {
    return this.addCapability(0x09, length);
  }
}
