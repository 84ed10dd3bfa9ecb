// `-s slot,virtio-rnd`: the entropy device on a transitional virtio-pci function. No options.
// Its bytes come from the machine's seeded generator and reach the trace as host input of
// "virtio-rnd@bb:ss.f".

import type { PciEmulationContext } from '../../machine/pci-emulations.js';
import { pciAddressName } from '../pci/pci-host.js';
import type { PciFunction } from '../pci/pci-function.js';
import { VirtioPciFunction } from '../virtio/virtio-pci.js';
import { VirtioRnd } from './virtio-rnd.js';

export function virtioRndEmulation(ctx: PciEmulationContext): PciFunction | { error: string } {
  if (ctx.conf !== null && ctx.conf !== '') return { error: `virtio-rnd takes no options, got "${ctx.conf}"` };
  const name = `virtio-rnd@${pciAddressName(ctx.bus, ctx.slot, ctx.function)}`;
  const model = new VirtioRnd(name, ctx.rng, (bytes) => ctx.hostInput(name, bytes));
  return new VirtioPciFunction(model, ctx.mem, name);
}
