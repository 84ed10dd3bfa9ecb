// The local APIC of one vCPU, in xAPIC (MMIO page) and x2APIC (MSR) modes.
//
// Reference: Intel SDM vol. 3A, chapter 11 "Advanced Programmable Interrupt Controller (APIC)"
// (section numbers below are that chapter's). The machine owns the wiring: it routes the MMIO
// page, the MSRs and the APIC bus (send -> accept/matches of the targets) and asks
// hasInterrupt/acknowledge at instruction boundaries; the device never imports it.
//
// Deliberate simplifications (docs/devices/lapic.md): delivery status is always idle; focus
// processor checking is off; SMI is dropped (no SMM); LINT pin levels are logical (asserted),
// the polarity bit is stored only.

import type { ApicBus, ApicMessage, InterruptSource } from '../../machine/irq.js';
import type { Device, DeviceClock, DeviceState } from '../device.js';
import { stateBool, stateNum, stateNums, stateObj } from '../state.js';
import { ApicTimer } from './lapic-timer.js';
import { InterruptRegisters } from './interrupt-registers.js';
import { icrMessage } from './icr.js';
import {
  APIC_BASE_BSP, APIC_BASE_DEFAULT, APIC_BASE_EN, APIC_BASE_EXTD, APIC_BASE_HI_VALID, APIC_BASE_LO_RESERVED,
  APIC_VERSION, DCR_WRITABLE, DFR_MODEL_CLUSTER, DFR_MODEL_FLAT, DFR_RESERVED_ONES, ESR_ILLEGAL_REGISTER,
  ESR_RECEIVE_ILLEGAL_VECTOR, ESR_SEND_ILLEGAL_VECTOR, ICR_HI_WRITABLE, ICR_LO_WRITABLE, LVT_COUNT,
  LVT_DELIVERY_STATUS, LVT_LEVEL, LVT_MASKED, LVT_REMOTE_IRR, LVT_TIMER_MODE, LVT_TIMER_MODE_SHIFT, LVT_VECTOR,
  LVT_WRITABLE, Lvt, MSR_APIC_BASE, MSR_TSC_DEADLINE, MSR_X2APIC_FIRST, MSR_X2APIC_LAST, Reg, SVR_APIC_ENABLED,
  SVR_VECTOR, SVR_WRITABLE, TimerMode, isX2apicRegister, isXapicRegister,
} from './lapic-registers.js';

export interface LocalApicOptions {
  /** APIC ID (= vCPU index), also the x2APIC ID. */
  id: number;
  /** IA32_APIC_BASE.BSP. */
  bsp: boolean;
  /** Virtual time; the timer ticks at LAPIC_TIMER_HZ before the divider. */
  clock: DeviceClock;
  /** The TSC now (exact integer < 2^53) and its rate, for TSC-deadline mode. */
  tsc(): number;
  tscKHz(): number;
  /** IPIs this APIC sends (ICR writes); the machine routes them to accept() of the targets. */
  send: ApicBus;
  /** INIT/SIPI/NMI delivered to this APIC's own CPU. */
  signal(kind: 'init' | 'startup' | 'nmi', vector: number): void;
  /** The 8259 pair behind LINT0 (ExtINT), BSP only; null otherwise. */
  extInt: InterruptSource | null;
  /** EOI of a level-triggered interrupt (TMR bit set): the machine tells the IOAPIC. */
  eoi(vector: number): void;
  /** An interrupt may have become deliverable (wake the CPU from HLT). */
  kick(): void;
  /** CPUID advertises x2APIC; else setting IA32_APIC_BASE.EXTD is #GP. */
  x2apicSupported: boolean;
}

// Delivery modes as encoded in ICR/LVT bits 10:8 (11.6.1, 11.5.1).
const DM_FIXED = 0;
const DM_LOWEST = 1;
const DM_NMI = 4;
const DM_INIT = 5;
const DM_STARTUP = 6;
const DM_EXTINT = 7;

const X2APIC_BROADCAST = 0xffff_ffff;

export class LocalApic implements Device {
  readonly name: string;
  private readonly opts: LocalApicOptions;
  private readonly timer: ApicTimer;

  private apicBase = 0;
  /** xAPIC ID register (bits 31:24 hold the ID; writable in xAPIC mode, table 11-1). */
  private idReg = 0;
  private ldr = 0;
  private dfr = -1;
  private svr = 0;
  /** IRR, ISR, TMR, TPR and the priority rules (11.8). */
  private readonly vectors = new InterruptRegisters();
  /** ESR as last latched by a write, and errors detected since (11.5.3). */
  private esr = 0;
  private esrPending = 0;
  private icrLo = 0;
  private icrHi = 0;
  private readonly lvt = new Int32Array(LVT_COUNT);
  /** LINT0/LINT1 input levels (logical: asserted). */
  private readonly lintLevel = [false, false];
  /** An ExtINT message arrived on the bus: the next INTA goes to the PIC. */
  private extIntRequested = false;
  private lastExtInt = false;

  constructor(opts: LocalApicOptions) {
    this.opts = opts;
    this.name = `lapic${opts.id}`;
    this.timer = new ApicTimer({
      clock: opts.clock,
      tsc: () => opts.tsc(),
      tscKHz: () => opts.tscKHz(),
      expired: () => this.timerExpired(),
    });
    this.reset();
  }

  // ---- state queries ----

  get baseAddress(): number {
    return (this.apicBase & 0xffff_f000) >>> 0;
  }

  get x2apicMode(): boolean {
    return (this.apicBase & (APIC_BASE_EN | APIC_BASE_EXTD)) === (APIC_BASE_EN | APIC_BASE_EXTD);
  }

  get lastAckWasExtInt(): boolean {
    return this.lastExtInt;
  }

  /** IA32_APIC_BASE.EN: the APIC is globally enabled (11.4.3). */
  private get hwEnabled(): boolean {
    return (this.apicBase & APIC_BASE_EN) !== 0;
  }

  /** SVR bit 8: software-enabled (11.4.7.2). */
  private get swEnabled(): boolean {
    return (this.svr & SVR_APIC_ENABLED) !== 0;
  }

  private get apicId(): number {
    return this.x2apicMode ? this.opts.id : this.idReg >>> 24;
  }

  // ---- Device ----

  /**
   * Power-on state as a PC BIOS leaves it for the OS: globally and software enabled (SVR
   * 0x1ff), virtual-wire mode on the BSP (LINT0 ExtINT, LINT1 NMI; MP spec 1.4, 3.6.2.2),
   * every other LVT masked; APs have LINT0 masked.
   */
  reset(): void {
    this.apicBase = (APIC_BASE_DEFAULT | APIC_BASE_EN | (this.opts.bsp ? APIC_BASE_BSP : 0)) | 0;
    this.apicBaseHi = 0;
    this.initRegisters();
    this.idReg = (this.opts.id & 0xff) << 24;
    this.svr = SVR_APIC_ENABLED | 0xff;
    this.lvt[Lvt.Lint0] = this.opts.bsp ? DM_EXTINT << 8 : LVT_MASKED | (DM_EXTINT << 8);
    this.lvt[Lvt.Lint1] = DM_NMI << 8;
    this.lintLevel[0] = this.lintLevel[1] = false;
  }

  /**
   * INIT (11.4.7.3): every register to its reset value except the APIC ID and IA32_APIC_BASE;
   * the APIC stays globally enabled and comes up software-disabled. (Starting an AP is the
   * machine's job.)
   */
  init(): void {
    this.initRegisters();
  }

  /** The power-up/INIT register values of 11.4.7.1 (ID and APIC base excepted). */
  private initRegisters(): void {
    this.vectors.clear();
    this.ldr = 0;
    this.dfr = -1;
    this.svr = 0xff;
    this.esr = 0;
    this.esrPending = 0;
    this.icrLo = 0;
    this.icrHi = 0;
    this.lvt.fill(LVT_MASKED);
    this.timer.reset();
    this.extIntRequested = false;
    this.lastExtInt = false;
    if (this.x2apicMode) this.ldr = x2apicLdr(this.opts.id);
  }

  saveState(): DeviceState {
    return {
      apicBase: this.apicBase,
      apicBaseHi: this.apicBaseHi,
      id: this.idReg,
      ...this.vectors.saveState(),
      ldr: this.ldr,
      dfr: this.dfr,
      svr: this.svr,
      esr: this.esr,
      esrPending: this.esrPending,
      icrLo: this.icrLo,
      icrHi: this.icrHi,
      lvt: Array.from(this.lvt),
      lint0: this.lintLevel[0],
      lint1: this.lintLevel[1],
      extIntRequested: this.extIntRequested,
      lastExtInt: this.lastExtInt,
      timer: this.timer.saveState(),
    };
  }

  loadState(s: DeviceState): void {
    this.apicBase = stateNum(s, 'apicBase') | 0;
    this.apicBaseHi = stateNum(s, 'apicBaseHi') & APIC_BASE_HI_VALID;
    this.idReg = stateNum(s, 'id') | 0;
    this.vectors.loadState(s);
    this.ldr = stateNum(s, 'ldr') | 0;
    this.dfr = stateNum(s, 'dfr') | 0;
    this.svr = stateNum(s, 'svr') & SVR_WRITABLE;
    this.esr = stateNum(s, 'esr') & 0xff;
    this.esrPending = stateNum(s, 'esrPending') & 0xff;
    this.icrLo = stateNum(s, 'icrLo') & ICR_LO_WRITABLE;
    this.icrHi = stateNum(s, 'icrHi') | 0;
    this.lvt.set(stateNums(s, 'lvt', LVT_COUNT));
    this.lintLevel[0] = stateBool(s, 'lint0');
    this.lintLevel[1] = stateBool(s, 'lint1');
    this.extIntRequested = stateBool(s, 'extIntRequested');
    this.lastExtInt = stateBool(s, 'lastExtInt');
    this.timer.loadState(stateObj(s, 'timer'));
  }

  // ---- CPU side ----

  /** A fixed interrupt in the IRR above the PPR (11.8.3), or an ExtINT pending via LINT0. */
  hasInterrupt(): boolean {
    if (this.extIntPending()) return true;
    return this.hwEnabled && this.vectors.deliverable() >= 0;
  }

  /** INTA (11.8.4): IRR -> ISR for the highest vector, the PIC's vector for ExtINT, else spurious. */
  acknowledge(): number {
    if (this.extIntPending()) {
      this.lastExtInt = true;
      this.extIntRequested = false;
      return this.opts.extInt!.acknowledge() & 0xff;
    }
    this.lastExtInt = false;
    const v = this.hwEnabled ? this.vectors.acknowledge() : -1;
    return v >= 0 ? v : this.svr & SVR_VECTOR; // nothing deliverable: the spurious vector (11.9)
  }

  /**
   * The PIC's INTR reaches the CPU: directly when the APIC is globally disabled (the processor
   * then behaves as one without an APIC, 11.4.3), else through LINT0 programmed ExtINT and
   * unmasked (virtual wire), or after an ExtINT message from the bus.
   */
  private extIntPending(): boolean {
    const pic = this.opts.extInt;
    if (pic === null) return false;
    if (this.hwEnabled) {
      const lint0 = this.lvt[Lvt.Lint0];
      const viaLint0 = (lint0 & LVT_MASKED) === 0 && ((lint0 >> 8) & 7) === DM_EXTINT;
      if (!viaLint0 && !this.extIntRequested) return false;
    }
    return pic.hasInterrupt();
  }

  /** MOV from CR8 in 64-bit mode reads TPR[7:4] (11.8.6.1). */
  readCr8(): number {
    return this.vectors.tpr >>> 4;
  }

  /** MOV to CR8 writes TPR[7:4] from CR8[3:0] and clears TPR[3:0] (11.8.6.1). */
  writeCr8(value: number): void {
    this.vectors.tpr = (value & 0xf) << 4;
    this.opts.kick();
  }

  /** APR (11.6.2.4), for lowest-priority arbitration. */
  arbitrationPriority(): number {
    return this.vectors.apr();
  }

  // ---- bus side ----

  /** Destination match (11.6.2): physical ID or broadcast; flat/cluster logical (xAPIC), x2APIC cluster. */
  matches(logical: boolean, dest: number): boolean {
    if (!this.hwEnabled) return false;
    if (this.x2apicMode) {
      const d = dest >>> 0;
      if (d === X2APIC_BROADCAST) return true;
      if (!logical) return d === this.opts.id;
      // 11.12.10.2: bits 31:16 cluster ID, bits 15:0 a bitmap of logical IDs in the cluster.
      return d >>> 16 === this.ldr >>> 16 && (d & this.ldr & 0xffff) !== 0;
    }
    const d = dest & 0xff;
    if (d === 0xff) return true;
    if (!logical) return d === this.apicId;
    const logicalId = this.ldr >>> 24;
    const model = this.dfr >>> 28;
    if (model === DFR_MODEL_FLAT) return (d & logicalId) !== 0; // 11.6.2.2 flat model
    if (model === DFR_MODEL_CLUSTER) return d >> 4 === logicalId >> 4 && (d & logicalId & 0xf) !== 0; // cluster
    return false;
  }

  /** A message addressed to this APIC (11.6.1 delivery modes). */
  accept(msg: ApicMessage): void {
    if (!this.hwEnabled) return;
    switch (msg.deliveryMode) {
      case DM_FIXED:
      case DM_LOWEST:
        // 11.4.7.2: a software-disabled APIC accepts no fixed interrupts.
        if (this.swEnabled) this.deliverFixed(msg.vector & 0xff, msg.levelTriggered);
        return;
      case DM_NMI:
        this.opts.signal('nmi', 2);
        return;
      case DM_INIT:
        // INIT level de-assert only resynchronises arbitration IDs (11.6.1): no effect here.
        if (msg.levelTriggered && !msg.assert) return;
        this.opts.signal('init', 0);
        return;
      case DM_STARTUP:
        this.opts.signal('startup', msg.vector & 0xff);
        return;
      case DM_EXTINT:
        this.extIntRequested = true;
        this.opts.kick();
        return;
      default:
        return; // SMI (no SMM) and the reserved encodings
    }
  }

  /** Set the IRR bit (and TMR for level), or flag a received illegal vector (11.5.3). */
  private deliverFixed(vector: number, level: boolean): void {
    if (vector < 16) {
      this.error(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    this.vectors.request(vector, level);
    this.opts.kick();
  }

  /** LINT0/LINT1 input (11.5.1): acted on per the LVT entry unless masked. */
  setLint(pin: 0 | 1, level: boolean): void {
    if (pin !== 0 && pin !== 1) return;
    const was = this.lintLevel[pin];
    this.lintLevel[pin] = level;
    const index = pin === 0 ? Lvt.Lint0 : Lvt.Lint1;
    const entry = this.lvt[index];
    if (!this.hwEnabled || entry & LVT_MASKED) return;
    const rising = level && !was;
    switch ((entry >> 8) & 7) {
      case DM_FIXED:
        if (entry & LVT_LEVEL) {
          // Level: delivered once per assertion until the EOI clears remote IRR.
          if (level && !(entry & LVT_REMOTE_IRR)) {
            this.lvt[index] = entry | LVT_REMOTE_IRR;
            this.deliverFixed(entry & LVT_VECTOR, true);
          }
        } else if (rising) {
          this.deliverFixed(entry & LVT_VECTOR, false);
        }
        return;
      case DM_NMI:
        if (rising) this.opts.signal('nmi', 2);
        return;
      case DM_INIT:
        if (rising) this.opts.signal('init', 0);
        return;
      case DM_EXTINT:
        if (level) this.opts.kick(); // the PIC is read through extInt at INTA
        return;
      default:
        return;
    }
  }

  /** Timer count reached zero / TSC deadline passed (11.5.4). */
  private timerExpired(): void {
    const entry = this.lvt[Lvt.Timer];
    if (!(entry & LVT_MASKED)) this.deliverLocal(entry & LVT_VECTOR);
  }

  /** A locally generated edge interrupt (LVT): illegal vectors are flagged, not delivered. */
  private deliverLocal(vector: number): void {
    if (this.hwEnabled) this.deliverFixed(vector, false);
  }

  /** Log an error in the ESR and raise the LVT error interrupt (11.5.3). */
  private error(bits: number): void {
    this.esrPending |= bits;
    const entry = this.lvt[Lvt.Error];
    const vector = entry & LVT_VECTOR;
    // An illegal error vector is itself only logged (no recursion).
    if (!(entry & LVT_MASKED) && vector >= 16 && this.hwEnabled) {
      this.vectors.request(vector, false);
      this.opts.kick();
    }
  }

  // ---- EOI ----

  /** EOI (11.8.5): retire the highest in-service vector; level ones are signalled onwards. */
  private writeEoi(): void {
    const v = this.vectors.eoi();
    if (v < 0) return;
    if (this.vectors.isLevel(v)) {
      this.opts.eoi(v);
      this.lintEoi(v);
    }
    this.opts.kick();
  }

  /** A level-triggered LINT interrupt's EOI clears its remote IRR; a still-asserted pin re-delivers. */
  private lintEoi(vector: number): void {
    for (let pin = 0; pin < 2; pin++) {
      const index = pin === 0 ? Lvt.Lint0 : Lvt.Lint1;
      const entry = this.lvt[index];
      if (!(entry & LVT_REMOTE_IRR) || (entry & LVT_VECTOR) !== vector) continue;
      this.lvt[index] = entry & ~LVT_REMOTE_IRR;
      if (this.lintLevel[pin]) this.setLint(pin as 0 | 1, true);
    }
  }

  // ---- ICR (11.6.1) ----

  /** Write of the ICR low dword (xAPIC) or of the 64-bit ICR (x2APIC): send the IPI. */
  private writeIcr(lo: number, destination: number): void {
    this.icrLo = lo & ICR_LO_WRITABLE;
    const mode = (lo >> 8) & 7;
    if ((mode === DM_FIXED || mode === DM_LOWEST) && (lo & 0xff) < 16) {
      this.error(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    const msg = icrMessage(lo, destination, this.apicId, this.opts.id, this.x2apicMode);
    if (msg !== null) this.opts.send(msg);
  }

  // ---- xAPIC MMIO (11.4.1) ----

  /**
   * Registers are 32 bits at 16-byte-aligned offsets. Narrower reads return the bytes of the
   * register they fall in; bytes 4-15 of each slot read 0. Outside xAPIC mode the page reads 0
   * and ignores writes (11.12.2).
   */
  mmioRead(offset: number, size: number): number {
    if (!this.hwEnabled || this.x2apicMode) return 0;
    const off = offset & 0xfff;
    const within = off & 0xf;
    if (within >= 4) return 0;
    const reg = this.readRegister(off & 0xff0, false);
    const value = reg < 0 ? 0 : reg;
    const shifted = value >>> (within * 8);
    if (size === 1) return shifted & 0xff;
    if (size === 2) return shifted & 0xffff;
    return shifted >>> 0;
  }

  /** Only aligned 32-bit (or 64-bit: low dword) stores have an effect. */
  mmioWrite(offset: number, size: number, value: number): void {
    if (!this.hwEnabled || this.x2apicMode) return;
    const off = offset & 0xfff;
    if ((off & 0xf) !== 0 || (size !== 4 && size !== 8)) return;
    this.writeRegister(off, value | 0, 0, false);
  }

  /**
   * Register read; -1 marks a register that does not exist in this mode (or is write-only in
   * x2APIC mode, where that is #GP). xAPIC reads of reserved offsets log an illegal register
   * address (11.5.3).
   */
  private readRegister(off: number, x2: boolean): number {
    switch (off) {
      case Reg.ID:
        return x2 ? this.opts.id : this.idReg >>> 0;
      case Reg.VERSION:
        return APIC_VERSION;
      case Reg.TPR:
        return this.vectors.tpr;
      case Reg.APR:
        return x2 ? -1 : this.arbitrationPriority();
      case Reg.PPR:
        return this.vectors.ppr();
      case Reg.EOI:
        return x2 ? -1 : 0;
      case Reg.RRD:
        return x2 ? -1 : 0;
      case Reg.LDR:
        return this.ldr >>> 0;
      case Reg.DFR:
        return x2 ? -1 : this.dfr >>> 0;
      case Reg.SVR:
        return this.svr;
      case Reg.ESR:
        return this.esr;
      case Reg.ICR_LO:
        return this.icrLo;
      case Reg.ICR_HI:
        return x2 ? -1 : this.icrHi >>> 0;
      case Reg.LVT_TIMER:
      case Reg.LVT_THERMAL:
      case Reg.LVT_PERF:
      case Reg.LVT_LINT0:
      case Reg.LVT_LINT1:
      case Reg.LVT_ERROR:
        return this.lvt[(off - Reg.LVT_TIMER) >> 4] >>> 0;
      case Reg.TIMER_INITIAL:
        return this.timer.initialCount;
      case Reg.TIMER_CURRENT:
        return this.timer.currentCount();
      case Reg.TIMER_DIVIDE:
        return this.timer.divideConfig;
      case Reg.SELF_IPI:
        if (!x2) this.error(ESR_ILLEGAL_REGISTER); // there is no register at 0x3f0 in xAPIC mode
        return -1;
      default:
        if (off >= Reg.ISR0 && off < Reg.ISR0 + 0x80) return this.vectors.isr[(off - Reg.ISR0) >> 4] >>> 0;
        if (off >= Reg.TMR0 && off < Reg.TMR0 + 0x80) return this.vectors.tmr[(off - Reg.TMR0) >> 4] >>> 0;
        if (off >= Reg.IRR0 && off < Reg.IRR0 + 0x80) return this.vectors.irr[(off - Reg.IRR0) >> 4] >>> 0;
        if (!x2) this.error(ESR_ILLEGAL_REGISTER);
        return -1;
    }
  }

  /**
   * Register write; returns false for #GP in x2APIC mode: read-only or absent registers
   * (11.12.1.2) and non-zero reserved bits (11.12.1.3). xAPIC writes to read-only registers are
   * ignored and reserved bits are dropped.
   */
  private writeRegister(off: number, value: number, hi: number, x2: boolean): boolean {
    if (x2 && hi !== 0 && off !== Reg.ICR_LO) return false; // bits 63:32 of 32-bit registers
    switch (off) {
      case Reg.ID:
        if (x2) return false;
        this.idReg = value & 0xff00_0000;
        return true;
      case Reg.TPR:
        if (x2 && value & ~0xff) return false;
        this.vectors.tpr = value & 0xff;
        this.opts.kick();
        return true;
      case Reg.EOI:
        if (x2 && value !== 0) return false; // 11.12.1.2: WRMSR of a non-zero value to EOI
        this.writeEoi();
        return true;
      case Reg.LDR:
        if (x2) return false; // derived from the x2APIC ID (11.12.10.2)
        this.ldr = value & 0xff00_0000;
        return true;
      case Reg.DFR:
        if (x2) return false;
        this.dfr = value | DFR_RESERVED_ONES;
        return true;
      case Reg.SVR:
        if (x2 && value & ~SVR_WRITABLE) return false;
        this.writeSvr(value);
        return true;
      case Reg.ESR:
        if (x2 && value !== 0) return false; // 11.12.1.2
        // Write-before-read (11.5.3): latch the errors found since the last write.
        this.esr = this.esrPending;
        this.esrPending = 0;
        return true;
      case Reg.ICR_LO:
        if (x2 && value & ~ICR_LO_WRITABLE) return false;
        this.writeIcr(value, x2 ? hi : this.icrHi >>> 24);
        if (x2) this.icrHi = hi;
        return true;
      case Reg.ICR_HI:
        if (x2) return false;
        this.icrHi = value & ICR_HI_WRITABLE;
        return true;
      case Reg.LVT_TIMER:
      case Reg.LVT_THERMAL:
      case Reg.LVT_PERF:
      case Reg.LVT_LINT0:
      case Reg.LVT_LINT1:
      case Reg.LVT_ERROR: {
        const index = (off - Reg.LVT_TIMER) >> 4;
        // Read-only status bits may be written back as read; other reserved bits are #GP in x2APIC.
        if (x2 && value & ~(LVT_WRITABLE[index] | LVT_DELIVERY_STATUS | LVT_REMOTE_IRR)) return false;
        this.writeLvt(index, value);
        return true;
      }
      case Reg.TIMER_INITIAL:
        this.timer.writeInitial(value);
        return true;
      case Reg.TIMER_DIVIDE:
        if (x2 && value & ~DCR_WRITABLE) return false;
        this.timer.writeDivide(value);
        return true;
      case Reg.SELF_IPI:
        if (!x2 || value & ~0xff) return x2 ? false : true;
        // 11.12.11: a fixed edge IPI to this APIC.
        // 11.5.3 names a self IPI with vector 0-15 under both the send and the receive error.
        if ((value & 0xff) < 16) this.error(ESR_SEND_ILLEGAL_VECTOR | ESR_RECEIVE_ILLEGAL_VECTOR);
        else this.deliverFixed(value & 0xff, false);
        return true;
      default:
        // Read-only (VERSION, APR, PPR, RRD, ISR/TMR/IRR, current count) or reserved.
        if (x2) return false;
        if (!isXapicRegister(off)) this.error(ESR_ILLEGAL_REGISTER);
        return true;
    }
  }

  /** SVR (11.9): clearing bit 8 software-disables the APIC and masks every LVT entry (11.4.7.2). */
  private writeSvr(value: number): void {
    this.svr = value & SVR_WRITABLE;
    if (!this.swEnabled) for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] |= LVT_MASKED;
    this.opts.kick();
  }

  private writeLvt(index: number, value: number): void {
    const readOnly = this.lvt[index] & LVT_REMOTE_IRR;
    let v = (value & LVT_WRITABLE[index]) | readOnly;
    if (!this.swEnabled) v |= LVT_MASKED; // the mask cannot be cleared while disabled
    if (index === Lvt.Timer) {
      this.lvt[index] = v;
      this.timer.setMode(((v & LVT_TIMER_MODE) >>> LVT_TIMER_MODE_SHIFT) as TimerMode);
      return;
    }
    if ((index === Lvt.Lint0 || index === Lvt.Lint1) && !(v & LVT_LEVEL)) v &= ~LVT_REMOTE_IRR;
    this.lvt[index] = v;
    this.opts.kick(); // unmasking LINT0 ExtINT can make the PIC's interrupt deliverable
  }

  // ---- MSRs ----

  /** IA32_APIC_BASE, the x2APIC MSRs (11.12.1.2) and IA32_TSC_DEADLINE. */
  rdmsr(msr: number, out: Int32Array): 'ok' | 'gp' | 'no' {
    if (msr === MSR_APIC_BASE) {
      out[0] = this.apicBase;
      out[1] = this.apicBaseHi;
      return 'ok';
    }
    if (msr === MSR_TSC_DEADLINE) {
      this.timer.readDeadline(out);
      return 'ok';
    }
    if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST) return 'no';
    if (!this.x2apicMode) return 'gp';
    const off = (msr - MSR_X2APIC_FIRST) << 4;
    if (!isX2apicRegister(off)) return 'gp';
    const v = this.readRegister(off, true);
    if (v < 0) return 'gp';
    out[0] = v | 0;
    out[1] = off === Reg.ICR_LO ? this.icrHi | 0 : 0;
    return 'ok';
  }

  wrmsr(msr: number, lo: number, hi: number): 'ok' | 'gp' | 'no' {
    if (msr === MSR_APIC_BASE) return this.writeApicBase(lo | 0, hi | 0) ? 'ok' : 'gp';
    if (msr === MSR_TSC_DEADLINE) {
      this.timer.writeDeadline(lo, hi);
      return 'ok';
    }
    if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST) return 'no';
    if (!this.x2apicMode) return 'gp';
    const off = (msr - MSR_X2APIC_FIRST) << 4;
    if (!isX2apicRegister(off)) return 'gp';
    return this.writeRegister(off, lo | 0, hi | 0, true) ? 'ok' : 'gp';
  }

  /** Bits 38:32 of the base (MAXPHYADDR 39). */
  private apicBaseHi = 0;

  /**
   * IA32_APIC_BASE write (11.4.4, 11.12.5): reserved bits, an unsupported EXTD, and the illegal
   * mode transitions (x2APIC -> xAPIC, disabled -> x2APIC, EN=0 with EXTD=1) are #GP.
   */
  private writeApicBase(lo: number, hi: number): boolean {
    if (lo & APIC_BASE_LO_RESERVED || hi & ~APIC_BASE_HI_VALID) return false;
    const en = (lo & APIC_BASE_EN) !== 0;
    const extd = (lo & APIC_BASE_EXTD) !== 0;
    if (extd && !this.opts.x2apicSupported) return false;
    if (extd && !en) return false; // the invalid state
    const wasEn = this.hwEnabled;
    const wasX2 = this.x2apicMode;
    if (wasX2 && en && !extd) return false; // x2APIC -> xAPIC
    if (!wasEn && extd) return false; // disabled -> x2APIC
    this.apicBase = (lo & ~(APIC_BASE_BSP | APIC_BASE_LO_RESERVED)) | (this.apicBase & APIC_BASE_BSP);
    this.apicBaseHi = hi;
    if (wasEn && !en) {
      // Globally disabling resets the APIC as INIT does (11.4.3); re-enabling keeps that state.
      this.initRegisters();
      this.idReg = (this.opts.id & 0xff) << 24;
      this.extIntRequested = false;
    } else if (!wasX2 && this.x2apicMode) {
      // 11.12.5.1: entering x2APIC mode, the ID becomes the x2APIC ID and the LDR is derived.
      this.ldr = x2apicLdr(this.opts.id);
      this.icrHi = 0;
    }
    this.opts.kick();
    return true;
  }
}

/** x2APIC logical ID (11.12.10.2): cluster = ID[19:4] in bits 31:16, bit ID[3:0] of 15:0. */
function x2apicLdr(id: number): number {
  return (((id >>> 4) << 16) | (1 << (id & 15))) | 0;
}
