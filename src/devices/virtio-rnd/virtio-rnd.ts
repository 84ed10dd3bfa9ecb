// virtio entropy device (virtio 1.2, 5.4): one request queue; the driver posts device-writable
// buffers and the device fills them with random bytes.
//
// The bytes come from the machine's seeded generator (same seed, same bytes) and pass through
// hostInput before the guest sees them: the recorder logs them and returns them unchanged, a
// replayer returns the recorded ones, so a trace replays the entropy the guest really got.
//
// 5.4.6.2 lets the device fill less than the whole buffer; hvsim fills at most MAX_FILL bytes
// per buffer so a guest cannot make the host allocate its whole RAM in one request. Readable
// buffers (5.4.6.1: the driver MUST NOT post them) are ignored; the chain is returned with the
// bytes written to its writable part (0 if it has none). No feature bits, no config space.

import type { DeviceState } from '../device.js';
import { stateNum } from '../state.js';
import type { DescriptorChain } from '../virtio/descriptor-chain.js';
import type { VirtioDeviceContext, VirtioDeviceModel } from '../virtio/virtio-device.js';
import { VirtioDeviceType } from '../virtio/virtio-spec.js';
import type { Virtqueue } from '../virtio/virtqueue.js';

/** The seeded generator the machine gives devices. */
export interface EntropySource {
  nextBytes(n: number): Uint8Array;
}

/** Passes host-originated bytes through the trace: returns what the guest must see. */
export type HostInput = (bytes: Uint8Array) => Uint8Array;

export const VIRTIO_RND_QUEUE_SIZE = 64;
export const MAX_FILL = 4096;

export class VirtioRnd implements VirtioDeviceModel {
  readonly deviceType = VirtioDeviceType.ENTROPY;
  readonly deviceFeaturesLo = 0;
  readonly deviceFeaturesHi = 0;
  readonly queueMaxSizes = [VIRTIO_RND_QUEUE_SIZE];
  readonly configSize = 0;
  /** Bytes handed to the guest so far (statistics, part of the state). */
  bytesServed = 0;

  constructor(
    readonly name: string,
    private readonly source: EntropySource,
    private readonly hostInput: HostInput = (b) => b,
  ) {}

  attach(_ctx: VirtioDeviceContext): void {}

  configRead(_offset: number, _size: number): number { return 0; }
  configWrite(_offset: number, _size: number, _value: number): void {}

  queueNotify(queue: Virtqueue): void {
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      queue.pushUsed(chain, this.fill(chain));
    }
    queue.notifyDriver();
  }

  private fill(chain: DescriptorChain): number {
    const want = Math.min(chain.writableLength, MAX_FILL);
    if (want === 0) return 0;
    const bytes = this.hostInput(this.source.nextBytes(want));
    const n = chain.write(0, bytes.length > want ? bytes.subarray(0, want) : bytes);
    this.bytesServed += n;
    return n;
  }

  reset(): void {}

  saveState(): DeviceState {
    return { bytesServed: this.bytesServed };
  }

  loadState(s: DeviceState): void {
    this.bytesServed = stateNum(s, 'bytesServed');
  }
}
