// The port I/O bus (x86 IN/OUT space, 64 Ki ports).
//
// A device registers a port range with a handler. Lookups are one typed-array read.
// An access no device claims is reported to the caller (the machine decides: all-ones /
// ignore, or a VM-exit when bhyve's -e option is set).

export interface PortHandler {
  /** size is 1, 2 or 4; return the value (only the low `size` bytes are used). */
  ioRead(port: number, size: number): number;
  ioWrite(port: number, size: number, value: number): void;
}

export interface PortRange {
  first: number;
  count: number;
  handler: PortHandler;
  name: string;
}

export class PortIoBus {
  private readonly owner = new Int16Array(65536).fill(-1);
  readonly ranges: PortRange[] = [];

  register(first: number, count: number, handler: PortHandler, name: string): void {
    if (first < 0 || count <= 0 || first + count > 65536) throw new RangeError(`bad port range for ${name}`);
    for (let p = first; p < first + count; p++) {
      if (this.owner[p] !== -1) throw new Error(`port 0x${p.toString(16)} of ${name} already belongs to ${this.ranges[this.owner[p]].name}`);
    }
    const idx = this.ranges.length;
    this.ranges.push({ first, count, handler, name });
    for (let p = first; p < first + count; p++) this.owner[p] = idx;
  }

  /** Remove the range registered exactly as [first, first+count); false if there is none. */
  unregister(first: number, count: number): boolean {
    const idx = this.ranges.findIndex((r) => r.first === first && r.count === count);
    if (idx < 0) return false;
    this.ranges.splice(idx, 1);
    this.owner.fill(-1);
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i];
      for (let p = r.first; p < r.first + r.count; p++) this.owner[p] = i;
    }
    return true;
  }

  handlerFor(port: number): PortHandler | null {
    const i = this.owner[port & 0xffff];
    return i < 0 ? null : this.ranges[i].handler;
  }

  nameOf(port: number): string | null {
    const i = this.owner[port & 0xffff];
    return i < 0 ? null : this.ranges[i].name;
  }
}
