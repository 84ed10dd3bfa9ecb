// The classic libpcap file format (pcap(5); draft-ietf-opsawg-pcap): a 24-byte global header
// (magic 0xa1b2c3d4 for microsecond or 0xa1b23c4d for nanosecond timestamps, version 2.4,
// thiszone, sigfigs, snaplen, linktype) and per packet a 16-byte record header (ts_sec, ts_usec
// or ts_nsec, incl_len, orig_len) followed by incl_len bytes. hvsim reads and writes linktype 1
// (LINKTYPE_ETHERNET) only: virtio-net carries Ethernet frames.

import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const LINKTYPE_ETHERNET = 1;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Snap length hvsim writes: the largest frame it can carry (64 KiB + Ethernet header). */
export const PCAP_SNAPLEN = 65535 + 14;

export interface PcapPacket {
  /** Capture time: seconds (Unix epoch, or since power-on in hvsim's own files) and nanoseconds
   *  (kept apart: seconds * 1e9 would exceed 2^53 for real capture dates). */
  sec: number;
  nsec: number;
  data: Uint8Array;
}

/** Nanoseconds from packet `a` to packet `b` (exact while the gap is below ~104 days). */
export function pcapDeltaNs(a: PcapPacket, b: PcapPacket): number {
  return (b.sec - a.sec) * 1e9 + (b.nsec - a.nsec);
}

export class PcapError extends Error {}

/** Parse a whole pcap file. Throws PcapError with a one-line reason for anything malformed. */
export function parsePcap(bytes: Uint8Array, name = 'pcap file'): PcapPacket[] {
  if (bytes.length < GLOBAL_HEADER) throw new PcapError(`${name}: truncated pcap global header (${bytes.length} of 24 bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  const m = dv.getUint32(0, true);
  if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS) little = true;
  else {
    const mb = dv.getUint32(0, false);
    if (mb !== PCAP_MAGIC_US && mb !== PCAP_MAGIC_NS) throw new PcapError(`${name}: not a pcap file (magic 0x${m.toString(16).padStart(8, '0')})`);
    little = false;
  }
  const nanos = dv.getUint32(0, little) === PCAP_MAGIC_NS;
  const major = dv.getUint16(4, little);
  const minor = dv.getUint16(6, little);
  if (major !== PCAP_VERSION_MAJOR) throw new PcapError(`${name}: unsupported pcap version ${major}.${minor} (2.4 expected)`);
  const linktype = dv.getUint32(20, little) & 0x0fff_ffff; // upper bits: FCS flags (pcap-linktype)
  if (linktype !== LINKTYPE_ETHERNET) throw new PcapError(`${name}: linktype ${linktype} is not Ethernet (1)`);
  const packets: PcapPacket[] = [];
  let off = GLOBAL_HEADER;
  while (off < bytes.length) {
    const n = packets.length + 1;
    if (off + RECORD_HEADER > bytes.length) throw new PcapError(`${name}: packet ${n} has a truncated record header at byte ${off}`);
    const sec = dv.getUint32(off, little);
    const frac = dv.getUint32(off + 4, little);
    const incl = dv.getUint32(off + 8, little);
    if (!nanos && frac >= 1_000_000) throw new PcapError(`${name}: packet ${n} has ts_usec ${frac} (>= 1000000)`);
    if (nanos && frac >= 1_000_000_000) throw new PcapError(`${name}: packet ${n} has ts_nsec ${frac} (>= 1000000000)`);
    if (incl > PCAP_SNAPLEN) throw new PcapError(`${name}: packet ${n} is ${incl} bytes (at most ${PCAP_SNAPLEN})`);
    off += RECORD_HEADER;
    if (off + incl > bytes.length) throw new PcapError(`${name}: packet ${n} is truncated (${bytes.length - off} of ${incl} bytes)`);
    packets.push({ sec, nsec: nanos ? frac : frac * 1000, data: bytes.slice(off, off + incl) });
    off += incl;
  }
  return packets;
}

export function readPcapFile(path: string): PcapPacket[] {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new PcapError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parsePcap(bytes, path);
}

/** The 24-byte global header of a little-endian, nanosecond-resolution pcap, linktype 1. */
export function pcapGlobalHeader(): Uint8Array {
  const h = new Uint8Array(GLOBAL_HEADER);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, PCAP_MAGIC_NS, true);
  dv.setUint16(4, PCAP_VERSION_MAJOR, true);
  dv.setUint16(6, PCAP_VERSION_MINOR, true);
  dv.setInt32(8, 0, true); // thiszone: UTC
  dv.setUint32(12, 0, true); // sigfigs
  dv.setUint32(16, PCAP_SNAPLEN, true);
  dv.setUint32(20, LINKTYPE_ETHERNET, true);
  return h;
}

/** One packet record (header + data) at `timeNs`. */
export function pcapRecord(timeNs: number, data: Uint8Array): Uint8Array {
  const r = new Uint8Array(RECORD_HEADER + data.length);
  const dv = new DataView(r.buffer);
  const t = Math.max(0, Math.floor(timeNs));
  const sec = Math.floor(t / 1e9);
  dv.setUint32(0, sec >>> 0, true);
  dv.setUint32(4, t - sec * 1e9, true);
  dv.setUint32(8, data.length, true);
  dv.setUint32(12, data.length, true);
  r.set(data, RECORD_HEADER);
  return r;
}

/** Appends packets to a pcap file as they come (synchronously: a killed run keeps what it sent). */
export class PcapWriter {
  private fd: number;

  /** Creates or truncates `path`; throws PcapError if it cannot be opened. */
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
      writeSync(this.fd, pcapGlobalHeader());
    } catch (e) {
      throw new PcapError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }

  /** Host write errors after opening are not the guest's concern: the packet is dropped. */
  write(timeNs: number, data: Uint8Array): void {
    if (this.fd < 0) return;
    try {
      writeSync(this.fd, pcapRecord(timeNs, data));
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = -1;
  }
}
