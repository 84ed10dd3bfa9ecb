// QEMU's isa-debug-exit device (hw/misc/debugexit.c): any write to its ports ends the
// emulation with exit status (value << 1) | 1. Here the device only reports the written
// value; the machine turns it into an exit record with that status.
//
// kvm-unit-tests use iobase 0xf4, iosize 4 (its x86/run passes
// "-device isa-debug-exit,iobase=0xf4,iosize=0x4" and lib/x86/io.c's exit() does
// outl(code, 0xf4)), so that is the default here. (QEMU's own defaults are 0x501 / 2.)
//
// Writes of any size (1, 2, 4) at any port of the range report the value masked to the
// access size. Reads return 0. The device has no state.

import type { PortIoBus } from '../../machine/io-bus.js';
import type { DeviceState } from '../device.js';
import { attachPorts, sizeMask, type AttachablePortDevice, type PortSpan } from '../port-device.js';

export const DEBUG_EXIT_DEFAULT_IOBASE = 0xf4;
export const DEBUG_EXIT_DEFAULT_IOSIZE = 4;

/** The exit status QEMU would give for a written value. */
export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) >>> 0;
}

export interface IsaDebugExitOptions {
  iobase?: number;
  iosize?: number;
  /** Called with the written value (masked to the access size). */
  onExit: (value: number) => void;
}

export class IsaDebugExit implements AttachablePortDevice {
  readonly name = 'isa-debug-exit';
  readonly ports: readonly PortSpan[];
  private readonly onExit: (value: number) => void;

  constructor(opts: IsaDebugExitOptions) {
    const iobase = opts.iobase ?? DEBUG_EXIT_DEFAULT_IOBASE;
    const iosize = opts.iosize ?? DEBUG_EXIT_DEFAULT_IOSIZE;
    if (!Number.isInteger(iobase) || !Number.isInteger(iosize) || iobase < 0 || iosize < 1 || iobase + iosize > 0x10000) {
      throw new RangeError(`isa-debug-exit: bad iobase/iosize 0x${iobase.toString(16)}/${iosize}`);
    }
    this.ports = [{ first: iobase, count: iosize, name: 'isa-debug-exit' }];
    this.onExit = opts.onExit;
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  reset(): void {}

  saveState(): DeviceState {
    return {};
  }

  loadState(_s: DeviceState): void {}

  ioRead(_port: number, _size: number): number {
    return 0;
  }

  ioWrite(_port: number, size: number, value: number): void {
    this.onExit((value & sizeMask(size)) >>> 0);
  }
}
