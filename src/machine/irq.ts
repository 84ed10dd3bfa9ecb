// Interrupt wiring between devices, interrupt controllers and the CPU.

/** A wire from a device to an interrupt controller input (ISA IRQ or GSI). */
export interface IrqLine {
  /** Level-sensitive view: assert (true) or deassert (false). Edge devices pulse raise/lower. */
  set(level: boolean): void;
}

/** What the CPU asks at an instruction boundary when RFLAGS.IF=1. */
export interface InterruptSource {
  /** True if an interrupt is pending for this CPU and would be delivered now. */
  hasInterrupt(): boolean;
  /** Acknowledge the highest-priority pending interrupt; returns its vector (0-255). */
  acknowledge(): number;
}

/** Routes ISA IRQ numbers / GSIs to whichever controllers are present (PIC, IOAPIC). */
export interface IrqRouter {
  setIrq(irq: number, level: boolean): void;
}

/** Convenience: a line bound to one IRQ number of a router. */
export function irqLine(router: IrqRouter, irq: number): IrqLine {
  return { set: (level: boolean) => router.setIrq(irq, level) };
}

/** Interrupt delivery modes of APIC messages (SDM vol. 3, 11.6.1, ICR bits 10:8). */
export const enum DeliveryMode { Fixed = 0, LowestPriority = 1, Smi = 2, Nmi = 4, Init = 5, StartUp = 6, ExtInt = 7 }

/** ICR destination shorthand (bits 19:18). */
export const enum Shorthand { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 }

/**
 * An interrupt message on the APIC bus: what an IOAPIC redirection entry, an MSI write or a
 * LAPIC's ICR sends. The machine routes it to the matching local APICs.
 */
export interface ApicMessage {
  vector: number;
  deliveryMode: DeliveryMode;
  /** Logical destination mode (else physical). */
  logical: boolean;
  /** Destination: 8-bit xAPIC ID/logical mask, or 32-bit x2APIC ID; 0xff / 0xffffffff broadcast. */
  dest: number;
  /** Level-triggered (else edge). */
  levelTriggered: boolean;
  /** Assert (INIT level de-assert messages have it false). */
  assert: boolean;
  shorthand: Shorthand;
  /** The sending LAPIC's ID, for the self/all-excluding-self shorthands; -1 from an IOAPIC or MSI. */
  source: number;
}

/** Where devices hand APIC messages (IOAPIC, MSI, IPIs). */
export type ApicBus = (msg: ApicMessage) => void;

/** A vCPU's local interrupt controller as the machine sees it (the local APIC). */
export interface LocalInterruptController extends InterruptSource {
  /** The last acknowledge() passed an 8259 vector through LINT0 (ExtINT) rather than an APIC vector. */
  readonly lastAckWasExtInt: boolean;
  /** Its MSRs (APIC base, x2APIC registers, TSC deadline): 'no' when the MSR is not its own. */
  rdmsr(msr: number, out: Int32Array): 'ok' | 'gp' | 'no';
  wrmsr(msr: number, lo: number, hi: number): 'ok' | 'gp' | 'no';
  /** CR8 is TPR[7:4] (SDM vol. 3, 11.8.6.1). */
  readCr8(): number;
  writeCr8(value: number): void;
}
