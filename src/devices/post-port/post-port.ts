// Port 0x80: the POST code / I/O delay port. Guests write to it to wait about 1 us
// (Linux's outb_p and io_delay) and firmware writes POST codes to it.
//
// Behaviour follows QEMU's pc.c ioport80: writes do nothing, reads return all ones. The
// last value written is kept for debugging (lastValue) and in the state.

import type { PortIoBus } from '../../machine/io-bus.js';
import type { DeviceState } from '../device.js';
import { attachPorts, sizeMask, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateNum } from '../state.js';

export const POST_PORT = 0x80;

export class PostPort implements AttachablePortDevice {
  readonly name = 'post';
  readonly ports: readonly PortSpan[];
  /** Last value written (masked to the access size), 0 before any write. */
  lastValue = 0;
  /** Number of writes seen (a cheap progress indicator for debugging). */
  writes = 0;

  constructor(port: number = POST_PORT) {
    this.ports = [{ first: port & 0xffff, count: 1, name: 'post' }];
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  reset(): void {
    this.lastValue = 0;
    this.writes = 0;
  }

  saveState(): DeviceState {
    return { lastValue: this.lastValue, writes: this.writes };
  }

  loadState(s: DeviceState): void {
    this.lastValue = stateNum(s, 'lastValue') >>> 0;
    this.writes = stateNum(s, 'writes');
  }

  ioRead(_port: number, size: number): number {
    return sizeMask(size);
  }

  ioWrite(_port: number, size: number, value: number): void {
    this.lastValue = (value & sizeMask(size)) >>> 0;
    this.writes++;
  }
}
