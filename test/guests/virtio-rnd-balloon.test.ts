// The virtio-rnd-balloon guest fixture drives hvsim's entropy device and memory balloon with its
// own legacy virtio-pci driver (fixtures/guests/virtio-rnd-balloon), on the machine bhyve's
// `-s 0,hostbridge -s 3,virtio-rnd -s 4,virtio-balloon` builds.
//
// The machine is built through the library twice: a Vmm VM plus buildPciPlatform with a test
// generator (so the host side, the balloon's target, can be set before boot), and createSession
// with `pciSlots` and a seed (the machine's own generator, seedrandom of "hvsim:<seed>:pci"
// giving 4 bytes per int32, little-endian), also recorded and replayed through the CLI.
//
// Cross-check: under QEMU 7.2 (`qemu-system-x86_64 -accel tcg -display none -monitor none -serial
// stdio -no-reboot -net none -device isa-debug-exit,iobase=0xf4,iosize=4 -m 128 -device
// virtio-rng-pci,addr=3 -device virtio-balloon-pci,addr=4 -kernel virtio-rnd-balloon.elf`) the
// same driver completes every step with the same lines except where QEMU's devices differ from
// hvsim's by choice: host features 0x79000000 / 0x79000012 (QEMU also offers NOTIFY_ON_EMPTY,
// ANY_LAYOUT, and for the balloon PAGE_POISON instead of MUST_TELL_HOST/DEFLATE_ON_OOM),
// high word 0x101 (RING_RESET), an entropy queue of 8, and its own random bytes.
//
// What is checked (virtio 1.2): the transitional IDs the scan finds (4.1.2), the legacy
// HOST_FEATURES (RING_INDIRECT_DESC 28, RING_EVENT_IDX 29, plus 5.5.3's balloon bits 0-2), the
// queue size the device offers, the used lengths (5.4.6.2: the entropy buffer filled; 5.5.6:
// inflate/deflate buffers are device-readable, len 0), the bytes = the generator's bytes through
// hostInput (same seed, same bytes; another seed, other bytes), num_pages/actual (5.5.4), and the
// ballooned pages the host sees.

import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import seedrandom from 'seedrandom';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind } from '../../src/machine/exit.js';
import { buildPciPlatform, type PciSlotSpec } from '../../src/machine/pci-platform.js';
import { createSession, driveSession, type MachineSetup } from '../../src/api/session.js';
import { runCommand } from '../../src/cli/run.js';
import { replayCommand } from '../../src/cli/replay.js';
import { loadTraceCodec } from '../../src/trace/index.js';
import { REPLAY_STATUS } from '../../src/api/exit-status.js';
import { capture } from '../helpers/cli-capture.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { balloonOf } from '../../src/devices/virtio-balloon/virtio-balloon-emulation.js';
import type { VirtioBalloon } from '../../src/devices/virtio-balloon/virtio-balloon.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/virtio-rnd-balloon/virtio-rnd-balloon.elf');

function seededRng(seed: string): { nextBytes(n: number): Uint8Array } {
  const rng = seedrandom(`hvsim-test:${seed}`);
  return { nextBytes: (n) => Uint8Array.from({ length: n }, () => (rng.int32() >>> 0) & 0xff) };
}

const slot = (s: number, emulation: string): PciSlotSpec => ({ bus: 0, slot: s, function: 0, emulation, conf: null, arg: `${s},${emulation}` });

interface Run {
  lines: string[];
  exit: { kind: string; code?: number };
  inputs: { device: string; bytes: number[] }[];
  balloon: VirtioBalloon;
}

function run(seed: string, target = 0): Run {
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create({ name: 'vrb', memoryBytes: 32 << 20, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b) } });
  const m = vmm.machine(id);
  const inputs: Run['inputs'] = [];
  const platform = vmm.devices(id).platform;
  const pci = buildPciPlatform(m, {
    slots: [slot(0, 'hostbridge'), slot(3, 'virtio-rnd'), slot(4, 'virtio-balloon')],
    vmname: 'vrb',
    rng: seededRng(seed),
    hostInput: (device, bytes) => (inputs.push({ device, bytes: Array.from(bytes) }), bytes),
    hostOutput: () => {},
    irq: (gsi, _isa, level) => platform.gsi(gsi, level),
    msi: (msg) => platform.route(msg),
  });
  const balloon = pci.functions.map((f) => balloonOf(f.fn)).find((b) => b !== null)!;
  if (target !== 0) balloon.setTargetPages(target);
  bootKernel(m, { bytes: new Uint8Array(readFileSync(ELF)), name: 'virtio-rnd-balloon.elf' });
  const exit = vmm.run(id, 0, { maxInsns: 50_000_000 });
  return {
    lines: Buffer.from(serial).toString('latin1').replace(/\n$/, '').split('\n'),
    exit: { kind: exit.kind, code: exit.kind === ExitKind.DebugExit ? exit.code : undefined },
    inputs,
    balloon,
  };
}

const hex = (bytes: ArrayLike<number>) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

describe('virtio-rnd-balloon guest fixture', () => {
  const a = run('one', 300);
  const expectedBytes = seededRng('one').nextBytes(48);

  test('prints the expected lines and exits with 0', () => {
    expect(a.lines).toEqual([
      'virtio-rnd-balloon: start',
      'rnd: slot 0x03',
      'rnd: host features 0x30000000', // RING_INDIRECT_DESC | RING_EVENT_IDX (6), no entropy bits (5.4.3)
      'rnd: queue size 0x0040',
      `rnd: used len 0x00000010 bytes ${hex(expectedBytes.subarray(0, 16))}`,
      `rnd: used len 0x00000010 bytes ${hex(expectedBytes.subarray(16, 32))}`,
      // The modern interface: VERSION_1 offered (bit 32), notify_off_multiplier as the NOTIFY cap says.
      'rnd modern: device features hi 0x00000001 queue max 0x0040 notify multiplier 0x00000004',
      `rnd modern: used len 0x00000010 bytes ${hex(expectedBytes.subarray(32, 48))}`,
      'balloon: slot 0x04',
      'balloon: host features 0x30000007', // + MUST_TELL_HOST, STATS_VQ, DEFLATE_ON_OOM (5.5.3)
      'balloon: num_pages 0x0000012c actual 0x00000000', // the host target set before boot: 300
      'balloon: inflated 4 pages, used len 0x00000000',
      'balloon: deflated 2 pages, used len 0x00000000',
      'balloon: num_pages 0x0000012c actual 0x00000002',
      'virtio-rnd-balloon: done',
    ]);
    expect(a.exit).toEqual({ kind: ExitKind.DebugExit, code: 0 });
  });

  test('the entropy bytes are host input of virtio-rnd@00:03.0 (trace events)', () => {
    expect(a.inputs.map((x) => x.device)).toEqual(['virtio-rnd@00:03.0', 'virtio-rnd@00:03.0', 'virtio-rnd@00:03.0']);
    expect(hex(a.inputs.flatMap((x) => x.bytes))).toBe(hex(expectedBytes));
  });

  test('same seed, same bytes; another seed, other bytes', () => {
    const again = run('one', 300);
    expect(again.lines).toEqual(a.lines);
    const other = run('two', 300);
    expect(other.lines[4]).not.toEqual(a.lines[4]);
    const fixed = (lines: string[]) => lines.filter((l) => !/^rnd( modern)?: used len/.test(l));
    expect(fixed(other.lines)).toEqual(fixed(a.lines));
  });

  test('the host sees the pages still in the balloon and the driver\'s actual', () => {
    expect(a.balloon.balloonedPages).toBe(2);
    expect(a.balloon.isBallooned(0x302) && a.balloon.isBallooned(0x303)).toBe(true);
    expect(a.balloon.isBallooned(0x300) || a.balloon.isBallooned(0x301)).toBe(false);
    expect(a.balloon.actual).toBe(2);
  });

});

/** What the machine's generator gives for `seed` (the platform's "pci" stream), written from its definition. */
function machineBytes(seed: number, n: number): Uint8Array {
  const rng = seedrandom(`hvsim:${seed}:pci`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = rng.int32();
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
  }
  return out;
}

function sessionRun(seed: number): string[] {
  const serial: number[] = [];
  const setup: MachineSetup = {
    vmname: 'vrb', vcpus: 1, memoryBytes: 32 << 20, hypervisors: [], strictIo: false, ignoreUnknownMsrs: false,
    exitOnPause: false, rtcTime: 946684800, append: '', kv: [], seed,
    pciSlots: [slot(0, 'hostbridge'), slot(3, 'virtio-rnd'), slot(4, 'virtio-balloon')],
  };
  const s = createSession(setup, { kernel: new Uint8Array(readFileSync(ELF)), kernelName: 'virtio-rnd-balloon.elf', modules: [] }, { com1: (b) => serial.push(b) });
  const exit = driveSession(s, { maxInsns: 50_000_000 });
  expect(exit.kind === ExitKind.DebugExit ? exit.code : null).toBe(0);
  return Buffer.from(serial).toString('latin1').replace(/\n$/, '').split('\n');
}

describe('virtio-rnd-balloon through createSession (-s plumbing, the machine\'s seeded generator)', () => {
  test('the bytes are the machine generator\'s for the seed; another seed gives others', () => {
    const bytes = machineBytes(7, 32);
    const lines = sessionRun(7);
    expect(lines[4]).toBe(`rnd: used len 0x00000010 bytes ${hex(bytes.subarray(0, 16))}`);
    expect(lines[5]).toBe(`rnd: used len 0x00000010 bytes ${hex(bytes.subarray(16, 32))}`);
    expect(sessionRun(7)).toEqual(lines);
    expect(sessionRun(8)[4]).not.toBe(lines[4]);
    expect(lines[10]).toBe('balloon: num_pages 0x00000000 actual 0x00000000');
  });

  test('hvsim run --record then hvsim replay is identical (the entropy bytes come from the trace)', async () => {
    await loadTraceCodec();
    const tmp = mkdtempSync(join(tmpdir(), 'hvsim-vrb-'));
    try {
      const trace = join(tmp, 'vrb.zst');
      const r = await capture(runCommand, ['-m', '32M', '--seed', '7', '-s', '0,hostbridge', '-s', '3,virtio-rnd', '-s', '4,virtio-balloon',
        '--kernel', ELF, '--record', trace, '--quiet', '-l', 'com1,/dev/null', 'vm']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(1); // isa-debug-exit 0
      const p = await capture(replayCommand, [trace]);
      expect(p.status).toBe(REPLAY_STATUS.IDENTICAL);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
