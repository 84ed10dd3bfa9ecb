// Hand-assembled test images for the loader tests: ELF32/ELF64 executables and multiboot
// headers, built byte by byte from the gABI and Multiboot 0.6.96 layouts.

export interface TestSegment {
  /** p_type; default 1 (PT_LOAD). */
  type?: number;
  paddr: number;
  /** Default: paddr. BigInt for addresses above 2^53. */
  vaddr?: number | bigint;
  data: Uint8Array;
  /** Default: data.length. */
  memSize?: number;
  /** Default: PF_R | PF_X. */
  flags?: number;
  /** Override p_filesz (to make bad images). */
  fileSize?: number;
  /** Override p_offset (to make bad images). */
  offset?: number;
}

export interface TestElf {
  elfClass: 32 | 64;
  /** Default EM_386 for ELF32, EM_X86_64 for ELF64. */
  machine?: number;
  /** Default 2 (ET_EXEC). */
  type?: number;
  entry: number | bigint;
  segments: TestSegment[];
}

export function buildElf(spec: TestElf): Uint8Array {
  const is32 = spec.elfClass === 32;
  const ehsize = is32 ? 52 : 64;
  const phentsize = is32 ? 32 : 56;
  let at = ehsize + phentsize * spec.segments.length;
  const offsets: number[] = [];
  for (const s of spec.segments) {
    at = (at + 15) & ~15;
    offsets.push(at);
    at += s.data.length;
  }
  const out = new Uint8Array(at);
  const dv = new DataView(out.buffer);
  const word = (off: number, v: number | bigint): void => {
    if (is32) dv.setUint32(off, Number(v), true);
    else dv.setBigUint64(off, BigInt(v), true);
  };
  out.set([0x7f, 0x45, 0x4c, 0x46, is32 ? 1 : 2, 1, 1]);
  dv.setUint16(16, spec.type ?? 2, true);
  dv.setUint16(18, spec.machine ?? (is32 ? 3 : 62), true);
  dv.setUint32(20, 1, true);
  word(24, spec.entry);
  word(is32 ? 28 : 32, ehsize); // e_phoff
  dv.setUint16(is32 ? 40 : 52, ehsize, true);
  dv.setUint16(is32 ? 42 : 54, phentsize, true);
  dv.setUint16(is32 ? 44 : 56, spec.segments.length, true);
  spec.segments.forEach((s, i) => {
    const ph = ehsize + i * phentsize;
    const offset = s.offset ?? offsets[i];
    const filesz = s.fileSize ?? s.data.length;
    const memsz = s.memSize ?? s.data.length;
    const flags = s.flags ?? 5;
    const vaddr = s.vaddr ?? s.paddr;
    dv.setUint32(ph, s.type ?? 1, true);
    if (is32) {
      word(ph + 4, offset);
      word(ph + 8, vaddr);
      word(ph + 12, s.paddr);
      word(ph + 16, filesz);
      word(ph + 20, memsz);
      dv.setUint32(ph + 24, flags, true);
      word(ph + 28, 0x1000);
    } else {
      dv.setUint32(ph + 4, flags, true);
      word(ph + 8, offset);
      word(ph + 16, vaddr);
      word(ph + 24, s.paddr);
      word(ph + 32, filesz);
      word(ph + 40, memsz);
      word(ph + 48, 0x1000);
    }
    out.set(s.data, offsets[i]);
  });
  return out;
}

export interface TestMultibootAddresses {
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** A multiboot header (12 bytes, or 32 with the address fields); checksum correct unless overridden. */
export function multibootHeader(flags: number, addresses?: TestMultibootAddresses, checksum?: number): Uint8Array {
  const out = new Uint8Array(addresses ? 32 : 12);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x1badb002, true);
  dv.setUint32(4, flags >>> 0, true);
  dv.setUint32(8, checksum ?? (-(0x1badb002 + flags) >>> 0), true);
  if (addresses) {
    dv.setUint32(12, addresses.headerAddr, true);
    dv.setUint32(16, addresses.loadAddr, true);
    dv.setUint32(20, addresses.loadEndAddr, true);
    dv.setUint32(24, addresses.bssEndAddr, true);
    dv.setUint32(28, addresses.entryAddr, true);
  }
  return out;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `n` bytes of a recognisable pattern starting at `seed`. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed + i * 7) & 0xff;
  return out;
}
