// A HypervisorHost for unit tests of the paravirtual clocks: real guest memory, a virtual clock the
// test moves by hand, and a TSC derived from it the way the machine derives it (README "Time":
// TSC = floor(ns * kHz / 1e6) + offset, continuous across a frequency change).

import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypervisorHost } from '../../src/hypervisors/personality.js';

export class FakeClockHost implements HypervisorHost {
  readonly mem: GuestMemory;
  readonly kv = new KvStore();
  ns = 0;
  private khz: number;
  private offset = 0;

  constructor(
    readonly vcpus = 2,
    readonly bootTime = 1_700_000_000,
    tscKHz = 2_000_000,
    memoryBytes = 1 << 20,
  ) {
    this.mem = new GuestMemory(memoryBytes);
    this.khz = tscKHz;
  }

  nowNs(): number {
    return this.ns;
  }
  tsc(): number {
    return Math.floor((this.ns * this.khz) / 1e6) + this.offset;
  }
  tscKHz(): number {
    return this.khz;
  }
  /** Machine.setTscKHz's rule: the TSC keeps its value at the change. */
  setTscKHz(khz: number): void {
    const before = this.tsc();
    this.khz = khz;
    this.offset += before - this.tsc();
  }
  /** A guest WRMSR to IA32_TSC: the TSC jumps, the virtual clock does not. */
  writeTsc(value: number): void {
    this.offset += value - this.tsc();
  }
  injectInterrupt(): void {}
  after(): number {
    return 0;
  }
  cancel(): void {}
}
