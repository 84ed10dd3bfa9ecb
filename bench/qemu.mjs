// The QEMU half of the benchmark: runs the bench-* guest fixtures under QEMU
// TCG (optionally with -icount shift=0,sleep=off) and reports guest MIPS, the
// comparison point for hvsim. Plain JS, run by node; host time is fine here
// (bench code, nothing guest-visible).
//
//   node bench/qemu.mjs [--repeat N] [--kvm] [--iters N] [bench-alu bench-memcpy ...]
//
// Method: each fixture takes its iteration count from the multiboot command
// line ("iters=N", the same line hvsim passes). A run with N iterations and a
// run with SMALL_ITERS are timed from spawn to exit with process.hrtime; the
// difference removes QEMU start-up, firmware and guest boot. The workload
// retires exactly constant + perIteration * N instructions (fixtures/guests/
// model.mjs, checked against QEMU icount and single-step traces; see
// fixtures/guests/README.md), so MIPS = perIteration * (N - SMALL_ITERS) / seconds.
//
// QEMU's command line: `-display none -serial stdio -monitor none` rather than
// -nographic, because in QEMU 7.2 `-nographic -serial stdio` fails ("cannot use
// stdio by multiple character devices": -nographic puts the monitor on stdio).

import { spawn, spawnSync } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchmarks, expected } from '../fixtures/guests/model.mjs';

const QEMU = process.env.QEMU ?? 'qemu-system-x86_64';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SMALL_ITERS = 1;

/** QEMU arguments for one run of a multiboot fixture. */
export function qemuArgs(elfPath, { icount = false, accel = 'tcg', append, memoryMiB = 128 } = {}) {
  const args = [
    '-accel', accel,
    ...(icount ? ['-icount', 'shift=0,sleep=off'] : []),
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
    '-m', String(memoryMiB),
    '-kernel', elfPath,
  ];
  if (append !== undefined) args.push('-append', append);
  return args;
}

/**
 * One QEMU run. Resolves {seconds, exitStatus, serial}; resolves null when the
 * QEMU binary is missing; rejects on timeout or when QEMU is killed by a signal.
 */
export function runQemu(elfPath, opts = {}) {
  const { timeoutMs = 600_000 } = opts;
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    let child;
    try {
      child = spawn(QEMU, qemuArgs(elfPath, opts), { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      if (err.code === 'ENOENT') return resolvePromise(null);
      return reject(err);
    }
    const out = [], errOut = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => errOut.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') resolvePromise(null);
      else reject(err);
    });
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      clearTimeout(timer);
      if (signal) {
        reject(new Error(`${QEMU} ${basename(elfPath)}: killed by ${signal} after ${seconds.toFixed(1)} s` +
          ` (timeout ${timeoutMs} ms)\n${Buffer.concat(errOut)}`));
        return;
      }
      resolvePromise({ seconds, exitStatus: code, serial: Buffer.concat(out).toString('latin1'),
        stderr: Buffer.concat(errOut).toString() });
    });
  });
}

let warnedMissing = false;
function reportMissing() {
  if (!warnedMissing) console.error(`bench/qemu.mjs: ${QEMU} not found (apt-get install qemu-system-x86); skipping QEMU figures`);
  warnedMissing = true;
  return null;
}

/**
 * Time a bench fixture under QEMU with its boot overhead subtracted.
 *
 * @param {string} elfPath  fixtures/guests/<name>/<name>.elf
 * @param {{icount?: boolean, iters?: number, smallIters?: number, repeat?: number,
 *          accel?: string, timeoutMs?: number}} opts
 * @returns {Promise<null | {seconds: number, exitStatus: number, expectedStatus: number|null,
 *   iters: number, smallIters: number, totalSeconds: number, bootSeconds: number,
 *   instructions: number|null, mips: number|null, serial: string}>}
 *   seconds = workload time (N-iteration run minus SMALL_ITERS run, best of
 *   `repeat` each); null when qemu-system-x86_64 is absent.
 */
export async function measureQemu(elfPath, { icount = false, iters, smallIters = SMALL_ITERS, repeat = 1,
  accel = 'tcg', timeoutMs } = {}) {
  const name = basename(elfPath).replace(/\.elf$/, '');
  const bench = benchmarks[name];
  const n = iters ?? bench?.defaultIters;
  const opt = (k) => ({ icount, accel, timeoutMs, append: k === undefined ? undefined : `iters=${k}` });
  let full = null, small = null;
  for (let r = 0; r < repeat; r++) {
    const f = await runQemu(elfPath, opt(n));
    if (f === null) return reportMissing();
    const s = await runQemu(elfPath, opt(smallIters));
    if (full === null || f.seconds < full.seconds) full = f;
    if (small === null || s.seconds < small.seconds) small = s;
  }
  const seconds = Math.max(full.seconds - small.seconds, 1e-9);
  const instructions = bench && n !== undefined ? bench.perIteration * (n - smallIters) : null;
  return {
    seconds,
    exitStatus: full.exitStatus,
    expectedStatus: bench && n !== undefined ? expectedStatus(name, n) : null,
    iters: n, smallIters,
    totalSeconds: full.seconds, bootSeconds: small.seconds,
    instructions, mips: instructions === null ? null : instructions / seconds / 1e6,
    serial: full.serial,
  };
}

// The model needs a few seconds for bench-alu's default count; these are its
// results for the default counts (checked by `node fixtures/guests/model.mjs`).
const DEFAULT_STATUS = { 'bench-alu:500000000': 89, 'bench-memcpy:50000': 243, 'bench-branchy:4000': 131 };
function expectedStatus(name, n) {
  return DEFAULT_STATUS[`${name}:${n}`] ?? expected(name, n).qemuStatus;
}

// ---- command line ----
async function main(argv) {
  let repeat = 3, accels = ['tcg'], iters;
  const names = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--repeat') repeat = Number(argv[++i]);
    else if (a === '--kvm') accels = ['tcg', 'kvm'];
    else if (a === '--iters') iters = Number(argv[++i]);
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/qemu.mjs [--repeat N] [--kvm] [--iters N] [bench-name...]');
      return 0;
    } else names.push(a);
  }
  if (names.length === 0) names.push(...Object.keys(benchmarks));
  const variants = [];
  for (const accel of accels) {
    variants.push({ label: accel.toUpperCase(), accel, icount: false });
    if (accel === 'tcg') variants.push({ label: 'TCG+icount', accel, icount: true });
  }
  const rows = [];
  let failed = false;
  for (const name of names) {
    const elf = join(ROOT, 'fixtures', 'guests', name, `${name}.elf`);
    const row = { name, cells: [] };
    for (const v of variants) {
      const r = await measureQemu(elf, { icount: v.icount, accel: v.accel, repeat, iters });
      if (r === null) return 0;
      const ok = r.expectedStatus === null || r.exitStatus === r.expectedStatus;
      if (!ok) failed = true;
      row.iters = r.iters;
      row.instructions = r.instructions;
      row.cells.push(`${r.mips.toFixed(0).padStart(6)} MIPS ${r.seconds.toFixed(3)} s` +
        (ok ? '' : ` BAD STATUS ${r.exitStatus} (want ${r.expectedStatus})`));
    }
    rows.push(row);
  }
  const version = spawnSync(QEMU, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? QEMU;
  console.log(`${version}: guest MIPS (best of ${repeat}; boot subtracted with iters=${SMALL_ITERS} runs)`);
  const head = ['fixture'.padEnd(14), 'iters'.padStart(10), 'instructions'.padStart(14),
    ...variants.map((v) => v.label.padEnd(24))];
  console.log(head.join('  '));
  for (const r of rows) {
    console.log([r.name.padEnd(14), String(r.iters).padStart(10), String(r.instructions).padStart(14),
      ...r.cells.map((c) => c.padEnd(24))].join('  '));
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
