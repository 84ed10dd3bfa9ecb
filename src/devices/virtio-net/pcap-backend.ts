// `pcap=in.pcap`: frames from a capture file offered to the guest at their recorded spacing.
//
// Delivery is a function of virtual time only: the first packet is due when the NIC goes live
// (the driver sets DRIVER_OK; virtio 1.2, 3.1.1 step 8), packet k at that moment plus its
// timestamp minus the first packet's (virtual nanoseconds of ctx.clock). A due packet waits in
// the receive queue until the guest has a buffer for it, so none is lost to a slow guest.
// Frames the guest sends are not answered (the capture is a one-way feed).

import type { DeviceClock } from '../device.js';
import type { NetBackend, RxQueue } from './net-backend.js';
import { pcapDeltaNs, type PcapPacket } from './pcap.js';

export class PcapInputBackend implements NetBackend {
  readonly description: string;
  /** Index of the next packet not yet handed to the receive queue. */
  private next = 0;
  private originNs = -1;
  private timer = -1;

  constructor(
    path: string,
    private readonly packets: readonly PcapPacket[],
    private readonly rx: RxQueue,
    private readonly clock: DeviceClock,
  ) {
    this.description = `pcap=${path}`;
    // The capture is delivered whole: room for every packet even if the guest never reads.
    rx.limit = Math.max(rx.limit, packets.length);
  }

  start(): void {
    if (this.originNs >= 0) return;
    this.originNs = this.clock.nowNs();
    this.schedule();
  }

  /** Virtual time at which packet i is due. */
  dueNs(i: number): number {
    return this.originNs + Math.max(0, pcapDeltaNs(this.packets[0], this.packets[i]));
  }

  private schedule(): void {
    if (this.next >= this.packets.length) return;
    const wait = Math.max(0, this.dueNs(this.next) - this.clock.nowNs());
    this.timer = this.clock.after(wait, () => this.fire());
  }

  private fire(): void {
    this.timer = -1;
    const now = this.clock.nowNs();
    // Every packet due by now, in file order (a capture whose timestamps go backwards delivers
    // the late-stamped packet right after its predecessor).
    while (this.next < this.packets.length && this.dueNs(this.next) <= now) {
      this.rx.push(this.packets[this.next++].data);
    }
    this.schedule();
  }

  transmit(): void {}

  reset(): void {
    if (this.timer >= 0) this.clock.cancel(this.timer);
    this.timer = -1;
    // A reset guest gets the capture again from the start when its driver comes back.
    this.next = 0;
    this.originNs = -1;
  }

  close(): void {}

  saveState(): Record<string, unknown> {
    return { next: this.next, originNs: this.originNs };
  }

  loadState(s: Record<string, unknown>): void {
    if (this.timer >= 0) this.clock.cancel(this.timer);
    this.timer = -1;
    this.next = typeof s.next === 'number' ? s.next : 0;
    this.originNs = typeof s.originNs === 'number' ? s.originNs : -1;
    if (this.originNs >= 0) this.schedule();
  }
}
