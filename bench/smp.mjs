// Guest MIPS of the SMP fixture with 1, 2 and 4 vCPUs (issue 6's figure): how much the
// deterministic scheduler costs. Bench code: host time is what it measures.
//
//   node bench/smp.mjs [--reps N] [--quantum N] [--sched round-robin|random]
//
// fixtures/guests/smp-counter starts every AP with INIT/SIPI/SIPI and has each vCPU run a
// spinlock counter, a lock-free counter and a racy counter. The total work is the same for
// every vCPU count (iterations per vCPU = TOTAL / vCPUs), so the runs retire about the same
// number of instructions; MIPS = all vCPUs' retired instructions per wall-clock second (and per
// second of this process's CPU time, the steadier figure on a loaded machine). The run goes
// through the same driver as `hvsim run` (src/api/session.ts: runAll under the scheduler).
// `npm run build` first: this imports dist/.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSession, driveSession } from '../dist/api/session.js';
import { DEFAULT_QUANTUM } from '../dist/machine/scheduler.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const REPS = Number(opt('--reps', 3));
const QUANTUM = Number(opt('--quantum', DEFAULT_QUANTUM));
const SCHED = opt('--sched', 'round-robin');
const TOTAL = 2_400_000; // iterations of each counter, summed over the vCPUs
const kernel = new Uint8Array(readFileSync(join(ROOT, 'fixtures/guests/smp-counter/smp-counter.elf')));

function once(vcpus) {
  const serial = [];
  const setup = {
    vmname: 'bench-smp', vcpus, memoryBytes: 64 << 20, hypervisors: [], strictIo: false, ignoreUnknownMsrs: false,
    exitOnPause: false, rtcTime: 946684800, append: `iters=${TOTAL / vcpus}`, kv: [], sched: SCHED, quantum: QUANTUM, seed: 1,
  };
  const s = createSession(setup, { kernel, kernelName: 'smp-counter.elf', modules: [] }, { com1: (b) => serial.push(b) });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const exit = driveSession(s, {});
  const cpu = process.cpuUsage(c0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const insns = s.machine.cpus.reduce((n, c) => n + c.insns, 0);
  const out = Buffer.from(serial).toString('latin1');
  const ok = exit.kind === 'debug-exit' && exit.code === 0 && out.includes('smp: ok');
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, insns, ok };
}

// Warm-up: the interpreter's JIT compiles on the first run, which would otherwise be the 1-vCPU row.
once(2);

const rows = [];
let base = null;
for (const vcpus of [1, 2, 4]) {
  const runs = [];
  for (let r = 0; r < REPS; r++) runs.push(once(vcpus));
  const best = runs.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
  const bestCpu = runs.reduce((a, b) => (a.cpuSeconds <= b.cpuSeconds ? a : b));
  const mips = best.insns / best.seconds / 1e6;
  const cpuMips = bestCpu.insns / bestCpu.cpuSeconds / 1e6;
  base ??= cpuMips;
  rows.push({
    vcpus,
    instructions: best.insns,
    seconds: best.seconds.toFixed(2),
    MIPS: mips.toFixed(1),
    cpuMIPS: cpuMips.toFixed(1),
    'vs 1 vCPU (cpu)': `${((cpuMips / base - 1) * 100).toFixed(1)}%`,
    result: runs.every((x) => x.ok) ? 'ok' : 'WRONG',
  });
}
console.log(`smp-counter, ${TOTAL} iterations per counter in all, --sched ${SCHED}, quantum ${QUANTUM}, best of ${REPS}`);
console.table(rows);
if (rows.some((r) => r.result !== 'ok')) process.exitCode = 1;
