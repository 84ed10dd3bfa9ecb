import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import { FW_CFG_FILE_DIR, FwCfg } from './fw-cfg.js';

function reader(dev: FwCfg) {
  return (key: number, n: number): number[] => {
    dev.ioWrite(0x510, 2, key);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(dev.ioRead(0x511, 1));
    return out;
  };
}

const text = (bytes: number[]) => String.fromCharCode(...bytes);

describe('fw_cfg traditional interface', () => {
  it('reads the "QEMU" signature at key 0, then zeros past the end', () => {
    const read = reader(new FwCfg({ ramSize: 256 << 20, nbCpus: 2 }));
    expect(text(read(0x0000, 4))).toBe('QEMU');
    expect(read(0x0000, 6)).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0]);
  });

  it('reports only the traditional interface in the ID item', () => {
    const read = reader(new FwCfg({ ramSize: 1 << 20, nbCpus: 1 }));
    expect(read(0x0001, 4)).toEqual([1, 0, 0, 0]);
  });

  it('gives RAM size as u64 LE and CPU counts as u16 LE', () => {
    const read = reader(new FwCfg({ ramSize: 6 * 2 ** 30 + 4096, nbCpus: 3, maxCpus: 8 }));
    expect(read(0x0003, 8)).toEqual([0x00, 0x10, 0x00, 0x80, 0x01, 0, 0, 0]);
    expect(read(0x0005, 2)).toEqual([3, 0]);
    expect(read(0x000f, 2)).toEqual([8, 0]);
  });

  it('restarts at offset 0 on every selector write and ignores bit 14 for reads', () => {
    const dev = new FwCfg({ ramSize: 1 << 20, nbCpus: 1 });
    const read = reader(dev);
    expect(text(read(0x0000, 2))).toBe('QE');
    expect(text(read(0x0000, 2))).toBe('QE');
    expect(text(read(0x4000, 4))).toBe('QEMU');
  });

  it('returns 0 for missing items and ignores data writes and odd sizes', () => {
    const dev = new FwCfg({ ramSize: 1 << 20, nbCpus: 1 });
    const read = reader(dev);
    expect(read(0x0002, 4)).toEqual([0, 0, 0, 0]); // no UUID configured
    expect(read(0x8005, 2)).toEqual([0, 0]); // arch-local, none
    dev.ioWrite(0x510, 2, 0);
    dev.ioWrite(0x511, 1, 0xff); // data write: ignored
    dev.ioWrite(0x510, 4, 0x0005); // invalid width: ignored
    expect(dev.ioRead(0x511, 2)).toBe(0); // invalid width: 0, no advance
    expect(dev.ioRead(0x510, 1)).toBe(0x51); // a byte read at 0x510 is a data read too
    expect(dev.ioRead(0x511, 1)).toBe(0x45);
  });

  it('serves the kernel command line', () => {
    const read = reader(new FwCfg({ ramSize: 1 << 20, nbCpus: 1, cmdline: 'console=ttyS0' }));
    expect(read(0x0014, 4)).toEqual([14, 0, 0, 0]);
    expect(text(read(0x0015, 14))).toBe('console=ttyS0\0');
  });

  it('lays out the file directory as big-endian 64-byte entries sorted by name', () => {
    const dev = new FwCfg({ ramSize: 1 << 20, nbCpus: 1 });
    dev.addFile('opt/x', new Uint8Array([9]));
    dev.addFile('etc/b', new Uint8Array(300).fill(7));
    dev.addFile('etc/a', new Uint8Array([1, 2, 3]));
    const read = reader(dev);
    const dir = read(FW_CFG_FILE_DIR, 4 + 3 * 64 + 1);
    expect(dir.slice(0, 4)).toEqual([0, 0, 0, 3]);
    const entry = (i: number) => dir.slice(4 + 64 * i, 4 + 64 * (i + 1));
    const e0 = entry(0);
    expect(e0.slice(0, 8)).toEqual([0, 0, 0, 3, 0x00, 0x20, 0, 0]);
    expect(text(e0.slice(8, 13))).toBe('etc/a');
    expect(e0.slice(13)).toEqual(new Array(51).fill(0));
    expect(entry(1).slice(0, 8)).toEqual([0, 0, 0x01, 0x2c, 0x00, 0x21, 0, 0]); // 300 bytes
    expect(text(entry(2).slice(8, 13))).toBe('opt/x');
    expect(entry(2).slice(4, 6)).toEqual([0x00, 0x22]);
    expect(dir[4 + 3 * 64]).toBe(0); // past the end
    expect(read(0x20, 4)).toEqual([1, 2, 3, 0]);
    expect(dev.selectorOf('etc/b')).toBe(0x21);
    expect(read(0x22, 1)).toEqual([9]);
  });

  it('refuses bad file names and reserved keys', () => {
    const dev = new FwCfg({ ramSize: 1 << 20, nbCpus: 1 });
    expect(() => dev.addFile('x'.repeat(56), new Uint8Array())).toThrow(RangeError);
    expect(() => dev.addFile('', new Uint8Array())).toThrow(RangeError);
    expect(() => dev.setItem(0x19, new Uint8Array())).toThrow(RangeError);
    expect(dev.addFile('x'.repeat(55), new Uint8Array())).toBe(0x20);
  });

  it('attaches at 0x510-0x511 and saves selector and offset', () => {
    const bus = new PortIoBus();
    const a = new FwCfg({ ramSize: 1 << 20, nbCpus: 1 });
    a.attach(bus);
    expect([bus.nameOf(0x510), bus.nameOf(0x511), bus.nameOf(0x514)]).toEqual(['fw_cfg', 'fw_cfg', null]);
    a.ioWrite(0x510, 2, 0);
    a.ioRead(0x511, 1);
    const b = new FwCfg({ ramSize: 1 << 20, nbCpus: 1 });
    b.loadState(JSON.parse(JSON.stringify(a.saveState())));
    expect(b.ioRead(0x511, 1)).toBe(0x45);
    b.reset();
    expect(b.ioRead(0x511, 1)).toBe(0x51);
  });
});
