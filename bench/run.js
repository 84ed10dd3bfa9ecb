// `npm run bench`: guest MIPS of hvsim's interpreter on the CPU-bound fixtures, next to
// Debian's QEMU TCG (with -icount shift=0,sleep=off, as the issue asks, and without) on the
// same fixtures and iteration counts. Bench code: host time is what it measures.
//
//   node bench/run.js [--quick] [--no-qemu] [bench-alu bench-memcpy bench-branchy]
//
// hvsim runs in this process (no start-up cost to subtract) and counts instructions exactly;
// hvsimMIPS is per wall-clock second, hvsimCpuMIPS per second of this process's CPU time
// (the steadier figure on a loaded machine);
// QEMU runs are timed as (N iterations) - (1 iteration) to remove its start-up and boot.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../dist/api/vmm.js';
import { bootKernel } from '../dist/api/boot.js';
import { hashRam } from '../dist/machine/digest.js';
import { benchmarks, expected } from '../fixtures/guests/model.mjs';
import { measureQemu } from './qemu.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noQemu = args.includes('--no-qemu');
const names = args.filter((a) => !a.startsWith('--'));
const selected = names.length > 0 ? names : ['bench-alu', 'bench-memcpy', 'bench-branchy'];

// Iteration counts: a few seconds of hvsim per fixture (about 100-250 M instructions).
const ITERS = quick
  ? { 'bench-alu': 2_000_000, 'bench-memcpy': 200, 'bench-branchy': 20 }
  : { 'bench-alu': 50_000_000, 'bench-memcpy': 4_000, 'bench-branchy': 400 };

function runHvsim(name, iters) {
  const elf = join(ROOT, 'fixtures/guests', name, `${name}.elf`);
  const vmm = new Vmm();
  const serial = [];
  const id = vmm.create({ name, memoryBytes: 128 << 20, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b) } });
  const m = vmm.machine(id);
  bootKernel(m, { bytes: new Uint8Array(readFileSync(elf)), name: elf, append: `iters=${iters}` });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const exit = vmm.run(id, 0);
  const cpu = process.cpuUsage(c0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const insns = m.cpus[0].insns;
  return { seconds, cpuSeconds, insns, mips: insns / seconds / 1e6, cpuMips: insns / cpuSeconds / 1e6, exit, serial: Buffer.from(serial).toString('latin1') };
}

const rows = [];
for (const name of selected) {
  const iters = ITERS[name];
  const exp = expected(name, iters);
  const h = runHvsim(name, iters);
  const ok = h.exit.kind === 'debug-exit' && h.exit.code === exp.exitValue && h.serial.includes(exp.checksum);
  const row = { fixture: name, iters, instructions: h.insns, hvsimSeconds: h.seconds.toFixed(2), hvsimMIPS: h.mips.toFixed(1), hvsimCpuMIPS: h.cpuMips.toFixed(1), checksum: ok ? 'ok' : 'WRONG' };
  if (!noQemu) {
    const q = await measureQemu(join(ROOT, 'fixtures/guests', name, `${name}.elf`), { iters, icount: true });
    const t = await measureQemu(join(ROOT, 'fixtures/guests', name, `${name}.elf`), { iters, icount: false });
    row.qemuIcountMIPS = q?.mips?.toFixed(1) ?? 'n/a';
    row.qemuTcgMIPS = t?.mips?.toFixed(1) ?? 'n/a';
  }
  rows.push(row);
  if (!ok) process.exitCode = 1;
}
console.table(rows);

// The state digest's cost on 128 MiB of RAM (src/machine/digest.ts), all pages zero and every
// page with data: traces take one every N exits, so this bounds how often that can be.
const ram = new Uint8Array(128 << 20);
const timeDigest = () => {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    hashRam(ram);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
};
const zeroMs = timeDigest();
const w = new Int32Array(ram.buffer);
for (let i = 0; i < w.length; i += 1021) w[i] = i;
console.log(`state digest of 128 MiB RAM: ${zeroMs.toFixed(0)} ms all pages zero, ${timeDigest().toFixed(0)} ms every page non-zero`);
void benchmarks;
