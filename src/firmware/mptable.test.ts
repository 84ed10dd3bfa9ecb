// The MP table read back with a reader written from the MultiProcessor Specification 1.4,
// chapter 4 (Tables 4-1 to 4-11).

import { describe, expect, it } from 'vitest';
import * as L from '../machine/platform-layout.js';
import { buildMpTable } from './mptable.js';
import { sampleDescription } from './sample-description.test-helper.js';
import type { PlatformDescription } from './platform-description.js';

const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);

function parse(d: PlatformDescription) {
  const base = d.areas.mptable;
  const img = buildMpTable(d, base);
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const at = (gpa: number) => gpa - base;
  // 4.1: the floating pointer is found by scanning 16-byte boundaries for "_MP_".
  let fp = -1;
  for (let o = 0; o + 16 <= img.length; o += 16) {
    if (String.fromCharCode(...img.subarray(o, o + 4)) === '_MP_') { fp = o; break; }
  }
  expect(fp).toBe(0);
  expect(img[fp + 8]).toBe(1); // length in 16-byte paragraphs
  expect(img[fp + 9]).toBe(4); // spec revision 1.4
  expect(sum(img.subarray(fp, fp + 16))).toBe(0);
  expect(img[fp + 11]).toBe(0); // feature byte 1: a configuration table exists
  const ct = at(dv.getUint32(fp + 4, true));
  expect(String.fromCharCode(...img.subarray(ct, ct + 4))).toBe('PCMP');
  const len = dv.getUint16(ct + 4, true);
  expect(sum(img.subarray(ct, ct + len))).toBe(0);
  expect(img[ct + 6]).toBe(4);
  expect(dv.getUint32(ct + 36, true)).toBe(L.LAPIC_BASE);
  expect(dv.getUint16(ct + 40, true)).toBe(0); // no extended entries
  const count = dv.getUint16(ct + 34, true);
  const entries: { type: number; o: number }[] = [];
  let o = ct + 44;
  for (let i = 0; i < count; i++) {
    const type = img[o];
    entries.push({ type, o });
    o += type === 0 ? 20 : 8; // Table 4-3: processor entries are 20 bytes, all others 8
  }
  expect(o).toBe(ct + len);
  // 4.3: entries are sorted by type.
  expect(entries.map((e) => e.type)).toEqual([...entries.map((e) => e.type)].sort((a, b) => a - b));
  return { img, dv, entries };
}

describe('MP table (MP spec 1.4)', () => {
  for (const vcpus of [1, 2, 16]) {
    it(`${vcpus} vCPU(s): processor entries in APIC ID order, the BSP flagged, CPUID signature and features`, () => {
      const d = sampleDescription({ vcpus });
      const { img, dv, entries } = parse(d);
      const cpus = entries.filter((e) => e.type === 0);
      expect(cpus.map((e) => img[e.o + 1])).toEqual(Array.from({ length: vcpus }, (_, i) => i));
      // Table 4-5: flags bit 0 EN, bit 1 BP.
      expect(cpus.map((e) => img[e.o + 3])).toEqual(cpus.map((_, i) => (i === 0 ? 3 : 1)));
      for (const e of cpus) {
        expect(img[e.o + 2]).toBe(0x14);
        expect(dv.getUint32(e.o + 4, true)).toBe(d.cpuid1.eax);
        expect(dv.getUint32(e.o + 8, true)).toBe(d.cpuid1.edx);
      }
      const ioapic = entries.filter((e) => e.type === 2);
      expect(ioapic.length).toBe(1);
      expect(img[ioapic[0].o + 1]).toBe(L.ioapicId(vcpus));
      expect(img[ioapic[0].o + 3] & 1).toBe(1);
      expect(dv.getUint32(ioapic[0].o + 4, true)).toBe(L.IOAPIC_BASE);
      // Entries name APICs by ID (4.3.1, 4.3.3), so local and I/O APIC IDs must all differ.
      const ids = [...cpus.map((e) => img[e.o + 1]), img[ioapic[0].o + 1]];
      expect(new Set(ids).size).toBe(ids.length);
    });
  }

  it('buses PCI and ISA; ISA IRQ 0 on INTIN2, no IRQ 2, the SCI level/low, ExtINT on INTIN0', () => {
    const d = sampleDescription();
    const { img, entries } = parse(d);
    const buses = new Map(entries.filter((e) => e.type === 1).map((e) => [String.fromCharCode(...img.subarray(e.o + 2, e.o + 8)), img[e.o + 1]]));
    expect([...buses.keys()].sort()).toEqual(['ISA   ', 'PCI   ']);
    const isa = buses.get('ISA   ')!;
    const pci = buses.get('PCI   ')!;
    // Table 4-9: type, interrupt type, flags (2), source bus, source IRQ, dest APIC, dest INTIN.
    const ints = entries.filter((e) => e.type === 3).map((e) => ({
      kind: img[e.o + 1], flags: img[e.o + 2] | (img[e.o + 3] << 8), bus: img[e.o + 4], irq: img[e.o + 5], apic: img[e.o + 6], pin: img[e.o + 7],
    }));
    for (const i of ints) expect(i.apic).toBe(L.ioapicId(d.vcpus));
    const isaInts = ints.filter((i) => i.bus === isa && i.kind === 0);
    expect(isaInts.find((i) => i.irq === 0)?.pin).toBe(2);
    expect(isaInts.find((i) => i.irq === 2)).toBeUndefined();
    expect(isaInts.find((i) => i.irq === 4)?.pin).toBe(4);
    expect(isaInts.find((i) => i.irq === 9)?.flags).toBe(0b1111); // level (EL=11), active low (PO=11)
    expect(ints.filter((i) => i.kind === 3).map((i) => i.pin)).toEqual([0]);
    // 4.3.4: PCI source IRQ = device << 2 | INTx; one entry per routed (slot, pin).
    const pciInts = ints.filter((i) => i.bus === pci);
    expect(pciInts.length).toBe(d.pci!.routes.length);
    for (const r of d.pci!.routes) {
      const e = pciInts.find((i) => i.irq === ((r.slot << 2) | r.pin));
      expect(e?.pin).toBe(L.pciIntxGsi(r.slot, r.pin));
      expect(e?.flags).toBe(0b1111);
    }
    // Table 4-11: LINT0 ExtINT and LINT1 NMI for all local APICs (ID 0xff).
    const local = entries.filter((e) => e.type === 4).map((e) => [img[e.o + 1], img[e.o + 6], img[e.o + 7]]);
    expect(local).toEqual([[3, 0xff, 0], [1, 0xff, 1]]);
  });

  it('without PCI: no PCI bus entry and no PCI interrupts', () => {
    const { img, entries } = parse(sampleDescription({ pci: null }));
    const buses = entries.filter((e) => e.type === 1).map((e) => String.fromCharCode(...img.subarray(e.o + 2, e.o + 8)));
    expect(buses).toEqual(['ISA   ']);
  });
});

describe('MP table with a second PCI root bus', () => {
  it('has PCI buses 0 and 1 with their bus numbers as IDs, ISA on the next free ID, and the bus-1 route on source bus 1', () => {
    const base = sampleDescription({ slots: [3] });
    const d: PlatformDescription = {
      ...base,
      pci: { ...base.pci!, routes: [...base.pci!.routes, { bus: 1, slot: 5, pin: 2, gsi: L.pciIntxGsi(5, 2), isaIrq: 0 }], otherRoots: [{ bus: 1, ioWindow: [0, 0], mmioWindow: [0, 0] }] },
    };
    const { img, entries } = parse(d);
    const buses = entries.filter((e) => e.type === 1).map((e) => [img[e.o + 1], String.fromCharCode(...img.subarray(e.o + 2, e.o + 8))]);
    expect(buses).toEqual([[0, 'PCI   '], [1, 'PCI   '], [2, 'ISA   ']]);
    const r = entries.filter((e) => e.type === 3 && img[e.o + 4] === 1).map((e) => [img[e.o + 5], img[e.o + 7]]);
    expect(r).toEqual([[(5 << 2) | 2, L.pciIntxGsi(5, 2)]]);
  });

  it('refuses a route on a bus no root bridge describes', () => {
    const base = sampleDescription();
    const d: PlatformDescription = { ...base, pci: { ...base.pci!, routes: [{ bus: 2, slot: 0, pin: 0, gsi: 16, isaIrq: 5 }] } };
    expect(() => buildMpTable(d, d.areas.mptable)).toThrow(/bus 2/);
  });
});
