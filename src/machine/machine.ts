// The machine: guest memory, the port bus, the virtual clock, the vCPUs, and the exit
// dispatch that routes each CPU exit to whoever registered for it (a device on a bus, the
// CPU model, a hypervisor personality) or hands it to the API caller as a VmExit.
//
// Exits that need an answer (an unhandled IN, a port write under -e) stop the CPU *before*
// the instruction retires; the caller fills in the answer and the next run() re-executes the
// instruction, which then consumes it. Terminal events (debug-exit, power-off) stop the CPU
// *after* the instruction retires.

import { GuestMemory } from './memory.js';
import { PortIoBus } from './io-bus.js';
import { VirtualClock, DEFAULT_CLOCK, type ClockConfig } from './clock.js';
import { Cpu, Stop, type CpuHost } from './cpu/cpu.js';
import { cpuReadMsr, cpuWriteMsr } from './cpu/exec-system.js';
import { Flag, Msr } from './cpu/constants.js';
import { CpuidModel } from './cpuid-model.js';
import { MachineMsrs } from './machine-msrs.js';
import { ExitKind, type VmExit, type IoExit } from './exit.js';
import type { InterruptSource } from './irq.js';
import type { HypervisorPersonality } from '../hypervisors/personality.js';

export interface MachineConfig {
  memoryBytes: number;
  vcpus: number;
  clock?: ClockConfig;
  /** Unhandled port I/O: 'exit' to the API caller (bhyve -e, and the library default) or 'ignore'
   *  (reads return all ones, writes are dropped, as on a PC bus). */
  unhandledIo: 'exit' | 'ignore';
  /** bhyve -w: unknown MSRs read as 0 and ignore writes instead of #GP. */
  ignoreUnknownMsrs: boolean;
  /** bhyve -P: PAUSE is an exit. */
  exitOnPause: boolean;
  /** Personalities in CPUID order: the first at 0x40000000, the next at 0x40000100, ... */
  personalities: HypervisorPersonality[];
  x2apic?: boolean;
}

export class Machine implements CpuHost {
  readonly mem: GuestMemory;
  readonly io = new PortIoBus();
  readonly clock: VirtualClock;
  readonly cpus: Cpu[] = [];
  readonly cpuidModel: CpuidModel;
  readonly msrs = new MachineMsrs();
  /** The interrupt controller the BSP takes external interrupts from (the PIC for now). */
  interrupts: InterruptSource | null = null;
  /** Virtual time spent halted (idle skips), in instruction units. */
  idleInsns = 0;
  /** Per vCPU: an exit waiting for the caller's answer (re-executed on the next run). */
  private readonly pending: (VmExit | null)[] = [];
  /** Per vCPU: the answered exit the re-executed instruction consumes. */
  private readonly answer: (VmExit | null)[] = [];
  /** A terminal or notification exit to return after the current instruction retires. */
  private stopAfter: VmExit | null = null;
  /** Interrupts injected through the API (VMM_IOC_INTR), per vCPU, in order. */
  private readonly injected: number[][] = [];

  constructor(readonly config: MachineConfig) {
    if (!Number.isInteger(config.vcpus) || config.vcpus < 1 || config.vcpus > 16) {
      throw new RangeError(`vcpus must be 1-16, got ${config.vcpus}`);
    }
    this.mem = new GuestMemory(config.memoryBytes);
    this.clock = new VirtualClock(config.clock ?? DEFAULT_CLOCK);
    for (let i = 0; i < config.vcpus; i++) {
      this.cpus.push(new Cpu(this.mem, this, i));
      this.injected.push([]);
      this.pending.push(null);
      this.answer.push(null);
    }
    this.cpuidModel = new CpuidModel({
      vcpus: config.vcpus,
      hypervisorBit: config.personalities.length > 0,
      x2apic: config.x2apic ?? false,
    });
    for (const p of config.personalities) p.attachPorts?.(this.io);
    // MMIO devices see the clock at the exact icount of the access (the running vCPU's).
    this.mem.mmioHook = () => this.syncClock(this.cpus[this.running]);
  }

  /** The vCPU inside run() (MMIO accesses are charged to it). */
  private running = 0;

  /** Ask the run loop to stop after the current instruction and return `exit`. */
  stopWith(exit: VmExit): void {
    this.stopAfter = exit;
    for (const c of this.cpus) {
      c.breakLoop = true;
      c.stopRequest = true;
    }
  }

  /** Bring the clock to the CPU's exact position (called before any device sees time). */
  syncClock(cpu: Cpu): void {
    this.clock.icount = cpu.insns + this.idleInsns;
  }

  // ---------------------------------------------------------------------------------------
  // Running
  // ---------------------------------------------------------------------------------------

  /**
   * Run vCPU `id` until the next exit the caller must see, or until `maxInsns` more
   * instruction times have passed on the virtual clock (retired instructions plus idle time
   * skipped while halted, so a halted vCPU reaches its limit too). Deterministic: the same
   * state and inputs give the same exit at the same icount.
   */
  run(id: number, maxInsns: number): VmExit {
    const cpu = this.cpus[id];
    this.running = id;
    if (this.pending[id] !== null) {
      // The caller answered the pending exit; the re-executed instruction consumes it.
      this.answer[id] = this.pending[id];
      this.pending[id] = null;
    }
    this.syncClock(cpu);
    const timeLimit = this.clock.icount + maxInsns;
    for (;;) {
      if (cpu.shutdown) return { kind: ExitKind.Shutdown, reason: 'triple-fault' };
      this.syncClock(cpu);
      this.clock.fireDue();
      if (this.stopAfter !== null) return this.takeStop();
      const now = this.clock.icount;
      if (now >= timeLimit) return { kind: ExitKind.Limit };
      const budget = Math.min(timeLimit - now, Math.max(1, this.clock.nextDeadline() - now));
      const stop = cpu.run(cpu.insns + budget);
      this.syncClock(cpu);
      if (this.stopAfter !== null) return this.takeStop();
      switch (stop) {
        case Stop.EXIT:
          return this.pending[id]!;
        case Stop.SHUTDOWN:
          return { kind: ExitKind.Shutdown, reason: 'triple-fault' };
        case Stop.HLT: {
          if ((cpu.flagsReg & Flag.IF) === 0 && !cpu.nmiPending) {
            return { kind: ExitKind.Shutdown, reason: 'hlt-with-interrupts-off' };
          }
          if (this.interruptPending(cpu)) break; // delivered at the top of cpu.run
          // Idle: jump virtual time to the next timer event (HLT skips idle time), but not
          // past the caller's limit.
          const next = this.clock.nextDeadline();
          if (next === Infinity) return { kind: ExitKind.Hlt };
          this.idleInsns += Math.max(0, Math.min(next, timeLimit) - this.clock.icount);
          break;
        }
        default:
          break; // LIMIT (a timer is due, or the time limit: checked at the top) or BREAK
      }
    }
  }

  /** Forget an exit waiting for an answer, and any answer not consumed yet (resetcpu, writeregs). */
  discardPending(vcpu: number): void {
    this.pending[vcpu] = null;
    this.answer[vcpu] = null;
  }

  private takeStop(): VmExit {
    const e = this.stopAfter!;
    this.stopAfter = null;
    return e;
  }

  /** The exit of vCPU `vcpu` waiting for an answer, if any (the API fills it in before the next run). */
  pendingExit(vcpu: number): VmExit | null {
    return this.pending[vcpu];
  }

  // ---------------------------------------------------------------------------------------
  // CpuHost: port I/O
  // ---------------------------------------------------------------------------------------

  ioRead(cpu: Cpu, port: number, size: number): number {
    this.syncClock(cpu);
    const h = this.io.handlerFor(port);
    if (h !== null) return h.ioRead(port, size);
    const ans = this.takeAnswer(cpu.id, ExitKind.Io) as IoExit | null;
    if (ans !== null && ans.port === port && ans.size === size && !ans.write) return ans.value;
    if (this.config.unhandledIo === 'ignore') return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
    this.pending[cpu.id] = { kind: ExitKind.Io, port, size: size as 1 | 2 | 4, write: false, value: 0 };
    cpu.requestExit();
  }

  ioWrite(cpu: Cpu, port: number, size: number, value: number): void {
    this.syncClock(cpu);
    const h = this.io.handlerFor(port);
    if (h !== null) {
      h.ioWrite(port, size, value);
      return;
    }
    const ans = this.takeAnswer(cpu.id, ExitKind.Io) as IoExit | null;
    if (ans !== null && ans.port === port && ans.size === size && ans.write) return;
    if (this.config.unhandledIo === 'ignore') return;
    this.pending[cpu.id] = { kind: ExitKind.Io, port, size: size as 1 | 2 | 4, write: true, value: value >>> 0 };
    cpu.requestExit();
  }

  private takeAnswer(vcpu: number, kind: ExitKind): VmExit | null {
    const a = this.answer[vcpu];
    if (a === null || a.kind !== kind) return null;
    this.answer[vcpu] = null;
    return a;
  }

  // ---------------------------------------------------------------------------------------
  // CpuHost: CPUID, MSRs, hypercalls
  // ---------------------------------------------------------------------------------------

  cpuid(cpu: Cpu, leaf: number, subleaf: number, out: Int32Array): void {
    if (leaf >= 0x40000000 && leaf <= 0x4fffffff) {
      out[0] = out[1] = out[2] = out[3] = 0;
      const idx = (leaf - 0x40000000) >>> 8;
      const p = this.config.personalities[idx];
      if (p !== undefined) p.cpuid(leaf & 0xff, subleaf, 0x40000000 + idx * 0x100, out);
      return;
    }
    this.cpuidModel.leaf(leaf, subleaf, cpu.id, out);
  }

  rdmsr(cpu: Cpu, msr: number, out: Int32Array): boolean {
    if (msr === Msr.TSC) {
      this.syncClock(cpu);
      const t = this.clock.tsc();
      out[0] = t % 4294967296 | 0;
      out[1] = Math.floor(t / 4294967296) | 0;
      return true;
    }
    if (cpuReadMsr(cpu, msr, out)) return true;
    if (this.msrs.read(msr, cpu.id, out)) return true;
    for (const p of this.config.personalities) if (p.rdmsr?.(msr, out)) return true;
    if (this.config.ignoreUnknownMsrs) {
      out[0] = out[1] = 0;
      return true;
    }
    return false;
  }

  wrmsr(cpu: Cpu, msr: number, lo: number, hi: number): boolean {
    if (msr === Msr.TSC) {
      // Writing the TSC sets an offset so that it reads back as written (SDM vol. 3, 18.17).
      this.syncClock(cpu);
      const want = (hi >>> 0) * 4294967296 + (lo >>> 0);
      this.clock.tscOffset += want - this.clock.tsc();
      return true;
    }
    if (cpuWriteMsr(cpu, msr, lo, hi)) return true;
    const m = this.msrs.write(msr, cpu.id, lo, hi);
    if (m !== 'no') return m === 'ok';
    for (const p of this.config.personalities) {
      const r = p.wrmsr?.(msr, lo, hi) ?? 'no';
      if (r !== 'no') return r === 'ok';
    }
    return this.config.ignoreUnknownMsrs;
  }

  hypercall(cpu: Cpu, insn: 'vmcall' | 'vmmcall'): boolean {
    const regs = { lo: cpu.lo, hi: cpu.hi, insn, cpl: cpu.cpl, long: cpu.long };
    for (const p of this.config.personalities) if (p.hypercall?.(regs)) return true;
    return false;
  }

  /** Queue an external interrupt for a vCPU (taken when its RFLAGS.IF allows). */
  injectInterrupt(vcpu: number, vector: number): void {
    this.injected[vcpu].push(vector);
    this.cpus[vcpu].halted = false;
  }

  interruptPending(cpu: Cpu): boolean {
    if (this.injected[cpu.id].length > 0) return true;
    return cpu.id === 0 && this.interrupts !== null && this.interrupts.hasInterrupt();
  }

  acknowledgeInterrupt(cpu: Cpu): number {
    const q = this.injected[cpu.id];
    if (q.length > 0) return q.shift()!;
    return this.interrupts!.acknowledge();
  }

  /** Change the TSC frequency; the TSC stays continuous at the change. */
  setTscKHz(khz: number): void {
    const before = this.clock.tsc();
    this.clock.tscKHz = khz;
    this.clock.tscOffset += before - this.clock.tsc();
  }

  pause(cpu: Cpu): void {
    if (this.config.exitOnPause) {
      this.stopWith({ kind: ExitKind.Pause });
      cpu.breakLoop = true;
    }
  }
}
