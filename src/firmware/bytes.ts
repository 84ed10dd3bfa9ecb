// A little-endian byte builder for firmware tables (ACPI, MP table and SMBIOS are all
// little-endian, byte-packed structures) and the 8-bit checksum all three use.

export class ByteWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private grow(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): this {
    this.grow(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }

  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }

  /** A 64-bit field from a non-negative safe integer (addresses below 2^53). */
  u64(v: number): this {
    return this.u32(v % 0x1_0000_0000).u32(Math.floor(v / 0x1_0000_0000));
  }

  bytes(data: ArrayLike<number>): this {
    this.grow(data.length);
    for (let i = 0; i < data.length; i++) this.buf[this.len++] = data[i] & 0xff;
    return this;
  }

  /** ASCII text in a fixed-size field, padded with `pad` (space for ACPI/MP IDs) or cut. */
  fixedAscii(text: string, size: number, pad = 0x20): this {
    for (let i = 0; i < size; i++) this.u8(i < text.length ? text.charCodeAt(i) & 0x7f : pad);
    return this;
  }

  zeros(n: number): this {
    this.grow(n);
    this.len += n; // the buffer is zero-filled on allocation and never shrinks
    return this;
  }

  alignTo(boundary: number): this {
    while (this.len % boundary !== 0) this.u8(0);
    return this;
  }

  /** Overwrite already-written bytes (lengths and checksums known only at the end). */
  patchU8(at: number, v: number): void {
    this.buf[at] = v & 0xff;
  }
  patchU16(at: number, v: number): void {
    this.buf[at] = v & 0xff;
    this.buf[at + 1] = (v >>> 8) & 0xff;
  }
  patchU32(at: number, v: number): void {
    this.patchU16(at, v & 0xffff);
    this.patchU16(at + 2, v >>> 16);
  }

  /** Set byte `at` so that bytes [from, to) sum to zero modulo 256. */
  patchChecksum(at: number, from: number, to: number): void {
    this.buf[at] = 0;
    this.buf[at] = checksumOf(this.buf.subarray(from, to));
  }

  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** The byte that makes `data` plus itself sum to 0 mod 256 (ACPI 6.5 5.2.5.3, MP 1.4 4.1, SMBIOS 3 5.2). */
export function checksumOf(data: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum = (sum + data[i]) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** Sum of all bytes mod 256 (0 for a correctly checksummed structure). */
export function byteSum(data: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum = (sum + data[i]) & 0xff;
  return sum;
}
