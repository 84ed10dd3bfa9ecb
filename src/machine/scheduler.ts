// Which vCPU runs next, and for how long. vCPUs run one at a time on the one virtual clock
// (time is the sum of all retired instructions, as with QEMU's round-robin icount), so the
// interleaving of several vCPUs is a pure function of the policy and its seed.
//
// Policies (`--sched`):
//  - round-robin: vCPUs in ID order, each for a fixed quantum (the default);
//  - random: a seeded generator picks the next runnable vCPU and a quantum between a quarter
//    and twice the base quantum, so different seeds explore different interleavings while the
//    same seed always gives the same one. It can also delay interrupt delivery by a bounded
//    number of instructions (interruptDelay), to move device interrupts against the vCPUs.
// A vCPU also gives up the rest of its quantum when it halts or executes PAUSE (the pause-loop
// exit of real hypervisors), so a spinning vCPU does not burn the lock holder's time.

import seedrandom from 'seedrandom';

export type SchedPolicyName = 'round-robin' | 'random';
export const SCHED_POLICIES: readonly SchedPolicyName[] = ['round-robin', 'random'];

/** Default quantum, in instructions (100 µs of virtual time at 1 ns per instruction). */
export const DEFAULT_QUANTUM = 100_000;
/** Largest extra delay the random policy gives an interrupt message, in instructions. */
export const MAX_INTERRUPT_DELAY = 2_000;

export interface SchedConfig {
  policy: SchedPolicyName;
  /** Base quantum in instructions (1 .. 2^31). */
  quantum: number;
  seed: number;
}

export const DEFAULT_SCHED: SchedConfig = { policy: 'round-robin', quantum: DEFAULT_QUANTUM, seed: 0 };

export interface Scheduler {
  /** The next vCPU to run among `runnable` (true = may run now), after `last`; -1 if none. */
  next(runnable: readonly boolean[], last: number): number;
  /** The quantum for the vCPU just chosen. */
  quantum(): number;
  /** Extra instructions before an interrupt message reaches its APIC (0: at once). */
  interruptDelay(): number;
  /** Generator state for digests and snapshots (plain data). */
  saveState(): Record<string, unknown>;
}

class RoundRobin implements Scheduler {
  constructor(private readonly q: number) {}
  next(runnable: readonly boolean[], last: number): number {
    const n = runnable.length;
    for (let i = 1; i <= n; i++) {
      const id = (last + i) % n;
      if (runnable[id]) return id;
    }
    return -1;
  }
  quantum(): number {
    return this.q;
  }
  interruptDelay(): number {
    return 0;
  }
  saveState(): Record<string, unknown> {
    return { policy: 'round-robin', quantum: this.q };
  }
}

class SeededRandom implements Scheduler {
  private readonly rng: seedrandom.PRNG;
  private draws = 0;
  constructor(
    private readonly q: number,
    private readonly seed: number,
  ) {
    this.rng = seedrandom(`hvsim-sched:${seed}`);
  }
  /** An integer in [0, n): from the generator's 32-bit output, exact. */
  private below(n: number): number {
    this.draws++;
    return (this.rng.int32() >>> 0) % n;
  }
  next(runnable: readonly boolean[], _last: number): number {
    let count = 0;
    for (const r of runnable) if (r) count++;
    if (count === 0) return -1;
    let k = this.below(count);
    for (let id = 0; id < runnable.length; id++) {
      if (runnable[id] && k-- === 0) return id;
    }
    return -1;
  }
  quantum(): number {
    const lo = Math.max(1, Math.floor(this.q / 4));
    return lo + this.below(2 * this.q - lo + 1);
  }
  interruptDelay(): number {
    return this.below(MAX_INTERRUPT_DELAY + 1);
  }
  saveState(): Record<string, unknown> {
    return { policy: 'random', quantum: this.q, seed: this.seed, draws: this.draws };
  }
}

export function createScheduler(c: SchedConfig): Scheduler {
  if (!Number.isInteger(c.quantum) || c.quantum < 1 || c.quantum > 2 ** 31) throw new RangeError(`scheduler quantum must be 1-2^31 instructions, got ${c.quantum}`);
  return c.policy === 'random' ? new SeededRandom(c.quantum, c.seed) : new RoundRobin(c.quantum);
}
