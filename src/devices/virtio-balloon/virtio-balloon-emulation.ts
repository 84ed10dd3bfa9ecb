// `-s slot,virtio-balloon`: the traditional memory balloon on a transitional virtio-pci
// function. No options. The host controls it through the model:
//   const fn = ... as VirtioPciFunction; (fn.transport.model as VirtioBalloon).setTargetPages(n)
// (balloonOf() below does the checks).

import type { PciEmulationContext } from '../../machine/pci-emulations.js';
import { pciAddressName } from '../pci/pci-host.js';
import type { PciFunction } from '../pci/pci-function.js';
import { VirtioPciFunction } from '../virtio/virtio-pci.js';
import { VirtioBalloon } from './virtio-balloon.js';

export function virtioBalloonEmulation(ctx: PciEmulationContext): PciFunction | { error: string } {
  if (ctx.conf !== null && ctx.conf !== '') return { error: `virtio-balloon takes no options, got "${ctx.conf}"` };
  const name = `virtio-balloon@${pciAddressName(ctx.bus, ctx.slot, ctx.function)}`;
  return new VirtioPciFunction(new VirtioBalloon(name, ctx.mem.size), ctx.mem, name);
}

/** The balloon behind a PCI function, or null if it is not a virtio-balloon. */
export function balloonOf(fn: PciFunction): VirtioBalloon | null {
  return fn instanceof VirtioPciFunction && fn.transport.model instanceof VirtioBalloon ? fn.transport.model : null;
}
