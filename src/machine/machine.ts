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
import { Access, Cpu, Stop, type CpuHost } from './cpu/cpu.js';
import { cpuReadMsr, cpuWriteMsr } from './cpu/exec-system.js';
import { Flag, Msr, Seg } from './cpu/constants.js';
import { CpuidModel } from './cpuid-model.js';
import { MachineMsrs } from './machine-msrs.js';
import { ExitKind, type VmExit, type IoExit } from './exit.js';
import type { InterruptSource, IrqRouter, LocalInterruptController } from './irq.js';
import { createScheduler, DEFAULT_SCHED, type SchedConfig, type Scheduler } from './scheduler.js';
import type { MachineObserver } from './observer.js';
import type { HypervisorHost, HypervisorPersonality, GuestRegs } from '../hypervisors/personality.js';
import { KvStore } from '../hypervisors/kv-store.js';

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
  /** The information store personalities expose (`--kv`); default empty. */
  kv?: KvStore;
  /** Unix time (s) at power-on, the wall clock paravirtual clocks report (default 2000-01-01). */
  bootTime?: number;
  /** How several vCPUs share the clock (runAll); default round-robin. */
  sched?: SchedConfig;
}

/** What a vCPU is doing, as the scheduler sees it. */
export const enum VcpuRunState {
  /** Executing (or halted with IF=1, waiting for an interrupt). */
  Running = 0,
  /** An application processor after power-on or INIT: waits for a StartUp IPI (SDM vol. 3, 9.4). */
  WaitForSipi = 1,
}

const DEFAULT_BOOT_TIME = 946684800; // 2000-01-01T00:00:00Z, the RTC's default too

export class Machine implements CpuHost {
  readonly mem: GuestMemory;
  readonly io = new PortIoBus();
  readonly clock: VirtualClock;
  readonly cpus: Cpu[] = [];
  readonly cpuidModel: CpuidModel;
  readonly msrs = new MachineMsrs();
  /** The interrupt controller the BSP takes external interrupts from when no local APIC is wired (the PIC). */
  interrupts: InterruptSource | null = null;
  /** Per vCPU: its local APIC, once the platform wires them (then all interrupts come through it). */
  lapics: LocalInterruptController[] = [];
  /** Virtual time spent with no vCPU running (idle skips), in instruction units. */
  idleInsns = 0;
  /** Per vCPU: virtual time minus its retired instructions (the clock is shared, see syncClock). */
  private readonly timeBase: number[] = [];
  /** Per vCPU: running or waiting for a StartUp IPI. */
  readonly runState: VcpuRunState[] = [];
  readonly scheduler: Scheduler;
  /** The vCPU runAll ran last (its exit is the one returned). */
  lastVcpu = 0;
  /** Within runAll: a vCPU that halts or pauses hands the clock to the next one. */
  private sharing = false;
  /** A vCPU paused inside runAll: end its quantum at the next instruction boundary. */
  private yieldRequested = false;
  /** Per vCPU: an exit waiting for the caller's answer (re-executed on the next run). */
  private readonly pending: (VmExit | null)[] = [];
  /** Per vCPU: the answered exit the re-executed instruction consumes. */
  private readonly answer: (VmExit | null)[] = [];
  /** A terminal or notification exit to return after the current instruction retires. */
  private stopAfter: VmExit | null = null;
  /** Interrupts injected through the API (VMM_IOC_INTR), per vCPU, in order. */
  private readonly injected: number[][] = [];
  /** Records (or checks) every event from outside the guest; null when nobody listens. */
  observer: MachineObserver | null = null;
  readonly kv: KvStore;
  /** Ports claimed by a personality's backdoor (VMware 0x5658/0x5659). */
  private readonly backdoor = new Map<number, HypervisorPersonality>();
  /** Per vCPU: the icount of the last HLT reported to the observer (the run loop meets a halted CPU again after each idle skip). */
  private readonly hltReportedAt: number[] = [];
  /** Scratch for observed hypercalls (no allocation per call). */
  private readonly hcArgs = new Int32Array(18);
  private readonly hcResult = new Int32Array(2);

  constructor(readonly config: MachineConfig) {
    if (!Number.isInteger(config.vcpus) || config.vcpus < 1 || config.vcpus > 16) {
      throw new RangeError(`vcpus must be 1-16, got ${config.vcpus}`);
    }
    this.mem = new GuestMemory(config.memoryBytes);
    this.clock = new VirtualClock(config.clock ?? DEFAULT_CLOCK);
    this.clock.onEarlierDeadline = () => {
      const c = this.cpus[this.running];
      c.stopRequest = true;
      c.breakLoop = true;
    };
    for (let i = 0; i < config.vcpus; i++) {
      this.cpus.push(new Cpu(this.mem, this, i));
      this.injected.push([]);
      this.pending.push(null);
      this.answer.push(null);
      this.hltReportedAt.push(-1);
      this.timeBase.push(0);
      // Application processors wait for INIT/SIPI; the API's writeregs/resetcpu start them directly.
      this.runState.push(i === 0 ? VcpuRunState.Running : VcpuRunState.WaitForSipi);
    }
    this.scheduler = createScheduler(config.sched ?? DEFAULT_SCHED);
    this.cpuidModel = new CpuidModel({
      vcpus: config.vcpus,
      hypervisorBit: config.personalities.length > 0,
      x2apic: config.x2apic ?? false,
    });
    this.kv = config.kv ?? new KvStore();
    this.kv.onWrite = (w) => {
      const cpu = this.cpus[this.running];
      this.observer?.kvWrite(cpu.id, cpu.insns, w.key, w.value);
    };
    const host = this.personalityHost(config.bootTime ?? DEFAULT_BOOT_TIME);
    for (const p of config.personalities) {
      for (const port of p.backdoorPorts ?? []) this.backdoor.set(port, p);
      p.attach?.(host);
    }
    // MMIO devices see the clock at the exact icount of the access (the running vCPU's).
    this.mem.mmioHook = () => this.syncClock(this.cpus[this.running]);
    this.mem.mmioTap = (write, pa, size, value) => {
      const o = this.observer;
      if (o === null) return value;
      const cpu = this.cpus[this.running];
      const v = size === 4 ? value >>> 0 : value;
      if (!write) return o.mmioRead(cpu.id, cpu.insns, pa, size, v);
      o.mmioWrite(cpu.id, cpu.insns, pa, size, v);
      return value;
    };
  }

  /** The vCPU inside run() (MMIO accesses are charged to it). */
  private running = 0;

  /** The vCPU executing now (per-vCPU MMIO such as the local APIC page is its own). */
  get runningVcpu(): number {
    return this.running;
  }

  /** The ISA IRQ lines (to the PIC, and to the IOAPIC once the platform is built), for devices wired after the PC basics. */
  isaIrqs: IrqRouter | null = null;
  /** True while another source owns ISA IRQ `irq` (an HPET in legacy replacement: IRQ 0 and 8). */
  legacyIrqOwned: ((irq: number) => boolean) | null = null;

  /** The machine as personalities see it (HypervisorHost): time is the running vCPU's. */
  private personalityHost(bootTime: number): HypervisorHost {
    const now = (): void => this.syncClock(this.cpus[this.running]);
    return {
      vcpus: this.config.vcpus,
      mem: this.mem,
      bootTime,
      kv: this.kv,
      nowNs: () => (now(), this.clock.nowNs()),
      tsc: () => (now(), this.clock.tsc()),
      tscKHz: () => this.clock.tscKHz,
      injectInterrupt: (vcpu, vector) => this.injectInterrupt(vcpu, vector),
      after: (ns, cb) => this.clock.schedule(this.clock.icount + this.clock.insnsForNs(ns), cb),
      cancel: (id) => this.clock.cancel(id),
      powerOff: () => this.stopWith({ kind: ExitKind.PowerOff }),
      reset: () => this.stopWith({ kind: ExitKind.Reset }),
      vcpuLongMode: (vcpu) => this.cpus[vcpu].long && this.cpus[vcpu].codeSize === 3,
      linearToPhysical: (vcpu, lo, hi, write) => this.linearToPhysical(this.cpus[vcpu], lo, hi, write),
    };
  }

  /** A page walk for the hypervisor: null instead of a #PF, and the vCPU's fault state kept. */
  private linearToPhysical(cpu: Cpu, lo: number, hi: number, write: boolean): number | null {
    const { cr2Lo, cr2Hi, excVec, excErr } = cpu;
    try {
      return cpu.translate(lo | 0, hi | 0, write ? Access.WRITE : Access.READ, false);
    } catch {
      cpu.cr2Lo = cr2Lo;
      cpu.cr2Hi = cr2Hi;
      cpu.excVec = excVec;
      cpu.excErr = excErr;
      return null;
    }
  }

  /** Ask the run loop to stop after the current instruction and return `exit`. */
  stopWith(exit: VmExit): void {
    this.stopAfter = exit;
    for (const c of this.cpus) {
      c.breakLoop = true;
      c.stopRequest = true;
    }
  }

  /** Let `insns` instruction times pass with no instruction retired (a paused VM, an idle skip). */
  skipIdle(insns: number): void {
    this.idleInsns += insns;
    this.clock.icount += insns;
    this.timeBase[this.running] += insns;
  }

  /** Bring the clock to the CPU's exact position (called before any device sees time). */
  syncClock(cpu: Cpu): void {
    this.clock.icount = cpu.insns + this.timeBase[cpu.id];
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
    const e = this.runUntilExit(id, maxInsns);
    const o = this.observer;
    // Limits are the caller's slicing, an unanswered IN/OUT is recorded when it is answered,
    // and an idle HLT was recorded as it executed: the rest are events of the run.
    if (o !== null && e.kind !== ExitKind.Limit && e.kind !== ExitKind.Io && e.kind !== ExitKind.Hlt) {
      o.exit(id, this.cpus[id].insns, e);
    }
    return e;
  }

  private runUntilExit(id: number, maxInsns: number): VmExit {
    const cpu = this.cpus[id];
    this.running = id;
    // The shared clock goes on from where the last vCPU left it.
    this.timeBase[id] = this.clock.icount - cpu.insns;
    if (this.runState[id] === VcpuRunState.WaitForSipi) return { kind: ExitKind.Hlt };
    if (this.pending[id] !== null) {
      // The caller answered the pending exit; the re-executed instruction consumes it.
      this.answer[id] = this.pending[id];
      this.pending[id] = null;
    }
    this.syncClock(cpu);
    const timeLimit = this.clock.icount + maxInsns;
    for (;;) {
      if (cpu.shutdown) return { kind: ExitKind.Shutdown, reason: 'triple-fault' };
      if ((this.runState[id] as VcpuRunState) === VcpuRunState.WaitForSipi) return { kind: ExitKind.Hlt }; // INITed meanwhile
      this.syncClock(cpu);
      this.clock.fireDue();
      if (this.stopAfter !== null) return this.takeStop();
      const now = this.clock.icount;
      if (now >= timeLimit) return { kind: ExitKind.Limit };
      const budget = Math.min(timeLimit - now, Math.max(1, this.clock.nextDeadline() - now));
      this.clock.batchEnd = now + budget;
      const stop = cpu.run(cpu.insns + budget);
      this.clock.batchEnd = -Infinity;
      this.syncClock(cpu);
      if (this.stopAfter !== null) return this.takeStop();
      if (this.yieldRequested) {
        this.yieldRequested = false;
        return { kind: ExitKind.Limit };
      }
      switch (stop) {
        case Stop.EXIT:
          return this.pending[id]!;
        case Stop.SHUTDOWN:
          return { kind: ExitKind.Shutdown, reason: 'triple-fault' };
        case Stop.HLT: {
          if (this.observer !== null && this.hltReportedAt[id] !== cpu.insns) {
            this.hltReportedAt[id] = cpu.insns; // one event per HLT executed
            this.observer.hlt(id, cpu.insns);
          }
          if (this.sharing) {
            // Another vCPU may run (or wake this one): runAll decides.
            if (cpu.nmiPending || ((cpu.flagsReg & Flag.IF) !== 0 && this.interruptPending(cpu))) break;
            return { kind: ExitKind.Hlt };
          }
          if ((cpu.flagsReg & Flag.IF) === 0 && !cpu.nmiPending) {
            return { kind: ExitKind.Shutdown, reason: 'hlt-with-interrupts-off' };
          }
          if (this.interruptPending(cpu)) break; // delivered at the top of cpu.run
          // Idle: jump virtual time to the next timer event (HLT skips idle time), but not
          // past the caller's limit.
          const next = this.clock.nextDeadline();
          if (next === Infinity) return { kind: ExitKind.Hlt };
          const skip = Math.max(0, Math.min(next, timeLimit) - this.clock.icount);
          this.idleInsns += skip;
          this.timeBase[id] += skip;
          break;
        }
        default:
          break; // LIMIT (a timer is due, or the time limit: checked at the top) or BREAK
      }
    }
  }

  /**
   * Run every vCPU under the scheduler until an exit the caller must see (returned, with
   * `lastVcpu` naming its vCPU) or until `maxInsns` instruction times have passed on the shared
   * clock. With one vCPU this is run(0). A vCPU runs for its quantum, or until it halts or
   * pauses; when no vCPU can run, virtual time skips to the next timer.
   */
  runAll(maxInsns: number): VmExit {
    if (this.cpus.length === 1) {
      this.lastVcpu = 0;
      return this.run(0, maxInsns);
    }
    const timeLimit = this.clock.icount + maxInsns;
    const runnable = this.cpus.map(() => false);
    this.sharing = true;
    try {
      for (;;) {
        this.clock.fireDue();
        if (this.stopAfter !== null) return this.takeStop();
        const now = this.clock.icount;
        if (now >= timeLimit) return { kind: ExitKind.Limit };
        let anyAwake = false;
        // A vCPU that is not running lives at the shared clock: asking whether it can run (its
        // APIC, a timer) must not take the clock back to where it last stopped.
        for (let i = 0; i < this.cpus.length; i++) this.timeBase[i] = now - this.cpus[i].insns;
        for (let i = 0; i < this.cpus.length; i++) {
          runnable[i] = this.canRun(i);
          if (!runnable[i] && this.runState[i] === VcpuRunState.Running && !this.cpus[i].shutdown && (this.cpus[i].flagsReg & Flag.IF) !== 0) anyAwake = true;
        }
        // An answered exit resumes its vCPU first (the rest of its quantum, as if never stopped).
        const id = this.pending[this.lastVcpu] !== null && runnable[this.lastVcpu] ? this.lastVcpu : this.scheduler.next(runnable, this.lastVcpu);
        if (id < 0) {
          // Every vCPU is halted or waiting: skip to the next timer.
          const next = this.clock.nextDeadline();
          if (next === Infinity) {
            return anyAwake ? { kind: ExitKind.Hlt } : { kind: ExitKind.Shutdown, reason: 'hlt-with-interrupts-off' };
          }
          const skip = Math.min(next, timeLimit) - now;
          this.idleInsns += skip;
          this.clock.icount += skip;
          continue;
        }
        this.lastVcpu = id;
        const e = this.run(id, Math.max(1, Math.min(this.scheduler.quantum(), timeLimit - now)));
        if (e.kind === ExitKind.Limit || (e.kind === ExitKind.Hlt && !this.stopRequested())) continue;
        return e;
      }
    } finally {
      this.sharing = false;
    }
  }

  private stopRequested(): boolean {
    return this.stopAfter !== null;
  }

  /** May vCPU `id` execute now (not waiting for SIPI, not shut down, not idle in HLT)? */
  private canRun(id: number): boolean {
    const cpu = this.cpus[id];
    if (this.runState[id] !== VcpuRunState.Running || cpu.shutdown) return false;
    if (!cpu.halted) return true;
    return cpu.nmiPending || ((cpu.flagsReg & Flag.IF) !== 0 && this.interruptPending(cpu));
  }

  /**
   * INIT for vCPU `id` (SDM vol. 3, 9.4.1 and 11.4.7.3): the power-on state; an AP then waits for
   * a SIPI, the BSP runs from the reset vector (as KVM does). A vCPU that INITs itself stops
   * executing at once.
   */
  vcpuInit(id: number): void {
    const cpu = this.cpus[id];
    cpu.resetState();
    this.injected[id].length = 0;
    this.discardPending(id);
    if (id !== 0) this.runState[id] = VcpuRunState.WaitForSipi;
    cpu.breakLoop = true;
    cpu.stopRequest = true;
  }

  /** A StartUp IPI: a waiting vCPU starts in real mode at vector * 0x1000 (CS = vector << 8, IP = 0). */
  vcpuStartup(id: number, vector: number): void {
    if (this.runState[id] !== VcpuRunState.WaitForSipi) return; // ignored unless waiting (SDM 9.4.4)
    const cpu = this.cpus[id];
    cpu.segSel[Seg.CS] = (vector & 0xff) << 8;
    cpu.segBase[Seg.CS] = (vector & 0xff) << 12;
    cpu.ripLo = 0;
    cpu.ripHi = 0;
    cpu.updateMode();
    this.runState[id] = VcpuRunState.Running;
  }

  /** An NMI for vCPU `id`. */
  vcpuNmi(id: number): void {
    this.cpus[id].nmiPending = true;
    this.cpus[id].halted = false;
    this.cpus[id].breakLoop = true;
  }

  /** Start a vCPU the API caller set up by hand (writeregs/resetcpu): it no longer waits for a SIPI. */
  startVcpu(id: number): void {
    this.runState[id] = VcpuRunState.Running;
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
    const v = this.portRead(cpu, port, size);
    const o = this.observer;
    return o === null ? v : o.ioRead(cpu.id, cpu.insns, port, size, size === 4 ? v >>> 0 : v);
  }

  private portRead(cpu: Cpu, port: number, size: number): number {
    this.syncClock(cpu);
    const h = this.io.handlerFor(port);
    if (h !== null) return h.ioRead(port, size);
    if (this.backdoor.size !== 0) {
      const p = this.backdoor.get(port);
      if (p !== undefined) return p.portIo!(this.guestRegs(cpu), port, size, false, 0);
    }
    const ans = this.takeAnswer(cpu.id, ExitKind.Io) as IoExit | null;
    if (ans !== null && ans.port === port && ans.size === size && !ans.write) return ans.value;
    if (this.config.unhandledIo === 'ignore') return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
    this.pending[cpu.id] = { kind: ExitKind.Io, port, size: size as 1 | 2 | 4, write: false, value: 0 };
    cpu.requestExit();
  }

  ioWrite(cpu: Cpu, port: number, size: number, value: number): void {
    this.syncClock(cpu);
    const h = this.io.handlerFor(port);
    const bd = h === null && this.backdoor.size !== 0 ? this.backdoor.get(port) : undefined;
    if (h === null && bd === undefined) {
      const ans = this.takeAnswer(cpu.id, ExitKind.Io) as IoExit | null;
      const answered = ans !== null && ans.port === port && ans.size === size && ans.write;
      if (!answered && this.config.unhandledIo === 'exit') {
        // Recorded when the caller has answered and the instruction re-executes.
        this.pending[cpu.id] = { kind: ExitKind.Io, port, size: size as 1 | 2 | 4, write: true, value: value >>> 0 };
        cpu.requestExit();
      }
    }
    // Recorded before the device acts, so the write precedes whatever it causes.
    this.observer?.ioWrite(cpu.id, cpu.insns, port, size, value >>> 0);
    if (h !== null) h.ioWrite(port, size, value);
    else if (bd !== undefined) bd.portIo!(this.guestRegs(cpu), port, size, true, value >>> 0);
  }

  ioPermissionOverride(cpu: Cpu, port: number): boolean {
    const p = this.backdoor.size === 0 ? undefined : this.backdoor.get(port);
    return p?.bypassesIoPermission?.(this.guestRegs(cpu), port) ?? false;
  }

  private guestRegs(cpu: Cpu): GuestRegs {
    return { vcpu: cpu.id, lo: cpu.lo, hi: cpu.hi, cpl: cpu.cpl, long: cpu.long && cpu.codeSize === 3, protectedMode: cpu.protectedMode };
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

  cpuid(cpu: Cpu, leaf: number, subleaf: number, out: Int32Array, internal = false): void {
    if (leaf >= 0x40000000 && leaf <= 0x4fffffff) {
      out[0] = out[1] = out[2] = out[3] = 0;
      const idx = (leaf - 0x40000000) >>> 8;
      const p = this.config.personalities[idx];
      if (p !== undefined) p.cpuid(leaf & 0xff, subleaf, 0x40000000 + idx * 0x100, out, cpu.id);
    } else {
      this.cpuidModel.leaf(leaf, subleaf, cpu.id, out);
    }
    if (!internal) this.observer?.cpuid(cpu.id, cpu.insns, leaf >>> 0, subleaf >>> 0, out);
  }

  rdmsr(cpu: Cpu, msr: number, out: Int32Array): boolean {
    const ok = this.readMsr(cpu, msr, out);
    if (!ok) out[0] = out[1] = 0;
    this.observer?.msr(cpu.id, cpu.insns, false, msr >>> 0, out[0], out[1], !ok);
    return ok;
  }

  private readMsr(cpu: Cpu, msr: number, out: Int32Array): boolean {
    if (msr === Msr.TSC) {
      this.syncClock(cpu);
      const t = this.clock.tsc();
      out[0] = t % 4294967296 | 0;
      out[1] = Math.floor(t / 4294967296) | 0;
      return true;
    }
    if (cpuReadMsr(cpu, msr, out)) return true;
    if (this.lapics.length !== 0) {
      this.syncClock(cpu); // the APIC timer's current count and TSC deadline read the clock
      const r = this.lapics[cpu.id].rdmsr(msr, out);
      if (r !== 'no') return r === 'ok';
    }
    if (this.msrs.read(msr, cpu.id, out)) return true;
    this.syncClock(cpu); // personalities may read the clock (TIME_REF_COUNT)
    for (const p of this.config.personalities) if (p.rdmsr?.(msr, out, cpu.id)) return true;
    if (this.config.ignoreUnknownMsrs) {
      out[0] = out[1] = 0;
      return true;
    }
    return false;
  }

  wrmsr(cpu: Cpu, msr: number, lo: number, hi: number): boolean {
    const ok = this.writeMsr(cpu, msr, lo, hi);
    this.observer?.msr(cpu.id, cpu.insns, true, msr >>> 0, lo, hi, !ok);
    return ok;
  }

  private writeMsr(cpu: Cpu, msr: number, lo: number, hi: number): boolean {
    if (msr === Msr.TSC) {
      // Writing the TSC sets an offset so that it reads back as written (SDM vol. 3, 18.17).
      this.syncClock(cpu);
      const want = (hi >>> 0) * 4294967296 + (lo >>> 0);
      this.clock.tscOffset += want - this.clock.tsc();
      // KVM restamps kvmclock after a guest TSC write: paravirtual clocks follow time, not the TSC.
      for (const p of this.config.personalities) p.clockChanged?.();
      return true;
    }
    if (cpuWriteMsr(cpu, msr, lo, hi)) return true;
    if (this.lapics.length !== 0) {
      this.syncClock(cpu);
      const r = this.lapics[cpu.id].wrmsr(msr, lo, hi);
      if (r !== 'no') {
        cpu.breakLoop = true; // an EOI, TPR or self-IPI may make an interrupt deliverable
        return r === 'ok';
      }
    }
    const m = this.msrs.write(msr, cpu.id, lo, hi);
    if (m !== 'no') return m === 'ok';
    this.syncClock(cpu); // personalities write clock structures stamped with the current time
    for (const p of this.config.personalities) {
      const r = p.wrmsr?.(msr, lo, hi, cpu.id) ?? 'no';
      if (r !== 'no') return r === 'ok';
    }
    return this.config.ignoreUnknownMsrs;
  }

  hypercall(cpu: Cpu, insn: 'vmcall' | 'vmmcall'): boolean {
    const o = this.observer;
    if (o !== null) {
      for (let i = 0; i < 9; i++) {
        this.hcArgs[2 * i] = cpu.lo[i];
        this.hcArgs[2 * i + 1] = cpu.hi[i];
      }
    }
    this.syncClock(cpu);
    const regs = { vcpu: cpu.id, lo: cpu.lo, hi: cpu.hi, insn, cpl: cpu.cpl, long: cpu.long && cpu.codeSize === 3, protectedMode: cpu.protectedMode };
    let handled = false;
    for (const p of this.config.personalities) {
      if (p.hypercall?.(regs)) {
        handled = true;
        break;
      }
    }
    if (o !== null) {
      this.hcResult[0] = cpu.lo[0];
      this.hcResult[1] = cpu.hi[0];
      o.hypercall(cpu.id, cpu.insns, insn, this.hcArgs, this.hcResult, handled);
    }
    return handled;
  }

  /** Bytes from the host for the guest, through the observer (see MachineObserver.hostInput). */
  hostInput(device: string, data: Uint8Array): Uint8Array {
    const o = this.observer;
    if (o === null) return data;
    const cpu = this.cpus[this.running];
    return o.hostInput(cpu.id, cpu.insns, device, data);
  }

  /** Bytes a device sends to the host, reported to the observer. */
  hostOutput(device: string, data: Uint8Array): void {
    const cpu = this.cpus[this.running];
    this.observer?.hostOutput(cpu.id, cpu.insns, device, data);
  }

  /** Queue an external interrupt for a vCPU (taken when its RFLAGS.IF allows). */
  injectInterrupt(vcpu: number, vector: number): void {
    this.injected[vcpu].push(vector);
    this.cpus[vcpu].halted = false;
  }

  interruptPending(cpu: Cpu): boolean {
    if (this.injected[cpu.id].length > 0) return true;
    if (this.lapics.length !== 0) {
      this.syncClock(cpu);
      return this.lapics[cpu.id].hasInterrupt();
    }
    return cpu.id === 0 && this.interrupts !== null && this.interrupts.hasInterrupt();
  }

  acknowledgeInterrupt(cpu: Cpu): number {
    const q = this.injected[cpu.id];
    if (q.length > 0) {
      const v = q.shift()!;
      this.observer?.interrupt(cpu.id, cpu.insns, v, 'hypervisor');
      return v;
    }
    if (this.lapics.length !== 0) {
      const l = this.lapics[cpu.id];
      const v = l.acknowledge();
      this.observer?.interrupt(cpu.id, cpu.insns, v, l.lastAckWasExtInt ? 'pic' : 'lapic');
      return v;
    }
    const v = this.interrupts!.acknowledge();
    this.observer?.interrupt(cpu.id, cpu.insns, v, 'pic');
    return v;
  }

  readCr8(cpu: Cpu): number {
    return this.lapics.length === 0 ? cpu.cr8 : this.lapics[cpu.id].readCr8();
  }

  writeCr8(cpu: Cpu, value: number): void {
    if (this.lapics.length !== 0) this.lapics[cpu.id].writeCr8(value);
  }

  /** Change the TSC frequency; the TSC stays continuous at the change. */
  setTscKHz(khz: number): void {
    const before = this.clock.tsc();
    this.clock.tscKHz = khz;
    this.clock.tscOffset += before - this.clock.tsc();
    for (const p of this.config.personalities) p.clockChanged?.();
  }

  pause(cpu: Cpu): void {
    if (this.config.exitOnPause) {
      this.stopWith({ kind: ExitKind.Pause });
      cpu.breakLoop = true;
    } else if (this.sharing) {
      // Pause-loop exit: a spinning vCPU yields the rest of its quantum (stopRequest makes
      // cpu.run return after this instruction; breakLoop alone only re-checks interrupts).
      this.yieldRequested = true;
      cpu.stopRequest = true;
      cpu.breakLoop = true;
    }
  }
}
