// Determinism (DESIGN.md, "Determinism rules"): the guest-visible state is a pure function of
// the configuration and the images. Each fixture runs twice in fresh VMs, in slices of
// maxInsns instructions, with a state digest (src/machine/digest.ts) after every slice and
// exit; the two digest sequences must be identical. So that the test can fail, a different
// command line (--append) must give a different final digest, and the final state must not
// depend on how the run was sliced.

import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Vmm } from '../src/api/vmm.js';
import { bootKernel } from '../src/api/boot.js';
import { stateDigest } from '../src/machine/digest.js';
import { ExitKind, type VmExit } from '../src/machine/exit.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const images = new Map<string, Uint8Array>();
const image = (name: string): Uint8Array => {
  let b = images.get(name);
  if (b === undefined) images.set(name, (b = new Uint8Array(readFileSync(join(ROOT, `fixtures/guests/${name}/${name}.elf`)))));
  return b;
};

interface Trace {
  /** One entry per slice or exit: the exit and the digest of the state after it. */
  steps: string[];
  final: string;
  exit: VmExit;
  serial: string;
}

/** Boot `name` with `append` in a fresh VM and run it to its end in slices of `slice` instructions. */
function trace(name: string, append: string, slice: number | null): Trace {
  const vmm = new Vmm();
  const serial: number[] = [];
  const id = vmm.create({ name, memoryBytes: 16 * MiB, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b), cmdline: append } });
  const m = vmm.machine(id);
  const devices = vmm.devices(id);
  bootKernel(m, { bytes: image(name), name: `fixtures/guests/${name}/${name}.elf`, append });
  const steps = [`boot ${stateDigest(m, devices)}`];
  let exit: VmExit;
  for (let n = 0; ; n++) {
    if (n > 1000) throw new Error(`${name}: no end after 1000 slices`);
    exit = vmm.run(id, 0, slice === null ? {} : { maxInsns: slice });
    const d = stateDigest(m, devices);
    steps.push(`${JSON.stringify(exit)} @${m.cpus[0].insns} ${d}`);
    if (exit.kind !== ExitKind.Limit) break;
  }
  return { steps, final: stateDigest(m, devices), exit, serial: Buffer.from(serial).toString('latin1') };
}

interface Model {
  expected(name: string, iters: number): { exitValue: number };
}
let model: Model;
beforeAll(async () => {
  const url: string = pathToFileURL(join(ROOT, 'fixtures/guests/model.mjs')).href;
  model = (await import(url)) as Model;
});

const SLICE = 100_000;
const FIXTURES: Array<[name: string, append: string, iters: number | null]> = [
  ['hello', 'demo', null],
  ['bench-alu', 'iters=20000', 20000], // ~100k instructions: two slices
  ['bench-memcpy', 'iters=1', 1], // ~142k instructions
  ['bench-branchy', 'iters=1', 1], // ~459k instructions: five slices
];

describe('determinism', () => {
  for (const [name, append, iters] of FIXTURES) {
    it(`${name} (${append}) gives the same digest after every slice in two fresh VMs`, () => {
      const a = trace(name, append, SLICE);
      const b = trace(name, append, SLICE);
      // The run really happened: it ended through isa-debug-exit with the expected value.
      expect(a.exit.kind).toBe(ExitKind.DebugExit);
      if (a.exit.kind === ExitKind.DebugExit) expect(a.exit.code).toBe(iters === null ? 0 : model.expected(name, iters).exitValue);
      expect(a.steps.length).toBeGreaterThanOrEqual(2);
      expect(b.steps).toEqual(a.steps);
      expect(b.serial).toBe(a.serial);
      // Every slice moved the state on.
      expect(new Set(a.steps.map((s) => s.slice(-16))).size).toBe(a.steps.length);
    });
  }

  it('a different command line gives a different final digest (the test can fail)', () => {
    const a = trace('bench-alu', 'iters=1000', SLICE);
    const b = trace('bench-alu', 'iters=1001', SLICE);
    expect(b.final).not.toBe(a.final);
    expect(b.steps[0]).not.toBe(a.steps[0]); // the command line is in guest RAM from boot
    const h1 = trace('hello', 'demo', SLICE);
    const h2 = trace('hello', 'demo2', SLICE);
    expect(h2.final).not.toBe(h1.final);
  });

  it('the final state does not depend on how the run is sliced', () => {
    const whole = trace('bench-branchy', 'iters=1', null);
    for (const slice of [SLICE, 37_337]) {
      const sliced = trace('bench-branchy', 'iters=1', slice);
      expect(sliced.exit).toEqual(whole.exit);
      expect(sliced.serial).toBe(whole.serial);
      expect(sliced.final).toBe(whole.final);
    }
  });
});
