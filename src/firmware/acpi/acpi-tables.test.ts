// The ACPI tables read back by a reader written from ACPI 6.5 chapter 5 (offsets cited per
// field), independent of the builders' code.

import { describe, expect, it } from 'vitest';
import * as L from '../../machine/platform-layout.js';
import { sampleDescription } from '../sample-description.test-helper.js';
import type { PlatformDescription } from '../platform-description.js';
import { buildAcpi } from './index.js';

/** The ACPI area as guest memory, addressed by guest-physical address. */
class Image {
  constructor(private base: number, private bytes: Uint8Array) {}
  u8 = (a: number) => this.bytes[a - this.base];
  u16 = (a: number) => this.u8(a) | (this.u8(a + 1) << 8);
  u32 = (a: number) => (this.u16(a) | (this.u16(a + 2) << 16)) >>> 0;
  u64 = (a: number) => this.u32(a) + this.u32(a + 4) * 2 ** 32;
  ascii = (a: number, n: number) => String.fromCharCode(...this.bytes.subarray(a - this.base, a - this.base + n));
  sum = (a: number, n: number) => this.bytes.subarray(a - this.base, a - this.base + n).reduce((s, b) => (s + b) & 0xff, 0);
  slice = (a: number, n: number) => this.bytes.subarray(a - this.base, a - this.base + n);
}

/** RSDP (5.2.5.3, Table 5.3) -> XSDT (5.2.8) -> tables by signature; checks every checksum. */
function walk(d: PlatformDescription) {
  const acpi = buildAcpi(d, d.areas.acpi);
  const m = new Image(acpi.base, acpi.bytes);
  const rsdp = d.areas.acpi;
  expect(m.ascii(rsdp, 8)).toBe('RSD PTR ');
  expect(m.sum(rsdp, 20)).toBe(0); // checksum over the first 20 bytes
  expect(m.u8(rsdp + 15)).toBe(2); // revision 2: ACPI 2.0+ structure
  expect(m.u32(rsdp + 20)).toBe(36); // length
  expect(m.sum(rsdp, 36)).toBe(0); // extended checksum
  expect(m.ascii(rsdp + 9, 6)).toBe(d.oemId);
  const rsdt = m.u32(rsdp + 16);
  const xsdt = m.u64(rsdp + 24);
  const header = (a: number, sig: string) => {
    expect(m.ascii(a, 4)).toBe(sig);
    const len = m.u32(a + 4);
    expect(m.sum(a, len)).toBe(0); // 5.2.6: the entire table sums to zero
    return len;
  };
  const rsdtLen = header(rsdt, 'RSDT');
  const xsdtLen = header(xsdt, 'XSDT');
  const xEntries = Array.from({ length: (xsdtLen - 36) / 8 }, (_, i) => m.u64(xsdt + 36 + 8 * i));
  const rEntries = Array.from({ length: (rsdtLen - 36) / 4 }, (_, i) => m.u32(rsdt + 36 + 4 * i));
  expect(rEntries).toEqual(xEntries);
  const bySig: Record<string, number> = {};
  for (const t of xEntries) {
    const sig = m.ascii(t, 4);
    header(t, sig);
    bySig[sig] = t;
  }
  return { m, bySig, acpi };
}

describe('RSDP, RSDT and XSDT', () => {
  it('RSDP is 16-byte aligned in the BIOS read-only window the OS scans (5.2.5.1)', () => {
    const d = sampleDescription();
    expect(d.areas.acpi % 16).toBe(0);
    expect(d.areas.acpi).toBeGreaterThanOrEqual(0xe0000);
    expect(d.areas.acpi + 36).toBeLessThanOrEqual(0x100000);
  });

  it('lists FADT, MADT and HPET (not the DSDT or FACS, which the FADT points to)', () => {
    const { bySig } = walk(sampleDescription());
    expect(Object.keys(bySig).sort()).toEqual(['APIC', 'FACP', 'HPET']);
    expect(Object.keys(walk(sampleDescription({ hpet: null })).bySig).sort()).toEqual(['APIC', 'FACP']);
  });
});

describe('FADT (5.2.9, Table 5.9) and FACS (5.2.10)', () => {
  const d = sampleDescription();
  const { m, bySig } = walk(d);
  const f = bySig.FACP;

  it('is revision 6, 276 bytes, minor version 5', () => {
    expect(m.u8(f + 8)).toBe(6);
    expect(m.u32(f + 4)).toBe(276);
    expect(m.u8(f + 131)).toBe(5);
  });

  it('points at a 64-byte aligned FACS (32-bit field; X_FIRMWARE_CTRL zero as the spec requires) and at the DSDT both ways', () => {
    const facs = m.u32(f + 36);
    expect(facs % 64).toBe(0);
    expect(m.u64(f + 132)).toBe(0);
    expect(m.ascii(facs, 4)).toBe('FACS');
    expect(m.u32(facs + 4)).toBe(64);
    expect(m.u8(facs + 32)).toBe(2); // FACS version
    const dsdt = m.u32(f + 40);
    expect(m.u64(f + 140)).toBe(dsdt);
    expect(m.ascii(dsdt, 4)).toBe('DSDT');
    expect(m.sum(dsdt, m.u32(dsdt + 4))).toBe(0);
  });

  it('describes the PM registers, SCI and SMI_CMD handshake at the platform-layout ports', () => {
    expect(m.u16(f + 46)).toBe(L.SCI_IRQ);
    expect(m.u32(f + 48)).toBe(L.SMI_CMD);
    expect(m.u8(f + 52)).toBe(L.ACPI_ENABLE);
    expect(m.u8(f + 53)).toBe(L.ACPI_DISABLE);
    expect(m.u32(f + 56)).toBe(L.PM1A_EVT_BLK);
    expect(m.u32(f + 64)).toBe(L.PM1A_CNT_BLK);
    expect(m.u32(f + 76)).toBe(L.PM_TMR_BLK);
    expect([m.u8(f + 88), m.u8(f + 89), m.u8(f + 91)]).toEqual([4, 2, 4]); // PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN
    // X_ blocks: GAS (5.2.3.2) in system I/O space with the same addresses.
    for (const [off, port, bits] of [[148, L.PM1A_EVT_BLK, 32], [172, L.PM1A_CNT_BLK, 16], [208, L.PM_TMR_BLK, 32]]) {
      expect(m.u8(f + off)).toBe(1);
      expect(m.u8(f + off + 1)).toBe(bits);
      expect(m.u64(f + off + 4)).toBe(port);
    }
    expect(m.u8(f + 108)).toBe(0x32); // CENTURY: the RTC's century register
  });

  it('sets WBINVD, PROC_C1 and RESET_REG_SUP, a 24-bit PM timer and not HW_REDUCED (Table 5.10)', () => {
    const flags = m.u32(f + 112);
    expect(flags & 1).toBe(1);
    expect(flags & (1 << 2)).not.toBe(0);
    expect(flags & (1 << 10)).not.toBe(0);
    expect(flags & (1 << 8)).toBe(0);
    expect(flags & (1 << 20)).toBe(0);
  });

  it('RESET_REG is one byte at system I/O 0xcf9, RESET_VALUE 6', () => {
    expect([m.u8(f + 116), m.u8(f + 117), m.u8(f + 118)]).toEqual([1, 8, 0]);
    expect(m.u64(f + 120)).toBe(L.RESET_PORT);
    expect(m.u8(f + 128)).toBe(L.RESET_VALUE);
  });

  it('IAPC_BOOT_ARCH (Table 5.11): legacy devices, no 8042, no VGA, CMOS RTC present', () => {
    const arch = m.u16(f + 109);
    expect(arch & 1).toBe(1);
    expect(arch & 2).toBe(0);
    expect(arch & 4).toBe(4);
    expect(arch & 0x20).toBe(0);
    expect(walk(sampleDescription({ rtc: null })).m.u16(walk(sampleDescription({ rtc: null })).bySig.FACP + 109) & 0x20).toBe(0x20);
  });
});

/** MADT entries (5.2.12): type, length, body. */
function madtEntries(m: Image, t: number) {
  const out: { type: number; at: number; len: number }[] = [];
  const end = t + m.u32(t + 4);
  for (let a = t + 44; a < end; a += m.u8(a + 1)) {
    expect(m.u8(a + 1)).toBeGreaterThan(0);
    out.push({ type: m.u8(a), at: a, len: m.u8(a + 1) });
  }
  return out;
}

describe('MADT (5.2.12)', () => {
  for (const vcpus of [1, 2, 16]) {
    for (const x2apic of [false, true]) {
      it(`${vcpus} vCPU(s), ${x2apic ? 'x2APIC' : 'xAPIC'}: one enabled processor per vCPU in APIC ID order, the IOAPIC, overrides, LINT1 NMI`, () => {
        const d = sampleDescription({ vcpus, x2apic });
        const { m, bySig } = walk(d);
        const t = bySig.APIC;
        expect(m.u32(t + 36)).toBe(L.LAPIC_BASE);
        expect(m.u32(t + 40) & 1).toBe(1); // PCAT_COMPAT: 8259s present
        const entries = madtEntries(m, t);
        const cpus = entries.filter((e) => e.type === (x2apic ? 9 : 0));
        expect(cpus.length).toBe(vcpus);
        cpus.forEach((e, i) => {
          if (x2apic) {
            // 5.2.12.12, Table 5.39: reserved(2), X2APIC ID(4) at 4, flags at 8, UID at 12
            expect(e.len).toBe(16);
            expect(m.u32(e.at + 4)).toBe(i);
            expect(m.u32(e.at + 8) & 1).toBe(1);
            expect(m.u32(e.at + 12)).toBe(i);
          } else {
            // 5.2.12.2, Table 5.21: UID at 2, APIC ID at 3, flags at 4
            expect(e.len).toBe(8);
            expect(m.u8(e.at + 2)).toBe(i);
            expect(m.u8(e.at + 3)).toBe(i);
            expect(m.u32(e.at + 4) & 1).toBe(1);
          }
        });
        expect(entries.filter((e) => e.type === (x2apic ? 0 : 9))).toEqual([]);
        const io = entries.filter((e) => e.type === 1);
        expect(io.length).toBe(1);
        expect(m.u8(io[0].at + 2)).toBe(L.ioapicId(vcpus)); // unique among APIC IDs
        expect(m.u32(io[0].at + 4)).toBe(L.IOAPIC_BASE);
        expect(m.u32(io[0].at + 8)).toBe(0);
        // 5.2.12.5: bus 0 (ISA), source, GSI, MPS INTI flags (Table 5.26).
        const iso = entries.filter((e) => e.type === 2).map((e) => [m.u8(e.at + 2), m.u8(e.at + 3), m.u32(e.at + 4), m.u16(e.at + 8)]);
        expect(iso).toEqual([[0, 0, 2, 0b0101], [0, 9, 9, 0b1111]]);
        if (x2apic) {
          const nmi = entries.filter((e) => e.type === 0x0a); // 5.2.12.13
          expect(nmi.map((e) => [e.len, m.u32(e.at + 4), m.u8(e.at + 8)])).toEqual([[12, 0xffffffff, 1]]);
        } else {
          const nmi = entries.filter((e) => e.type === 4); // 5.2.12.7
          expect(nmi.map((e) => [e.len, m.u8(e.at + 2), m.u8(e.at + 5)])).toEqual([[6, 0xff, 1]]);
        }
      });
    }
  }

  it('uses the given APIC IDs in order', () => {
    const { m, bySig } = walk(sampleDescription({ vcpus: 3, apicIds: [0, 2, 4] }));
    const ids = madtEntries(m, bySig.APIC).filter((e) => e.type === 0).map((e) => m.u8(e.at + 3));
    expect(ids).toEqual([0, 2, 4]);
  });
});

describe('HPET table (IA-PC HPET 1.0a, 3.2.4)', () => {
  it('carries the block ID, the base address as a system-memory GAS, and the minimum tick', () => {
    const d = sampleDescription();
    const { m, bySig } = walk(d);
    const t = bySig.HPET;
    expect(m.u32(t + 4)).toBe(56);
    const id = m.u32(t + 36);
    expect(id & 0xff).toBe(1); // revision
    expect(((id >>> 8) & 0x1f) + 1).toBe(L.HPET_TIMERS); // NUM_TIM_CAP is the last timer's index
    expect(id >>> 16).toBe(0x8086);
    expect(m.u8(t + 40)).toBe(0); // system memory
    expect(m.u64(t + 44)).toBe(L.HPET_BASE);
    expect(m.u16(t + 53)).toBe(0x80);
  });
});

describe('layout', () => {
  it('every table lies inside the ACPI area and none overlap', () => {
    const d = sampleDescription({ vcpus: 16 });
    const { acpi, m } = walk(d);
    const spans = Object.entries(acpi.tables).map(([sig, a]) => [a, a + (sig === 'RSD PTR ' ? 36 : m.u32(a + 4))]).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    expect(spans[spans.length - 1][1]).toBeLessThanOrEqual(d.areas.end);
  });
});
