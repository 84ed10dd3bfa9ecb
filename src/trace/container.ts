// The trace file container (docs/trace-format.md, "Container").
//
//   [zstd frame 0: stream magic, format version, header JSON, frame-end]
//   [zstd frames 1..k: sync, image chunks, frame-end]          (embedded images, if any)
//   [zstd frames k+1..n: sync, events, frame-end]              (~1 MiB of records each)
//   [skippable frame 0x184D2A5F: hvsim frame index]            (written on close)
//   [skippable frame 0x184D2A5E: zstd seekable-format seek table]
//
// Every zstd frame is compressed on its own and declares its content size, so a stock
// `zstd -d` decompresses the file to the raw record stream and a reader needs one frame in
// memory at a time. The writer appends frames to `<file>.tmp` as the run goes and renames it
// on close; a file without the two trailing frames (a run that died) is read by walking the
// zstd frames from the start, up to the last complete one.

import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import { TraceFormatError } from './errors.js';
import {
  ByteReader,
  ByteWriter,
  decodeEventBody,
  encodeCpuid,
  encodeEvent,
  encodeIo,
  encodeMsr,
  isEventTag,
  MAX_ICOUNT,
  readTag,
  tagKind,
  tagVcpu,
  StampState,
  Tag,
  writeTag,
  type TraceEvent,
} from './encoding.js';
import { frameExtent, hex, loadZstd, ZSTD_MAGIC, zstdIfLoaded, type Zstd } from './zstd.js';

/** Loads the zstd codec (once per process); createSync and openSync need it loaded. */
export async function loadTraceCodec(): Promise<void> {
  await loadZstd();
}

/** The trace format version this code writes and the only one it reads. */
export const TRACE_FORMAT_VERSION = 1;
/** First 8 bytes of the decompressed stream: \x89 H V T R \r \n \x1a. */
export const STREAM_MAGIC = Uint8Array.of(0x89, 0x48, 0x56, 0x54, 0x52, 0x0d, 0x0a, 0x1a);
export const INDEX_FRAME_MAGIC = 0x184d2a5f;
export const SEEK_TABLE_MAGIC = 0x184d2a5e;
export const SEEKABLE_FOOTER_MAGIC = 0x8f92eab1;
const INDEX_MAGIC = 0x58494856; // "HVIX"
/** Default uncompressed bytes per frame. */
export const DEFAULT_FRAME_BYTES = 1 << 20;
/** Largest frame content a reader accepts (a frame may overshoot frameBytes by one record). */
export const MAX_FRAME_CONTENT = 4 << 20;
const IMAGE_CHUNK = 256 << 10;
const FRAME_END_BYTES = 9;
const MAX_HEADER_JSON = 1 << 20;

export interface ImageInfo {
  name: string;
  /** What the image is to the machine: 'kernel', 'initrd', 'disk:0', ... */
  role: string;
  size: number;
  /** Lower-case hex SHA-256 of the bytes. */
  sha256: string;
  /** True if the bytes are in the trace; false if only the hash is. */
  embedded: boolean;
}

export interface TraceHeader {
  hvsimVersion: string;
  /** The command line as given (argv after `hvsim`), or [] for library use. */
  commandLine: string[];
  /** The parsed machine configuration (JSON-plain). */
  config: unknown;
  seed: string;
  images: ImageInfo[];
}

export type TraceHeaderInput = Omit<TraceHeader, 'images'>;

export interface TraceImage {
  name: string;
  role: string;
  bytes: Uint8Array;
  /** Store the bytes (default) or only their hash. */
  embed?: boolean;
}

export interface TraceWriterOptions {
  /** Uncompressed bytes per frame (default 1 MiB, at most 2 MiB). */
  frameBytes?: number;
  /** zstd level (default DEFAULT_ZSTD_LEVEL). */
  level?: number;
}

/** One zstd frame of a trace, as the index (or a scan) describes it. */
export interface FrameInfo {
  offset: number;
  compressedSize: number;
  contentSize: number;
  /** Number of the first event in the frame (events are numbered from 0 across the file). */
  firstEvent: number;
  eventCount: number;
  /** Each vCPU's icount at the start of the frame (vCPUs not seen yet: absent, i.e. 0). */
  icounts: number[];
  /** CRC-32 of the frame content. */
  crc: number;
}

type EndEvent = Extract<TraceEvent, { kind: 'end' }>;

function le32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}
function put32(b: Uint8Array, p: number, v: number): void {
  b[p] = v & 0xff;
  b[p + 1] = (v >>> 8) & 0xff;
  b[p + 2] = (v >>> 16) & 0xff;
  b[p + 3] = (v >>> 24) & 0xff;
}
function skippable(magic: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  put32(out, 0, magic);
  put32(out, 4, payload.length);
  out.set(payload, 8);
  return out;
}

// ---------------------------------------------------------------------------------------
// Writer

/** zstd level of trace frames: on an exit-heavy guest (bench-io) level 3 costs ~10% more recording time for files 0.6% smaller. */
export const DEFAULT_ZSTD_LEVEL = 1;

export class TraceWriter {
  private readonly w: ByteWriter;
  private readonly st = new StampState();
  private readonly frames: FrameInfo[] = [];
  private fd: number | null;
  private offset = 0;
  private frameStartEvent = 0;
  private frameStartIcounts: number[] = [];
  private events = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    readonly tmpPath: string,
    private readonly zstd: Zstd,
    private readonly frameBytes: number,
    private readonly level: number,
  ) {
    this.fd = openSync(tmpPath, 'w');
    this.w = new ByteWriter(frameBytes + (64 << 10));
  }

  /** Opens `<path>.tmp`, writes the header (and embedded images) and returns the writer. */
  static async create(path: string, header: TraceHeaderInput, images: readonly TraceImage[] = [], opts: TraceWriterOptions = {}): Promise<TraceWriter> {
    await loadZstd();
    return TraceWriter.createSync(path, header, images, opts);
  }

  /** As create, once the codec is loaded (`await loadTraceCodec()`), for synchronous callers. */
  static createSync(path: string, header: TraceHeaderInput, images: readonly TraceImage[] = [], opts: TraceWriterOptions = {}): TraceWriter {
    const frameBytes = opts.frameBytes ?? DEFAULT_FRAME_BYTES;
    if (!(Number.isInteger(frameBytes) && frameBytes >= 64 && frameBytes <= 2 << 20)) throw new RangeError(`frameBytes ${frameBytes}: must be 64..2 MiB`);
    const zstd = zstdIfLoaded();
    if (!zstd) throw new Error('trace: the zstd codec is not loaded yet (await loadTraceCodec() first)');
    const tw = new TraceWriter(path, `${path}.tmp`, zstd, frameBytes, opts.level ?? DEFAULT_ZSTD_LEVEL);
    try {
      tw.writeHeader(header, images);
    } catch (err) {
      tw.abandon();
      rmSync(tw.tmpPath, { force: true });
      throw err;
    }
    return tw;
  }

  private writeHeader(header: TraceHeaderInput, images: readonly TraceImage[]): void {
    const infos: ImageInfo[] = images.map((im) => ({
      name: im.name,
      role: im.role,
      size: im.bytes.length,
      sha256: createHash('sha256').update(im.bytes).digest('hex'),
      embedded: im.embed !== false,
    }));
    const full: TraceHeader = {
      hvsimVersion: header.hvsimVersion,
      commandLine: header.commandLine,
      config: header.config,
      seed: header.seed,
      images: infos,
    };
    const w = this.w;
    w.reset();
    w.ensure(10);
    w.buf.set(STREAM_MAGIC, 0);
    w.pos = 8;
    w.u8(TRACE_FORMAT_VERSION & 0xff);
    w.u8(TRACE_FORMAT_VERSION >>> 8);
    const json = JSON.stringify(full);
    if (json.length > MAX_HEADER_JSON) throw new RangeError(`trace header: ${json.length} characters of JSON (at most ${MAX_HEADER_JSON}; images go in image chunks, not in the configuration)`);
    w.str(json);
    this.flush(true);
    let any = false;
    images.forEach((im, i) => {
      if (im.embed === false) return;
      for (let p = 0; p < im.bytes.length; p += IMAGE_CHUNK) {
        if (this.w.pos === 0) this.startFrame();
        writeTag(this.w, Tag.ImageChunk, 0);
        this.w.varint(i);
        this.w.blob(im.bytes.subarray(p, p + IMAGE_CHUNK));
        any = true;
        if (this.w.pos >= this.frameBytes) this.flush(false);
      }
    });
    if (any && this.w.pos > 0) this.flush(false);
  }

  private startFrame(): void {
    const w = this.w;
    w.reset();
    this.frameStartEvent = this.events;
    this.frameStartIcounts = Array.from(this.st.last, (x) => x ?? 0);
    writeTag(w, Tag.Sync, 0);
    w.varint(this.frames.length);
    w.varint(this.events);
    const ic = this.frameStartIcounts;
    w.varint(ic.length);
    for (let i = 0; i < ic.length; i++) w.varint(ic[i]);
  }

  /** Ends the current frame (frame-end record), compresses it and appends it to the file. */
  private flush(headerFrame: boolean): void {
    const w = this.w;
    const eventCount = headerFrame ? 0 : this.events - this.frameStartEvent;
    const crc = crc32(w.buf.subarray(0, w.pos)) >>> 0;
    writeTag(w, Tag.FrameEnd, 0);
    w.u32le(eventCount);
    w.u32le(crc);
    const content = w.bytes();
    const compressed = this.zstd.compress(content, this.level);
    writeAll(this.fd!, compressed);
    this.frames.push({
      offset: this.offset,
      compressedSize: compressed.length,
      contentSize: content.length,
      firstEvent: headerFrame ? 0 : this.frameStartEvent,
      eventCount,
      icounts: headerFrame ? [] : this.frameStartIcounts,
      crc,
    });
    this.offset += compressed.length;
    w.reset();
  }

  /** Events appended so far. */
  get eventCount(): number {
    return this.events;
  }
  /** Compressed bytes written to the file so far. */
  get bytesWritten(): number {
    return this.offset;
  }
  get framesWritten(): number {
    return this.frames.length;
  }

  /** Appends one event (not 'end': use close). Throws TypeError for an unencodable event. */
  append(e: TraceEvent): void {
    if (this.closed) throw new Error(`trace ${this.path}: append after close`);
    if (e.kind === 'end') throw new TypeError('trace: the end event is written by close()');
    if (this.w.pos === 0) this.startFrame();
    encodeEvent(this.w, this.st, e);
    this.events++;
    if (this.w.pos >= this.frameBytes) this.flush(false);
  }

  // The recorder's hot path: the same records as append() of the io/cpuid/msr event, without
  // building the event (the machine's values need no validation; see encodeIo).

  appendIo(vcpu: number, icount: number, port: number, size: number, write: boolean, value: number): void {
    if (this.closed) throw new Error(`trace ${this.path}: append after close`);
    if (this.w.pos === 0) this.startFrame();
    encodeIo(this.w, this.st, vcpu, icount, port, size, write, value);
    this.appended();
  }

  appendCpuid(vcpu: number, icount: number, leaf: number, subleaf: number, r: Int32Array): void {
    if (this.closed) throw new Error(`trace ${this.path}: append after close`);
    if (this.w.pos === 0) this.startFrame();
    encodeCpuid(this.w, this.st, vcpu, icount, leaf, subleaf, r[0], r[1], r[2], r[3]);
    this.appended();
  }

  appendMsr(vcpu: number, icount: number, write: boolean, msr: number, lo: number, hi: number, gp: boolean): void {
    if (this.closed) throw new Error(`trace ${this.path}: append after close`);
    if (this.w.pos === 0) this.startFrame();
    encodeMsr(this.w, this.st, vcpu, icount, write, msr, lo, hi, gp);
    this.appended();
  }

  private appended(): void {
    this.events++;
    if (this.w.pos >= this.frameBytes) this.flush(false);
  }

  /** Writes the end event, the last frame, the index and the seek table; renames the file. */
  close(end: EndEvent): void {
    if (this.closed) throw new Error(`trace ${this.path}: closed twice`);
    if (this.w.pos === 0) this.startFrame();
    encodeEvent(this.w, this.st, end);
    this.events++;
    this.flush(false);
    this.closed = true;
    const fd = this.fd!;
    writeAll(fd, skippable(INDEX_FRAME_MAGIC, encodeIndex(this.frames)));
    const table = new Uint8Array(this.frames.length * 8 + 9);
    this.frames.forEach((f, i) => {
      put32(table, i * 8, f.compressedSize);
      put32(table, i * 8 + 4, f.contentSize);
    });
    const foot = this.frames.length * 8;
    put32(table, foot, this.frames.length);
    table[foot + 4] = 0; // descriptor: no checksums
    put32(table, foot + 5, SEEKABLE_FOOTER_MAGIC);
    writeAll(fd, skippable(SEEK_TABLE_MAGIC, table));
    fsyncSync(fd);
    closeSync(fd);
    this.fd = null;
    renameSync(this.tmpPath, this.path);
  }

  /** Closes the file without finishing it: `<path>.tmp` stays, readable up to its last frame. */
  abandon(): void {
    this.closed = true;
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

function encodeIndex(frames: readonly FrameInfo[]): Uint8Array {
  const w = new ByteWriter(64 + frames.length * 24);
  w.u32le(INDEX_MAGIC);
  w.varint(TRACE_FORMAT_VERSION);
  w.varint(frames.length);
  for (const f of frames) {
    w.varint(f.compressedSize);
    w.varint(f.contentSize);
    w.varint(f.firstEvent);
    w.varint(f.eventCount);
    w.varint(f.icounts.length);
    for (const x of f.icounts) w.varint(x);
    w.u32le(f.crc);
  }
  return w.bytes().slice();
}

// ---------------------------------------------------------------------------------------
// Reader

export interface TraceReaderOptions {
  /**
   * Accept a trace that did not finish (no end event: a run that crashed or was killed,
   * or a copy cut short) and read it up to its last complete frame. Default false: such a
   * file is a 'truncated' TraceFormatError.
   */
  allowIncomplete?: boolean;
}

export class TraceReader {
  /** True if the trace has its end event. */
  readonly complete: boolean;
  /** True if the index and seek table were found (the writer closed the file). */
  readonly indexed: boolean;
  /** Bytes at the end of the file that are not a complete frame (0 for a good file). */
  readonly tailBytes: number;
  readonly eventCount: number;

  private constructor(
    private fd: number | null,
    readonly path: string,
    private readonly zstd: Zstd,
    readonly fileSize: number,
    readonly frames: readonly FrameInfo[],
    readonly header: TraceHeader,
    complete: boolean,
    indexed: boolean,
    tailBytes: number,
  ) {
    this.complete = complete;
    this.indexed = indexed;
    this.tailBytes = tailBytes;
    const last = frames[frames.length - 1];
    this.eventCount = last.firstEvent + last.eventCount;
  }

  static async open(path: string, opts: TraceReaderOptions = {}): Promise<TraceReader> {
    await loadZstd();
    return TraceReader.openSync(path, opts);
  }

  /** As open, once the codec is loaded (`await loadTraceCodec()`), for synchronous callers. */
  static openSync(path: string, opts: TraceReaderOptions = {}): TraceReader {
    const zstd = zstdIfLoaded();
    if (!zstd) throw new Error('trace: the zstd codec is not loaded yet (await loadTraceCodec() first)');
    const fd = openSync(path, 'r');
    try {
      return TraceReader.openFd(fd, path, zstd, opts);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  private static openFd(fd: number, path: string, zstd: Zstd, opts: TraceReaderOptions): TraceReader {
    const name = basename(path);
    const size = fstatSync(fd).size;
    const readAt = (pos: number, len: number): Uint8Array => {
      const b = new Uint8Array(Math.max(0, Math.min(len, size - pos)));
      let got = 0;
      while (got < b.length) {
        const n = readSync(fd, b, got, b.length - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      return got === b.length ? b : b.subarray(0, got);
    };
    const fail: (code: 'truncated' | 'corrupt', msg: string) => never = (code, msg) => {
      throw new TraceFormatError(code, `${name}: ${msg}`);
    };
    if (size === 0) throw new TraceFormatError('empty', `${name}: empty file (0 bytes), not an hvsim trace`);
    const first = readAt(0, 4);
    const notTrace = (why: string): never => {
      throw new TraceFormatError('bad-magic', `${name}: a zstd file but not an hvsim trace (${why})`);
    };
    if (first.length === 4 && (le32(first, 0) & 0xfffffff0) >>> 0 === 0x184d2a50) notTrace('it starts with a skippable frame');
    if (first.length < 4 || le32(first, 0) !== ZSTD_MAGIC) {
      throw new TraceFormatError('not-zstd', `${name}: not a zstd file (starts with ${hex(first)}), so not an hvsim trace`);
    }

    let frames: FrameInfo[] | null = readIndex(readAt, size, fail);
    const indexed = frames !== null;
    let tailBytes = 0;
    let complete = indexed;
    let header: TraceHeader;
    const decode = (f: FrameInfo, i: number): Uint8Array => decompressFrame(name, zstd, readAt, f, i, fail);
    if (frames) {
      header = parseHeaderFrame(decode(frames[0], 0), name);
    } else {
      // No seek table: walk the zstd frames, then read each one's sync and frame-end records.
      const extents: { offset: number; size: number }[] = [];
      let pos = 0;
      while (pos < size) {
        const x = frameExtent(readAt, pos, size);
        if (x.kind === 'truncated') {
          tailBytes = size - pos;
          break;
        }
        if (x.kind === 'bad') fail('corrupt', `${x.what} at byte ${pos}`);
        if (x.kind === 'zstd') {
          if (pos === 0 && x.contentSize === null) notTrace('its first frame does not declare its size, as trace frames do');
          if (x.contentSize === null || x.contentSize > MAX_FRAME_CONTENT) fail('corrupt', `frame at byte ${pos} declares ${x.contentSize ?? 'no'} content size (at most ${MAX_FRAME_CONTENT})`);
          extents.push({ offset: pos, size: x.size });
        }
        pos += x.size;
      }
      if (extents.length === 0) fail('truncated', `the file ends inside its first frame (${size} bytes): nothing to read`);
      frames = [];
      for (let i = 0; i < extents.length; i++) {
        const f: FrameInfo = { offset: extents[i].offset, compressedSize: extents[i].size, contentSize: -1, firstEvent: 0, eventCount: 0, icounts: [], crc: -1 };
        const content = decode(f, i);
        if (i === 0) {
          header = parseHeaderFrame(content, name);
        } else {
          const info = scanFrame(content, i, name);
          f.firstEvent = info.firstEvent;
          f.eventCount = info.eventCount;
          f.icounts = info.icounts;
          if (info.hasEnd) complete = true;
          const prev = frames[i - 1];
          if (f.firstEvent !== prev.firstEvent + prev.eventCount) fail('corrupt', `frame ${i} starts at event ${f.firstEvent}, expected ${prev.firstEvent + prev.eventCount}`);
        }
        f.contentSize = content.length;
        f.crc = le32(content, content.length - 4);
        frames.push(f);
      }
      if (!opts.allowIncomplete && (!complete || tailBytes > 0)) {
        const last = frames[frames.length - 1];
        fail(
          'truncated',
          `truncated: ${tailBytes > 0 ? `the last ${tailBytes} bytes are an incomplete frame` : 'the file has no end event and no seek table'}` +
            ` (the recording was interrupted or the file cut short); ${frames.length} complete frames hold ${last.firstEvent + last.eventCount} events` +
            ' (open with allowIncomplete to read them)',
        );
      }
    }
    return new TraceReader(fd, path, zstd, size, frames, header!, complete, indexed, tailBytes);
  }

  private readAt(pos: number, len: number): Uint8Array {
    if (this.fd === null) throw new Error(`trace ${this.path}: reader is closed`);
    const b = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, b, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return got === len ? b : b.subarray(0, got);
  }

  private fail(code: 'truncated' | 'corrupt', msg: string): never {
    throw new TraceFormatError(code, `${basename(this.path)}: ${msg}`);
  }

  /** The decompressed, CRC-checked content of frame `i`. */
  frameContent(i: number): Uint8Array {
    return decompressFrame(basename(this.path), this.zstd, (p, l) => this.readAt(p, l), this.frames[i], i, (c, m) => this.fail(c, m));
  }

  /** The index of the frame holding the first event with number >= `n`. */
  frameForEvent(n: number): number {
    let best = 1;
    for (let i = 1; i < this.frames.length; i++) {
      const f = this.frames[i];
      if (f.eventCount === 0) continue;
      if (f.firstEvent <= n) best = i;
      else break;
    }
    return best;
  }

  /** The index of the last frame starting at or before `icount` on `vcpu`: seek target. */
  frameForIcount(vcpu: number, icount: number): number {
    let best = 1;
    for (let i = 1; i < this.frames.length; i++) {
      const f = this.frames[i];
      if (f.eventCount === 0) continue;
      if ((f.icounts[vcpu] ?? 0) <= icount) best = i;
      else break;
    }
    return Math.min(best, this.frames.length - 1);
  }

  /**
   * Events in order, decompressing one frame at a time. `fromFrame`
   * starts at a frame (see frameForEvent / frameForIcount); `fromEvent` skips events before it.
   */
  *events(opts: { fromFrame?: number; fromEvent?: number } = {}): Generator<TraceEvent, void, void> {
    const c = this.cursor(opts);
    for (let e = c.next(); e !== null; e = c.next()) yield e;
  }

  /**
   * The events in order, pulled one at a time (null after the last): what events() yields,
   * without a generator step per event (the replayer pulls millions).
   */
  cursor(opts: { fromFrame?: number; fromEvent?: number } = {}): EventCursor {
    const fromEvent = opts.fromEvent ?? 0;
    const start = opts.fromFrame ?? (fromEvent > 0 ? this.frameForEvent(fromEvent) : 1);
    return new EventCursor(this, Math.max(1, start), fromEvent);
  }

  /** @internal: for EventCursor. */
  failCorrupt(msg: string): never {
    this.fail('corrupt', msg);
  }

  /** The bytes of embedded image `index` (checked against its SHA-256). */
  image(index: number): Uint8Array {
    const info = this.header.images[index];
    if (!info) throw new RangeError(`trace ${this.path}: no image ${index}`);
    if (!info.embedded) throw new Error(`trace ${basename(this.path)}: image ${info.name} is recorded by hash only (sha256 ${info.sha256})`);
    const out = new Uint8Array(info.size);
    let got = 0;
    for (let i = 1; i < this.frames.length && got < info.size; i++) {
      if (this.frames[i].eventCount > 0) break; // image frames precede event frames
      const content = this.frameContent(i);
      const r = new ByteReader(content, 0, content.length, `${basename(this.path)}: frame ${i}`);
      readSync_(r, i);
      for (;;) {
        const kind = tagKind(readTag(r));
        if (kind === Tag.FrameEnd) break;
        if (kind !== Tag.ImageChunk) break;
        const which = r.varint();
        const chunk = r.blob(IMAGE_CHUNK);
        if (which !== index) continue;
        if (got + chunk.length > info.size) r.corrupt(`image ${info.name} has more than ${info.size} bytes`);
        out.set(chunk, got);
        got += chunk.length;
      }
    }
    if (got !== info.size) this.fail('truncated', `image ${info.name}: ${got} of ${info.size} bytes present`);
    const sha = createHash('sha256').update(out).digest('hex');
    if (sha !== info.sha256) this.fail('corrupt', `image ${info.name}: SHA-256 ${sha} differs from the header's ${info.sha256}`);
    return out;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** Pulls events frame by frame (TraceReader.cursor). */
export class EventCursor {
  private frame: number;
  private r: ByteReader | null = null;
  private st = new StampState();
  private n = 0;
  private first = 0;
  private ended = false;

  constructor(
    private readonly reader: TraceReader,
    startFrame: number,
    private readonly fromEvent: number,
  ) {
    this.frame = startFrame;
  }

  /** The next event, or null after the last. Throws TraceFormatError for bad bytes. */
  next(): TraceEvent | null {
    for (;;) {
      let r = this.r;
      if (r === null) {
        const frames = this.reader.frames;
        while (this.frame < frames.length && frames[this.frame].eventCount === 0) this.frame++;
        if (this.frame >= frames.length) return null;
        const i = this.frame;
        const f = frames[i];
        if (this.ended) this.reader.failCorrupt(`frame ${i} follows the frame holding the end event`);
        const content = this.reader.frameContent(i);
        r = new ByteReader(content, 0, content.length, `${basename(this.reader.path)}: frame ${i}`);
        const sync = readSync_(r, i);
        if (sync.firstEvent !== f.firstEvent) r.corrupt(`sync record says first event ${sync.firstEvent}, the index ${f.firstEvent}`);
        this.st = new StampState(sync.icounts);
        this.n = this.first = sync.firstEvent;
        this.r = r;
      }
      const t = readTag(r);
      const kind = tagKind(t);
      const vcpu = tagVcpu(t);
      if (this.ended && kind !== Tag.FrameEnd) r.corrupt('records after the end event');
      if (kind === Tag.FrameEnd) {
        if (r.u32le() !== this.n - this.first) r.corrupt('frame-end event count differs from the events in the frame');
        this.r = null;
        this.frame++;
        continue;
      }
      if (kind === Tag.ImageChunk) {
        r.varint();
        r.blob(IMAGE_CHUNK);
        continue;
      }
      if (!isEventTag(kind)) r.corrupt(`unexpected record tag ${kind}`);
      const e = decodeEventBody(r, this.st, kind, vcpu);
      if (kind === Tag.End) this.ended = true;
      if (this.n++ >= this.fromEvent) return e;
    }
  }
}

function readSync_(r: ByteReader, frame: number): { firstEvent: number; icounts: number[] } {
  const kind = tagKind(readTag(r));
  if (kind !== Tag.Sync) r.corrupt(`frame does not start with a sync record (tag ${kind})`);
  const num = r.varint();
  if (num !== frame) r.corrupt(`sync record says frame ${num}`);
  const firstEvent = r.varint();
  const n = r.varint();
  if (n > 0x10000) r.corrupt(`sync record with ${n} vCPUs`);
  const icounts: number[] = [];
  for (let k = 0; k < n; k++) {
    const x = r.varint();
    if (x > MAX_ICOUNT) r.corrupt(`icount ${x}`);
    icounts.push(x);
  }
  return { firstEvent, icounts };
}

/** Walks one events frame (scan mode): sync values, event count, whether it holds the end. */
function scanFrame(content: Uint8Array, i: number, name: string): { firstEvent: number; eventCount: number; icounts: number[]; hasEnd: boolean } {
  const r = new ByteReader(content, 0, content.length, `${name}: frame ${i}`);
  const sync = readSync_(r, i);
  const st = new StampState(sync.icounts);
  let count = 0;
  let hasEnd = false;
  for (;;) {
    const t = readTag(r);
    const kind = tagKind(t);
    const vcpu = tagVcpu(t);
    if (kind === Tag.FrameEnd) {
      if (r.u32le() !== count) r.corrupt('frame-end event count differs from the events in the frame');
      break;
    }
    if (kind === Tag.ImageChunk) {
      r.varint();
      r.blob(IMAGE_CHUNK);
      continue;
    }
    if (!isEventTag(kind)) r.corrupt(`unexpected record tag ${kind}`);
    if (hasEnd) r.corrupt('events after the end event');
    decodeEventBody(r, st, kind, vcpu);
    if (kind === Tag.End) hasEnd = true;
    count++;
  }
  return { firstEvent: sync.firstEvent, eventCount: count, icounts: sync.icounts, hasEnd };
}

function decompressFrame(
  name: string,
  zstd: Zstd,
  readAt: (pos: number, len: number) => Uint8Array,
  f: FrameInfo,
  i: number,
  fail: (code: 'truncated' | 'corrupt', msg: string) => never,
): Uint8Array {
  const bytes = readAt(f.offset, f.compressedSize);
  if (bytes.length < f.compressedSize) fail('truncated', `frame ${i} (${f.compressedSize} bytes at byte ${f.offset}) runs past the end of the file`);
  if (le32(bytes, 0) !== ZSTD_MAGIC) fail('corrupt', `frame ${i} at byte ${f.offset} is not a zstd frame (${hex(bytes.subarray(0, 4))})`);
  const ext = frameExtent((p, l) => bytes.subarray(p, p + l), 0, bytes.length);
  if (ext.kind !== 'zstd' || ext.size !== bytes.length) fail('corrupt', `frame ${i} at byte ${f.offset}: its zstd block structure does not span its ${bytes.length} bytes`);
  if (ext.contentSize === null || ext.contentSize > MAX_FRAME_CONTENT || (f.contentSize >= 0 && ext.contentSize !== f.contentSize)) {
    fail('corrupt', `frame ${i} declares ${ext.contentSize ?? 'no'} content bytes (expected ${f.contentSize >= 0 ? f.contentSize : `at most ${MAX_FRAME_CONTENT}`})`);
  }
  const content = ext.contentSize === 0 ? new Uint8Array(0) : zstd.decompress(bytes);
  if (!content || content.length !== ext.contentSize) fail('corrupt', `frame ${i} at byte ${f.offset} does not decompress`);
  if (i === 0) checkMagicAndVersion(content, name);
  // Every frame ends with a 9-byte frame-end record: tag, u32 event count, u32 CRC-32 of
  // everything before the record.
  const endAt = content.length - FRAME_END_BYTES;
  if (endAt < 0 || content[endAt] !== Tag.FrameEnd) fail('corrupt', `frame ${i} at byte ${f.offset} does not end with a frame-end record`);
  const crc = le32(content, content.length - 4);
  const actual = crc32(content.subarray(0, endAt)) >>> 0;
  if (crc !== actual || (f.crc >= 0 && f.crc !== crc)) {
    fail('corrupt', `frame ${i} at byte ${f.offset}: CRC-32 ${actual.toString(16).padStart(8, '0')} of its content differs from the recorded ${crc.toString(16).padStart(8, '0')}`);
  }
  return content;
}

function checkMagicAndVersion(content: Uint8Array, name: string): void {
  for (let k = 0; k < STREAM_MAGIC.length; k++) {
    if (content[k] !== STREAM_MAGIC[k]) {
      throw new TraceFormatError('bad-magic', `${name}: a zstd file but not an hvsim trace (its first frame does not start with the trace magic)`);
    }
  }
  if (content.length < 10) throw new TraceFormatError('truncated', `${name}: truncated: the header frame ends after the magic`);
  const version = content[8] | (content[9] << 8);
  if (version !== TRACE_FORMAT_VERSION) {
    throw new TraceFormatError('bad-version', `${name}: trace format version ${version}; this hvsim reads version ${TRACE_FORMAT_VERSION} only`);
  }
}

function parseHeaderFrame(content: Uint8Array, name: string): TraceHeader {
  const r = new ByteReader(content, 10, content.length, `${name}: header`);
  const json = r.str(MAX_FRAME_CONTENT);
  let h!: TraceHeader;
  try {
    h = JSON.parse(json) as TraceHeader;
  } catch {
    r.corrupt('header is not JSON');
  }
  if (typeof h !== 'object' || h === null || typeof h.hvsimVersion !== 'string' || typeof h.seed !== 'string' || !Array.isArray(h.images) || !Array.isArray(h.commandLine)) {
    r.corrupt('header lacks hvsimVersion, commandLine, seed or images');
  }
  const tag = tagKind(readTag(r));
  if (tag !== Tag.FrameEnd) r.corrupt(`header frame has record tag ${tag} after the header`);
  return h;
}

/** The index and seek table at the end of a closed file, or null if absent. */
function readIndex(readAt: (pos: number, len: number) => Uint8Array, size: number, fail: (code: 'truncated' | 'corrupt', msg: string) => never): FrameInfo[] | null {
  if (size < 17) return null;
  const foot = readAt(size - 9, 9);
  if (le32(foot, 5) !== SEEKABLE_FOOTER_MAGIC) return null;
  const n = le32(foot, 0);
  const desc = foot[4];
  const entry = desc & 0x80 ? 12 : 8;
  const tableSize = n * entry + 9;
  const tableStart = size - tableSize - 8;
  if (n === 0 || tableStart < 0) fail('corrupt', `seek table of ${n} frames does not fit the file`);
  const table = readAt(tableStart, tableSize + 8);
  if (le32(table, 0) !== SEEK_TABLE_MAGIC || le32(table, 4) !== tableSize) fail('corrupt', 'seek table frame header is damaged');
  let offset = 0;
  const sizes: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const c = le32(table, 8 + i * entry);
    const d = le32(table, 8 + i * entry + 4);
    sizes.push([c, d]);
    offset += c;
  }
  if (offset + 8 > tableStart) fail('corrupt', 'seek table frame sizes exceed the file');
  const ih = readAt(offset, 8);
  if (le32(ih, 0) !== INDEX_FRAME_MAGIC || offset + 8 + le32(ih, 4) !== tableStart) fail('corrupt', `frame index not found at byte ${offset}`);
  const payload = readAt(offset + 8, le32(ih, 4));
  const r = new ByteReader(payload, 0, payload.length, 'frame index');
  if (r.u32le() !== INDEX_MAGIC) r.corrupt('bad index magic');
  r.varint(); // format version (the header frame's is authoritative)
  if (r.varint() !== n) r.corrupt('index and seek table disagree on the number of frames');
  const frames: FrameInfo[] = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const compressedSize = r.varint();
    const contentSize = r.varint();
    if (compressedSize !== sizes[i][0] || contentSize !== sizes[i][1]) r.corrupt(`index and seek table disagree on frame ${i}`);
    if (contentSize > MAX_FRAME_CONTENT) r.corrupt(`frame ${i} of ${contentSize} bytes`);
    const firstEvent = r.varint();
    const eventCount = r.varint();
    const k = r.varint();
    if (k > 0x10000) r.corrupt(`${k} vCPUs`);
    const icounts: number[] = [];
    for (let j = 0; j < k; j++) icounts.push(r.varint());
    const crc = r.u32le();
    frames.push({ offset: pos, compressedSize, contentSize, firstEvent, eventCount, icounts, crc });
    pos += compressedSize;
  }
  return frames;
}
