// writeFirmwareTables as the machine calls it, and the -U default UUID (RFC 4122).

import { describe, expect, it } from 'vitest';
import * as L from '../machine/platform-layout.js';
import { buildFirmwareImages, writeFirmwareTables, uuidFromName, uuidV5 } from './index.js';
import { sampleDescription } from './sample-description.test-helper.js';

/** A fake guest memory: 1 MiB of RAM, writes outside it refused (as GuestMemory.writeBytes). */
function fakeMemory(size = 0x10_0000) {
  const ram = new Uint8Array(size);
  return {
    ram,
    writeBytes(gpa: number, data: Uint8Array): boolean {
      if (gpa < 0 || gpa + data.length > size) return false;
      ram.set(data, gpa);
      return true;
    },
  };
}

describe('uuid (RFC 4122 4.3, name-based)', () => {
  it('uuidV5 matches the well-known vector uuid5(NAMESPACE_DNS, "python.org")', () => {
    // NameSpace_DNS from RFC 4122 Appendix C; the result as Python's uuid module documents it.
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });
  it('the -U default is stable for a name, differs between names, and is version 5 / variant 10x', () => {
    const a = uuidFromName('vm1');
    expect(uuidFromName('vm1')).toBe(a);
    expect(uuidFromName('vm2')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('writeFirmwareTables', () => {
  it('writes the three families in their areas, returns their ranges and the RSDP', () => {
    const mem = fakeMemory();
    const d = sampleDescription({ vcpus: 4 });
    const r = writeFirmwareTables(mem, d, { acpi: true, mptable: true, smbios: true });
    expect(r.rsdp).toBe(L.ACPI_BASE);
    expect(r.reserved.map((x) => [x.kind, x.base])).toEqual([['mptable', L.MPTABLE_BASE], ['smbios', L.SMBIOS_BASE], ['acpi', L.ACPI_BASE]]);
    for (const x of r.reserved) {
      expect(x.base).toBeGreaterThanOrEqual(L.BIOS_AREA_BASE);
      expect(x.base + x.length).toBeLessThanOrEqual(L.BIOS_AREA_BASE + L.BIOS_AREA_SIZE);
    }
    const sorted = [...r.reserved].sort((a, b) => a.base - b.base);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].base).toBeGreaterThanOrEqual(sorted[i - 1].base + sorted[i - 1].length);
    const ascii = (a: number, n: number) => String.fromCharCode(...mem.ram.subarray(a, a + n));
    expect(ascii(L.MPTABLE_BASE, 4)).toBe('_MP_');
    expect(ascii(L.SMBIOS_BASE, 4)).toBe('_SM_');
    expect(ascii(L.ACPI_BASE, 8)).toBe('RSD PTR ');
  });

  it('-Y leaves out the MP table; without -A there is no ACPI and no RSDP', () => {
    const mem = fakeMemory();
    const r = writeFirmwareTables(mem, sampleDescription(), { acpi: false, mptable: false, smbios: true });
    expect(r.rsdp).toBeNull();
    expect(r.reserved.map((x) => x.kind)).toEqual(['smbios']);
    expect(mem.ram.subarray(L.MPTABLE_BASE, L.MPTABLE_BASE + 16).every((b) => b === 0)).toBe(true);
    expect(mem.ram.subarray(L.ACPI_BASE, L.ACPI_BASE + 36).every((b) => b === 0)).toBe(true);
  });

  it('refuses (at build time, not in the guest) tables that would spill into the next area or memory that cannot hold them', () => {
    expect(() => buildFirmwareImages(sampleDescription({ vcpus: 255, slots: Array.from({ length: 32 }, (_, i) => i) }), { acpi: false, mptable: true, smbios: false })).toThrow(/do not fit/);
    expect(() => writeFirmwareTables(fakeMemory(0x8_0000), sampleDescription(), { acpi: true, mptable: true, smbios: true })).toThrow(/cannot hold/);
  });

  it('is a pure function of the description (same input, same bytes)', () => {
    const d = sampleDescription({ vcpus: 2 });
    const a = buildFirmwareImages(d, { acpi: true, mptable: true, smbios: true });
    const b = buildFirmwareImages(sampleDescription({ vcpus: 2 }), { acpi: true, mptable: true, smbios: true });
    expect(a).toEqual(b);
  });
});

describe('odd descriptions', () => {
  it('rejects impossible configurations with an error naming the problem', () => {
    expect(() => buildFirmwareImages(sampleDescription({ vcpus: 0 }), { acpi: true, mptable: true, smbios: true })).toThrow(/vCPU count/);
    expect(() => buildFirmwareImages(sampleDescription({ vcpus: 2, apicIds: [0] }), { acpi: true, mptable: true, smbios: true })).toThrow(/apicIds/);
    expect(() => buildFirmwareImages(sampleDescription({ uuid: 'not-a-uuid' }), { acpi: false, mptable: false, smbios: true })).toThrow(/UUID/);
  });
  it('keeps SMBIOS strings printable ASCII whatever the VM name (DSP0134 6.1.3)', () => {
    const [img] = buildFirmwareImages(sampleDescription({ vmname: 'vm\u00e9\n' }), { acpi: false, mptable: false, smbios: true });
    const text = String.fromCharCode(...img.bytes);
    expect(text).toContain('vm??\0');
  });
});
