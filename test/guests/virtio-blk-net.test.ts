// The virtio-blk-net guest fixture drives hvsim's virtio-blk and virtio-net with its own legacy
// virtio-pci driver (fixtures/guests/virtio-blk-net). Its blk lines were checked under QEMU 7.2
// (virtio-blk-pci on the same scratch image, serial=hvsim-test-disk: identical lines); QEMU has
// no echo peer, so the net lines are virtio 1.2 5.1 plus hvsim's echo backend (MACs swapped).
//
// The machine is built through the library: a Vmm VM plus the PCI platform of the -s options
// (`-s 4,virtio-blk,IMG,ser=hvsim-test-disk -s 5,virtio-net,echo`); disk reads and frames go
// through hostInput/hostOutput, which the test records to check they are the trace's events.

import { describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind } from '../../src/machine/exit.js';
import { PlatformError, buildPciPlatform, type PciSlotSpec } from '../../src/machine/pci-platform.js';
import { defaultMac, formatMac } from '../../src/devices/virtio-net/mac.js';
import { runCommand } from '../../src/cli/run.js';
import { replayCommand } from '../../src/cli/replay.js';
import { loadTraceCodec } from '../../src/trace/index.js';
import { REPLAY_STATUS } from '../../src/api/exit-status.js';
import { capture } from '../helpers/cli-capture.js';
import { unlinkSync } from 'node:fs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'fixtures/guests');
const SECTORS = 128;

function scratchImage(dir: string): string {
  const img = new Uint8Array(SECTORS * 512);
  img.set(Buffer.from('hvsim sector 0..'), 0);
  img.set(Buffer.from('hvsim last sect.'), (SECTORS - 1) * 512);
  const path = join(dir, 'scratch.img');
  writeFileSync(path, img);
  return path;
}

interface Run {
  lines: string[];
  exit: { kind: string; code?: number };
  inputs: { device: string; bytes: Uint8Array }[];
  outputs: { device: string; bytes: Uint8Array }[];
  image: Uint8Array;
}

function run(name: string, slots: (img: string, dir: string) => PciSlotSpec[], memoryBytes = 128 << 20): Run {
  const dir = mkdtempSync(join(tmpdir(), 'hvsim-vbn-'));
  try {
    const img = scratchImage(dir);
    const serial: number[] = [];
    const vmm = new Vmm();
    const id = vmm.create({ name: 'vbn', memoryBytes, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b) } });
    const m = vmm.machine(id);
    const inputs: Run['inputs'] = [];
    const outputs: Run['outputs'] = [];
    const platform = vmm.devices(id).platform;
    buildPciPlatform(m, {
      slots: slots(img, dir),
      vmname: 'vbn',
      rng: { nextBytes: (n) => new Uint8Array(n) },
      hostInput: (device, bytes) => (inputs.push({ device, bytes: bytes.slice() }), bytes),
      hostOutput: (device, bytes) => void outputs.push({ device, bytes: bytes.slice() }),
      irq: (gsi, _isa, level) => platform.gsi(gsi, level),
      msi: (msg) => platform.route(msg),
    });
    bootKernel(m, { bytes: new Uint8Array(readFileSync(join(FIXTURES, name, `${name}.elf`))), name });
    const exit = vmm.run(id, 0, { maxInsns: 200_000_000 });
    const text = Buffer.from(serial).toString('latin1');
    return {
      lines: text.replace(/\n$/, '').split('\n'),
      exit: { kind: exit.kind, code: exit.kind === ExitKind.DebugExit ? exit.code : undefined },
      inputs,
      outputs,
      image: new Uint8Array(readFileSync(img)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const slot = (s: number, emulation: string, conf: string | null): PciSlotSpec => ({
  bus: 0, slot: s, function: 0, emulation, conf, arg: `${s},${emulation}${conf === null ? '' : ',' + conf}`,
});

describe('virtio-blk-net guest fixture', () => {
  const r = run('virtio-blk-net', (img) => [slot(0, 'hostbridge', null), slot(4, 'virtio-blk', `${img},ser=hvsim-test-disk`), slot(5, 'virtio-net', 'echo')]);

  test('prints the expected lines and passes every check', () => {
    const mac = formatMac(defaultMac(5, 0, 'vbn'));
    expect(r.lines).toEqual([
      'virtio-blk-net: start',
      'blk: capacity 0x0000000000000080', // 128 sectors of 512 bytes (5.2.4)
      'blk: read sector 0: status 0x00 "hvsim sector 0.."',
      'blk: read last sector: status 0x00 "hvsim last sect."',
      'blk: read one past the end: status 0x01', // VIRTIO_BLK_S_IOERR
      'blk: write sector 1: status 0x00',
      'blk: read back sector 1: status 0x00',
      'blk: read-back data matches',
      'blk: flush: status 0x00',
      'blk: get id: status 0x00 "hvsim-test-disk"',
      `net: mac ${mac}`,
      'net: link up',
      'net: frame sent',
      'net: received 0x003c bytes from 02:00:00:00:00:01',
      'net: echo matches',
      'virtio-blk-net: all passed',
    ]);
    expect(r.exit).toEqual({ kind: ExitKind.DebugExit, code: 0 });
  });

  test('the guest\'s write reached the image file (sector 1 = i * 7 + 3)', () => {
    const s1 = r.image.subarray(512, 1024);
    expect(Array.from(s1)).toEqual(Array.from({ length: 512 }, (_, i) => (i * 7 + 3) & 0xff));
  });

  test('disk reads and frames are host inputs/outputs of the devices (trace events)', () => {
    const blk = r.inputs.filter((x) => x.device === 'virtio-blk@00:04.0');
    expect(blk.map((x) => x.bytes.length)).toEqual([512, 512, 512]); // sector 0, last sector, read-back
    const sent = r.outputs.filter((x) => x.device === 'virtio-net@00:05.0');
    expect(sent.map((x) => x.bytes.length)).toEqual([60]);
    const got = r.inputs.filter((x) => x.device === 'virtio-net@00:05.0');
    expect(got.map((x) => x.bytes.length)).toEqual([60]);
  });
});

describe('bench-blk guest fixture', () => {
  test('reads 64 MiB in 512 requests of 128 KiB with the chunk-index checksum', () => {
    const r = run('bench-blk', (_img, dir) => {
      const path = join(dir, 'bench.img');
      const img = new Uint8Array(64 << 20);
      const dv = new DataView(img.buffer);
      for (let i = 0; i < 512; i++) dv.setUint32(i * 128 * 1024, i, true);
      writeFileSync(path, img);
      return [slot(3, 'virtio-blk', `${path},ro`)];
    });
    expect(r.lines).toEqual(['bench-blk: read 0x04000000 bytes in 0x0200 requests, 0x0000 errors, checksum 0x0001ff00']);
    expect(r.exit).toEqual({ kind: ExitKind.DebugExit, code: 0 });
  });
});

describe('-s virtio-blk / virtio-net configuration errors (before the guest starts)', () => {
  const build = (spec: PciSlotSpec) => {
    const vmm = new Vmm();
    const id = vmm.create({ name: 'cfg', memoryBytes: 16 << 20, unhandledIo: 'ignore' });
    const platform = vmm.devices(id).platform;
    buildPciPlatform(vmm.machine(id), {
      slots: [spec], vmname: 'cfg', rng: { nextBytes: (n) => new Uint8Array(n) },
      hostInput: (_d, b) => b, hostOutput: () => {},
      irq: (gsi, _isa, level) => platform.gsi(gsi, level), msi: (msg) => platform.route(msg),
    });
  };
  const expectError = (spec: PciSlotSpec, message: string) => {
    expect(() => build(spec)).toThrow(PlatformError);
    expect(() => build(spec)).toThrow(message);
  };

  test('one line naming the -s option', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvsim-cfg-'));
    try {
      const img = scratchImage(dir);
      expectError(slot(4, 'virtio-blk', `${img},bogus`), `-s 4,virtio-blk,${img},bogus: unknown option bogus`);
      expectError(slot(4, 'virtio-blk', join(dir, 'missing.img')), `-s 4,virtio-blk,${join(dir, 'missing.img')}: cannot open ${join(dir, 'missing.img')} for reading and writing (ENOENT)`);
      expectError(slot(4, 'virtio-blk', null), '-s 4,virtio-blk: missing disk image path');
      expectError(slot(5, 'virtio-net', 'echo,mac=01:00:00:00:00:01'), '-s 5,virtio-net,echo,mac=01:00:00:00:00:01: mac=01:00:00:00:00:01: invalid MAC address');
      expectError(slot(5, 'virtio-net', 'tap0'), '-s 5,virtio-net,tap0: backend tap0 needs a host network');
      expectError(slot(5, 'virtio-net', `pcap=${join(dir, 'none.pcap')}`), 'cannot read');
      expect(() => build(slot(4, 'virtio-blk', `${img},ro,sectorsize=512/4096,ser=x`))).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hvsim run --record / hvsim replay with virtio-blk and virtio-net', () => {
  const ELF = join(FIXTURES, 'virtio-blk-net/virtio-blk-net.elf');
  async function record(dir: string): Promise<{ trace: string; img: string }> {
    await loadTraceCodec();
    const img = scratchImage(dir);
    const trace = join(dir, 'vbn.zst');
    const r = await capture(runCommand, ['-m', '128M', '-s', '0,hostbridge', '-s', `4,virtio-blk,${img},ser=hvsim-test-disk`, '-s', '5,virtio-net,echo',
      '--kernel', ELF, '--record', trace, '--quiet', '-l', 'com1,/dev/null', 'vbn']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1); // isa-debug-exit 0: every check passed
    return { trace, img };
  }

  test('a replay is identical (disk reads and received frames come from the trace)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvsim-vbn-rec-'));
    try {
      const { trace } = await record(dir);
      const p = await capture(replayCommand, [trace]);
      expect(p.stderr).toBe('');
      expect(p.status).toBe(REPLAY_STATUS.IDENTICAL);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The trace header keeps each disk's size; a replay builds virtio-blk on a stand-in of that
  // size and takes every byte the guest read from the trace.
  test('a replay needs no image, and does not write to one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvsim-vbn-rec-'));
    try {
      const { trace, img } = await record(dir);
      unlinkSync(img);
      const p = await capture(replayCommand, [trace]);
      expect(p.status, p.stdout + p.stderr).toBe(REPLAY_STATUS.IDENTICAL);
      expect(existsSync(img)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
