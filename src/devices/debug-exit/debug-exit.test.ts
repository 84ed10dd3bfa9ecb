import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import { IsaDebugExit, debugExitStatus } from './debug-exit.js';

describe('isa-debug-exit', () => {
  it('defaults to kvm-unit-tests ports 0xf4-0xf7 and reports written values', () => {
    const seen: number[] = [];
    const dev = new IsaDebugExit({ onExit: (v) => seen.push(v) });
    const bus = new PortIoBus();
    dev.attach(bus);
    expect([0xf3, 0xf4, 0xf7, 0xf8].map((p) => bus.nameOf(p))).toEqual([null, 'isa-debug-exit', 'isa-debug-exit', null]);
    dev.ioWrite(0xf4, 4, 1); // kvm-unit-tests exit(1) -> outl(1, 0xf4)
    dev.ioWrite(0xf4, 1, 0x1ff); // masked to the access size
    dev.ioWrite(0xf6, 2, 0x12345);
    expect(seen).toEqual([1, 0xff, 0x2345]);
    expect(dev.ioRead(0xf4, 4)).toBe(0);
  });

  it('computes QEMU exit status (v << 1) | 1', () => {
    expect(debugExitStatus(0)).toBe(1);
    expect(debugExitStatus(1)).toBe(3);
    expect(debugExitStatus(0x7fffffff)).toBe(0xffffffff);
  });

  it('takes QEMU-style iobase/iosize', () => {
    const dev = new IsaDebugExit({ iobase: 0x501, iosize: 2, onExit: () => {} });
    expect(dev.ports).toEqual([{ first: 0x501, count: 2, name: 'isa-debug-exit' }]);
    expect(() => new IsaDebugExit({ iobase: 0xffff, iosize: 2, onExit: () => {} })).toThrow(RangeError);
  });
});
