// virtio-blk conf parsing (bhyve(8) block backend options) and the file backend: synchronous
// I/O on the image, read-only opening, durability through FLUSH.

import { mkdtempSync, readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BlkConfError, defaultSerial, parseBlkConf } from './blk-options.js';
import { BlockBackendError, FileBlockBackend } from './block-backend.js';
import { VirtioBlk } from './virtio-blk.js';
import { TestDriver } from './test-driver.js';

const dir = mkdtempSync(join(tmpdir(), 'hvsim-blk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('virtio-blk conf', () => {
  it('takes a path and bhyve\'s flags', () => {
    const o = parseBlkConf('/img/disk.raw,ro,nocache,direct,nodelete');
    expect(o).toMatchObject({ path: '/img/disk.raw', readOnly: true, nocache: true, sync: true, nodelete: true, logicalSectorSize: 512, physicalSectorSize: 512 });
    expect(parseBlkConf('path=/x').path).toBe('/x');
    expect(parseBlkConf('/x,sync').sync).toBe(true);
  });

  it('sectorsize=logical[/physical]: powers of two from 512, physical >= logical', () => {
    expect(parseBlkConf('/x,sectorsize=4096')).toMatchObject({ logicalSectorSize: 4096, physicalSectorSize: 4096 });
    expect(parseBlkConf('/x,sectorsize=512/4096')).toMatchObject({ logicalSectorSize: 512, physicalSectorSize: 4096 });
    for (const bad of ['sectorsize=256', 'sectorsize=1000', 'sectorsize=4096/512', 'sectorsize=', 'sectorsize=4k', 'sectorsize=512/']) {
      expect(() => parseBlkConf(`/x,${bad}`)).toThrow(BlkConfError);
    }
  });

  it('refuses unknown options, naming them, and a missing path', () => {
    expect(() => parseBlkConf('/x,bogus')).toThrow('unknown option bogus');
    expect(() => parseBlkConf('/x,ro=1')).toThrow('option ro takes no value');
    expect(() => parseBlkConf(null)).toThrow('missing disk image path');
    expect(() => parseBlkConf(',ro')).toThrow('missing disk image path');
  });

  it('serial: ser=/serial= up to 20 printable characters, else bhyve\'s BHYVE-XXXX-XXXX-XXXX from the MD5 of the path', () => {
    expect(parseBlkConf('/x,ser=ABC123').serial).toBe('ABC123');
    expect(parseBlkConf('/x,serial=ABC123').serial).toBe('ABC123');
    expect(() => parseBlkConf('/x,ser=123456789012345678901')).toThrow(BlkConfError);
    const md5 = createHash('md5').update('/img/disk.raw').digest('hex').toUpperCase();
    const s = defaultSerial('/img/disk.raw');
    expect(s).toBe(`BHYVE-${md5.slice(0, 4)}-${md5.slice(4, 8)}-${md5.slice(8, 12)}`);
    expect(s).toHaveLength(20);
    expect(parseBlkConf('/img/disk.raw').serial).toBe(s);
  });
});

describe('file block backend', () => {
  it('a missing or unreadable image is an error before the guest starts', () => {
    expect(() => new FileBlockBackend(join(dir, 'nope.img'), { readOnly: false, sync: false })).toThrow(BlockBackendError);
    expect(() => new FileBlockBackend(dir, { readOnly: true, sync: false })).toThrow(/not a regular file|EISDIR|cannot/);
    const p = join(dir, 'noperm.img');
    writeFileSync(p, new Uint8Array(512));
    chmodSync(p, 0o000);
    if (process.getuid?.() !== 0) expect(() => new FileBlockBackend(p, { readOnly: true, sync: false })).toThrow(BlockBackendError);
  });

  it('reads, writes, and bytes past the end of the file read as zero', () => {
    const p = join(dir, 'rw.img');
    writeFileSync(p, Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const b = new FileBlockBackend(p, { readOnly: false, sync: false });
    expect(b.sizeBytes).toBe(1000);
    const buf = new Uint8Array(8).fill(0xff);
    expect(b.read(996, buf)).toBe(true);
    expect(Array.from(buf)).toEqual([996 & 0xff, 997 & 0xff, 998 & 0xff, 999 & 0xff, 0, 0, 0, 0]);
    expect(b.write(0, Uint8Array.of(9, 9))).toBe(true);
    b.close();
    expect(readFileSync(p)[1]).toBe(9);
  });

  it('a read-only backend refuses writes and leaves the file alone', () => {
    const p = join(dir, 'ro.img');
    writeFileSync(p, new Uint8Array(512));
    chmodSync(p, 0o444); // ro must not even need write permission
    const b = new FileBlockBackend(p, { readOnly: true, sync: false });
    expect(b.write(0, Uint8Array.of(1))).toBe(false);
    expect(b.flush()).toBe(true);
    b.close();
    expect(readFileSync(p)[0]).toBe(0);
  });

  it('OUT then FLUSH through the device: the data is in the image file', () => {
    const p = join(dir, 'flush.img');
    writeFileSync(p, new Uint8Array(16 * 512));
    const backend = new FileBlockBackend(p, { readOnly: false, sync: false });
    const blk = new VirtioBlk({ name: 'virtio-blk@0:4.0', backend, readOnly: false, logicalSectorSize: 512, physicalSectorSize: 512, serial: 's', hostInput: (_d, x) => x });
    const d = new TestDriver(blk);
    d.init(0xffff_ffff);
    const hdr = (type: number, sector: number) => {
      const h = new Uint8Array(16);
      new DataView(h.buffer).setUint32(0, type, true);
      new DataView(h.buffer).setUint32(8, sector, true);
      return h;
    };
    const data = Uint8Array.from({ length: 512 }, (_, i) => (i * 3) & 0xff);
    const w = d.submit(0, [{ len: 16, write: false, data: hdr(1, 15) }, { len: 512, write: false, data }, { len: 1, write: true }]);
    expect(d.mem.read8(w[2])).toBe(0);
    const f = d.submit(0, [{ len: 16, write: false, data: hdr(4, 0) }, { len: 1, write: true }]);
    expect(d.mem.read8(f[1])).toBe(0);
    expect(new Uint8Array(readFileSync(p)).subarray(15 * 512)).toEqual(data);
    const r = d.submit(0, [{ len: 16, write: false, data: hdr(0, 15) }, { len: 512, write: true }, { len: 1, write: true }]);
    expect(d.bytes(r[1], 512)).toEqual(data);
    blk.close();
  });
});
