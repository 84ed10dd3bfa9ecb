// Binary encoding of trace records (docs/trace-format.md, "Records").
//
// One record = a tag byte (low 5 bits: kind; high 3 bits: vCPU 0..6, or 7 = "vCPU - 7
// follows as a varint"), for events a zigzag varint icount delta against the previous event
// of the same vCPU, then the kind's fields. Unsigned integers are LEB128 varints; 64-bit
// values are [lo, hi] u32 pairs encoded as one LEB128 varint without BigInt.
//
// Decoding never throws anything but TraceFormatError for bad bytes: every read is bounds-
// checked, so truncated input is reported as 'truncated' rather than as a RangeError.

import { TraceFormatError } from './errors.js';

export type U64 = [lo: number, hi: number];

export interface Stamp {
  /** vCPU index the event belongs to (device and host events: the vCPU whose clock stamps it). */
  vcpu: number;
  /** That vCPU's absolute instruction count (0 <= icount < 2^52). */
  icount: number;
}

export const INTERRUPT_SOURCES = ['pic', 'ioapic', 'lapic', 'msi', 'nmi', 'exception', 'hypervisor', 'other'] as const;
export type InterruptSource = (typeof INTERRUPT_SOURCES)[number];

export interface DigestPart {
  name: string;
  hash: Uint8Array;
}

export type TraceEventBody =
  | { kind: 'io'; port: number; size: 1 | 2 | 4; write: boolean; value: number }
  | { kind: 'mmio'; gpa: number; size: 1 | 2 | 4 | 8; write: boolean; value: number }
  | { kind: 'cpuid'; leaf: number; subleaf: number; result: [number, number, number, number] }
  | { kind: 'rdmsr' | 'wrmsr'; msr: number; value: U64; gp: boolean }
  | { kind: 'hypercall'; insn: 'vmcall' | 'vmmcall'; args: U64[]; result: U64; ud?: boolean }
  | { kind: 'hlt' | 'pause' | 'reset' | 'poweroff' }
  | { kind: 'shutdown'; reason: string }
  | { kind: 'debug-exit'; code: number }
  | { kind: 'interrupt'; vector: number; source: InterruptSource }
  | { kind: 'dma'; device: string; gpa: number; length: number; toGuest: boolean; data: Uint8Array }
  | { kind: 'dma'; device: string; gpa: number; length: number; toGuest: boolean; digest: Uint8Array }
  | { kind: 'host-input'; device: string; data: Uint8Array }
  | { kind: 'digest'; hash: Uint8Array; parts: DigestPart[] }
  | { kind: 'end'; reason: string; exitStatus: number; digest: Uint8Array }
  | { kind: 'kv-write'; key: string; value: string }
  | { kind: 'host-output'; device: string; data: Uint8Array };

export type TraceEvent = Stamp & TraceEventBody;
export type TraceEventKind = TraceEventBody['kind'];

/** Tag kinds (low 5 bits of the tag byte). 0 is never valid, so zeroed bytes are caught. */
export const enum Tag {
  Io = 1,
  Mmio = 2,
  Cpuid = 3,
  Rdmsr = 4,
  Wrmsr = 5,
  Hypercall = 6,
  Hlt = 7,
  Pause = 8,
  Shutdown = 9,
  Reset = 10,
  PowerOff = 11,
  DebugExit = 12,
  Interrupt = 13,
  Dma = 14,
  HostInput = 15,
  Digest = 16,
  End = 17,
  KvWrite = 18,
  HostOutput = 19,
  // Container records (not events), see container.ts.
  Sync = 29,
  ImageChunk = 30,
  FrameEnd = 31,
}

/** Largest byte blob one event may carry (DMA data, host input, digests). */
export const MAX_BLOB = 1 << 20;
/** icounts are kept below 2^52 so zigzag deltas stay exact doubles. */
export const MAX_ICOUNT = 2 ** 52 - 1;

const TWO32 = 4294967296;
const utf8Enc = new TextEncoder();
const utf8Dec = new TextDecoder('utf-8', { fatal: true });

// ---------------------------------------------------------------------------------------
// Byte writer / reader

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(initial = 1 << 16) {
    this.buf = new Uint8Array(initial);
  }
  reset(): void {
    this.pos = 0;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u32le(v: number): void {
    this.ensure(4);
    const b = this.buf;
    let p = this.pos;
    b[p++] = v & 0xff;
    b[p++] = (v >>> 8) & 0xff;
    b[p++] = (v >>> 16) & 0xff;
    b[p++] = (v >>> 24) & 0xff;
    this.pos = p;
  }
  /** Unsigned varint of a safe integer (0 <= v <= 2^53 - 1). */
  varint(v: number): void {
    this.ensure(8);
    const b = this.buf;
    let p = this.pos;
    while (v >= 0x80000000) {
      b[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v >= 0x80) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }
  /** Zigzag varint of a signed integer with |v| < 2^52. */
  svarint(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  /** LEB128 varint of a [lo, hi] u32 pair. */
  u64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    lo >>>= 0;
    hi >>>= 0;
    while (hi !== 0 || lo >= 0x80) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }
  blob(data: Uint8Array): void {
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  str(s: string): void {
    this.blob(utf8Enc.encode(s));
  }
}

export class ByteReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    /** Where these bytes come from, for error messages ("frame 3"). */
    readonly where = 'trace',
  ) {
    this.pos = start;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  truncated(what: string): never {
    throw new TraceFormatError('truncated', `${this.where}: truncated: ${what} runs past the end of the data (byte ${this.pos} of ${this.end})`);
  }
  corrupt(what: string): never {
    throw new TraceFormatError('corrupt', `${this.where}: corrupt: ${what} (byte ${this.pos})`);
  }
  u8(): number {
    if (this.pos >= this.end) this.truncated('a record');
    return this.buf[this.pos++];
  }
  u32le(): number {
    if (this.pos + 4 > this.end) this.truncated('a 32-bit field');
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }
  varint(): number {
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    if (p >= end) this.truncated('a varint');
    let x = b[p++];
    if (x < 0x80) {
      this.pos = p;
      return x;
    }
    x &= 0x7f;
    let shift = 7;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        this.truncated('a varint');
      }
      const c = b[p++];
      if (shift < 28) x |= (c & 0x7f) << shift;
      else x += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) break;
      shift += 7;
      if (shift > 49) {
        this.pos = p;
        this.corrupt('varint longer than 8 bytes');
      }
    }
    this.pos = p;
    if (x > Number.MAX_SAFE_INTEGER) this.corrupt('varint above 2^53');
    return x;
  }
  svarint(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
  u64(): U64 {
    const b = this.buf;
    const end = this.end;
    let lo = 0;
    let hi = 0;
    for (let i = 0; ; i++) {
      if (this.pos >= end) this.truncated('a 64-bit varint');
      const c = b[this.pos++];
      const v = c & 0x7f;
      const s = i * 7;
      if (s < 32) {
        lo |= v << s;
        if (s + 7 > 32) hi |= v >>> (32 - s);
      } else {
        if (i === 9 && v > 1) this.corrupt('64-bit varint above 2^64');
        hi |= v << (s - 32);
      }
      if (c < 0x80) break;
      if (i === 9) this.corrupt('64-bit varint longer than 10 bytes');
    }
    return [lo >>> 0, hi >>> 0];
  }
  blob(max = MAX_BLOB): Uint8Array {
    const n = this.varint();
    if (n > max) this.corrupt(`blob of ${n} bytes (at most ${max})`);
    if (this.pos + n > this.end) this.truncated(`a ${n}-byte blob`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  str(max = 1 << 16): string {
    const bytes = this.blob(max);
    try {
      return utf8Dec.decode(bytes);
    } catch {
      this.corrupt('string is not UTF-8');
    }
  }
}

// ---------------------------------------------------------------------------------------
// Per-vCPU icount state (deltas are against the previous event of the same vCPU)

export class StampState {
  last: number[] = [];
  constructor(icounts: readonly number[] = []) {
    this.last = icounts.slice();
  }
}

// ---------------------------------------------------------------------------------------
// Encode

function bad(e: { kind: string }, what: string): never {
  throw new TypeError(`trace event ${e.kind}: ${what}`);
}

function isU32(v: number): boolean {
  return v >>> 0 === v;
}

function isSafeUint(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

function checkU64(e: { kind: string }, v: U64, what: string): void {
  if (!Array.isArray(v) || v.length !== 2 || !isU32(v[0]) || !isU32(v[1])) bad(e, `${what} must be a [lo, hi] pair of u32`);
}

function checkBlob(e: { kind: string }, v: Uint8Array, what: string): void {
  if (!(v instanceof Uint8Array)) bad(e, `${what} must be a Uint8Array`);
  if (v.length > MAX_BLOB) bad(e, `${what} is ${v.length} bytes (at most ${MAX_BLOB}; record a digest instead)`);
}

/** Writes a record tag with the vCPU folded into the high bits. */
export function writeTag(w: ByteWriter, tag: number, vcpu: number): void {
  if (vcpu < 7) w.u8(tag | (vcpu << 5));
  else {
    w.u8(tag | 0xe0);
    w.varint(vcpu - 7);
  }
}

function stamp(w: ByteWriter, tag: number, vcpu: number, delta: number): void {
  if (vcpu < 7) w.u8(tag | (vcpu << 5));
  else {
    w.u8(tag | 0xe0);
    w.varint(vcpu - 7);
  }
  w.svarint(delta);
}

function sizeCode(size: number): number {
  return size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : size === 8 ? 3 : -1;
}
const CODE_SIZE = [1, 2, 4, 8] as const;

/**
 * Appends one event to `w`, updating `st` (the vCPU's last icount). Throws TypeError on an
 * event the format cannot represent (a recorder bug), leaving `st` unchanged.
 */
export function encodeEvent(w: ByteWriter, st: StampState, e: TraceEvent): void {
  const { vcpu, icount } = e;
  if (!(vcpu >>> 0 === vcpu && vcpu < 0x10000)) bad(e, `vcpu ${vcpu} is not an integer in 0..65535`);
  if (!(isSafeUint(icount) && icount <= MAX_ICOUNT)) bad(e, `icount ${icount} is not an integer in 0..2^52-1`);
  const delta = icount - (st.last[vcpu] ?? 0);
  // Every case validates all its fields before writing anything, so a bad event leaves `w`
  // and `st` untouched.
  switch (e.kind) {
    case 'io': {
      const code = sizeCode(e.size);
      if (code < 0 || code > 2) bad(e, `size ${e.size} is not 1, 2 or 4`);
      if (!(isU32(e.port) && e.port <= 0xffff)) bad(e, `port ${e.port} is not a u16`);
      if (!isU32(e.value)) bad(e, `value ${e.value} is not a u32`);
      encodeIo(w, st, vcpu, icount, e.port, e.size, e.write, e.value);
      return;
    }
    case 'mmio': {
      const code = sizeCode(e.size);
      if (code < 0) bad(e, `size ${e.size} is not 1, 2, 4 or 8`);
      if (!isSafeUint(e.gpa)) bad(e, `gpa ${e.gpa} is not a safe unsigned integer`);
      if (!isSafeUint(e.value)) bad(e, `value ${e.value} is not a safe unsigned integer`);
      stamp(w, Tag.Mmio, vcpu, delta);
      w.u8((code << 1) | (e.write ? 1 : 0));
      w.varint(e.gpa);
      w.varint(e.value);
      break;
    }
    case 'cpuid': {
      const r = e.result;
      if (!isU32(e.leaf) || !isU32(e.subleaf)) bad(e, 'leaf and subleaf must be u32');
      if (!Array.isArray(r) || r.length !== 4 || !r.every(isU32)) bad(e, 'result must be four u32');
      encodeCpuid(w, st, vcpu, icount, e.leaf, e.subleaf, r[0], r[1], r[2], r[3]);
      return;
    }
    case 'rdmsr':
    case 'wrmsr': {
      if (!isU32(e.msr)) bad(e, `msr ${e.msr} is not a u32`);
      checkU64(e, e.value, 'value');
      encodeMsr(w, st, vcpu, icount, e.kind === 'wrmsr', e.msr, e.value[0], e.value[1], e.gp);
      return;
    }
    case 'hypercall': {
      if (e.insn !== 'vmcall' && e.insn !== 'vmmcall') bad(e, `insn ${String(e.insn)}`);
      if (!Array.isArray(e.args) || e.args.length > 255) bad(e, 'args must be an array of at most 255 U64');
      for (const a of e.args) checkU64(e, a, 'argument');
      checkU64(e, e.result, 'result');
      stamp(w, Tag.Hypercall, vcpu, delta);
      w.u8((e.insn === 'vmcall' ? 0 : 1) | (e.ud === true ? 2 : 0));
      w.varint(e.args.length);
      for (const a of e.args) w.u64(a[0], a[1]);
      w.u64(e.result[0], e.result[1]);
      break;
    }
    case 'hlt':
      stamp(w, Tag.Hlt, vcpu, delta);
      break;
    case 'pause':
      stamp(w, Tag.Pause, vcpu, delta);
      break;
    case 'reset':
      stamp(w, Tag.Reset, vcpu, delta);
      break;
    case 'poweroff':
      stamp(w, Tag.PowerOff, vcpu, delta);
      break;
    case 'shutdown':
      if (typeof e.reason !== 'string') bad(e, 'reason must be a string');
      stamp(w, Tag.Shutdown, vcpu, delta);
      w.str(e.reason);
      break;
    case 'debug-exit':
      if (!isU32(e.code)) bad(e, `code ${e.code} is not a u32`);
      stamp(w, Tag.DebugExit, vcpu, delta);
      w.varint(e.code);
      break;
    case 'interrupt': {
      const src = INTERRUPT_SOURCES.indexOf(e.source);
      if (src < 0) bad(e, `source ${String(e.source)} is not one of ${INTERRUPT_SOURCES.join(', ')}`);
      if (!(isU32(e.vector) && e.vector <= 255)) bad(e, `vector ${e.vector} is not a u8`);
      stamp(w, Tag.Interrupt, vcpu, delta);
      w.u8(e.vector);
      w.u8(src);
      break;
    }
    case 'dma': {
      if (typeof e.device !== 'string') bad(e, 'device must be a string');
      if (!isSafeUint(e.gpa)) bad(e, `gpa ${e.gpa} is not a safe unsigned integer`);
      if (!isSafeUint(e.length)) bad(e, `length ${e.length} is not a safe unsigned integer`);
      const hasData = 'data' in e;
      const blob = hasData ? e.data : (e as { digest: Uint8Array }).digest;
      checkBlob(e, blob, hasData ? 'data' : 'digest');
      if (hasData && blob.length !== e.length) bad(e, `data is ${blob.length} bytes but length is ${e.length}`);
      stamp(w, Tag.Dma, vcpu, delta);
      w.u8((e.toGuest ? 1 : 0) | (hasData ? 0 : 2));
      w.str(e.device);
      w.varint(e.gpa);
      w.varint(e.length);
      if (hasData) {
        w.ensure(blob.length);
        w.buf.set(blob, w.pos);
        w.pos += blob.length;
      } else w.blob(blob);
      break;
    }
    case 'host-input':
    case 'host-output':
      if (typeof e.device !== 'string') bad(e, 'device must be a string');
      checkBlob(e, e.data, 'data');
      stamp(w, e.kind === 'host-input' ? Tag.HostInput : Tag.HostOutput, vcpu, delta);
      w.str(e.device);
      w.blob(e.data);
      break;
    case 'digest':
      checkBlob(e, e.hash, 'hash');
      if (!Array.isArray(e.parts)) bad(e, 'parts must be an array');
      for (const p of e.parts) {
        if (typeof p.name !== 'string') bad(e, 'part name must be a string');
        checkBlob(e, p.hash, `part ${p.name}`);
      }
      stamp(w, Tag.Digest, vcpu, delta);
      w.blob(e.hash);
      w.varint(e.parts.length);
      for (const p of e.parts) {
        w.str(p.name);
        w.blob(p.hash);
      }
      break;
    case 'end':
      if (typeof e.reason !== 'string') bad(e, 'reason must be a string');
      if (!(Number.isSafeInteger(e.exitStatus) && Math.abs(e.exitStatus) < 2 ** 31)) bad(e, `exitStatus ${e.exitStatus} is not a 32-bit integer`);
      checkBlob(e, e.digest, 'digest');
      stamp(w, Tag.End, vcpu, delta);
      w.str(e.reason);
      w.svarint(e.exitStatus);
      w.blob(e.digest);
      break;
    case 'kv-write':
      if (typeof e.key !== 'string' || typeof e.value !== 'string') bad(e, 'key and value must be strings');
      stamp(w, Tag.KvWrite, vcpu, delta);
      w.str(e.key);
      w.str(e.value);
      break;
    default:
      bad(e, 'unknown kind');
  }
  st.last[vcpu] = icount;
}

// Hot-path encoders: the records of the most frequent exits, written without building an
// event. The recorder calls them with values the machine produced (vCPU < 65536, icount below
// 2^52, port a u16, size 1/2/4, u32 values), so they do not validate; encodeEvent validates
// and then calls them, so both give the same bytes.

export function encodeIo(w: ByteWriter, st: StampState, vcpu: number, icount: number, port: number, size: number, write: boolean, value: number): void {
  stamp(w, Tag.Io, vcpu, icount - (st.last[vcpu] ?? 0));
  w.u8(((size === 1 ? 0 : size === 2 ? 1 : 2) << 1) | (write ? 1 : 0));
  w.varint(port);
  w.varint(value >>> 0);
  st.last[vcpu] = icount;
}

export function encodeCpuid(w: ByteWriter, st: StampState, vcpu: number, icount: number, leaf: number, subleaf: number, a: number, b: number, c: number, d: number): void {
  stamp(w, Tag.Cpuid, vcpu, icount - (st.last[vcpu] ?? 0));
  w.varint(leaf >>> 0);
  w.varint(subleaf >>> 0);
  w.varint(a >>> 0);
  w.varint(b >>> 0);
  w.varint(c >>> 0);
  w.varint(d >>> 0);
  st.last[vcpu] = icount;
}

export function encodeMsr(w: ByteWriter, st: StampState, vcpu: number, icount: number, write: boolean, msr: number, lo: number, hi: number, gp: boolean): void {
  stamp(w, write ? Tag.Wrmsr : Tag.Rdmsr, vcpu, icount - (st.last[vcpu] ?? 0));
  w.varint(msr >>> 0);
  w.u64(lo, hi);
  w.u8(gp ? 1 : 0);
  st.last[vcpu] = icount;
}

// ---------------------------------------------------------------------------------------
// Decode

/** Reads a tag byte (and the vCPU varint after it): kind and vCPU packed, see tagKind/tagVcpu. */
export function readTag(r: ByteReader): number {
  const t = r.u8();
  const kind = t & 0x1f;
  let vcpu = t >>> 5;
  if (vcpu === 7) {
    vcpu = 7 + r.varint();
    if (vcpu > 0xffff) r.corrupt(`vCPU ${vcpu} above 65535`);
  }
  // One number, not a pair: no allocation per record.
  return kind | (vcpu << 5);
}

/** The record kind of a value readTag returned. */
export const tagKind = (t: number): number => t & 0x1f;
/** The vCPU of a value readTag returned. */
export const tagVcpu = (t: number): number => t >>> 5;

/** True for tags that are events (as opposed to container records). */
export function isEventTag(kind: number): boolean {
  return kind >= Tag.Io && kind <= Tag.HostOutput;
}

function u8Bool(r: ByteReader, what: string): boolean {
  const v = r.u8();
  if (v > 1) r.corrupt(`${what} flag ${v}`);
  return v === 1;
}

/**
 * Decodes the body of an event whose tag (`kind`, `vcpu`) was just read by readTag.
 * Updates `st`. Throws TraceFormatError on truncated or impossible bytes.
 */
export function decodeEventBody(r: ByteReader, st: StampState, kind: number, vcpu: number): TraceEvent {
  const delta = r.svarint();
  const icount = (st.last[vcpu] ?? 0) + delta;
  if (icount < 0 || icount > MAX_ICOUNT) r.corrupt(`icount of vCPU ${vcpu} would be ${icount}`);
  let e: TraceEvent;
  switch (kind) {
    case Tag.Io: {
      const f = r.u8();
      const code = f >>> 1;
      if (code > 2) r.corrupt(`io size code ${f}`);
      const port = r.varint();
      if (port > 0xffff) r.corrupt(`io port ${port}`);
      const value = r.varint();
      if (value > 0xffffffff) r.corrupt(`io value ${value}`);
      e = { vcpu, icount, kind: 'io', port, size: CODE_SIZE[code] as 1 | 2 | 4, write: (f & 1) === 1, value };
      break;
    }
    case Tag.Mmio: {
      const f = r.u8();
      if (f > 7) r.corrupt(`mmio flags ${f}`);
      const gpa = r.varint();
      const value = r.varint();
      e = { vcpu, icount, kind: 'mmio', gpa, size: CODE_SIZE[f >>> 1], write: (f & 1) === 1, value };
      break;
    }
    case Tag.Cpuid: {
      const leaf = r.varint();
      const subleaf = r.varint();
      const a = r.varint();
      const b = r.varint();
      const c = r.varint();
      const d = r.varint();
      if (leaf > 0xffffffff || subleaf > 0xffffffff || a > 0xffffffff || b > 0xffffffff || c > 0xffffffff || d > 0xffffffff) r.corrupt('cpuid field above 2^32');
      e = { vcpu, icount, kind: 'cpuid', leaf, subleaf, result: [a, b, c, d] };
      break;
    }
    case Tag.Rdmsr:
    case Tag.Wrmsr: {
      const msr = r.varint();
      if (msr > 0xffffffff) r.corrupt(`msr ${msr}`);
      const value = r.u64();
      const gp = u8Bool(r, 'gp');
      e = { vcpu, icount, kind: kind === Tag.Rdmsr ? 'rdmsr' : 'wrmsr', msr, value, gp };
      break;
    }
    case Tag.Hypercall: {
      const i = r.u8();
      if (i > 3) r.corrupt(`hypercall flags ${i}`);
      const n = r.varint();
      if (n > 255) r.corrupt(`hypercall with ${n} arguments`);
      const args: U64[] = [];
      for (let k = 0; k < n; k++) args.push(r.u64());
      const result = r.u64();
      e = { vcpu, icount, kind: 'hypercall', insn: (i & 1) === 0 ? 'vmcall' : 'vmmcall', args, result };
      if ((i & 2) !== 0) e.ud = true;
      break;
    }
    case Tag.Hlt:
      e = { vcpu, icount, kind: 'hlt' };
      break;
    case Tag.Pause:
      e = { vcpu, icount, kind: 'pause' };
      break;
    case Tag.Reset:
      e = { vcpu, icount, kind: 'reset' };
      break;
    case Tag.PowerOff:
      e = { vcpu, icount, kind: 'poweroff' };
      break;
    case Tag.Shutdown:
      e = { vcpu, icount, kind: 'shutdown', reason: r.str() };
      break;
    case Tag.DebugExit: {
      const code = r.varint();
      if (code > 0xffffffff) r.corrupt(`debug-exit code ${code}`);
      e = { vcpu, icount, kind: 'debug-exit', code };
      break;
    }
    case Tag.Interrupt: {
      const vector = r.u8();
      const src = r.u8();
      if (src >= INTERRUPT_SOURCES.length) r.corrupt(`interrupt source ${src}`);
      e = { vcpu, icount, kind: 'interrupt', vector, source: INTERRUPT_SOURCES[src] };
      break;
    }
    case Tag.Dma: {
      const f = r.u8();
      if (f > 3) r.corrupt(`dma flags ${f}`);
      const device = r.str();
      const gpa = r.varint();
      const length = r.varint();
      const toGuest = (f & 1) === 1;
      if (f & 2) {
        e = { vcpu, icount, kind: 'dma', device, gpa, length, toGuest, digest: r.blob() };
      } else {
        if (length > MAX_BLOB) r.corrupt(`dma of ${length} bytes with data (at most ${MAX_BLOB})`);
        if (r.pos + length > r.end) r.truncated(`${length} bytes of dma data`);
        const data = r.buf.slice(r.pos, r.pos + length);
        r.pos += length;
        e = { vcpu, icount, kind: 'dma', device, gpa, length, toGuest, data };
      }
      break;
    }
    case Tag.HostInput:
    case Tag.HostOutput: {
      const device = r.str();
      e = { vcpu, icount, kind: kind === Tag.HostInput ? 'host-input' : 'host-output', device, data: r.blob() };
      break;
    }
    case Tag.Digest: {
      const hash = r.blob();
      const n = r.varint();
      if (n > 4096) r.corrupt(`digest with ${n} parts`);
      const parts: DigestPart[] = [];
      for (let k = 0; k < n; k++) {
        const name = r.str();
        parts.push({ name, hash: r.blob() });
      }
      e = { vcpu, icount, kind: 'digest', hash, parts };
      break;
    }
    case Tag.End: {
      const reason = r.str();
      const exitStatus = r.svarint();
      if (Math.abs(exitStatus) >= 2 ** 31) r.corrupt(`exit status ${exitStatus}`);
      e = { vcpu, icount, kind: 'end', reason, exitStatus, digest: r.blob() };
      break;
    }
    case Tag.KvWrite: {
      const key = r.str();
      e = { vcpu, icount, kind: 'kv-write', key, value: r.str() };
      break;
    }
    default:
      r.corrupt(`unknown event tag ${kind}`);
  }
  st.last[vcpu] = icount;
  return e;
}

/** Decodes one event record (tag included). Container records are reported as corrupt. */
export function decodeEvent(r: ByteReader, st: StampState): TraceEvent {
  const t = readTag(r);
  const kind = tagKind(t);
  const vcpu = tagVcpu(t);
  if (!isEventTag(kind)) r.corrupt(`expected an event, found tag ${kind}`);
  return decodeEventBody(r, st, kind, vcpu);
}

/** Convenience: the bytes of a sequence of events, starting from a fresh (all-zero) state. */
export function encodeEvents(events: readonly TraceEvent[], st = new StampState()): Uint8Array {
  const w = new ByteWriter(256);
  for (const e of events) encodeEvent(w, st, e);
  return w.bytes().slice();
}

/** Convenience: decodes all events in `bytes` (which must hold whole event records only). */
export function decodeEvents(bytes: Uint8Array, st = new StampState(), where = 'trace'): TraceEvent[] {
  const r = new ByteReader(bytes, 0, bytes.length, where);
  const out: TraceEvent[] = [];
  while (r.remaining > 0) out.push(decodeEvent(r, st));
  return out;
}

/** A u64 pair from a safe integer, and back (display and tests). */
export function u64(n: number): U64 {
  return [n >>> 0, Math.floor(n / TWO32) >>> 0];
}
export function u64ToBigInt(v: U64): bigint {
  return (BigInt(v[1]) << 32n) | BigInt(v[0]);
}
