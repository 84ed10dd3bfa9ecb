// Builds the description's `pci` part from what the PCI platform knows: the INTx routes in use
// (pins 1-4, as PCI's Interrupt Pin register numbers them) and the BARs it placed. BARs are
// placed in (bus, slot, function) order from the bottom of each window, so splitting each window
// where the next bus's first BAR starts gives every root bus a window that holds all of its
// BARs and overlaps no other root's.

import type { PlatformDescription, PciRootBus, PciRoute } from './platform-description.js';

export interface PlacedBar {
  bus: number;
  kind: 'io' | 'memory';
  base: number;
  size: number;
}

export interface IntxRouteInput {
  bus: number;
  slot: number;
  /** 1-4: INTA#-INTD#. */
  pin: number;
  gsi: number;
  isaIrq: number;
}

export function describePci(
  routes: readonly IntxRouteInput[],
  bars: readonly PlacedBar[],
  ioWindow: [number, number],
  mmioWindow: [number, number],
): NonNullable<PlatformDescription['pci']> {
  const buses = [...new Set([0, ...routes.map((r) => r.bus), ...bars.map((b) => b.bus)])].sort((a, b) => a - b);
  const split = (kind: PlacedBar['kind'], [first, end]: [number, number]) => {
    // Start of each bus's window: bus 0 at the window start, another bus at its lowest BAR (or,
    // with none of this kind, where the next bus starts, giving it an empty window).
    const starts = new Map<number, number>();
    for (let i = buses.length - 1; i >= 0; i--) {
      const own = bars.filter((b) => b.bus === buses[i] && b.kind === kind).map((b) => b.base);
      const next = i + 1 < buses.length ? starts.get(buses[i + 1])! : end;
      starts.set(buses[i], i === 0 ? first : own.length ? Math.min(...own) : next);
    }
    return (bus: number): [number, number] => {
      const i = buses.indexOf(bus);
      return [starts.get(bus)!, i + 1 < buses.length ? starts.get(buses[i + 1])! : end];
    };
  };
  const io = split('io', ioWindow);
  const mem = split('memory', mmioWindow);
  const pciRoutes: PciRoute[] = routes.map((r) => ({ bus: r.bus, slot: r.slot, pin: r.pin - 1, gsi: r.gsi, isaIrq: r.isaIrq }));
  const otherRoots: PciRootBus[] = buses.filter((b) => b !== 0).map((bus) => ({ bus, ioWindow: io(bus), mmioWindow: mem(bus) }));
  for (const b of bars) {
    const [first, end] = b.kind === 'io' ? io(b.bus) : mem(b.bus);
    if (b.base < first || b.base + b.size > end) {
      throw new Error(`firmware: bus ${b.bus}'s ${b.kind} BAR at 0x${b.base.toString(16)} is not placed in bus order`);
    }
  }
  return { routes: pciRoutes, ioWindow: io(0), mmioWindow: mem(0), otherRoots };
}
