// QEMU's pc-testdev (hw/misc/pc-testdev.c), the helper device kvm-unit-tests' x86 tests
// run with ("-device pc-testdev", see kvm-unit-tests x86/run).
//
// Port I/O (what kvm-unit-tests uses):
//   0xe0-0xe3  32-bit scratch register. An access of n bytes at 0xe0+k reads/writes bytes
//              k..k+n-1 of it (bits beyond bit 31 are dropped). x86/emulator.c checks string
//              I/O (rep outsb / insb) against it; realmode.c does in/out of all sizes.
//   0xe4-0xe7  "flush page": a 4-byte write of a guest-physical address. QEMU mprotects the
//              host page so KVM must refault it (x86/eventinj.c); the guest sees nothing.
//              Here it calls onFlushPage(gpa & ~0xfff) if given (the machine may drop
//              cached decodes for that page). Other sizes and reads: ignored / 0.
//   0xe8-0xeb  the same scratch register, byte-granular: a wide access is split into byte
//              accesses at offsets (k+i) & 3, so a dword at 0xea touches bytes 2, 3, 0, 1.
//   0x2000-0x2017  "irq line": a 1-byte write at 0x2000+n sets ISA/GSI line n to (value != 0)
//              (lib/x86/apic.c set_irq_line, used by x86/ioapic.c). Other sizes ignored;
//              reads return 0.
// MMIO: 64 KiB of scratch memory at 0xff000000 (kvm-unit-tests x86/ioram.h IORAM_BASE_PHYS),
//   provided separately as PcTestDevIomem (an MmioDevice) for the machine's MMIO map.
//
// Reads of write-only regions return 0 (QEMU has no read handler there).

import type { PortIoBus } from '../../machine/io-bus.js';
import type { IrqRouter } from '../../machine/irq.js';
import type { DeviceState, MmioDevice } from '../device.js';
import { attachPorts, normSize, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateNum, stateNums } from '../state.js';

export const PC_TESTDEV_IOPORT = 0xe0;
export const PC_TESTDEV_FLUSH = 0xe4;
export const PC_TESTDEV_IOPORT_BYTE = 0xe8;
export const PC_TESTDEV_IRQ = 0x2000;
/** Lines reachable through the irq-line ports (the IOAPIC's 24 inputs). */
export const PC_TESTDEV_IRQ_LINES = 24;
export const PC_TESTDEV_IOMEM_BASE = 0xff000000;
export const PC_TESTDEV_IOMEM_SIZE = 0x10000;

export interface PcTestDevOptions {
  /** Where irq-line writes go (ISA IRQs / GSIs 0-23), or null to ignore them. */
  irq: IrqRouter | null;
  /** Called for a flush-page write with the page address. */
  onFlushPage?: (gpa: number) => void;
}

export class PcTestDev implements AttachablePortDevice {
  readonly name = 'pc-testdev';
  readonly ports: readonly PortSpan[] = [
    { first: PC_TESTDEV_IOPORT, count: 4, name: 'pc-testdev-ioport' },
    { first: PC_TESTDEV_FLUSH, count: 4, name: 'pc-testdev-flush-page' },
    { first: PC_TESTDEV_IOPORT_BYTE, count: 4, name: 'pc-testdev-ioport-byte' },
    { first: PC_TESTDEV_IRQ, count: PC_TESTDEV_IRQ_LINES, name: 'pc-testdev-irq-line' },
  ];
  private readonly irq: IrqRouter | null;
  private readonly onFlushPage: ((gpa: number) => void) | undefined;
  /** The scratch register (unsigned 32-bit). */
  private data = 0;

  constructor(opts: PcTestDevOptions) {
    this.irq = opts.irq;
    this.onFlushPage = opts.onFlushPage;
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  reset(): void {
    this.data = 0;
  }

  saveState(): DeviceState {
    return { data: this.data };
  }

  loadState(s: DeviceState): void {
    this.data = stateNum(s, 'data') >>> 0;
  }

  /** The scratch register, for tests. */
  get scratch(): number {
    return this.data;
  }

  ioRead(port: number, size: number): number {
    const p = port & 0xffff;
    if (p >= PC_TESTDEV_IOPORT && p < PC_TESTDEV_IOPORT + 4) return this.readScratch(p & 3, normSize(size));
    if (p >= PC_TESTDEV_IOPORT_BYTE && p < PC_TESTDEV_IOPORT_BYTE + 4) {
      const n = normSize(size);
      let v = 0;
      for (let i = 0; i < n; i++) v |= this.readScratch((p + i) & 3, 1) << (8 * i);
      return v >>> 0;
    }
    return 0;
  }

  ioWrite(port: number, size: number, value: number): void {
    const p = port & 0xffff;
    const n = normSize(size);
    if (p >= PC_TESTDEV_IOPORT && p < PC_TESTDEV_IOPORT + 4) {
      this.writeScratch(p & 3, n, value);
    } else if (p >= PC_TESTDEV_IOPORT_BYTE && p < PC_TESTDEV_IOPORT_BYTE + 4) {
      for (let i = 0; i < n; i++) this.writeScratch((p + i) & 3, 1, value >>> (8 * i));
    } else if (p >= PC_TESTDEV_FLUSH && p < PC_TESTDEV_FLUSH + 4) {
      if (n === 4) this.onFlushPage?.((value & ~0xfff) >>> 0);
    } else if (p >= PC_TESTDEV_IRQ && p < PC_TESTDEV_IRQ + PC_TESTDEV_IRQ_LINES) {
      if (n === 1) this.irq?.setIrq(p - PC_TESTDEV_IRQ, (value & 0xff) !== 0);
    }
  }

  /** Bytes [off, off+n) of the register, those past byte 3 dropped. */
  private readScratch(off: number, n: number): number {
    const mask = laneMask(off, n);
    return ((this.data & mask) >>> 0) >>> (8 * off);
  }

  private writeScratch(off: number, n: number, value: number): void {
    const mask = laneMask(off, n);
    this.data = ((this.data & ~mask) | ((value << (8 * off)) & mask)) >>> 0;
  }
}

/** Bits of byte lanes [off, off+n) within 32 bits. */
function laneMask(off: number, n: number): number {
  const bits = n >= 4 ? 0xffffffff : (1 << (8 * n)) - 1;
  return (bits << (8 * off)) >>> 0;
}

/** The 64 KiB scratch RAM at 0xff000000, as an MMIO window (little-endian). */
export class PcTestDevIomem implements MmioDevice {
  readonly name = 'pc-testdev-iomem';
  readonly base = PC_TESTDEV_IOMEM_BASE;
  readonly length = PC_TESTDEV_IOMEM_SIZE;
  private mem = new Uint8Array(PC_TESTDEV_IOMEM_SIZE);

  reset(): void {
    this.mem.fill(0);
  }

  /** Sparse: only the non-zero bytes, as [offset, value] pairs in address order. */
  saveState(): DeviceState {
    const nz: number[] = [];
    for (let i = 0; i < this.mem.length; i++) if (this.mem[i] !== 0) nz.push(i, this.mem[i]);
    return { nonZero: nz };
  }

  loadState(s: DeviceState): void {
    const nz = stateNums(s, 'nonZero');
    this.mem.fill(0);
    for (let i = 0; i + 1 < nz.length; i += 2) {
      const off = nz[i];
      if (off >= 0 && off < this.mem.length) this.mem[off] = nz[i + 1] & 0xff;
    }
  }

  /** Sizes 1, 2, 4. An 8-byte access must reach this device as two 4-byte calls. */
  mmioRead(offset: number, size: number): number {
    let v = 0;
    const n = Math.min(size, 4);
    for (let i = 0; i < n; i++) v |= this.byteAt(offset + i) << (8 * i);
    return v >>> 0;
  }

  mmioWrite(offset: number, size: number, value: number): void {
    const n = Math.min(Math.max(size, 1), 4);
    for (let i = 0; i < n; i++) {
      const o = offset + i;
      if (o >= 0 && o < this.mem.length) this.mem[o] = (value >>> (8 * i)) & 0xff;
    }
  }

  private byteAt(o: number): number {
    return o >= 0 && o < this.mem.length ? this.mem[o] : 0;
  }
}
