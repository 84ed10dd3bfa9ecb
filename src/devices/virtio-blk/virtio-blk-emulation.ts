// `-s slot,virtio-blk,path[,options]`: the block device on a transitional virtio-pci function.
// Disk data read for the guest reaches the trace as host input of "virtio-blk@bb:ss.f".

import type { PciEmulationContext } from '../../machine/pci-emulations.js';
import type { PciFunction } from '../pci/pci-function.js';
import { VirtioPciFunction } from '../virtio/virtio-pci.js';
import { VirtioBlk } from './virtio-blk.js';
import { blkDeviceName, createVirtioBlk } from './blk-config.js';

export interface VirtioBlkReplay {
  /** Run without the image: a zero stand-in of the recorded size (VirtioBlk.sizeBytes), the
   *  recorded reads coming back through ctx.hostInput. */
  standInBytes: number;
}

export function virtioBlkEmulation(ctx: PciEmulationContext, replay?: VirtioBlkReplay): PciFunction | { error: string } {
  const name = blkDeviceName(ctx.bus, ctx.slot, ctx.function);
  let model: VirtioBlk;
  try {
    model = createVirtioBlk({ ...ctx, hostInput: (d, x) => ctx.hostInput(d, x), standInBytes: replay?.standInBytes });
  } catch (e) {
    return { error: (e as Error).message };
  }
  return new VirtioPciFunction(model, ctx.mem, name);
}

/** The block model behind a function built by virtioBlkEmulation (for the recorder's header: its sizeBytes). */
export function virtioBlkOf(fn: PciFunction): VirtioBlk | null {
  return fn instanceof VirtioPciFunction && fn.transport.model instanceof VirtioBlk ? fn.transport.model : null;
}
