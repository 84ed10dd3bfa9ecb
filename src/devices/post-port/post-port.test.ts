import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import { PostPort } from './post-port.js';

describe('port 0x80', () => {
  it('ignores writes (keeping the last for debugging) and reads all ones like QEMU', () => {
    const dev = new PostPort();
    const bus = new PortIoBus();
    dev.attach(bus);
    expect(bus.nameOf(0x80)).toBe('post');
    expect(dev.ioRead(0x80, 1)).toBe(0xff);
    dev.ioWrite(0x80, 1, 0x55);
    dev.ioWrite(0x80, 1, 0x1aa);
    expect(dev.lastValue).toBe(0xaa);
    expect(dev.ioRead(0x80, 1)).toBe(0xff);
    expect(dev.ioRead(0x80, 2)).toBe(0xffff);
    expect(dev.ioRead(0x80, 4)).toBe(0xffffffff);
    const copy = new PostPort();
    copy.loadState(JSON.parse(JSON.stringify(dev.saveState())));
    expect(copy.lastValue).toBe(0xaa);
    copy.reset();
    expect(copy.lastValue).toBe(0);
  });
});
