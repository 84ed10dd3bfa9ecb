// virtio-blk sequential read throughput inside the guest (issue 5's figure): MB/s of
// guest-visible data per host second. Bench code: host time is what it measures.
//
//   node bench/virtio-blk.mjs [--reps N]
//
// Builds a 64 MiB image (chunk i of 128 KiB starts with i, so the guest's checksum proves the
// data), boots fixtures/guests/bench-blk on a VM with `-s 3,virtio-blk,IMAGE,ro` (the library:
// Vmm + the PCI platform of the -s options), and times the whole run, boot included (the boot
// is ~0.1% of the instructions). The guest reads the 64 MiB in 128 KiB IN requests, 32 in flight,
// polling the used ring. Reports best and median wall time, MB/s (10^6 bytes of disk data
// delivered per host second), guest instructions and guest instructions per MiB. The
// image is in the host page cache after the first repetition (the figure is the device model's
// and the emulator's cost, not the host disk's). `npm run build` first: this imports dist/.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../dist/api/vmm.js';
import { bootKernel } from '../dist/api/boot.js';
import { buildPciPlatform } from '../dist/machine/pci-platform.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const repsAt = args.indexOf('--reps');
const REPS = repsAt >= 0 ? Number(args[repsAt + 1]) : 5;
const TOTAL = 64 << 20;
const EXPECTED = 'bench-blk: read 0x04000000 bytes in 0x0200 requests, 0x0000 errors, checksum 0x0001ff00';

const dir = mkdtempSync(join(tmpdir(), 'hvsim-bench-blk-'));
const image = join(dir, 'bench.img');
const img = new Uint8Array(TOTAL);
const dv = new DataView(img.buffer);
for (let i = 0; i < TOTAL / (128 << 10); i++) dv.setUint32(i * (128 << 10), i, true);
writeFileSync(image, img);
const kernel = new Uint8Array(readFileSync(join(ROOT, 'fixtures/guests/bench-blk/bench-blk.elf')));

function once() {
  const serial = [];
  const vmm = new Vmm();
  const id = vmm.create({ name: 'bench-blk', memoryBytes: 256 << 20, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b) } });
  const m = vmm.machine(id);
  const platform = vmm.devices(id).platform;
  const t0 = process.hrtime.bigint();
  buildPciPlatform(m, {
    slots: [{ bus: 0, slot: 3, function: 0, emulation: 'virtio-blk', conf: `${image},ro`, arg: `3,virtio-blk,${image},ro` }],
    vmname: 'bench-blk',
    rng: { nextBytes: (n) => new Uint8Array(n) },
    hostInput: (_d, bytes) => bytes,
    hostOutput: () => {},
    irq: (gsi, _isa, level) => platform.gsi(gsi, level),
    msi: (msg) => platform.route(msg),
  });
  bootKernel(m, { bytes: kernel, name: 'bench-blk.elf' });
  const exit = vmm.run(id, 0, { maxInsns: 1e9 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const out = Buffer.from(serial).toString('latin1').trim();
  if (out !== EXPECTED || exit.kind !== 'debug-exit') throw new Error(`bench-blk: unexpected end ${exit.kind}: ${out}`);
  return { wall, insns: m.cpus[0].insns };
}

try {
  const runs = [];
  for (let i = 0; i < REPS; i++) runs.push(once());
  const walls = runs.map((r) => r.wall).sort((a, b) => a - b);
  const best = walls[0];
  const median = walls[Math.floor(walls.length / 2)];
  const insns = runs[0].insns;
  const row = (label, v) => console.log(`${label.padEnd(34)} ${v}`);
  console.log(`virtio-blk sequential read: ${TOTAL >> 20} MiB, 128 KiB requests, 32 in flight (${REPS} runs)`);
  row('wall best / median (s)', `${best.toFixed(3)} / ${median.toFixed(3)}`);
  row('MB/s best / median', `${(TOTAL / 1e6 / best).toFixed(0)} / ${(TOTAL / 1e6 / median).toFixed(0)}`);
  row('guest instructions', `${insns}`);
  row('guest instructions per MiB', `${Math.round(insns / (TOTAL >> 20))}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
