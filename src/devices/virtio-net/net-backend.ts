// The host side of a virtio-net NIC. hvsim has no host network: its backends are deterministic
// peers (echo, a pcap file, a virtual switch between the NICs of one run). A backend hands
// frames to the NIC through an RxQueue the NIC drains whenever the guest has receive buffers, so
// a frame waits (in order) rather than being lost when the guest is slow; the NIC, not the
// backend, sends frames through the trace's hostInput on their way into guest memory.

/** Frames waiting for the guest, oldest first. Bounded so a guest that transmits but never
 *  posts receive buffers cannot grow host memory without limit: beyond `limit`, new frames are
 *  dropped (a real NIC's FIFO overflow) and counted. */
export class RxQueue {
  private frames: Uint8Array[] = [];
  private head = 0;
  dropped = 0;
  /** Called when a frame arrives (the NIC tries to receive it). */
  onArrival: (() => void) | null = null;

  constructor(public limit = 1024) {}

  get length(): number {
    return this.frames.length - this.head;
  }

  push(frame: Uint8Array): void {
    if (this.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.frames.push(frame);
    this.onArrival?.();
  }

  peek(): Uint8Array | null {
    return this.head < this.frames.length ? this.frames[this.head] : null;
  }

  shift(): Uint8Array | null {
    if (this.head >= this.frames.length) return null;
    const f = this.frames[this.head++];
    if (this.head > 64 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
    return f;
  }

  clear(): void {
    this.frames = [];
    this.head = 0;
  }

  /** Pending frames as hex strings (device state). */
  save(): string[] {
    return this.frames.slice(this.head).map((f) => Buffer.from(f).toString('hex'));
  }

  load(hex: readonly string[]): void {
    this.frames = hex.map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
    this.head = 0;
  }
}

export interface NetBackend {
  /** For messages and docs: "echo", "pcap=in.pcap", "switch=lan0", "none". */
  readonly description: string;
  /** The NIC is live (DRIVER_OK): the backend may start offering frames (pcap timing starts). */
  start(): void;
  /** A frame the guest transmitted (Ethernet, without the virtio-net header). */
  transmit(frame: Uint8Array, nowNs: number): void;
  /** Device reset: forget timers and frames in flight. */
  reset(): void;
  /** Release host resources at the end of the run. */
  close(): void;
  saveState(): Record<string, unknown>;
  loadState(s: Record<string, unknown>): void;
}

/** No peer: transmitted frames vanish, nothing is ever received (bhyve's virtio-net without a
 *  backend behaves the same). */
export class NullBackend implements NetBackend {
  readonly description = 'none';
  start(): void {}
  transmit(): void {}
  reset(): void {}
  close(): void {}
  saveState(): Record<string, unknown> {
    return {};
  }
  loadState(): void {}
}

/** Ethernet: destination MAC at bytes 0-5, source at 6-11 (IEEE 802.3 clause 3.1.1). */
export const ETH_ADDR_LEN = 6;
export const ETH_HEADER_LEN = 14;

/** The echo peer: every frame the guest sends comes back with source and destination swapped,
 *  as a host answering from the address the guest wrote to. Frames shorter than an Ethernet
 *  header are not frames and are dropped. */
export class EchoBackend implements NetBackend {
  readonly description = 'echo';
  constructor(private readonly rx: RxQueue) {}
  start(): void {}
  transmit(frame: Uint8Array): void {
    if (frame.length < ETH_HEADER_LEN) return;
    const back = frame.slice();
    back.set(frame.subarray(6, 12), 0);
    back.set(frame.subarray(0, 6), 6);
    this.rx.push(back);
  }
  reset(): void {}
  close(): void {}
  saveState(): Record<string, unknown> {
    return {};
  }
  loadState(): void {}
}
