// describePci: windows split per root bus so each holds its own BARs and none overlap.

import { describe, expect, it } from 'vitest';
import { describePci } from './pci-roots.js';

describe('describePci', () => {
  it('bus 0 alone keeps the whole windows; pins 1-4 become 0-3', () => {
    const pci = describePci([{ bus: 0, slot: 3, pin: 1, gsi: 19, isaIrq: 5 }], [{ bus: 0, kind: 'io', base: 0x2000, size: 0x40 }], [0x2000, 0x10000], [0xe0000000, 0xfec00000]);
    expect(pci.ioWindow).toEqual([0x2000, 0x10000]);
    expect(pci.mmioWindow).toEqual([0xe0000000, 0xfec00000]);
    expect(pci.otherRoots).toEqual([]);
    expect(pci.routes).toEqual([{ bus: 0, slot: 3, pin: 0, gsi: 19, isaIrq: 5 }]);
  });

  it('buses 0, 1 and 3: each window covers its BARs, the windows tile the whole range without overlap', () => {
    const bars = [
      { bus: 0, kind: 'io' as const, base: 0x2000, size: 0x40 },
      { bus: 0, kind: 'memory' as const, base: 0xe0000000, size: 0x1000 },
      { bus: 1, kind: 'io' as const, base: 0x2040, size: 0x20 },
      { bus: 3, kind: 'memory' as const, base: 0xe0004000, size: 0x4000 },
    ];
    const pci = describePci([], bars, [0x2000, 0x10000], [0xe0000000, 0xfec00000]);
    const roots = [{ bus: 0, ioWindow: pci.ioWindow, mmioWindow: pci.mmioWindow }, ...pci.otherRoots!];
    expect(roots.map((r) => r.bus)).toEqual([0, 1, 3]);
    for (const b of bars) {
      const r = roots.find((x) => x.bus === b.bus)!;
      const [first, end] = b.kind === 'io' ? r.ioWindow : r.mmioWindow;
      expect(b.base).toBeGreaterThanOrEqual(first);
      expect(b.base + b.size).toBeLessThanOrEqual(end);
    }
    for (const kind of ['ioWindow', 'mmioWindow'] as const) {
      const w = roots.map((r) => r[kind]);
      for (let i = 1; i < w.length; i++) expect(w[i][0]).toBe(w[i - 1][1]); // contiguous, disjoint
      expect(w[w.length - 1][1]).toBe(kind === 'ioWindow' ? 0x10000 : 0xfec00000);
    }
  });

  it('refuses BARs that are not in bus order (a window split could not hold them)', () => {
    const bars = [
      { bus: 1, kind: 'io' as const, base: 0x2000, size: 0x20 },
      { bus: 0, kind: 'io' as const, base: 0x2040, size: 0x40 },
    ];
    expect(() => describePci([], bars, [0x2000, 0x10000], [0xe0000000, 0xfec00000])).toThrow(/bus order/);
  });
});
