// fixtures/guests/bench-io (the exit-heavy benchmark guest of bench/trace.mjs) run through
// hvsim in-process and checked against its reference model, fixtures/guests/bench-io/model.mjs:
// the printed checksum and exit value, the exits per iteration (counted by an observer), and
// the loop's instruction count. The model's 32-bit-halves arithmetic is itself checked here
// against a plain BigInt transcription of the loop in bench-io.S.

import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind, type VmExit } from '../../src/machine/exit.js';
import type { MachineObserver } from '../../src/machine/observer.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/bench-io/bench-io.elf');

interface Expected {
  checksum: string;
  exitValue: number;
  exits: number;
  serial: string;
}
interface Model {
  checksum(n: number): bigint;
  expected(iters: number): Expected;
  PER_ITERATION: number;
  APIC_BASE_BSP: number;
  EXITS_BEFORE_LOOP: { io: number; cpuid: number };
  EXITS_PER_ITERATION: { io: Record<string, number>; cpuid: number; rdmsr: number; total: number };
}
let model: Model;
beforeAll(async () => {
  model = (await import(pathToFileURL(join(ROOT, 'fixtures/guests/bench-io/model.mjs')).href)) as Model;
});

/** Counts exits by kind and notes the icounts of the POST-port writes (one per iteration). */
class ExitCounter implements MachineObserver {
  io = new Map<string, number>();
  /** CPUIDs from the first CMOS index write on (a MOV to CR4 also asks CPUID, from the machine). */
  cpuidInWorkload = 0;
  private inWorkload = false;
  rdmsrApicBase: number[] = [];
  rdmsrOther = 0;
  postIcounts: number[] = [];
  ioRead(_v: number, _i: number, port: number, _s: number, value: number): number {
    const k = `in 0x${port.toString(16)}`;
    this.io.set(k, (this.io.get(k) ?? 0) + 1);
    return value;
  }
  ioWrite(_v: number, icount: number, port: number): void {
    const k = `out 0x${port.toString(16)}`;
    this.io.set(k, (this.io.get(k) ?? 0) + 1);
    if (port === 0x80) this.postIcounts.push(icount);
    if (port === 0x70) this.inWorkload = true;
  }
  cpuid(): void {
    if (this.inWorkload) this.cpuidInWorkload++;
  }
  msr(_v: number, _i: number, write: boolean, msr: number, lo: number, hi: number, gp: boolean): void {
    if (!write && msr === 0x1b && !gp && hi === 0) this.rdmsrApicBase.push(lo >>> 0);
    else this.rdmsrOther++;
  }
  mmioRead(_v: number, _i: number, _gpa: number, _s: number, value: number): number {
    return value;
  }
  mmioWrite(): void {}
  hypercall(): void {}
  hlt(): void {}
  interrupt(): void {}
  exit(): void {}
  kvWrite(): void {}
  hostInput(_v: number, _i: number, _d: string, data: Uint8Array): Uint8Array {
    return data;
  }
  hostOutput(): void {}
}

function run(iters: number): { exit: VmExit; serial: string; counter: ExitCounter } {
  const vmm = new Vmm();
  const serial: number[] = [];
  const id = vmm.create({ name: 'bench-io', memoryBytes: 16 << 20, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b) } });
  const m = vmm.machine(id);
  bootKernel(m, { bytes: new Uint8Array(readFileSync(ELF)), name: ELF, append: `iters=${iters}` });
  const counter = new ExitCounter();
  m.observer = counter;
  const exit = vmm.run(id, 0, { maxInsns: 100_000_000 });
  return { exit, serial: Buffer.from(serial).toString('latin1'), counter };
}

/** The loop of bench-io.S transcribed with BigInt, one line per instruction group. */
function bigIntChecksum(n: number): bigint {
  const M = (1n << 64n) - 1n;
  const cmos = new Array<bigint>(16).fill(0n);
  let x = 0x2545f4914f6cdd1dn;
  let c = 0n;
  for (let i = 0; i < n; i++) {
    x ^= (x << 13n) & M;
    x ^= x >> 7n;
    x ^= (x << 17n) & M;
    const j = Number(x & 15n);
    const old = cmos[j];
    cmos[j] = (x >> 8n) & 0xffn;
    const p61 = 0n; // port 0x61 bits 0-1 as written; never written, 0 after reset
    const a = 0xfee00900n; // IA32_APIC_BASE of the BSP (SDM vol. 3A 11.4.4)
    c = (((c << 5n) | (c >> 59n)) & M) ^ ((a + x + old + p61) & M);
  }
  return c; // + m, which is 0
}

describe('bench-io fixture', () => {
  it('the model agrees with a BigInt transcription of the loop', () => {
    for (const n of [1, 2, 17, 1000, 4321]) expect(model.checksum(n)).toBe(bigIntChecksum(n));
  });

  for (const iters of [1, 1000]) {
    it(`iters=${iters}: prints the model's checksum and exits with its value`, () => {
      const e = model.expected(iters);
      const r = run(iters);
      expect(r.exit).toEqual({ kind: ExitKind.DebugExit, code: e.exitValue });
      expect(r.serial.startsWith(e.serial + '\n')).toBe(true);
      expect(r.serial).toMatch(/\nbench-io: tsc delta \d+\n$/);
    });
  }

  it('makes the exits the model says, per iteration, and the loop is 43 instructions', () => {
    const iters = 500;
    const { counter } = run(iters);
    const per = model.EXITS_PER_ITERATION;
    // Before the loop: 16 x (OUT 0x70, OUT 0x71), one CPUID. The driver around the workload
    // adds its own: COM1 polls and writes (0x3fd, 0x3f8), the EFER rdmsr/wrmsr of the switch
    // to long mode and the isa-debug-exit write; those ports and MSRs are left out here.
    expect(counter.io.get('out 0x80')).toBe(per.io['out 0x80'] * iters);
    expect(counter.io.get('in 0x61')).toBe(per.io['in 0x61'] * iters);
    expect(counter.io.get('in 0x71')).toBe(per.io['in 0x71'] * iters);
    expect(counter.io.get('out 0x70')).toBe(per.io['out 0x70'] * iters + model.EXITS_BEFORE_LOOP.io / 2);
    expect(counter.io.get('out 0x71')).toBe(per.io['out 0x71'] * iters + model.EXITS_BEFORE_LOOP.io / 2);
    expect(counter.cpuidInWorkload).toBe(per.cpuid * iters + model.EXITS_BEFORE_LOOP.cpuid);
    expect(counter.rdmsrApicBase).toHaveLength(per.rdmsr * iters);
    expect(new Set(counter.rdmsrApicBase)).toEqual(new Set([model.APIC_BASE_BSP]));
    // One POST write per iteration, PER_ITERATION instructions apart.
    const gaps = new Set(counter.postIcounts.slice(1).map((t, i) => t - counter.postIcounts[i]));
    expect(gaps).toEqual(new Set([model.PER_ITERATION]));
  });
});
