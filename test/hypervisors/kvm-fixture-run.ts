// Runs fixtures/guests/kvmclock under hvsim and parses what it prints (shared by the kvmclock tests).

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import type { Machine } from '../../src/machine/machine.js';
import type { VmExit } from '../../src/machine/exit.js';
import type { PersonalityName } from '../../src/hypervisors/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KVMCLOCK_ELF = join(ROOT, 'fixtures/guests/kvmclock/kvmclock.elf');

export interface KvmclockOutput {
  lines: string[];
  base: number;
  features: number;
  /** The last reading: RDTSC value and the ns the guest computed from it. */
  lastTsc: bigint;
  lastNs: bigint;
  struct: { version: number; tscTimestamp: bigint; systemTime: bigint; mul: number; shift: number; flags: number };
  wall: { version: number; sec: number; nsec: number } | null;
}

const hex = (s: string): bigint => BigInt(s);

/** Parse the fixture's serial output (the same format under hvsim and under QEMU/KVM). */
export function parseKvmclockOutput(text: string): KvmclockOutput {
  const lines = (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n').map((l) => l.replace(/\r$/, ''));
  const find = (re: RegExp): RegExpMatchArray => {
    for (const l of lines) {
      const m = l.match(re);
      if (m !== null) return m;
    }
    throw new Error(`no line matches ${re} in:\n${lines.join('\n')}`);
  };
  const b = find(/^kvmclock: KVMKVMKVM at (0x[0-9a-f]+) max leaf (0x[0-9a-f]+)$/);
  const f = find(/^kvmclock: features (0x[0-9a-f]+)$/);
  const last = find(/^kvmclock: last tsc (0x[0-9a-f]+) ns (0x[0-9a-f]+)$/);
  const s = find(/^kvmclock: struct version (0x[0-9a-f]+) tsc_timestamp (0x[0-9a-f]+) system_time (0x[0-9a-f]+) mul (0x[0-9a-f]+) shift (0x[0-9a-f]+) flags (0x[0-9a-f]+)$/);
  let wall: KvmclockOutput['wall'] = null;
  for (const l of lines) {
    const m = l.match(/wall clock (?:never written, )?version (0x[0-9a-f]+) sec (0x[0-9a-f]+) nsec (0x[0-9a-f]+)$/);
    if (m !== null) wall = { version: Number(m[1]), sec: Number(m[2]), nsec: Number(m[3]) };
  }
  const shift8 = Number(s[5]);
  return {
    lines,
    base: Number(b[1]),
    features: Number(f[1]),
    lastTsc: hex(last[1]),
    lastNs: hex(last[2]),
    struct: {
      version: Number(s[1]),
      tscTimestamp: hex(s[2]),
      systemTime: hex(s[3]),
      mul: Number(s[4]),
      shift: shift8 >= 0x80 ? shift8 - 0x100 : shift8,
      flags: Number(s[6]),
    },
    wall,
  };
}

export interface KvmclockRun {
  text: string;
  exit: VmExit;
  machine: Machine;
}

/**
 * Boot the fixture under the given personalities. `before` may schedule things (migrations,
 * samplers) on the machine before the guest starts.
 */
export function runKvmclock(hypervisors: PersonalityName[], opts: { tscKHz?: number; rtcTime?: number; maxInsns?: number; before?: (m: Machine) => void } = {}): KvmclockRun {
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create({
    name: 'kvmclock',
    memoryBytes: 64 << 20,
    unhandledIo: 'ignore',
    hypervisors,
    tscKHz: opts.tscKHz,
    pc: { com1: (byte) => serial.push(byte), rtcTime: opts.rtcTime },
  });
  const machine = vmm.machine(id);
  bootKernel(machine, { bytes: new Uint8Array(readFileSync(KVMCLOCK_ELF)), name: 'fixtures/guests/kvmclock/kvmclock.elf' });
  opts.before?.(machine);
  const exit = vmm.run(id, 0, { maxInsns: opts.maxInsns ?? 50_000_000 });
  return { text: Buffer.from(serial).toString('latin1'), exit, machine };
}
