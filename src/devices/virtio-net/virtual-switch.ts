// `switch=NAME`: the NICs of one run that name the same switch share an Ethernet segment.
//
// The switch is a learning bridge (IEEE 802.1D-2004 7.8, without spanning tree or ageing):
// it learns the source MAC of each frame a port sends; a frame to a learnt unicast address goes
// to that port only, a broadcast, multicast or not-yet-learnt one is flooded to every other port.
// A frame is never sent back to its own port. Delivery is synchronous at the sender's
// transmit, in port attachment order (the order of the -s options): deterministic.

import type { NetBackend, RxQueue } from './net-backend.js';
import { ETH_HEADER_LEN } from './net-backend.js';

export class VirtualSwitch {
  private readonly ports: RxQueue[] = [];
  /** MAC (as 12 hex digits) -> port index. A Map iterates in insertion order. */
  private readonly fdb = new Map<string, number>();

  constructor(readonly name: string) {}

  attach(rx: RxQueue): number {
    this.ports.push(rx);
    return this.ports.length - 1;
  }

  get portCount(): number {
    return this.ports.length;
  }

  forward(from: number, frame: Uint8Array): void {
    if (frame.length < ETH_HEADER_LEN) return;
    const multicastSrc = (frame[6] & 1) !== 0;
    if (!multicastSrc) this.fdb.set(macKey(frame, 6), from);
    const multicastDst = (frame[0] & 1) !== 0; // includes broadcast ff:ff:ff:ff:ff:ff
    const to = multicastDst ? undefined : this.fdb.get(macKey(frame, 0));
    if (to !== undefined) {
      if (to !== from) this.ports[to].push(frame.slice());
      return;
    }
    for (let p = 0; p < this.ports.length; p++) if (p !== from) this.ports[p].push(frame.slice());
  }

  /** Forget learnt addresses of a port (its NIC was reset and may come back with another MAC). */
  forgetPort(port: number): void {
    for (const [mac, p] of [...this.fdb]) if (p === port) this.fdb.delete(mac);
  }

  saveFdb(): [string, number][] {
    return [...this.fdb];
  }
}

function macKey(f: Uint8Array, at: number): string {
  let s = '';
  for (let i = at; i < at + 6; i++) s += (f[i] < 16 ? '0' : '') + f[i].toString(16);
  return s;
}

/** Switches of one run, by name. The run is identified by an object every device of the run
 *  shares (the machine's guest memory), so two machines in one process never share a switch. */
const switchesByRun = new WeakMap<object, Map<string, VirtualSwitch>>();

export function switchFor(run: object, name: string): VirtualSwitch {
  let m = switchesByRun.get(run);
  if (m === undefined) switchesByRun.set(run, (m = new Map()));
  let sw = m.get(name);
  if (sw === undefined) m.set(name, (sw = new VirtualSwitch(name)));
  return sw;
}

export class SwitchBackend implements NetBackend {
  readonly description: string;
  private readonly port: number;

  constructor(
    private readonly sw: VirtualSwitch,
    rx: RxQueue,
  ) {
    this.description = `switch=${sw.name}`;
    this.port = sw.attach(rx);
  }

  start(): void {}

  transmit(frame: Uint8Array): void {
    this.sw.forward(this.port, frame);
  }

  reset(): void {
    this.sw.forgetPort(this.port);
  }

  close(): void {}

  saveState(): Record<string, unknown> {
    return { port: this.port };
  }

  loadState(): void {}
}
