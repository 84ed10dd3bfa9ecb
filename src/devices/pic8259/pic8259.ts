// The PC's pair of 8259A programmable interrupt controllers plus the edge/level control
// registers (ELCR) of the PIIX/ICH south bridges.
//
// References: Intel 8259A datasheet (order 231468): "Initialization Command Words" (ICW1-4),
// "Operation Command Words" (OCW1-3), "Fully Nested Mode", "Special Fully Nested Mode",
// "Automatic End of Interrupt (AEOI) Mode", "Rotation", "Special Mask Mode", "Poll
// Command", "Cascading". Intel 82371SB (PIIX3) datasheet, ELCR1/ELCR2 at 4D0h/4D1h.
//
// Wiring (PC/AT): master at 0x20/0x21, slave at 0xA0/0xA1, the slave's INT on master IR2;
// ISA IRQ n is master IRn (n < 8) or slave IR(n-8). IRQ2 is the cascade and is not
// available to devices (setIrq(2, …) is ignored; ISA "IRQ2" devices are wired to IRQ9).
//
// Model notes:
// - Edge-triggered inputs latch IRR on a rising edge and keep it until acknowledged, so a
//   device may pulse set(true); set(false). Level-triggered inputs (ELCR bit = 1) make IRR
//   follow the line.
// - ICW1.LTIM (bit 3) is stored but ignored: on PIIX/ICH the ELCR alone selects the
//   trigger mode.
// - The master's cascade input follows the slave's INT output as a level, so a slave with
//   several pending requests is never starved by a missing edge.
// - ICW4.uPM = 0 (MCS-80/85 mode) is accepted but the controller always answers with an
//   8086-style vector; BUF/M-S (buffered mode) have no effect.
// - Power-on state follows QEMU: everything zero, IMR = 0 (the chip leaves it undefined).

import type { PortIoBus } from '../../machine/io-bus.js';
import type { InterruptSource, IrqLine, IrqRouter } from '../../machine/irq.js';
import type { DeviceState } from '../device.js';
import { attachPorts, readBytewise, writeBytewise, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateBool, stateNum, stateObj } from '../state.js';

/** The IR input of the master that the slave's INT drives (PC/AT). */
const CASCADE_IRQ = 2;

// ICW1 (written to port A with D4 = 1).
const ICW1_IC4 = 0x01; // ICW4 needed
const ICW1_SNGL = 0x02; // single (no ICW3)
const ICW1_INIT = 0x10;

// ICW4.
const ICW4_AEOI = 0x02;
const ICW4_SFNM = 0x10;

// OCW3 (port A with D4 = 0, D3 = 1).
const OCW3_SELECT = 0x08;
const OCW3_RIS = 0x01; // with RR: read ISR (else IRR)
const OCW3_RR = 0x02; // "read register" command
const OCW3_P = 0x04; // poll command
const OCW3_SMM = 0x20; // special mask mode (with ESMM)
const OCW3_ESMM = 0x40;

// PIIX3 ELCR: IRQ0, 1, 2 (ELCR1 bits 0-2) and IRQ8, 13 (ELCR2 bits 0, 5) are edge only.
const ELCR_MASK_MASTER = 0xf8;
const ELCR_MASK_SLAVE = 0xde;

/** One 8259A. */
class Chip {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current level of each IR input. */
  lines = 0;
  /** Trigger mode per input from the ELCR (1 = level). */
  elcr = 0;
  /** Vector base from ICW2 (T7-T3). */
  vectorBase = 0;
  icw1 = 0;
  icw3 = 0;
  icw4 = 0;
  /** 0 = operational; 2, 3, 4 = next byte on port B is that ICW. */
  initStep = 0;
  /** OCW3 RR/RIS: read ISR (true) or IRR (false) on port A. */
  readIsr = false;
  /** A poll command was issued: the next read is the poll byte. */
  poll = false;
  specialMask = false;
  rotateOnAeoi = false;
  /** The IR level with the highest priority ("Rotation": lowest = priorityBase - 1). */
  priorityBase = 0;

  constructor(readonly isMaster: boolean) {}

  /** Priority rank (0 = highest) of the best bit in `mask`, 8 if none. */
  private rank(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    for (let i = 0; i < 8; i++) if (mask & (1 << ((i + this.priorityBase) & 7))) return i;
    return 8;
  }

  /** The IR level that would interrupt now (fully nested priority), or -1. */
  pending(): number {
    const req = this.irr & ~this.imr & 0xff;
    const r = this.rank(req);
    if (r === 8) return -1;
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr; // "Special Mask Mode": masked levels don't block
    // "Special Fully Nested Mode": a higher request from the slave may interrupt its own cascade.
    if (this.isMaster && this.icw4 & ICW4_SFNM) inService &= ~(1 << CASCADE_IRQ);
    return r < this.rank(inService) ? (r + this.priorityBase) & 7 : -1;
  }

  /** The INTA sequence on this chip for level `irq`: IRR -> ISR (or AEOI). */
  ack(irq: number): void {
    const bit = 1 << irq;
    if (!(this.elcr & bit)) this.irr &= ~bit; // edge: the request latch is consumed
    if (this.icw4 & ICW4_AEOI) {
      if (this.rotateOnAeoi) this.priorityBase = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
  }

  /** Input line change. */
  setLine(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.elcr & bit) {
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !(this.lines & bit)) {
      this.irr |= bit; // rising edge
    }
    if (level) this.lines |= bit;
    else this.lines &= ~bit;
  }

  setElcr(v: number): void {
    this.elcr = v & 0xff;
    // Inputs now level-triggered reflect their line at once.
    this.irr = (this.irr & ~this.elcr) | (this.lines & this.elcr);
  }

  /** Highest-priority ISR bit (for non-specific EOI), -1 if none. */
  highestInService(): number {
    const r = this.rank(this.isr);
    return r === 8 ? -1 : (r + this.priorityBase) & 7;
  }

  writeA(v: number): void {
    if (v & ICW1_INIT) {
      this.startInit(v);
      return;
    }
    if (v & OCW3_SELECT) {
      // OCW3
      if (v & OCW3_ESMM) this.specialMask = (v & OCW3_SMM) !== 0;
      if (v & OCW3_RR) this.readIsr = (v & OCW3_RIS) !== 0;
      if (v & OCW3_P) this.poll = true;
      return;
    }
    // OCW2: R SL EOI in bits 7-5, level in bits 2-0 ("Operation Command Words", OCW2 table).
    const level = v & 7;
    switch ((v >> 5) & 7) {
      case 0b001: {
        // non-specific EOI
        const irq = this.highestInService();
        if (irq >= 0) this.isr &= ~(1 << irq);
        break;
      }
      case 0b011: // specific EOI
        this.isr &= ~(1 << level);
        break;
      case 0b101: {
        // rotate on non-specific EOI
        const irq = this.highestInService();
        if (irq >= 0) {
          this.isr &= ~(1 << irq);
          this.priorityBase = (irq + 1) & 7;
        }
        break;
      }
      case 0b100: // rotate in AEOI mode (set)
        this.rotateOnAeoi = true;
        break;
      case 0b000: // rotate in AEOI mode (clear)
        this.rotateOnAeoi = false;
        break;
      case 0b111: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.priorityBase = (level + 1) & 7;
        break;
      case 0b110: // set priority: `level` becomes the lowest
        this.priorityBase = (level + 1) & 7;
        break;
      default: // 0b010: no operation
        break;
    }
  }

  private startInit(icw1: number): void {
    // ICW1 ("Initialization Command Words"): edge-sense reset, IMR cleared, IR7 lowest,
    // special mask mode cleared, status read = IRR, ICW4 functions cleared if IC4 = 0.
    this.icw1 = icw1;
    this.initStep = 2;
    this.imr = 0;
    this.isr = 0;
    this.irr = this.lines & this.elcr; // edge inputs need a fresh rising edge
    this.priorityBase = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.rotateOnAeoi = false;
    if (!(icw1 & ICW1_IC4)) this.icw4 = 0;
  }

  writeB(v: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8; // ICW2: T7-T3 (8086 mode)
        this.initStep = this.icw1 & ICW1_SNGL ? (this.icw1 & ICW1_IC4 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.icw1 & ICW1_IC4 ? 4 : 0;
        return;
      case 4:
        this.icw4 = v & 0x1f;
        this.initStep = 0;
        return;
      default:
        this.imr = v; // OCW1
        return;
    }
  }

  readA(): number {
    return this.readIsr ? this.isr : this.irr;
  }

  readB(): number {
    return this.imr;
  }

  save(): DeviceState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      lines: this.lines,
      elcr: this.elcr,
      vectorBase: this.vectorBase,
      icw1: this.icw1,
      icw3: this.icw3,
      icw4: this.icw4,
      initStep: this.initStep,
      readIsr: this.readIsr,
      poll: this.poll,
      specialMask: this.specialMask,
      rotateOnAeoi: this.rotateOnAeoi,
      priorityBase: this.priorityBase,
    };
  }

  load(s: DeviceState): void {
    this.irr = stateNum(s, 'irr') & 0xff;
    this.isr = stateNum(s, 'isr') & 0xff;
    this.imr = stateNum(s, 'imr') & 0xff;
    this.lines = stateNum(s, 'lines') & 0xff;
    this.elcr = stateNum(s, 'elcr') & 0xff;
    this.vectorBase = stateNum(s, 'vectorBase') & 0xf8;
    this.icw1 = stateNum(s, 'icw1') & 0xff;
    this.icw3 = stateNum(s, 'icw3') & 0xff;
    this.icw4 = stateNum(s, 'icw4') & 0x1f;
    const step = stateNum(s, 'initStep');
    this.initStep = step === 2 || step === 3 || step === 4 ? step : 0;
    this.readIsr = stateBool(s, 'readIsr');
    this.poll = stateBool(s, 'poll');
    this.specialMask = stateBool(s, 'specialMask');
    this.rotateOnAeoi = stateBool(s, 'rotateOnAeoi');
    this.priorityBase = stateNum(s, 'priorityBase') & 7;
  }
}

export interface PicPairOptions {
  /** Optional: told whenever the master's INT output to the CPU changes (wakes a halted vCPU). */
  intr?: IrqLine | null;
}

/** Master + slave 8259A with ELCR, as one InterruptSource and IrqRouter for ISA IRQs 0-15. */
export class PicPair implements AttachablePortDevice, InterruptSource, IrqRouter {
  readonly name = 'pic';
  readonly ports: readonly PortSpan[] = [
    { first: 0x20, count: 2, name: 'pic-master' },
    { first: 0xa0, count: 2, name: 'pic-slave' },
    { first: 0x4d0, count: 2, name: 'pic-elcr' },
  ];
  private readonly master = new Chip(true);
  private readonly slave = new Chip(false);
  private readonly intr: IrqLine | null;
  private intrLevel = false;

  constructor(opts: PicPairOptions = {}) {
    this.intr = opts.intr ?? null;
    this.reset();
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  reset(): void {
    for (const c of [this.master, this.slave]) {
      const lines = c.lines; // input wires keep their levels across a controller reset
      c.load(new Chip(c.isMaster).save());
      c.lines = lines;
    }
    this.update();
  }

  saveState(): DeviceState {
    return { master: this.master.save(), slave: this.slave.save(), intrLevel: this.intrLevel };
  }

  loadState(s: DeviceState): void {
    this.master.load(stateObj(s, 'master'));
    this.slave.load(stateObj(s, 'slave'));
    this.intrLevel = stateBool(s, 'intrLevel');
  }

  // ---- IrqRouter ----

  /** ISA IRQ 0-15. IRQ2 (the cascade) and numbers outside 0-15 are ignored. */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15 || irq === CASCADE_IRQ) return;
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq - 8, level);
    this.update();
  }

  // ---- InterruptSource ----

  hasInterrupt(): boolean {
    return this.master.pending() >= 0;
  }

  /**
   * The two INTA cycles. With nothing pending the 8259A answers IR7 without setting ISR
   * (the "spurious" IRQ7); a cascade with nothing pending on the slave gives IRQ15 from
   * the slave, with the master's IR2 in service ("Interrupt Sequence").
   */
  acknowledge(): number {
    const m = this.master;
    const irq = m.pending();
    let vector: number;
    if (irq < 0) {
      vector = m.vectorBase | 7;
    } else if (irq === CASCADE_IRQ) {
      m.ack(irq);
      const s = this.slave;
      const sirq = s.pending();
      if (sirq < 0) {
        vector = s.vectorBase | 7;
      } else {
        s.ack(sirq);
        vector = s.vectorBase | sirq;
      }
    } else {
      m.ack(irq);
      vector = m.vectorBase | irq;
    }
    this.update();
    return vector & 0xff;
  }

  // ---- introspection for tests and debuggers ----

  /** IRR/ISR/IMR of master (bits 0-7) and slave (bits 8-15). */
  get irr(): number {
    return this.master.irr | (this.slave.irr << 8);
  }
  get isr(): number {
    return this.master.isr | (this.slave.isr << 8);
  }
  get imr(): number {
    return this.master.imr | (this.slave.imr << 8);
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

  private chipFor(port: number): Chip | null {
    if (port === 0x20 || port === 0x21) return this.master;
    if (port === 0xa0 || port === 0xa1) return this.slave;
    return null;
  }

  private readByte(port: number): number {
    if (port === 0x4d0) return this.master.elcr;
    if (port === 0x4d1) return this.slave.elcr;
    const c = this.chipFor(port);
    if (!c) return 0xff;
    if (c.poll) {
      c.poll = false;
      return this.pollRead(c);
    }
    return port & 1 ? c.readB() : c.readA();
  }

  /** "Poll Command": the read acts as INTA; bit 7 = interrupt present, bits 2-0 = level. */
  private pollRead(c: Chip): number {
    const irq = c.pending();
    if (irq < 0) return 0;
    c.ack(irq); // polling the master on IR2 leaves the slave to be polled separately
    this.update();
    return 0x80 | irq;
  }

  private writeByte(port: number, v: number): void {
    if (port === 0x4d0) this.master.setElcr(v & ELCR_MASK_MASTER);
    else if (port === 0x4d1) this.slave.setElcr(v & ELCR_MASK_SLAVE);
    else {
      const c = this.chipFor(port);
      if (!c) return;
      if (port & 1) c.writeB(v);
      else c.writeA(v);
    }
    this.update();
  }

  /** Propagate the slave's INT to master IR2 (as a level) and the master's INT to the CPU. */
  private update(): void {
    const slaveInt = this.slave.pending() >= 0;
    const bit = 1 << CASCADE_IRQ;
    if (slaveInt) {
      this.master.irr |= bit;
      this.master.lines |= bit;
    } else {
      this.master.irr &= ~bit;
      this.master.lines &= ~bit;
    }
    const level = this.master.pending() >= 0;
    if (level !== this.intrLevel) {
      this.intrLevel = level;
      this.intr?.set(level);
    }
  }
}
