// 8254 programmable interval timer at 0x40-0x43 (IRQ0 from counter 0), and port 0x61
// (PC/AT "port B": counter 2 GATE, speaker data, refresh toggle, counter 2 OUT).
//
// References: Intel 82C54 datasheet (see pit-channel.ts); Intel 82371SB (PIIX3) datasheet,
// "NMI Status and Control Register" (port 61h).
//
// Time: the counters' CLK is 1.193182 MHz (14.31818 MHz / 12, the PC's timer clock). The
// number of CLK pulses by virtual time t ns is floor(t * 1193182 / 10^9), computed exactly
// (exact-math.ts); pulse T happens at ceil(T * 10^9 / 1193182) ns. Nothing else is a time
// source.
//
// IRQ0 follows counter 0's OUT exactly: a DeviceClock timer is armed for the next OUT
// change, and each change drives the line (rising edges are what the edge-triggered PIC
// latches). Counters 1 and 2 have no timers; their OUT is computed when read.
//
// Power-on state follows QEMU (the chip itself is undefined until programmed): all three
// counters in mode 3, LSB/MSB access, count 0 (65536), GATE high on counters 0 and 1, GATE 2
// low (port 0x61 = 0). Counter 0 therefore runs at 18.2 Hz until the guest reprograms it.

import type { PortIoBus } from '../../machine/io-bus.js';
import type { IrqLine } from '../../machine/irq.js';
import type { DeviceClock, DeviceState } from '../device.js';
import { floorDiv, mulDivCeil, mulDivFloor } from '../exact-math.js';
import { attachPorts, readBytewise, writeBytewise, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateBool, stateNum, stateObjs } from '../state.js';
import { PitChannel } from './pit-channel.js';

/** The PC timer input clock: 14.31818 MHz / 12 = 1193181.8 Hz, conventionally 1193182 Hz. */
export const PIT_HZ = 1193182;
// PIT_HZ / 10^9 reduced (gcd 2): pulses = ns * 596591 / 500000000.
const TICK_NUM = 596591;
const TICK_DEN = 500000000;

/**
 * Port 0x61 bit 4 (refresh cycle toggle) flips once per DRAM refresh request; the AT BIOS
 * programs counter 1 with 18 for refresh, 18 / 1.193182 MHz = 15.085 us (QEMU uses the same).
 */
const REFRESH_NS = 15085;

// Port 0x61 bits.
const P61_GATE2 = 0x01;
const P61_SPEAKER = 0x02;
const P61_WRITABLE = 0x0f; // bits 0-3 (GATE2, SPKR, PCK check enable, IOCHK enable)
const P61_REFRESH = 0x10;
const P61_OUT2 = 0x20;

export interface Pit8254Options {
  clock: DeviceClock;
  /** IRQ0 (counter 0 OUT), or null when nothing listens (no timer is armed then). */
  irq: IrqLine | null;
}

/** Virtual ns -> number of CLK pulses so far. */
export function pitTicksAt(ns: number): number {
  return mulDivFloor(ns, TICK_NUM, TICK_DEN);
}

/** Virtual ns at which CLK pulse `tick` happens. */
export function pitNsOfTick(tick: number): number {
  return mulDivCeil(tick, TICK_DEN, TICK_NUM);
}

export class Pit8254 implements AttachablePortDevice {
  readonly name = 'pit';
  readonly ports: readonly PortSpan[] = [
    { first: 0x40, count: 4, name: 'pit' },
    { first: 0x61, count: 1, name: 'port61' },
  ];
  private readonly clock: DeviceClock;
  private readonly irq: IrqLine | null;
  private readonly ch = [new PitChannel(), new PitChannel(), new PitChannel()];
  /** Port 0x61 bits 0-3 as last written. */
  private port61 = 0;
  private irqLevel = false;
  private timerId = -1;
  /** Bumped whenever the pending timer is replaced, so a stale callback does nothing. */
  private timerGen = 0;

  constructor(opts: Pit8254Options) {
    this.clock = opts.clock;
    this.irq = opts.irq;
    this.reset();
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  // ---- Device ----

  reset(): void {
    const tick = this.nowTick();
    this.port61 = 0;
    for (let i = 0; i < 3; i++) {
      const c = new PitChannel();
      c.baseTick = tick;
      c.gate = i !== 2;
      c.setControl(3, 3, false);
      c.writeByte(0);
      c.writeByte(0);
      this.ch[i] = c;
    }
    this.driveIrq(this.ch[0].out);
    this.armTimer();
  }

  saveState(): DeviceState {
    return { channels: this.ch.map((c) => c.saveState()), port61: this.port61, irqLevel: this.irqLevel };
  }

  /** Restores the counters and re-arms the IRQ0 timer (a callback armed before is ignored). */
  loadState(s: DeviceState): void {
    const chs = stateObjs(s, 'channels', 3);
    for (let i = 0; i < 3; i++) this.ch[i].loadState(chs[i]);
    this.port61 = stateNum(s, 'port61') & P61_WRITABLE;
    this.irqLevel = stateBool(s, 'irqLevel');
    this.timerId = -1;
    this.timerGen++;
    this.armTimer();
  }

  /** Counter i's OUT now (for tests and debuggers). */
  out(i: number): boolean {
    this.sync();
    return i >= 0 && i <= 2 ? this.ch[i].out : false;
  }

  // ---- PortHandler ----

  ioRead(port: number, size: number): number {
    if (size === 1) return this.readByte(port & 0xffff);
    return readBytewise(port, size, (p) => this.readByte(p));
  }

  ioWrite(port: number, size: number, value: number): void {
    if (size === 1) this.writeByte(port & 0xffff, value & 0xff);
    else writeBytewise(port, size, value, (p, b) => this.writeByte(p, b));
  }

  private readByte(port: number): number {
    this.sync();
    if (port >= 0x40 && port <= 0x42) return this.ch[port - 0x40].readByte();
    if (port === 0x61) return this.readPort61();
    return 0xff; // 0x43 (control word register) is write-only
  }

  private writeByte(port: number, v: number): void {
    this.sync();
    if (port >= 0x40 && port <= 0x42) {
      this.ch[port - 0x40].writeByte(v);
      if (port === 0x40) {
        this.driveIrq(this.ch[0].out); // mode 0: OUT drops as soon as the count is written
        this.armTimer();
      }
    } else if (port === 0x43) {
      this.writeControl(v);
    } else if (port === 0x61) {
      this.port61 = v & P61_WRITABLE;
      this.ch[2].setGate((v & P61_GATE2) !== 0);
    }
  }

  /** Control Word (datasheet "Control Word Format"): SC1 SC0 RW1 RW0 M2 M1 M0 BCD. */
  private writeControl(v: number): void {
    const sc = v >> 6;
    const rw = (v >> 4) & 3;
    if (sc === 3) {
      // Read-Back command: D5 = /COUNT, D4 = /STATUS, D3-D1 = CNT2..CNT0.
      for (let i = 0; i < 3; i++) {
        if (!(v & (2 << i))) continue;
        // Status first so that, with both latched, the status byte is read first.
        if (!(v & 0x10)) this.ch[i].latchStatus();
        if (!(v & 0x20)) this.ch[i].latchCount();
      }
      return;
    }
    const c = this.ch[sc];
    if (rw === 0) c.latchCount(); // Counter Latch Command
    else c.setControl((v >> 1) & 7, rw, (v & 1) !== 0);
    if (sc === 0) {
      this.driveIrq(c.out);
      this.armTimer();
    }
  }

  private readPort61(): number {
    let v = this.port61;
    // Refresh toggle from virtual time; OUT2 from counter 2.
    if (floorDiv(this.clock.nowNs(), REFRESH_NS) & 1) v |= P61_REFRESH;
    if (this.ch[2].out) v |= P61_OUT2;
    return v;
  }

  /** Speaker enabled and fed by counter 2 (port 0x61 bits 0 and 1), for a host beeper. */
  get speakerOn(): boolean {
    return (this.port61 & (P61_GATE2 | P61_SPEAKER)) === (P61_GATE2 | P61_SPEAKER);
  }

  // ---- time ----

  private nowTick(): number {
    return pitTicksAt(this.clock.nowNs());
  }

  /** Bring all counters to the present; IRQ0 follows counter 0's OUT. */
  private sync(): void {
    const t = this.nowTick();
    for (const c of this.ch) c.advanceTo(t);
    this.driveIrq(this.ch[0].out);
  }

  private driveIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq?.set(level);
  }

  private armTimer(): void {
    if (this.timerId >= 0) this.clock.cancel(this.timerId);
    this.timerId = -1;
    const gen = ++this.timerGen;
    if (!this.irq) return;
    const c = this.ch[0];
    const d = c.ticksToOutChange();
    if (d < 0) return;
    const due = pitNsOfTick(c.baseTick + d);
    const now = this.clock.nowNs();
    this.timerId = this.clock.after(due > now ? due - now : 0, () => this.onTimer(gen));
  }

  private onTimer(gen: number): void {
    if (gen !== this.timerGen) return;
    this.timerId = -1;
    const t = this.nowTick();
    const c = this.ch[0];
    // Deliver every OUT change up to now at its own pulse, so a late callback (a coarse
    // instruction clock) still produces each edge the PIC must see. The bound only guards
    // against a pathological clock; counts >= 2 give at most a few changes per callback.
    for (let guard = 0; guard < 1024; guard++) {
      const d = c.ticksToOutChange();
      if (d < 0 || c.baseTick + d > t) break;
      c.advanceTo(c.baseTick + d);
      this.driveIrq(c.out);
    }
    c.advanceTo(t);
    this.driveIrq(c.out);
    this.armTimer();
  }
}
