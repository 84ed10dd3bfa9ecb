// The real oracle: ACPICA's own tools (Debian package acpica-tools). `iasl` compiles a DSDT we
// write by hand here from ACPI 6.5 (chapters 6 and 19) and must produce the same AML as our
// encoder; `iasl -d` must disassemble every table without complaint; `acpiexec` runs the
// DSDT's methods (_PRT in both interrupt models, _S5, _CRS). Skipped if the tools are absent.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as L from '../../machine/platform-layout.js';
import { sampleDescription } from '../sample-description.test-helper.js';
import type { PlatformDescription } from '../platform-description.js';
import { buildAcpi } from './index.js';

const hasIasl = spawnSync('iasl', ['-v']).status === 0;
const hasAcpiexec = spawnSync('acpiexec', ['-v']).status === 0;
if (!hasIasl || !hasAcpiexec) console.warn('acpica-oracle: iasl/acpiexec not found (apt-get install acpica-tools); ACPICA checks skipped');

const dir = mkdtempSync(join(tmpdir(), 'hvsim-acpi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Each table's bytes by signature. */
function tables(d: PlatformDescription): Record<string, Uint8Array> {
  const img = buildAcpi(d, d.areas.acpi);
  const out: Record<string, Uint8Array> = {};
  for (const [sig, at] of Object.entries(img.tables)) {
    const off = at - img.base;
    const len = sig === 'RSD PTR ' ? 36 : new DataView(img.bytes.buffer, img.bytes.byteOffset).getUint32(off + 4, true);
    out[sig] = img.bytes.slice(off, off + len);
  }
  return out;
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function disassemble(name: string, data: Uint8Array): string {
  writeFileSync(join(dir, `${name}.dat`), data);
  const r = run('iasl', ['-d', `${name}.dat`]);
  expect(r.status, r.out).toBe(0);
  expect(r.out).not.toMatch(/error|warning|invalid|incorrect|mismatch/i);
  return readFileSync(join(dir, `${name}.dsl`), 'utf8');
}

describe.skipIf(!hasIasl)('iasl', () => {
  it('compiles a hand-written DSDT (ACPI 6.5 ASL) to exactly the AML our encoder produces', () => {
    const d = sampleDescription({ slots: [3], uarts: [{ name: 'com1', port: 0x3f8, irq: 4 }] });
    // Slot 3: GSI 16 + (3 + pin) mod 8; PIC IRQ PIRQ_ISA_IRQS[(3 + pin) mod 8] (platform-layout).
    const asl = `DefinitionBlock ("", "DSDT", 2, "HVSIM ", "HVSIMPC ", 1) {
  Name (\\PICF, 0)
  Method (\\_PIC, 1) { Store (Arg0, \\PICF) }
  Name (\\_S5, Package (4) { 5, 5, 0, 0 })
  Scope (\\_SB) {
    Device (C000) { Name (_HID, "ACPI0007") Name (_UID, 0) }
    Device (PCI0) {
      Name (_HID, EisaId ("PNP0A03"))
      Name (_UID, 0)
      Name (_BBN, 0)
      Name (_CRS, ResourceTemplate () {
        WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xff, 0, 0x100)
        IO (Decode16, 0xcf8, 0xcf8, 1, 8)
        DWordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0, 0xcf7, 0, 0xcf8)
        DWordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0xd00, 0x1fff, 0, 0x1300)
        DWordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0x2000, 0xffff, 0, 0xe000)
        DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0, 0xe0000000, 0xfebfffff, 0, 0x1ec00000)
      })
      Name (PRTA, Package () {
        Package () { 0x3ffff, 0, 0, 19 }, Package () { 0x3ffff, 1, 0, 20 },
        Package () { 0x3ffff, 2, 0, 21 }, Package () { 0x3ffff, 3, 0, 22 } })
      Name (PRTP, Package () {
        Package () { 0x3ffff, 0, 0, 5 }, Package () { 0x3ffff, 1, 0, 10 },
        Package () { 0x3ffff, 2, 0, 11 }, Package () { 0x3ffff, 3, 0, 5 } })
      Method (_PRT, 0) { If (\\PICF) { Return (PRTA) } Return (PRTP) }
    }
    Device (COM1) {
      Name (_HID, EisaId ("PNP0501"))
      Name (_UID, 1)
      Name (_DDN, "COM1")
      Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3f8, 0x3f8, 1, 8) IRQNoFlags () { 4 } })
    }
    Device (RTC) {
      Name (_HID, EisaId ("PNP0B00"))
      Name (_CRS, ResourceTemplate () { IO (Decode16, 0x70, 0x70, 1, 2) IRQNoFlags () { 8 } })
    }
    Device (HPET) {
      Name (_HID, EisaId ("PNP0103"))
      Name (_UID, 0)
      Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xfed00000, 0x400) })
    }
  }
}
`;
    writeFileSync(join(dir, 'hand.asl'), asl);
    const r = run('iasl', ['-on', '-p', 'hand', 'hand.asl']); // -on: keep name paths as written
    expect(r.status, r.out).toBe(0);
    const theirs = readFileSync(join(dir, 'hand.aml'));
    const ours = tables(d).DSDT;
    // Compare the AML after the 36-byte header (the header differs in checksum and compiler ID).
    expect(Buffer.from(ours.subarray(36)).toString('hex')).toBe(theirs.subarray(36).toString('hex'));
    expect(ours.length).toBe(theirs.length);
  });

  for (const [label, over] of [
    ['1 vCPU xAPIC', { vcpus: 1 }],
    ['2 vCPUs x2APIC', { vcpus: 2, x2apic: true }],
    ['16 vCPUs, no PCI, no HPET', { vcpus: 16, pci: null, hpet: null }],
  ] as [string, Partial<PlatformDescription>][]) {
    it(`disassembles DSDT, MADT, FADT, HPET, RSDT, XSDT and FACS cleanly (${label})`, () => {
      const d = sampleDescription(over);
      const t = tables(d);
      const dsdt = disassemble('dsdt', t.DSDT);
      expect(dsdt).toContain(`Device (C${(d.vcpus - 1).toString(16).toUpperCase().padStart(3, '0')})`);
      expect(dsdt.includes('Device (PCI0)')).toBe(d.pci !== null);
      expect(dsdt.includes('PNP0103')).toBe(d.hpet !== null);
      const madt = disassemble('apic', t.APIC);
      const cpuLines = madt.match(/Subtable Type : (00|09) \[Processor Local x?2?APIC\]/g) ?? [];
      expect(cpuLines.length).toBe(d.vcpus);
      expect(madt).toMatch(/I\/O Apic ID : 0*([0-9A-F]+)/);
      expect(Number.parseInt(/I\/O Apic ID : ([0-9A-F]+)/.exec(madt)![1], 16)).toBe(L.ioapicId(d.vcpus));
      const fadt = disassemble('facp', t.FACP);
      expect(fadt).toMatch(/Reset Register Supported \(V2\) : 1/);
      expect(fadt).toMatch(/32-bit PM Timer \(V1\) : 0/);
      expect(fadt).toMatch(/PM Timer Block Address : 00000408/);
      if (t.HPET) expect(disassemble('hpet', t.HPET)).toMatch(/Address : 00000000FED00000/);
      disassemble('rsdt', t.RSDT);
      disassemble('xsdt', t.XSDT);
      disassemble('facs', t.FACS);
    });
  }
});

/** acpiexec's printout of a package of packages of integers, as arrays. */
function integerGroups(out: string, per: number): number[][] {
  const ints = [...out.matchAll(/\[Integer\] = ([0-9A-F]+)/g)].map((m) => Number.parseInt(m[1], 16));
  const groups: number[][] = [];
  for (let i = 0; i + per <= ints.length; i += per) groups.push(ints.slice(i, i + per));
  return groups;
}

describe.skipIf(!hasAcpiexec)('acpiexec', () => {
  const slots = [0, 3, 4, 31];
  const d = sampleDescription({ slots });
  writeFileSync(join(dir, 'exec.dat'), tables(d).DSDT);

  const evaluate = (cmds: string) => {
    const r = run('acpiexec', ['-b', cmds, 'exec.dat']);
    expect(r.out).toMatch(/1 ACPI AML tables successfully acquired and loaded/);
    expect(r.out).not.toMatch(/failed with status|AE_[A-Z_]+|Exception|Error/); // any ACPICA error status
    return r.out;
  };

  // 6.2.13 _PRT: {Address = device << 16 | 0xffff, Pin, Source 0, Source Index = GSI}.
  const expected = (irq: (slot: number, pin: number) => number) =>
    slots.flatMap((slot) => [0, 1, 2, 3].map((pin) => [slot * 0x10000 + 0xffff, pin, 0, irq(slot, pin)]));

  it('_PRT gives the 8259 IRQs until _PIC(1), then the IOAPIC GSIs', () => {
    const pic = evaluate('evaluate \\_SB.PCI0._PRT');
    expect(integerGroups(pic.slice(pic.indexOf('Evaluating')), 4)).toEqual(expected(L.pciIntxIsaIrq));
    const apic = evaluate('evaluate \\_PIC 1; evaluate \\_SB.PCI0._PRT');
    const prt = apic.slice(apic.lastIndexOf('Evaluating \\_SB.PCI0._PRT'));
    expect(integerGroups(prt, 4)).toEqual(expected(L.pciIntxGsi));
  });

  it('_S5 is {SLP_TYP_S5, SLP_TYP_S5, 0, 0}', () => {
    const out = evaluate('evaluate \\_S5');
    expect(integerGroups(out.slice(out.indexOf('Evaluating')), 4)).toEqual([[L.SLP_TYP_S5, L.SLP_TYP_S5, 0, 0]]);
  });

  it('_CRS of COM1 and HPET are the expected resource buffers (6.4.2.5, 6.4.2.1, 6.4.3.4)', () => {
    const com = evaluate('evaluate \\_SB.COM1._CRS');
    expect(com).toMatch(/47 01 F8 03 F8 03 01 08 22 10 00 79 00/);
    const hpet = evaluate('evaluate \\_SB.HPET._CRS');
    expect(hpet).toMatch(/86 09 00 01 00 00 D0 FE 00 04 00 00 79 00/);
  });
});

describe.skipIf(!hasAcpiexec)('acpiexec with the whole table set (ACPICA, the interpreter Linux uses)', () => {
  for (const [label, over] of [
    ['2 vCPUs', { vcpus: 2 }],
    ['16 vCPUs x2APIC, no PCI', { vcpus: 16, x2apic: true, pci: null }],
  ] as [string, Partial<PlatformDescription>][]) {
    it(`installs our FADT (with its FACS), DSDT, MADT and HPET without an ACPICA warning (${label})`, () => {
      const t = tables(sampleDescription(over));
      const files = ['FACP', 'DSDT', 'APIC', 'HPET'].map((sig) => {
        writeFileSync(join(dir, `set-${sig}.dat`), t[sig]);
        return `set-${sig}.dat`;
      });
      const r = run('acpiexec', ['-b', 'evaluate \\_S5', ...files]);
      for (const sig of ['FACP', 'DSDT', 'APIC', 'HPET']) expect(r.out).toMatch(new RegExp(`ACPI: ${sig} .* HVSIM `));
      expect(r.out).toMatch(/1 ACPI AML tables successfully acquired and loaded/);
      expect(r.out).not.toMatch(/Warning|Error|mismatch|Invalid|checksum/i); // e.g. "Firmware Warning (ACPI): 32/64X address mismatch"
      // acpiexec's built-in hardware self-tests also run; the only ones allowed to fail are those
      // touching hardware this platform leaves out: GPE blocks and the optional PM2_CNT (ARB_DIS).
      const unexpected = [...r.out.matchAll(/Unexpected (AE_[A-Z_]+) from (\w+)/g)].map((m) => m[2]);
      for (const fn of unexpected) expect(fn).toMatch(/Gpe|BitRegister/);
    });
  }
});

describe.skipIf(!hasAcpiexec || !hasIasl)('a device on bus 1 (-s 1:5:0,...): a second root bridge', () => {
  const base = sampleDescription({ slots: [3] });
  const d: PlatformDescription = {
    ...base,
    pci: {
      routes: [...base.pci!.routes, { bus: 1, slot: 5, pin: 0, gsi: L.pciIntxGsi(5, 0), isaIrq: L.pciIntxIsaIrq(5, 0) }],
      ioWindow: [0x2000, 0x3000],
      mmioWindow: [0xe000_0000, 0xe100_0000],
      otherRoots: [{ bus: 1, ioWindow: [0x3000, 0x1_0000], mmioWindow: [0xe100_0000, L.PCI_MMIO_LIMIT] }],
    },
  };

  it('PC01 (_BBN 1, buses 1-255, its own windows, its own _PRT) next to PCI0 (bus 0 only)', () => {
    const t = tables(d);
    const dsl = disassemble('dsdt2', t.DSDT);
    expect(dsl).toContain('Device (PC01)');
    writeFileSync(join(dir, 'exec2.dat'), t.DSDT);
    const r = run('acpiexec', ['-b', 'evaluate \\_PIC 1; evaluate \\_SB.PC01._BBN; evaluate \\_SB.PC01._PRT; evaluate \\_SB.PC01._CRS; evaluate \\_SB.PCI0._CRS', 'exec2.dat']);
    expect(r.out).not.toMatch(/failed with status|AE_[A-Z_]+/);
    const bbn = r.out.slice(r.out.indexOf('Evaluating \\_SB.PC01._BBN'));
    expect(bbn).toMatch(/\[Integer\] = 0+1\b/);
    const prt = r.out.slice(r.out.indexOf('Evaluating \\_SB.PC01._PRT'), r.out.indexOf('Evaluating \\_SB.PC01._CRS'));
    expect(integerGroups(prt, 4)).toEqual([[0x5ffff, 0, 0, L.pciIntxGsi(5, 0)]]);
    // WordBusNumber (6.4.3.5.3): min at byte 8, max at byte 10 of the descriptor.
    const pc01Crs = r.out.slice(r.out.indexOf('Evaluating \\_SB.PC01._CRS'), r.out.indexOf('Evaluating \\_SB.PCI0._CRS'));
    expect(pc01Crs).toMatch(/88 0D 00 02 0C 00 00 00 01 00 FF 00/);
    const pci0Crs = r.out.slice(r.out.indexOf('Evaluating \\_SB.PCI0._CRS'));
    expect(pci0Crs).toMatch(/88 0D 00 02 0C 00 00 00 00 00 00 00/);
  });
});

