// fixtures/guests/apic-timer through the library: the local APIC timer in one-shot, periodic and
// TSC-deadline modes, through the xAPIC page and (with -x) the x2APIC MSRs, measured by the guest
// with RDTSC. Virtual time is the instruction count (1 ns per instruction, the LAPIC timer input
// clock is LAPIC_TIMER_HZ = 1 GHz) and the TSC runs at the default 2 GHz (src/machine/clock.ts),
// so every figure the guest prints follows from the programmed counts (Intel SDM vol. 3A 11.5.4):
//   one-shot     count x divisor ns          -> 2 x count x divisor TSC cycles
//   periodic     one period each            -> 2 x count x divisor cycles apart, exactly (the guest
//                                               sleeps in HLT, so delivery has a fixed latency)
//   TSC-deadline the interrupt at the deadline -> at least DEADLINE_DELTA cycles after the write
// plus the few instructions between the guest's RDTSC and the register write, and between
// delivery and the handler's RDTSC (bounded by LATENCY below).

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm, type VmCreateParams } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind, type VmExit } from '../../src/machine/exit.js';
import { DEFAULT_CLOCK } from '../../src/machine/clock.js';
import { LAPIC_TIMER_HZ } from '../../src/machine/platform-layout.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/apic-timer/apic-timer.elf');

// The fixture's programming (fixtures/guests/apic-timer/apic-timer.S).
const ONESHOT_COUNT = 100_000; // divide by 1
const ONESHOT_DIV = 1;
const PERIODIC_COUNT = 20_000; // divide by 16
const PERIODIC_DIV = 16;
const PERIODS = 8;
const DEADLINE_DELTA = 300_000;
/** Instructions between a measured RDTSC and the event it measures (register write, delivery, handler entry). */
const LATENCY = 40;

const CYCLES_PER_NS = DEFAULT_CLOCK.tscKHz / 1_000_000; // 2
const NS_PER_TICK = 1_000_000_000 / LAPIC_TIMER_HZ; // 1

type Params = VmCreateParams & { x2apic?: boolean };

function params(x2apic: boolean, com1: (b: number) => void): Params {
  return { name: 'apic-timer', memoryBytes: 128 << 20, unhandledIo: 'ignore', pc: { com1 }, x2apic };
}

/** CPUID.1 of a freshly created machine: [EAX, EBX, ECX, EDX]. */
function cpuid1(x2apic: boolean): Int32Array {
  const vmm = new Vmm();
  const m = vmm.machine(vmm.create(params(x2apic, () => {})));
  const out = new Int32Array(4);
  m.cpuidModel.leaf(1, 0, 0, out);
  return out;
}

/** The machine wires local APICs: CPUID.1:EDX[9] (the test turns itself on when that lands). */
const LAPIC_WIRED = (cpuid1(false)[3] & (1 << 9)) !== 0;
const X2APIC_OFFERED = LAPIC_WIRED && (cpuid1(true)[2] & (1 << 21)) !== 0;

function run(x2apic: boolean): { lines: string[]; exit: VmExit } {
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create(params(x2apic, (b) => serial.push(b)));
  bootKernel(vmm.machine(id), { bytes: new Uint8Array(readFileSync(ELF)), name: 'fixtures/guests/apic-timer/apic-timer.elf' });
  const exit = vmm.run(id, 0, { maxInsns: 200_000_000 });
  const text = Buffer.from(serial).toString('latin1');
  return { lines: text.split('\n').filter((l) => l !== ''), exit };
}

interface Figures {
  oneshot: { interrupts: number; tsc: number; current: number };
  periodic: { interrupts: number; periods: number[]; currentAtStart: number };
  deadline: { tsc: number; msrAfter: number; pastInterrupts: number; polls: number };
}

function figures(lines: string[], mode: 'xapic' | 'x2apic'): Figures {
  const find = (re: RegExp): RegExpMatchArray => {
    for (const l of lines) {
      const m = l.match(re);
      if (m) return m;
    }
    throw new Error(`no line matches ${re} in:\n${lines.join('\n')}`);
  };
  const hex = '(0x[0-9a-f]+)';
  const o = find(new RegExp(`^apic-timer: ${mode} one-shot: interrupts ${hex} tsc ${hex} current after ${hex}$`));
  const p = find(new RegExp(`^apic-timer: ${mode} periodic: interrupts ${hex} periods ((?:0x[0-9a-f]+ )+)current at start ${hex}$`));
  const d = find(new RegExp(`^apic-timer: ${mode} tsc-deadline: tsc ${hex} msr after ${hex} past-deadline interrupts ${hex} after polls ${hex}$`));
  return {
    oneshot: { interrupts: Number(o[1]), tsc: Number(o[2]), current: Number(o[3]) },
    periodic: { interrupts: Number(p[1]), periods: p[2].trim().split(' ').map(Number), currentAtStart: Number(p[3]) },
    deadline: { tsc: Number(d[1]), msrAfter: Number(d[2]), pastInterrupts: Number(d[3]), polls: Number(d[4]) },
  };
}

function checkFigures(f: Figures): void {
  // One-shot: one interrupt, count x divisor input ticks after the write; current count 0 after.
  const oneshot = ONESHOT_COUNT * ONESHOT_DIV * NS_PER_TICK * CYCLES_PER_NS;
  expect(f.oneshot.interrupts).toBe(1);
  expect(f.oneshot.current).toBe(0);
  expect(f.oneshot.tsc).toBeGreaterThanOrEqual(oneshot);
  expect(f.oneshot.tsc).toBeLessThanOrEqual(oneshot + LATENCY * CYCLES_PER_NS);
  // Periodic: PERIODS periods of exactly count x divisor ticks, the count starting at the initial count.
  const period = PERIODIC_COUNT * PERIODIC_DIV * NS_PER_TICK * CYCLES_PER_NS;
  expect(f.periodic.interrupts).toBe(PERIODS + 1);
  expect(f.periodic.periods).toEqual(Array(PERIODS).fill(period));
  expect(f.periodic.currentAtStart).toBeLessThanOrEqual(PERIODIC_COUNT);
  expect(f.periodic.currentAtStart).toBeGreaterThanOrEqual(PERIODIC_COUNT - Math.ceil(LATENCY / PERIODIC_DIV));
  // TSC-deadline: at the deadline, then IA32_TSC_DEADLINE reads 0; a past deadline fires at once.
  expect(f.deadline.tsc).toBeGreaterThanOrEqual(DEADLINE_DELTA);
  expect(f.deadline.tsc).toBeLessThanOrEqual(DEADLINE_DELTA + LATENCY * CYCLES_PER_NS);
  expect(f.deadline.msrAfter).toBe(0);
  expect(f.deadline.pastInterrupts).toBe(2);
  expect(f.deadline.polls).toBe(0);
}

describe('apic-timer guest fixture', () => {
  it.skipIf(!LAPIC_WIRED)('xAPIC: one-shot, periodic and TSC-deadline timers follow the programmed counts', () => {
    const { lines, exit } = run(false);
    expect(lines).toContain('apic-timer: ok');
    expect(lines).toContain('apic-timer: x2apic not advertised, skipped');
    expect(exit.kind === ExitKind.DebugExit && exit.code === 0).toBe(true);
    checkFigures(figures(lines, 'xapic'));
  });

  it.skipIf(!X2APIC_OFFERED)('-x: the same through the x2APIC MSRs', () => {
    const { lines, exit } = run(true);
    expect(lines).toContain('apic-timer: ok');
    expect(lines).toContain('apic-timer: x2apic mode, x2APIC ID 0x00000000');
    expect(exit.kind === ExitKind.DebugExit && exit.code === 0).toBe(true);
    checkFigures(figures(lines, 'xapic'));
    checkFigures(figures(lines, 'x2apic'));
  });
});
