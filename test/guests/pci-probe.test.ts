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

describe('pci-probe with virtio functions (virtio 1.2, 4.1)', () => {
  it('transitional ids, legacy I/O BAR, memory BARs, MSI-X and the virtio vendor capabilities', () => {
    const r = probeSession(['0,hostbridge', '4,virtio-rnd', '6,virtio-balloon']);
    expect(r.exitCode).toBe(0);
    const at = (addr: string) => r.lines.findIndex((l) => l.startsWith(addr));
    const block = (addr: string) => {
      const i = at(addr);
      expect(i).toBeGreaterThan(0);
      let j = i + 1;
      while (j < r.lines.length && r.lines[j].startsWith('  ')) j++;
      return r.lines.slice(i, j);
    };
    // 4.1.2.1: vendor 0x1af4; transitional device IDs 0x1005 (entropy) and 0x1002 (balloon).
    for (const [addr, dev, hasDeviceCfg] of [['00:04.0', '1005', false], ['00:06.0', '1002', true]] as const) {
      const lines = block(addr);
      expect(lines[0]).toMatch(new RegExp(`^${addr.replace('.', '\\.')} 1af4:${dev} [0-9a-f]{6}$`));
      const bars = lines.filter((l) => l.startsWith('  BAR'));
      const size = (l: string) => parseInt(l.split(' size ')[1], 16);
      const io = bars.filter((l) => l.includes(' io '));
      const mem = bars.filter((l) => l.includes(' mem32 '));
      // 4.1.4.10: the legacy interface is an I/O BAR of 20 bytes, 24 with MSI-X, then device config.
      expect(io.length).toBe(1);
      expect(size(io[0])).toBeGreaterThanOrEqual(24);
      // Modern registers and the MSI-X table live in memory BARs (sizes powers of two, 6.2.5.1).
      expect(mem.length).toBeGreaterThanOrEqual(1);
      for (const l of bars) expect(size(l) & (size(l) - 1)).toBe(0);
      // 4.1.4: common, notify and ISR configuration and PCI_CFG are vendor-specific capabilities
      // (0x09); device configuration too when the device has any; MSI-X (0x11) for vectors.
      const caps = lines.find((l) => l.startsWith('  caps'))!.split(' ').filter((x) => x.startsWith('0x')).map((x) => parseInt(x, 16));
      expect(caps.filter((c) => c === 0x11).length).toBe(1);
      expect(caps.filter((c) => c === 0x09).length).toBe(hasDeviceCfg ? 5 : 4);
    }
    expect(r.lines[r.lines.length - 1]).toBe(count(3));
  });
});
