// Helpers shared by the port-I/O devices: how a device names its port ranges and joins a
// PortIoBus, access-size masks, and the ISA bus-sizing rule for byte-wide registers.
//
// Every port device in this folder has the same shape:
//   readonly ports: readonly PortSpan[]   the ranges it decodes (fixed at construction)
//   attach(bus)                           registers those ranges on the bus (calls attachPorts)
//   ioRead / ioWrite                      the PortHandler contract (never throw)
//   reset / saveState / loadState         the Device contract (state is JSON-plain)

import type { PortIoBus } from '../machine/io-bus.js';
import type { PortDevice } from './device.js';

/** One contiguous range of ports a device decodes. */
export interface PortSpan {
  readonly first: number;
  readonly count: number;
  /** Name shown by PortIoBus.nameOf (e.g. "com1", "pic-master"). */
  readonly name: string;
}

/** A port device that knows its own port ranges and can register itself on a bus. */
export interface AttachablePortDevice extends PortDevice {
  readonly ports: readonly PortSpan[];
  attach(bus: PortIoBus): void;
}

/** Register every span of `dev` on `bus` (throws on a conflict: that is a configuration error). */
export function attachPorts(bus: PortIoBus, dev: AttachablePortDevice): void {
  for (const span of dev.ports) bus.register(span.first, span.count, dev, span.name);
}

/** Clamp an access size to 1, 2 or 4 (the contract only promises those; be defined for others). */
export function normSize(size: number): 1 | 2 | 4 {
  return size >= 4 ? 4 : size === 2 || size === 3 ? 2 : 1;
}

/** Mask of the low `size` bytes. */
export function sizeMask(size: number): number {
  const s = normSize(size);
  return s === 4 ? 0xffffffff : s === 2 ? 0xffff : 0xff;
}

/**
 * A word/dword access to byte-wide registers, split the way the ISA bus sizes a 16/32-bit
 * cycle to an 8-bit device: byte i goes to port+i, little-endian. `readByte` must give a
 * defined answer for any port (devices return 0xff for ports they do not decode).
 */
export function readBytewise(port: number, size: number, readByte: (port: number) => number): number {
  const n = normSize(size);
  let v = 0;
  for (let i = 0; i < n; i++) v |= (readByte((port + i) & 0xffff) & 0xff) << (8 * i);
  return v >>> 0;
}

export function writeBytewise(port: number, size: number, value: number, writeByte: (port: number, byte: number) => void): void {
  const n = normSize(size);
  for (let i = 0; i < n; i++) writeByte((port + i) & 0xffff, (value >>> (8 * i)) & 0xff);
}
