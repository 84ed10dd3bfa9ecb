// Where a virtio-blk disk's bytes live. The device sees only this interface, so a replay can run
// without the image: ZeroBlockBackend stands in with the recorded capacity, and the recorded
// disk reads come back through the trace's hostInput (see virtio-blk.ts).
//
// The file backend uses synchronous positional I/O on one descriptor (readSync/writeSync/
// fsyncSync): a request's effect on the file is complete when the guest's notify returns, so
// nothing depends on host scheduling.

import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

export interface BlockBackend {
  /** Size in bytes (the device reports floor(size / 512) sectors, as bhyve does). */
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** Fill `dst` from byte `offset`; bytes past the end of the image read as zero. False on a host error. */
  read(offset: number, dst: Uint8Array): boolean;
  /** Write `src` at byte `offset`. False on a host error or when read-only. */
  write(offset: number, src: Uint8Array): boolean;
  /** Make every completed write durable (fsync). False on a host error. */
  flush(): boolean;
  close(): void;
}

export class BlockBackendError extends Error {}

export interface FileBackendOptions {
  readOnly: boolean;
  /** O_SYNC: every write is durable when it completes (bhyve's `sync`/`direct`). */
  sync: boolean;
}

export class FileBlockBackend implements BlockBackend {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  private fd: number;

  /** Opens `path`; throws BlockBackendError with a one-line reason if it cannot be used. */
  constructor(readonly path: string, opts: FileBackendOptions) {
    this.readOnly = opts.readOnly;
    const flags = (opts.readOnly ? constants.O_RDONLY : constants.O_RDWR) | (opts.sync && !opts.readOnly ? constants.O_SYNC : 0);
    try {
      this.fd = openSync(path, flags);
    } catch (e) {
      throw new BlockBackendError(`cannot open ${path}${opts.readOnly ? '' : ' for reading and writing'} (${errCode(e)})`);
    }
    try {
      const st = fstatSync(this.fd);
      if (!st.isFile() && !st.isBlockDevice()) throw new BlockBackendError(`${path} is not a regular file`);
      this.sizeBytes = st.size;
      // One read proves the image is readable now rather than at the guest's first request.
      if (st.size > 0) readSync(this.fd, new Uint8Array(1), 0, 1, 0);
    } catch (e) {
      closeSync(this.fd);
      if (e instanceof BlockBackendError) throw e;
      throw new BlockBackendError(`cannot read ${path} (${errCode(e)})`);
    }
  }

  read(offset: number, dst: Uint8Array): boolean {
    if (this.fd < 0) return false;
    try {
      let done = 0;
      while (done < dst.length) {
        const n = readSync(this.fd, dst, done, dst.length - done, offset + done);
        if (n === 0) break; // end of file: the rest reads as zero
        done += n;
      }
      dst.fill(0, done);
      return true;
    } catch {
      return false;
    }
  }

  write(offset: number, src: Uint8Array): boolean {
    if (this.fd < 0 || this.readOnly) return false;
    try {
      let done = 0;
      while (done < src.length) done += writeSync(this.fd, src, done, src.length - done, offset + done);
      return true;
    } catch {
      return false;
    }
  }

  flush(): boolean {
    if (this.fd < 0) return false;
    if (this.readOnly) return true;
    try {
      fsyncSync(this.fd);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // nothing to do
    }
    this.fd = -1;
  }
}

/** A stand-in of a given size: reads zeros, drops writes. For replay, where recorded reads
 *  arrive through hostInput, and for tests. */
export class ZeroBlockBackend implements BlockBackend {
  constructor(
    readonly sizeBytes: number,
    readonly readOnly = false,
  ) {}
  read(_offset: number, dst: Uint8Array): boolean {
    dst.fill(0);
    return true;
  }
  write(): boolean {
    return !this.readOnly;
  }
  flush(): boolean {
    return true;
  }
  close(): void {}
}

/** A RAM disk (tests): a plain byte array, writable unless readOnly. */
export class MemoryBlockBackend implements BlockBackend {
  flushes = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly readOnly = false,
  ) {}
  get sizeBytes(): number {
    return this.bytes.length;
  }
  read(offset: number, dst: Uint8Array): boolean {
    const n = Math.max(0, Math.min(dst.length, this.bytes.length - offset));
    dst.set(this.bytes.subarray(offset, offset + n));
    dst.fill(0, n);
    return true;
  }
  write(offset: number, src: Uint8Array): boolean {
    if (this.readOnly || offset + src.length > this.bytes.length) return false;
    this.bytes.set(src, offset);
    return true;
  }
  flush(): boolean {
    this.flushes++;
    return true;
  }
  close(): void {}
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}
