// fixtures/guests/pci-probe: a guest that scans PCI bus 0 with configuration mechanism #1 and
// prints each function's ids and class, its BAR sizes found by sizing, and its capability IDs.
// The expected lines come from the configured -s options and the specs (PCI 3.0 6.2.1 ids and
// class, 6.2.5.1 BAR sizing, 6.7 capability list), with bhyve's ids for its emulations.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootKernel } from '../../src/api/boot.js';
import { Machine } from '../../src/machine/machine.js';
import { buildPc } from '../../src/machine/pc.js';
import { ExitKind } from '../../src/machine/exit.js';
import { buildPciPlatform, PlatformError, type PciSlotSpec } from '../../src/machine/pci-platform.js';
import { createSession, driveSession, type MachineSetup } from '../../src/api/session.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = resolve(ROOT, 'fixtures/guests/pci-probe/pci-probe.elf');

function slot(arg: string): PciSlotSpec {
  const [where, emulation, ...rest] = arg.split(',');
  const n = where.split(':').map(Number);
  const [bus, s, fn] = n.length === 3 ? n : n.length === 2 ? [0, n[0], n[1]] : [0, n[0], 0];
  return { bus, slot: s, function: fn, emulation, conf: rest.length ? rest.join(',') : null, arg };
}

/** Boot pci-probe on a PC with the given -s options (the way platform.ts wires it). */
function probe(args: string[]): { lines: string[]; exitCode: number | null; platform: ReturnType<typeof buildPciPlatform> } {
  const serial: number[] = [];
  const m = new Machine({ memoryBytes: 32 << 20, vcpus: 1, unhandledIo: 'ignore', ignoreUnknownMsrs: false, exitOnPause: false, personalities: [] });
  buildPc(m, { com1: (b) => serial.push(b) });
  const platform = buildPciPlatform(m, {
    slots: args.map(slot), vmname: 'probe', rng: { nextBytes: (n) => new Uint8Array(n) },
    hostInput: (_d, d) => d, hostOutput: () => {}, irq: () => {}, msi: () => {},
  });
  bootKernel(m, { bytes: new Uint8Array(readFileSync(ELF)), name: 'pci-probe.elf' });
  const exit = m.run(0, 50_000_000);
  const text = Buffer.from(serial).toString('latin1');
  return { lines: text.replace(/\n$/, '').split('\n'), exitCode: exit.kind === ExitKind.DebugExit ? exit.code : null, platform };
}

const count = (n: number) => `pci-probe: functions 0x${n.toString(16).padStart(2, '0')}`;

describe('pci-probe guest (mechanism #1 scan of bus 0)', () => {
  it('no -s: bus 0 is empty (no implicit hostbridge, as bhyve)', () => {
    const r = probe([]);
    expect(r.lines).toEqual(['pci-probe: bus 0', count(0)]);
    expect(r.exitCode).toBe(0);
  });

  it('hostbridge + lpc + uart: bhyve ids, classes, the uart\'s 8-port I/O BAR, the root-port capability', () => {
    const r = probe(['0,hostbridge', '31,lpc', '3,uart']);
    expect(r.lines).toEqual([
      'pci-probe: bus 0',
      '00:00.0 1275:1275 060000', // NetApp host bridge: class 06 (bridge) / 00 (host)
      '  caps 0x10', // PCI Express capability (root port)
      '00:03.0 131f:2000 070000', // SIIG CyberSerial: class 07 (simple comm.) / 00 (16550)
      '  BAR0 io size 0x8',
      '00:1f.0 8086:7000 060100', // PCI-ISA bridge: class 06 / 01
      count(3),
    ]);
    expect(r.exitCode).toBe(0);
    // Sizing restored the BAR and COMMAND: the uart is decoded where firmware put it.
    const uart = r.platform.functions.find((f) => f.emulation === 'uart')!.fn;
    expect(uart.barMappedAt(0)).toBe(uart.barAddress(0));
    expect(uart.barAddress(0)).not.toBe(0);
  });

  it('amd_hostbridge and a multi-function slot: functions 1-7 are found through header type bit 7', () => {
    const r = probe(['0,amd_hostbridge', '4:0,uart', '4:2,uart', '6:1,uart']);
    expect(r.lines).toEqual([
      'pci-probe: bus 0',
      '00:00.0 1022:7432 060000',
      '  caps 0x10',
      '00:04.0 131f:2000 070000',
      '  BAR0 io size 0x8',
      '00:04.2 131f:2000 070000',
      '  BAR0 io size 0x8',
      // 6:1 alone: no function 0, so a scan that honours the header type never sees it.
      count(3),
    ]);
  });
});

/** The same guest through the library, as `hvsim run -s ... --kernel pci-probe.elf vm` runs it. */
function probeSession(args: string[]): { lines: string[]; exitCode: number | null } {
  const serial: number[] = [];
  const setup: MachineSetup = {
    vmname: 'probe', vcpus: 1, memoryBytes: 64 << 20, hypervisors: [], strictIo: false, ignoreUnknownMsrs: false,
    exitOnPause: false, rtcTime: 946684800, append: '', kv: [], pciSlots: args.map(slot),
  };
  const s = createSession(setup, { kernel: new Uint8Array(readFileSync(ELF)), kernelName: 'pci-probe.elf', modules: [] }, { com1: (b) => serial.push(b) });
  const exit = driveSession(s, { maxInsns: 50_000_000 });
  const text = Buffer.from(serial).toString('latin1');
  return { lines: text.replace(/\n$/, '').split('\n'), exitCode: exit.kind === ExitKind.DebugExit ? exit.code : null };
}

describe('pci-probe through createSession (the -s plumbing)', () => {
  it('a bhyve-like machine: hostbridge, uart, lpc', () => {
    const r = probeSession(['0,hostbridge', '31,lpc', '5,uart']);
    expect(r.lines).toEqual([
      'pci-probe: bus 0',
      '00:00.0 1275:1275 060000',
      '  caps 0x10',
      '00:05.0 131f:2000 070000',
      '  BAR0 io size 0x8',
      '00:1f.0 8086:7000 060100',
      count(3),
    ]);
    expect(r.exitCode).toBe(0);
  });

  it('a bad -s fails before the guest runs, naming the option', () => {
    expect(() => probeSession(['0,hostbridge', '0,uart'])).toThrow(PlatformError);
    expect(() => probeSession(['0,hostbridge', '0,uart'])).toThrow(/^-s 0,uart: PCI slot 0:0:0 is already occupied by -s 0,hostbridge$/);
  });
});
