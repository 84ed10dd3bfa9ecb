// The interrupt acceptance state of a local APIC: IRR, ISR, TMR and TPR with the priority rules
// of Intel SDM vol. 3A 11.8 (PPR, the deliverable vector, INTA, EOI) and the APR of 11.6.2.4.

import type { DeviceState } from '../device.js';
import { stateNum, stateNums } from '../state.js';
import { clearBit, highestBit, setBit, testBit } from './vector-set.js';

export class InterruptRegisters {
  readonly irr = new Int32Array(8);
  readonly isr = new Int32Array(8);
  readonly tmr = new Int32Array(8);
  /** Task priority (bits 7:0). */
  tpr = 0;

  clear(): void {
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.tpr = 0;
  }

  /** PPR (11.8.3.1): the TPR if its class is at least the highest in-service class, else that class. */
  ppr(): number {
    const isrv = highestBit(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr : isrClass;
  }

  /** APR (11.6.2.4): the TPR if above the pending and in-service classes, else the highest of the three. */
  apr(): number {
    const isrv = highestBit(this.isr);
    const irrv = highestBit(this.irr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    const irrClass = irrv < 0 ? 0 : irrv & 0xf0;
    const tprClass = this.tpr & 0xf0;
    if (tprClass >= irrClass && tprClass > isrClass) return this.tpr;
    return Math.max(tprClass, isrClass, irrClass);
  }

  /** The highest IRR vector if its class is above the PPR class (11.8.3.1), else -1. */
  deliverable(): number {
    const v = highestBit(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0) ? v : -1;
  }

  /** Accept a vector (16-255) into the IRR; the TMR records its trigger mode (11.8.4). */
  request(vector: number, level: boolean): void {
    setBit(this.irr, vector);
    if (level) setBit(this.tmr, vector);
    else clearBit(this.tmr, vector);
  }

  /** INTA (11.8.4): the deliverable vector moves from IRR to ISR; -1 when there is none. */
  acknowledge(): number {
    const v = this.deliverable();
    if (v < 0) return -1;
    clearBit(this.irr, v);
    setBit(this.isr, v);
    return v;
  }

  /** EOI (11.8.5): retire the highest in-service vector and return it, or -1. */
  eoi(): number {
    const v = highestBit(this.isr);
    if (v >= 0) clearBit(this.isr, v);
    return v;
  }

  /** The vector was accepted level-triggered (TMR set). */
  isLevel(vector: number): boolean {
    return testBit(this.tmr, vector);
  }

  saveState(): DeviceState {
    return { tpr: this.tpr, isr: Array.from(this.isr), tmr: Array.from(this.tmr), irr: Array.from(this.irr) };
  }

  loadState(s: DeviceState): void {
    this.tpr = stateNum(s, 'tpr') & 0xff;
    this.isr.set(stateNums(s, 'isr', 8));
    this.tmr.set(stateNums(s, 'tmr', 8));
    this.irr.set(stateNums(s, 'irr', 8));
  }
}
