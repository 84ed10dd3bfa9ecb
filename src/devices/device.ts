// What a device is to the machine: registers on a bus, an interrupt line, the clock.
// A device never imports the machine or other devices; the machine wires it up.

import type { PortHandler } from '../machine/io-bus.js';
import type { MmioHandler } from '../machine/memory.js';

/** Plain-data device state, for digests, snapshots and replay seeks. */
export type DeviceState = Record<string, unknown>;

export interface Device {
  readonly name: string;
  /** Power-on/reset state. */
  reset(): void;
  saveState(): DeviceState;
  loadState(state: DeviceState): void;
}

export interface PortDevice extends Device, PortHandler {}
export interface MmioDevice extends Device, MmioHandler {}

/** Services the machine hands to devices that need time. */
export interface DeviceClock {
  /** Virtual nanoseconds since power-on. */
  nowNs(): number;
  /** Run `cb` when `ns` virtual nanoseconds have passed; returns an id for cancel. */
  after(ns: number, cb: () => void): number;
  cancel(id: number): void;
}

/** How a device reports output meant for the host (serial bytes, debug exit, ...). */
export type ByteSink = (byte: number) => void;
