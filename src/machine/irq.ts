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
