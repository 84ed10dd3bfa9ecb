// A model of guest memory for the CPU instruction tests: the bytes written so far over the
// snippet environment's initial image (the system area below 0x8000, zero, and the data-area
// pattern at 0x20000-0x2ffff, see src/machine/cpu/snippet-runner.ts and
// test/oracle/snippet-env.ts), little-endian multi-byte accesses. Addresses are linear.

import { snippetDataByte } from '../oracle/snippet-env.js';
import { SNIPPET_SYSTEM_IMAGE } from '../../src/machine/cpu/snippet-runner.js';

export class Mem {
  private bytes = new Map<number, number>();
  /** Optional extra initial image (e.g. the snippet's code at 0x10000). */
  constructor(private readonly image: Map<number, number> = new Map()) {}
  read(a: number, n: number): bigint {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.byte(a + i));
    return v;
  }
  write(a: number, n: number, v: bigint): void {
    for (let i = 0; i < n; i++) this.bytes.set(a + i, Number((v >> BigInt(8 * i)) & 0xffn));
  }
  private byte(a: number): number {
    const b = this.bytes.get(a) ?? this.image.get(a);
    if (b !== undefined) return b;
    if (a >= 0 && a < SNIPPET_SYSTEM_IMAGE.length) return SNIPPET_SYSTEM_IMAGE[a];
    return a >= 0x20000 && a < 0x30000 ? snippetDataByte(a - 0x20000) : 0;
  }
}
