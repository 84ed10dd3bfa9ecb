// virtio-blk against OASIS virtio 1.2 section 5.2 (feature bits 5.2.3, config 5.2.4, requests
// 5.2.6) through the real transport and split virtqueue, with a RAM disk or a zero stand-in.

import { describe, expect, it } from 'vitest';
import { DeviceStatus } from '../virtio/virtio-spec.js';
import { MemoryBlockBackend, ZeroBlockBackend, type BlockBackend } from './block-backend.js';
import { VirtioBlk, BLK_IO_CHUNK } from './virtio-blk.js';
import { TestDriver } from './test-driver.js';

const T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11;
const S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
const F_SEG_MAX = 1 << 2, F_RO = 1 << 5, F_BLK_SIZE = 1 << 6, F_FLUSH = 1 << 9, F_TOPOLOGY = 1 << 10;

function header(type: number, sector: number, sectorHi = 0): Uint8Array {
  const h = new Uint8Array(16);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(8, sector >>> 0, true);
  dv.setUint32(12, sectorHi || Math.floor(sector / 0x1_0000_0000), true);
  return h;
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + seed * 13 + (i >> 9)) & 0xff;
  return b;
}

interface Setup {
  backend?: BlockBackend;
  readOnly?: boolean;
  sectors?: number;
  logical?: number;
  physical?: number;
  serial?: string;
  features?: number;
  hostInput?: (device: string, data: Uint8Array) => Uint8Array;
}

function make(s: Setup = {}) {
  const backend = s.backend ?? new MemoryBlockBackend(pattern((s.sectors ?? 64) * 512, 1));
  const inputs: { device: string; len: number }[] = [];
  const blk = new VirtioBlk({
    name: 'virtio-blk@0:4.0',
    backend,
    readOnly: s.readOnly ?? false,
    logicalSectorSize: s.logical ?? 512,
    physicalSectorSize: s.physical ?? 512,
    serial: s.serial ?? 'BHYVE-0123-4567-89AB',
    hostInput: (device, data) => {
      inputs.push({ device, len: data.length });
      return s.hostInput ? s.hostInput(device, data) : data;
    },
  });
  const d = new TestDriver(blk);
  d.init(s.features ?? 0xffff_ffff);
  /** One request: header, optional data, status. Returns {status, data, used}. */
  const request = (type: number, sector: number, opts: { dataIn?: number; dataOut?: Uint8Array } = {}) => {
    const bufs = [{ len: 16, write: false, data: header(type, sector) }];
    if (opts.dataOut) bufs.push({ len: opts.dataOut.length, write: false, data: opts.dataOut });
    if (opts.dataIn) bufs.push({ len: opts.dataIn, write: true, data: undefined as unknown as Uint8Array });
    bufs.push({ len: 1, write: true, data: undefined as unknown as Uint8Array });
    const addrs = d.post(0, bufs);
    const statusAddr = addrs[addrs.length - 1];
    d.mem.write8(statusAddr, 0xee); // not a status: shows whether the device wrote one
    d.notify(0);
    const used = d.takeUsed(0);
    return {
      status: d.mem.read8(statusAddr)!,
      data: opts.dataIn ? d.bytes(addrs[1], opts.dataIn) : null,
      used,
    };
  };
  return { blk, d, backend, request, inputs };
}

describe('virtio-blk device configuration (5.2.3, 5.2.4)', () => {
  it('is device type 2 with one request queue', () => {
    const { blk } = make();
    expect(blk.deviceType).toBe(2);
    expect(blk.queueMaxSizes).toHaveLength(1);
  });

  it('reports capacity in 512-byte sectors, seg_max and blk_size, and offers SEG_MAX, BLK_SIZE, FLUSH', () => {
    const { blk } = make({ sectors: 1000 });
    expect(blk.configRead(0, 4)).toBe(1000); // capacity, le64
    expect(blk.configRead(4, 4)).toBe(0);
    expect(blk.configRead(12, 4)).toBeGreaterThan(0); // seg_max
    expect(blk.configRead(12, 4)).toBeLessThanOrEqual(blk.queueMaxSizes[0] - 2);
    expect(blk.configRead(20, 4)).toBe(512); // blk_size
    expect(blk.deviceFeaturesLo & (F_SEG_MAX | F_BLK_SIZE | F_FLUSH)).toBe(F_SEG_MAX | F_BLK_SIZE | F_FLUSH);
    expect(blk.deviceFeaturesLo & F_RO).toBe(0);
    expect(blk.deviceFeaturesLo & F_TOPOLOGY).toBe(0);
  });

  it('rounds a size that is not a multiple of 512 down (capacity counts whole sectors)', () => {
    const { blk } = make({ backend: new MemoryBlockBackend(new Uint8Array(512 * 3 + 100)) });
    expect(blk.configRead(0, 4)).toBe(3);
  });

  it('reports a capacity above 2^32 sectors in both halves of the le64', () => {
    const { blk } = make({ backend: new ZeroBlockBackend(512 * 0x1_2345_6789) });
    expect(blk.configRead(0, 4)).toBe(0x2345_6789);
    expect(blk.configRead(4, 4)).toBe(1);
  });

  it('sectorsize=4096/16384: blk_size 4096 and TOPOLOGY with physical_block_exp 2', () => {
    const { blk } = make({ logical: 4096, physical: 16384 });
    expect(blk.configRead(20, 4)).toBe(4096);
    expect(blk.deviceFeaturesLo & F_TOPOLOGY).toBe(F_TOPOLOGY);
    expect(blk.configRead(24, 1)).toBe(2);
  });

  it('ro offers VIRTIO_BLK_F_RO; so does a read-only backend', () => {
    expect(make({ readOnly: true }).blk.deviceFeaturesLo & F_RO).toBe(F_RO);
    expect(make({ backend: new MemoryBlockBackend(new Uint8Array(4096), true) }).blk.deviceFeaturesLo & F_RO).toBe(F_RO);
  });

  it('ignores config writes (no CONFIG_WCE) and reads past the fields as 0', () => {
    const { blk } = make({ sectors: 8 });
    blk.configWrite(0, 4, 0xdead);
    expect(blk.configRead(0, 4)).toBe(8);
    expect(blk.configRead(blk.configSize - 2, 2)).toBe(1); // num_queues
  });
});

describe('virtio-blk requests (5.2.6)', () => {
  it('IN reads sector 0 and the last sector; the used length counts data + status', () => {
    const { request, backend } = make({ sectors: 64 });
    const b = backend as MemoryBlockBackend;
    const r0 = request(T_IN, 0, { dataIn: 512 });
    expect(r0.status).toBe(S_OK);
    expect(r0.data).toEqual(b.bytes.subarray(0, 512));
    expect(r0.used).toEqual([{ id: 0, len: 513 }]);
    const last = request(T_IN, 63, { dataIn: 512 });
    expect(last.status).toBe(S_OK);
    expect(last.data).toEqual(b.bytes.subarray(63 * 512, 64 * 512));
  });

  it('IN one sector past the end, or straddling it, gets IOERR and no data', () => {
    const { request } = make({ sectors: 64 });
    const past = request(T_IN, 64, { dataIn: 512 });
    expect(past.status).toBe(S_IOERR);
    expect(past.data!.every((x) => x === 0)).toBe(true);
    expect(request(T_IN, 63, { dataIn: 1024 }).status).toBe(S_IOERR);
    expect(request(T_IN, 0, { dataIn: 0 }).status).toBe(S_OK); // zero sectors at 0: nothing to do
    expect(request(T_IN, 0xffff_ffff, { dataIn: 512 }).status).toBe(S_IOERR);
  });

  it('IN with sector >= 2^53/512 (high word huge) is IOERR, not a wrapped offset', () => {
    const { d } = make({ sectors: 64 });
    const addrs = d.submit(0, [
      { len: 16, write: false, data: header(T_IN, 0, 0xffff_ffff) },
      { len: 512, write: true },
      { len: 1, write: true },
    ]);
    expect(d.mem.read8(addrs[2])).toBe(S_IOERR);
  });

  it('OUT writes the sectors; reading them back gives the data', () => {
    const { request, backend } = make({ sectors: 64 });
    const data = pattern(1024, 9);
    expect(request(T_OUT, 10, { dataOut: data }).status).toBe(S_OK);
    expect((backend as MemoryBlockBackend).bytes.subarray(10 * 512, 12 * 512)).toEqual(data);
    expect(request(T_IN, 10, { dataIn: 1024 }).data).toEqual(data);
  });

  it('OUT whose data is not a multiple of 512 bytes is IOERR and writes nothing (5.2.6.1)', () => {
    const { request, backend } = make({ sectors: 64 });
    const before = (backend as MemoryBlockBackend).bytes.slice();
    expect(request(T_OUT, 0, { dataOut: new Uint8Array(100) }).status).toBe(S_IOERR);
    expect((backend as MemoryBlockBackend).bytes).toEqual(before);
  });

  it('a read-only device answers OUT with IOERR and does not write (5.2.6.2)', () => {
    const { request, backend } = make({ readOnly: true, sectors: 8 });
    const before = (backend as MemoryBlockBackend).bytes.slice();
    expect(request(T_OUT, 0, { dataOut: new Uint8Array(512).fill(0x55) }).status).toBe(S_IOERR);
    expect((backend as MemoryBlockBackend).bytes).toEqual(before);
    expect(request(T_IN, 0, { dataIn: 512 }).status).toBe(S_OK);
    expect(request(T_FLUSH, 0).status).toBe(S_OK);
  });

  it('FLUSH flushes the backend and answers OK', () => {
    const { request, backend } = make();
    expect(request(T_FLUSH, 0).status).toBe(S_OK);
    expect((backend as MemoryBlockBackend).flushes).toBe(1);
  });

  it('without VIRTIO_BLK_F_FLUSH negotiated every write is made durable before it completes (5.2.5)', () => {
    const { request, backend } = make({ features: 0xffff_ffff & ~F_FLUSH });
    request(T_OUT, 0, { dataOut: new Uint8Array(512) });
    expect((backend as MemoryBlockBackend).flushes).toBe(1);
    const withFlush = make();
    withFlush.request(T_OUT, 0, { dataOut: new Uint8Array(512) });
    expect((withFlush.backend as MemoryBlockBackend).flushes).toBe(0);
  });

  it('GET_ID returns the 20-byte serial, NUL-padded, unterminated at 20 characters', () => {
    const full = make({ serial: 'BHYVE-0123-4567-89AB' }).request(T_GET_ID, 0, { dataIn: 20 });
    expect(full.status).toBe(S_OK);
    expect(Buffer.from(full.data!).toString('latin1')).toBe('BHYVE-0123-4567-89AB');
    const short = make({ serial: 'disk7' }).request(T_GET_ID, 0, { dataIn: 20 });
    expect(Array.from(short.data!)).toEqual([...Buffer.from('disk7'), ...new Array(15).fill(0)]);
  });

  it('GET_ID into a buffer shorter than 20 bytes writes only what fits', () => {
    const r = make({ serial: 'BHYVE-0123-4567-89AB' }).request(T_GET_ID, 0, { dataIn: 8 });
    expect(r.status).toBe(S_OK);
    expect(Buffer.from(r.data!).toString('latin1')).toBe('BHYVE-01');
  });

  it('request types whose features are not offered (DISCARD) and unknown types get UNSUPP', () => {
    const { request } = make();
    expect(request(T_DISCARD, 0, { dataOut: new Uint8Array(16) }).status).toBe(S_UNSUPP);
    expect(request(10, 0, { dataIn: 48 }).status).toBe(S_UNSUPP); // GET_LIFETIME
    expect(request(0xdead_beef, 0).status).toBe(S_UNSUPP);
  });

  it('requests larger than the host I/O chunk are read and written whole', () => {
    const sectors = (3 * BLK_IO_CHUNK) / 512 + 8;
    const { request } = make({ sectors });
    const data = pattern(2 * BLK_IO_CHUNK + 4096, 5);
    expect(request(T_OUT, 3, { dataOut: data }).status).toBe(S_OK);
    expect(request(T_IN, 3, { dataIn: data.length }).data).toEqual(data);
  });

  it('serves several chains made available before one notify, in order', () => {
    const { d, backend } = make({ sectors: 64 });
    const a = d.post(0, [{ len: 16, write: false, data: header(T_IN, 1) }, { len: 512, write: true }, { len: 1, write: true }]);
    const b = d.post(0, [{ len: 16, write: false, data: header(T_IN, 2) }, { len: 512, write: true }, { len: 1, write: true }]);
    d.notify(0);
    expect(d.takeUsed(0).map((u) => u.id)).toEqual([0, 3]);
    expect(d.bytes(a[1], 512)).toEqual((backend as MemoryBlockBackend).bytes.subarray(512, 1024));
    expect(d.bytes(b[1], 512)).toEqual((backend as MemoryBlockBackend).bytes.subarray(1024, 1536));
  });
});

describe('virtio-blk disk reads through hostInput (trace and replay)', () => {
  it('passes every chunk of disk data read to hostInput under the device name', () => {
    const { request, inputs } = make({ sectors: 64 });
    request(T_IN, 0, { dataIn: 4096 });
    expect(inputs).toEqual([{ device: 'virtio-blk@0:4.0', len: 4096 }]);
    request(T_OUT, 0, { dataOut: new Uint8Array(512) });
    request(T_GET_ID, 0, { dataIn: 20 });
    expect(inputs).toHaveLength(1); // only disk data read for the guest is a host input
  });

  it('a replay with a zero stand-in of the recorded capacity gives the guest the recorded bytes', () => {
    const recorded = pattern(512, 77);
    const { blk, request } = make({ backend: new ZeroBlockBackend(64 * 512), hostInput: () => recorded });
    expect(blk.configRead(0, 4)).toBe(64);
    expect(request(T_IN, 5, { dataIn: 512 }).data).toEqual(recorded);
  });

  it('a replayer answer of the wrong length is clipped or zero-padded, never overrunning the buffer', () => {
    const long = make({ hostInput: () => new Uint8Array(4096).fill(0xaa) });
    const r = long.request(T_IN, 0, { dataIn: 512 });
    expect(r.status).toBe(S_OK);
    expect(r.used[0].len).toBe(513);
    const short = make({ hostInput: () => new Uint8Array(3).fill(0xbb) }).request(T_IN, 0, { dataIn: 512 });
    expect(Array.from(short.data!.subarray(0, 4))).toEqual([0xbb, 0xbb, 0xbb, 0]);
  });
});

describe('virtio-blk against a hostile driver', () => {
  it('a header shorter than 16 bytes gets IOERR', () => {
    const { d } = make();
    const addrs = d.submit(0, [{ len: 8, write: false, data: header(T_IN, 0).subarray(0, 8) }, { len: 1, write: true }]);
    expect(d.mem.read8(addrs[1])).toBe(S_IOERR);
    expect(d.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('a request without a device-writable status byte sets DEVICE_NEEDS_RESET and is not executed', () => {
    const { d, backend } = make();
    const before = (backend as MemoryBlockBackend).bytes.slice();
    expect(() =>
      d.submit(0, [
        { len: 16, write: false, data: header(T_OUT, 0) },
        { len: 512, write: false, data: new Uint8Array(512).fill(0x77) },
        { len: 1, write: false },
      ]),
    ).not.toThrow();
    expect(d.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
    expect((backend as MemoryBlockBackend).bytes).toEqual(before);
  });

  it('IN whose data buffer is device-readable (wrong direction) is IOERR and writes no guest memory', () => {
    const { d } = make();
    const sentinel = new Uint8Array(512).fill(0x5a);
    const addrs = d.submit(0, [{ len: 16, write: false, data: header(T_IN, 0) }, { len: 512, write: false, data: sentinel }, { len: 1, write: true }]);
    expect(d.mem.read8(addrs[2])).toBe(S_IOERR);
    expect(d.bytes(addrs[1], 512)).toEqual(sentinel);
  });

  it('OUT whose data buffer is device-writable (wrong direction) is IOERR and writes nothing to the disk', () => {
    const { d, backend } = make();
    const before = (backend as MemoryBlockBackend).bytes.slice();
    const addrs = d.submit(0, [{ len: 16, write: false, data: header(T_OUT, 0) }, { len: 512, write: true }, { len: 1, write: true }]);
    expect(d.mem.read8(addrs[2])).toBe(S_IOERR);
    expect((backend as MemoryBlockBackend).bytes).toEqual(before);
  });

  it('a data buffer outside guest RAM breaks the queue (NEEDS_RESET): no host exception, no stray write', () => {
    const { d } = make();
    const ramBefore = d.mem.ram.slice();
    expect(() =>
      d.submit(0, [{ len: 16, write: false, data: header(T_IN, 0) }, { addr: d.mem.size - 256, len: 512, write: true }, { len: 1, write: true }]),
    ).not.toThrow();
    expect(d.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
    // Only the driver's own descriptor/avail writes differ; the device wrote nothing (no used element).
    expect(d.takeUsed(0)).toEqual([]);
    expect(d.mem.ram.subarray(d.mem.size - 256)).toEqual(ramBefore.subarray(d.mem.size - 256));
  });

  it('a chain that loops breaks the queue instead of hanging', () => {
    const { d } = make();
    expect(() => d.submit(0, [{ len: 16, write: false, data: header(T_IN, 0), rawFlags: 1, rawNext: 0 }])).not.toThrow();
    expect(d.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
  });

  it('a status byte in a huge writable buffer lands at its last byte, within the buffer', () => {
    const { d } = make({ sectors: 64 });
    const addrs = d.submit(0, [{ len: 16, write: false, data: header(T_FLUSH, 0) }, { len: 4096, write: true }]);
    expect(d.mem.read8(addrs[1] + 4095)).toBe(S_OK);
    expect(d.takeUsed(0)).toEqual([{ id: 0, len: 4096 }]);
  });

  it('requests never reach the backend before DRIVER_OK (3.1.1)', () => {
    const backend = new MemoryBlockBackend(new Uint8Array(8 * 512));
    const blk = new VirtioBlk({ name: 'b', backend, readOnly: false, logicalSectorSize: 512, physicalSectorSize: 512, serial: '', hostInput: (_d, x) => x });
    const d = new TestDriver(blk);
    d.init(0xffff_ffff, 1, { driverOk: false });
    d.submit(0, [{ len: 16, write: false, data: header(T_OUT, 0) }, { len: 512, write: false, data: new Uint8Array(512).fill(1) }, { len: 1, write: true }]);
    expect(backend.bytes[0]).toBe(0);
    d.driverOk(); // the transport serves what was made available
    expect(backend.bytes[0]).toBe(1);
  });
});
