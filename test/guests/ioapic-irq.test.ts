// The ioapic-irq guest fixture (fixtures/guests/ioapic-irq): PIT and HPET interrupts through
// the IOAPIC to the local APIC, Remote IRR and EOI, and the ACPI PM timer against the HPET
// and the TSC. It needs the interrupt wiring (IOAPIC, HPET, PM block, local APICs); until the
// machine advertises a local APIC (CPUID.1:EDX bit 9) the run is skipped.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind } from '../../src/machine/exit.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/ioapic-irq/ioapic-irq.elf');
const MAX_INSNS = 100_000_000; // the fixture needs a few million

function boot() {
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create({ name: 'ioapic-irq', memoryBytes: 128 << 20, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b) } });
  const m = vmm.machine(id);
  return { vmm, id, m, serial };
}

/** CPUID.1:EDX.APIC[bit 9] as the machine reports it to the guest. */
function machineHasApic(): boolean {
  const { m } = boot();
  const out = new Int32Array(4);
  m.cpuid(m.cpus[0], 1, 0, out, true);
  return (out[3] & (1 << 9)) !== 0;
}

const wired = machineHasApic();

describe('ioapic-irq guest fixture', () => {
  it.skipIf(!wired)('receives PIT and HPET interrupts through the IOAPIC and checks the PM timer', () => {
    const { vmm, id, m, serial } = boot();
    bootKernel(m, { bytes: new Uint8Array(readFileSync(ELF)), name: 'fixtures/guests/ioapic-irq/ioapic-irq.elf' });
    const exit = vmm.run(id, 0, { maxInsns: MAX_INSNS });
    const text = Buffer.from(serial).toString('latin1');
    const lines = text.replace(/\n$/, '').split('\n');
    // The TSC rate the guest measured against the PM timer (printed in kHz): the machine's
    // own setting within 0.5% (the guest measures over ~1 ms with a few instructions of skew).
    const tscLine = lines.find((l) => l.startsWith('pm-timer: tsc ')) ?? '';
    expect(lines.filter((l) => l !== tscLine)).toEqual([
      'ioapic-irq: 32-bit protected mode, 8259s masked, local APIC enabled',
      'ioapic: IOAPICVER 0x001f0011', // 82093AA 3.2.2: version 0x11, max redirection entry 31 (32 pins)
      'ok ioapic: at least 24 redirection entries',
      'ok ioapic: PIT IRQ 0 via pin 2 (edge) on vector 0x30, 5 interrupts, Remote IRR clear',
      'ok ioapic: PIT interrupts 4 periods apart from the first to the fifth (PM timer, 2%)',
      'ok hpet: GCAP_ID vendor 8086h, period at most 100 ns',
      'hpet: timer 2 routed to GSI 0x00000018', // Tn_INT_ROUTE_CAP = GSIs 24-31
      'ok hpet: level interrupt delivered again after an EOI while asserted, then no more',
      'ok hpet: Remote IRR set in the handler both times',
      'ok hpet: Tn_INT_STS set in the handler both times',
      'ok hpet: Remote IRR clear after the status write and the EOI',
      'ok pm-timer: advanced 3.579545/10 of the HPET ticks (within 2)',
      'ok pm-timer: TSC rate against the PM timer matches the one against the HPET (0.1%)',
      'ioapic-irq: ok',
    ]);
    const khz = Number.parseInt(tscLine.slice('pm-timer: tsc '.length), 16);
    expect(Math.abs(khz - m.clock.tscKHz) * 200).toBeLessThanOrEqual(m.clock.tscKHz);
    expect(exit.kind).toBe(ExitKind.DebugExit);
    if (exit.kind === ExitKind.DebugExit) expect(exit.code).toBe(0x1c);
  });

  it('the fixture image is present (fixtures/guests/build.sh ioapic-irq)', () => {
    expect(readFileSync(ELF).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  });
});
