// `-s slot,virtio-net[,backend][,out=FILE][,mac=MAC][,mtu=N]`: the network device on a
// transitional virtio-pci function. Frames into the guest reach the trace as host input of
// "virtio-net@bb:ss.f", frames out of it as host output.

import type { PciEmulationContext } from '../../machine/pci-emulations.js';
import type { PciFunction } from '../pci/pci-function.js';
import { VirtioPciFunction } from '../virtio/virtio-pci.js';
import { createVirtioNet, netDeviceName } from './net-config.js';
import type { VirtioNet } from './virtio-net.js';

/** `replay`: the run is a replay (frames come from the trace): `out=` is not written. */
export function virtioNetEmulation(ctx: PciEmulationContext, replay = false): PciFunction | { error: string } {
  const name = netDeviceName(ctx.bus, ctx.slot, ctx.function);
  let model: VirtioNet;
  try {
    // The guest memory identifies the run: NICs of one machine share its switches.
    model = createVirtioNet({ ...ctx, run: ctx.mem, hostInput: (d, x) => ctx.hostInput(d, x), hostOutput: (d, x) => ctx.hostOutput(d, x), replay });
  } catch (e) {
    return { error: (e as Error).message };
  }
  return new VirtioPciFunction(model, ctx.mem, name);
}
