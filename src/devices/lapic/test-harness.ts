// Test wiring for one LocalApic: a fake clock, a 2 GHz TSC derived from it, and recorders for
// everything the APIC hands the machine (IPIs, INIT/SIPI/NMI signals, level EOIs, kicks).

import type { ApicMessage, InterruptSource } from '../../machine/irq.js';
import { FakeClock } from '../fake-clock.js';
import { LocalApic, type LocalApicOptions } from './local-apic.js';

/** A PIC stand-in: one pending vector or none. */
export class FakePic implements InterruptSource {
  pending: number | null = null;
  acks = 0;
  hasInterrupt(): boolean {
    return this.pending !== null;
  }
  acknowledge(): number {
    this.acks++;
    const v = this.pending ?? 0x27; // the 8259's spurious IRQ 7
    this.pending = null;
    return v;
  }
}

export const TSC_KHZ = 2_000_000;

export function makeApic(over: Partial<LocalApicOptions> = {}) {
  const clock = new FakeClock();
  const sent: ApicMessage[] = [];
  const signals: Array<[string, number]> = [];
  const eois: number[] = [];
  const pic = new FakePic();
  let kicks = 0;
  const apic = new LocalApic({
    id: 0,
    bsp: true,
    clock,
    // TSC = ns * 2 (2 GHz), as the machine's clock computes it at its default rate.
    tsc: () => clock.nowNs() * 2,
    tscKHz: () => TSC_KHZ,
    send: (m) => sent.push({ ...m }),
    signal: (kind, vector) => signals.push([kind, vector]),
    extInt: pic,
    eoi: (v) => eois.push(v),
    kick: () => {
      kicks++;
    },
    x2apicSupported: true,
    ...over,
  });
  const rd = (off: number) => apic.mmioRead(off, 4) >>> 0;
  const wr = (off: number, v: number) => apic.mmioWrite(off, 4, v);
  const out = new Int32Array(2);
  const rdmsr = (msr: number): { r: string; lo: number; hi: number } => {
    out[0] = out[1] = 0;
    const r = apic.rdmsr(msr, out);
    return { r, lo: out[0] >>> 0, hi: out[1] >>> 0 };
  };
  /** Accept a fixed edge (or level) interrupt from the bus. */
  const fixed = (vector: number, level = false) =>
    apic.accept({ vector, deliveryMode: 0, logical: false, dest: 0, levelTriggered: level, assert: true, shorthand: 0, source: -1 });
  /** Acknowledge what is pending and EOI it (the handler's job). */
  const serviceOne = () => {
    const v = apic.acknowledge();
    wr(0xb0, 0);
    return v;
  };
  return { apic, clock, sent, signals, eois, pic, kicks: () => kicks, rd, wr, rdmsr, fixed, serviceOne };
}
