// The PCI device emulations `-s slot,emulation[,conf]` can name: emulation name -> factory.
// A factory builds the PciFunction for one slot from its context, or returns { error } with the
// reason the conf is refused (the platform prefixes it with the option). Virtio emulations add
// one import and one entry each.

import type { DeviceClock } from '../devices/device.js';
import { Uart16550 } from '../devices/uart16550/uart16550.js';
import {
  AMD_HOSTBRIDGE_IDS, HOSTBRIDGE_IDS, HostBridge, LpcBridge, PciUart, parseHostBridgeConf, pciAddressName, type PciFunction,
} from '../devices/pci/index.js';
import { virtioBlkEmulation } from '../devices/virtio-blk/virtio-blk-emulation.js';
import { blkDeviceName } from '../devices/virtio-blk/blk-config.js';
import { virtioNetEmulation } from '../devices/virtio-net/virtio-net-emulation.js';
import { virtioRndEmulation } from '../devices/virtio-rnd/virtio-rnd-emulation.js';
import { virtioBalloonEmulation } from '../devices/virtio-balloon/virtio-balloon-emulation.js';
import type { GuestMemory } from './memory.js';
import { PIRQ_ISA_IRQS } from './platform-layout.js';

export interface PciEmulationContext {
  bus: number;
  slot: number;
  function: number;
  /** Everything after the emulation name, unparsed; null if there was none. */
  conf: string | null;
  /** The -s argument as given, for messages. */
  arg: string;
  vmname: string;
  mem: GuestMemory;
  clock: DeviceClock;
  /** The machine's seeded generator. */
  rng: { nextBytes(n: number): Uint8Array };
  /** Host input for `device` (recorded / replayed by the machine): returns what the guest gets. */
  hostInput(device: string, data: Uint8Array): Uint8Array;
  /** Output of `device` for the host. */
  hostOutput(device: string, data: Uint8Array): void;
  /**
   * Set when a trace is replayed: devices take host data from the trace and must not touch host
   * files (a disk is a stand-in of its recorded size, a capture file is not rewritten).
   */
  replay?: { blkSizes: Readonly<Record<string, number>> };
}

export type PciEmulationFactory = (ctx: PciEmulationContext) => PciFunction | { error: string };

/** A name for the function in messages and BAR mappings: "uart@00:03.0". */
export function pciFunctionName(emulation: string, ctx: { bus: number; slot: number; function: number }): string {
  return `${emulation}@${pciAddressName(ctx.bus, ctx.slot, ctx.function)}`;
}

function hostbridge(emulation: string, ids: { vendorId: number; deviceId: number }): PciEmulationFactory {
  return (ctx) => {
    const parsed = parseHostBridgeConf(ctx.conf, ids);
    if (typeof parsed === 'string') return { error: parsed };
    return new HostBridge(pciFunctionName(emulation, ctx), parsed);
  };
}

const lpc: PciEmulationFactory = (ctx) => {
  if (ctx.bus !== 0) return { error: 'the LPC bridge can only be on bus 0' };
  if (ctx.conf !== null) return { error: `lpc takes no options (COM ports are configured with -l), got "${ctx.conf}"` };
  return new LpcBridge(pciFunctionName('lpc', ctx), PIRQ_ISA_IRQS);
};

/** bhyve's PCI 16550; conf: none (output discarded) or "stdio" (output to the host). */
const uart: PciEmulationFactory = (ctx) => {
  if (ctx.conf !== null && ctx.conf !== 'stdio') return { error: `uart backend "${ctx.conf}" is not supported (use stdio, or no backend)` };
  const name = pciFunctionName('uart', ctx);
  const toHost = ctx.conf === 'stdio';
  let fn: PciUart | null = null;
  const com = new Uart16550({
    name,
    base: 0,
    irq: { set: (level) => fn?.setIntx(level) },
    sink: (b) => {
      if (!toHost) return;
      ctx.hostOutput(name, Uint8Array.of(b));
    },
  });
  fn = new PciUart(name, com);
  return fn;
};

export const PCI_EMULATION_FACTORIES: Readonly<Record<string, PciEmulationFactory>> = {
  hostbridge: hostbridge('hostbridge', HOSTBRIDGE_IDS),
  amd_hostbridge: hostbridge('amd_hostbridge', AMD_HOSTBRIDGE_IDS),
  lpc,
  uart,
  'virtio-rnd': virtioRndEmulation,
  'virtio-balloon': virtioBalloonEmulation,
  'virtio-blk': (ctx) =>
    virtioBlkEmulation(ctx, ctx.replay === undefined ? undefined : { standInBytes: ctx.replay.blkSizes[blkDeviceName(ctx.bus, ctx.slot, ctx.function)] ?? 0 }),
  'virtio-net': (ctx) => virtioNetEmulation(ctx, ctx.replay !== undefined),
};

/** Emulations bhyve has that hvsim refuses, with the reason. */
export const PCI_EMULATIONS_UNSUPPORTED: Readonly<Record<string, string>> = {
  passthru: 'a simulated machine has no host PCI device to pass through',
  'ahci-hd': 'hvsim does not emulate AHCI; use virtio-blk',
  'ahci-cd': 'hvsim does not emulate AHCI; use virtio-blk',
  ahci: 'hvsim does not emulate AHCI; use virtio-blk',
};
