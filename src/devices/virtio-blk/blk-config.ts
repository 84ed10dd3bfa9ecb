// Builds a VirtioBlk from its `-s` conf. The image is opened here, so a missing or unreadable
// one is an error before the guest starts. A replay passes `standInBytes` (the recorded image
// size) instead: the image is not opened and recorded disk reads come back through hostInput.

import { pciAddressName } from '../pci/pci-host.js';
import { parseBlkConf } from './blk-options.js';
import { FileBlockBackend, ZeroBlockBackend, type BlockBackend } from './block-backend.js';
import { VirtioBlk } from './virtio-blk.js';

export interface VirtioBlkSetup {
  bus: number;
  slot: number;
  function: number;
  conf: string | null;
  hostInput(device: string, data: Uint8Array): Uint8Array;
  /** Replay without the image: a zero-filled stand-in of this size (VirtioBlk.sizeBytes of the recording). */
  standInBytes?: number;
}

/** "virtio-blk@00:04.0": the device name in traces (hostInput) and messages. */
export function blkDeviceName(bus: number, slot: number, fn: number): string {
  return `virtio-blk@${pciAddressName(bus, slot, fn)}`;
}

/** Throws BlkConfError / BlockBackendError with a one-line message (the caller prefixes the -s option). */
export function createVirtioBlk(s: VirtioBlkSetup): VirtioBlk {
  const o = parseBlkConf(s.conf);
  const backend: BlockBackend =
    s.standInBytes !== undefined ? new ZeroBlockBackend(s.standInBytes, o.readOnly) : new FileBlockBackend(o.path, { readOnly: o.readOnly, sync: o.sync });
  return new VirtioBlk({
    name: blkDeviceName(s.bus, s.slot, s.function),
    backend,
    readOnly: o.readOnly,
    logicalSectorSize: o.logicalSectorSize,
    physicalSectorSize: o.physicalSectorSize,
    serial: o.serial,
    hostInput: s.hostInput,
  });
}
