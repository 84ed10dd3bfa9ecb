// 16550A UART, as on a PC COM port.
//
// Reference: National Semiconductor PC16550D "UART with FIFOs" datasheet (register names
// and bit names below are the datasheet's). Tables cited: Table II "Summary of Registers",
// Table III "UART Reset Configuration", Table IV "Interrupt Control Functions".
//
// Model:
// - Transmission is instant: a byte written to THR goes to the ByteSink at once (or, in
//   loopback, into the receiver FIFO), so THR/TSR are always empty again when the guest
//   next looks (LSR.THRE = LSR.TEMT = 1). There is no baud-rate timing: the divisor latch is
//   stored and read back but does not slow anything down.
// - Host input enters through receive(bytes) (the machine records it first). A byte that
//   arrives when the receiver is full is an overrun, exactly as on the chip (LSR.OE).
// - The character-timeout indication (IIR 0xC) is modelled with a zero-length timeout: in
//   FIFO mode, data below the trigger level is reported as a timeout interrupt at once,
//   since host input arrives in bursts and no further characters are "on the wire".
// - The interrupt line follows the PC wiring: INTR reaches the ISA IRQ only through the
//   buffer enabled by OUT2 (MCR bit 3); in loopback mode the OUT2 pin is forced inactive
//   ("the four modem control outputs are forced to their inactive state"), so no IRQ.
// - Non-loopback modem inputs are those of an attached, ready modem: CTS, DSR, DCD high,
//   RI low (what QEMU presents without a host tty).
// - No parity/framing errors or breaks are ever received (host bytes are clean), so
//   LSR bits PE, FE, BI and "error in RCVR FIFO" stay 0.

import type { PortIoBus } from '../../machine/io-bus.js';
import type { IrqLine } from '../../machine/irq.js';
import type { ByteSink, DeviceState } from '../device.js';
import { attachPorts, readBytewise, writeBytewise, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateBool, stateNum, stateNums } from '../state.js';

/** Standard PC COM port resources. */
export const COM1 = { base: 0x3f8, irq: 4 } as const;
export const COM2 = { base: 0x2f8, irq: 3 } as const;

// Register offsets (Table II).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

// IER bits (Table II, "Interrupt Enable Register").
const IER_ERBFI = 0x01; // received data available
const IER_ETBEI = 0x02; // THR empty
const IER_ELSI = 0x04; // receiver line status
const IER_EDSSI = 0x08; // modem status
const IER_MASK = 0x0f; // bits 4-7 are always 0

// IIR values (Table IV). Bit 0 = 0 means "interrupt pending".
const IIR_NONE = 0x01;
const IIR_RLS = 0x06; // priority 1: receiver line status
const IIR_RDA = 0x04; // priority 2: received data available
const IIR_CTI = 0x0c; // priority 2: character timeout (FIFO mode only)
const IIR_THRE = 0x02; // priority 3: THR empty
const IIR_MS = 0x00; // priority 4: modem status
const IIR_FIFOS_ENABLED = 0xc0; // bits 6-7 set when FCR0 = 1

// FCR bits (Table II, "FIFO Control Register").
const FCR_ENABLE = 0x01;
const FCR_RX_RESET = 0x02;
const FCR_TX_RESET = 0x04;
/** RX trigger levels selected by FCR bits 7:6 (Table II: 01, 04, 08, 14 bytes). */
const RX_TRIGGER = [1, 4, 8, 14] as const;
/** Both FIFOs hold 16 characters. */
const FIFO_SIZE = 16;

// LCR bits.
const LCR_DLAB = 0x80;

// MCR bits.
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
const MCR_MASK = 0x1f; // bits 5-7 are always 0

// LSR bits.
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
/** The error bits that a read of LSR clears (OE, PE, FE, BI). */
const LSR_ERRORS = 0x1e;

// MSR bits.
const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04;
const MSR_DDCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
/** Modem inputs of an attached, ready modem when not in loopback. */
const MSR_LINES_EXTERNAL = MSR_CTS | MSR_DSR | MSR_DCD;

export interface Uart16550Options {
  /** Device name, e.g. "com1". */
  name: string;
  /** First of the 8 ports (COM1.base, COM2.base). */
  base: number;
  /** The ISA IRQ line (COM1: IRQ4, COM2: IRQ3), or null if not wired. */
  irq: IrqLine | null;
  /** Where transmitted bytes go (the host side of the serial line). */
  sink: ByteSink;
}

export class Uart16550 implements AttachablePortDevice {
  readonly name: string;
  readonly base: number;
  readonly ports: readonly PortSpan[];
  private readonly irq: IrqLine | null;
  private readonly sink: ByteSink;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private fcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  /** Latched LSR error bits (OE; PE/FE/BI are never produced). */
  private lsrErrors = 0;
  /** MSR delta bits 0-3 (DCTS, DDSR, TERI, DDCD). */
  private msrDelta = 0;
  /** Receiver FIFO (holds at most 1 byte in 16450 mode, 16 in FIFO mode). */
  private rx: number[] = [];
  /** Last byte that was in RBR: what a read of an empty RBR returns. */
  private rbr = 0;
  /** THRE interrupt pending (Table IV: set when THR empties, cleared by IIR read or THR write). */
  private thrIpending = false;
  /** Level currently driven on the IRQ line. */
  private irqLevel = false;

  constructor(opts: Uart16550Options) {
    this.name = opts.name;
    this.base = opts.base & 0xffff;
    this.irq = opts.irq;
    this.sink = opts.sink;
    this.ports = [{ first: this.base, count: 8, name: opts.name }];
    this.powerOn();
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  // ---- Device ----

  /** Master reset (Table III). DLL/DLM and SCR are not affected by MR. */
  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.fcr = 0;
    this.lsrErrors = 0;
    this.msrDelta = 0;
    this.rx = [];
    this.thrIpending = false;
    this.updateIrq();
  }

  private powerOn(): void {
    // Power-on values of the divisor and scratch registers are undefined on the chip;
    // divisor 12 (9600 baud from 1.8432 MHz) is what PC firmware and QEMU leave there.
    this.dll = 12;
    this.dlm = 0;
    this.scr = 0;
    this.rbr = 0;
    this.reset();
  }

  saveState(): DeviceState {
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      fcr: this.fcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      lsrErrors: this.lsrErrors,
      msrDelta: this.msrDelta,
      rx: this.rx.slice(),
      rbr: this.rbr,
      thrIpending: this.thrIpending,
      irqLevel: this.irqLevel,
    };
  }

  /** Restores registers; does not drive the IRQ line (the controller's state is restored separately). */
  loadState(s: DeviceState): void {
    this.ier = stateNum(s, 'ier') & IER_MASK;
    this.lcr = stateNum(s, 'lcr') & 0xff;
    this.mcr = stateNum(s, 'mcr') & MCR_MASK;
    this.fcr = stateNum(s, 'fcr') & 0xff;
    this.scr = stateNum(s, 'scr') & 0xff;
    this.dll = stateNum(s, 'dll') & 0xff;
    this.dlm = stateNum(s, 'dlm') & 0xff;
    this.lsrErrors = stateNum(s, 'lsrErrors') & LSR_ERRORS;
    this.msrDelta = stateNum(s, 'msrDelta') & 0x0f;
    this.rx = stateNums(s, 'rx').slice(0, FIFO_SIZE).map((b) => b & 0xff);
    this.rbr = stateNum(s, 'rbr') & 0xff;
    this.thrIpending = stateBool(s, 'thrIpending');
    this.irqLevel = stateBool(s, 'irqLevel');
  }

  // ---- host side ----

  /**
   * Bytes arriving on the serial input from the host. Call only with recorded input.
   * Dropped (overrun) bytes are lost as on the chip; use rxFree() to pace input.
   */
  receive(bytes: ArrayLike<number>): void {
    if (this.mcr & MCR_LOOP) return; // SIN is disconnected in loopback mode
    for (let i = 0; i < bytes.length; i++) this.pushRx(bytes[i] & 0xff);
    this.updateIrq();
  }

  /** How many bytes the receiver can take now without an overrun. */
  rxFree(): number {
    if (this.mcr & MCR_LOOP) return 0;
    return this.rxCapacity() - this.rx.length;
  }

  /** Current level of the IRQ output (after OUT2 gating). */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  // ---- PortHandler ----

  ioRead(port: number, size: number): number {
    if (size === 1) return this.readReg((port - this.base) & 0xffff);
    return readBytewise(port, size, (p) => this.readReg((p - this.base) & 0xffff));
  }

  ioWrite(port: number, size: number, value: number): void {
    if (size === 1) this.writeReg((port - this.base) & 0xffff, value & 0xff);
    else writeBytewise(port, size, value, (p, b) => this.writeReg((p - this.base) & 0xffff, b));
  }

  private readReg(off: number): number {
    switch (off) {
      case RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) return this.dll;
        return this.readRbr();
      case IER_DLM:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case IIR_FCR:
        return this.readIir();
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        return this.readLsr();
      case MSR:
        return this.readMsr();
      case SCR:
        return this.scr;
      default:
        return 0xff; // outside the 8 registers (only reachable by a wide access at base+7)
    }
  }

  private writeReg(off: number, v: number): void {
    switch (off) {
      case RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) this.dll = v;
        else this.writeThr(v);
        return;
      case IER_DLM:
        if (this.lcr & LCR_DLAB) this.dlm = v;
        else this.writeIer(v);
        return;
      case IIR_FCR:
        this.writeFcr(v);
        return;
      case LCR:
        this.lcr = v;
        return;
      case MCR:
        this.writeMcr(v);
        return;
      case SCR:
        this.scr = v;
        return;
      default:
        return; // LSR and MSR writes (factory test) are ignored
    }
  }

  // ---- registers ----

  private fifoMode(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  private rxCapacity(): number {
    return this.fifoMode() ? FIFO_SIZE : 1;
  }

  private rxTrigger(): number {
    return RX_TRIGGER[(this.fcr >> 6) & 3];
  }

  private pushRx(b: number): void {
    if (this.rx.length < this.rxCapacity()) {
      this.rx.push(b);
      return;
    }
    // Overrun ("Line Status Register", OE): in 16450 mode the new character overwrites RBR;
    // in FIFO mode the character in the shift register is lost and the FIFO is kept.
    this.lsrErrors |= LSR_OE;
    if (!this.fifoMode()) this.rx[0] = b;
  }

  private readRbr(): number {
    if (this.rx.length > 0) {
      this.rbr = this.rx.shift()!;
      this.updateIrq();
    }
    return this.rbr;
  }

  private writeThr(v: number): void {
    // Writing THR clears a pending THRE interrupt (Table IV); the byte leaves at once.
    this.thrIpending = false;
    if (this.mcr & MCR_LOOP) this.pushRx(v);
    else this.sink(v);
    // THR (and TSR) empty again: the THRE interrupt becomes pending if enabled.
    if (this.ier & IER_ETBEI) this.thrIpending = true;
    this.updateIrq();
  }

  private writeIer(v: number): void {
    const old = this.ier;
    this.ier = v & IER_MASK;
    // Enabling ETBEI while THR is empty raises the THRE interrupt at once (Table IV,
    // "THRE ... set when THR empty"); disabling it withdraws the request.
    if (!(this.ier & IER_ETBEI)) this.thrIpending = false;
    else if (!(old & IER_ETBEI)) this.thrIpending = true;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const wasFifo = this.fifoMode();
    const nowFifo = (v & FCR_ENABLE) !== 0;
    // Changing FCR0 clears both FIFOs ("FIFO Control Register", bit 0); bits 1 and 2 clear
    // the RCVR/XMIT FIFOs and are self-clearing. The transmit side is always empty here.
    // (FCR_TX_RESET has nothing to clear: the transmitter is always empty.)
    if (wasFifo !== nowFifo || (v & FCR_RX_RESET)) this.rx = [];
    this.fcr = v & ~(FCR_RX_RESET | FCR_TX_RESET) & 0xff;
    this.updateIrq();
  }

  private writeMcr(v: number): void {
    const oldLines = this.modemLines();
    this.mcr = v & MCR_MASK;
    this.noteModemChange(oldLines, this.modemLines());
    this.updateIrq();
  }

  /** MSR bits 4-7: loopback ties them to MCR (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD). */
  private modemLines(): number {
    if (!(this.mcr & MCR_LOOP)) return MSR_LINES_EXTERNAL;
    let m = 0;
    if (this.mcr & MCR_RTS) m |= MSR_CTS;
    if (this.mcr & MCR_DTR) m |= MSR_DSR;
    if (this.mcr & MCR_OUT1) m |= MSR_RI;
    if (this.mcr & MCR_OUT2) m |= MSR_DCD;
    return m;
  }

  private noteModemChange(oldLines: number, newLines: number): void {
    const changed = oldLines ^ newLines;
    if (changed & MSR_CTS) this.msrDelta |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDelta |= MSR_DDSR;
    if (changed & MSR_DCD) this.msrDelta |= MSR_DDCD;
    // TERI: trailing edge of RI only (RI going from on to off).
    if (oldLines & MSR_RI && !(newLines & MSR_RI)) this.msrDelta |= MSR_TERI;
  }

  private readLsr(): number {
    let v = LSR_THRE | LSR_TEMT | this.lsrErrors;
    if (this.rx.length > 0) v |= LSR_DR;
    if (this.lsrErrors !== 0) {
      this.lsrErrors = 0; // reading LSR clears OE/PE/FE/BI and the line-status interrupt
      this.updateIrq();
    }
    return v;
  }

  private readMsr(): number {
    const v = this.modemLines() | this.msrDelta;
    if (this.msrDelta !== 0) {
      this.msrDelta = 0; // reading MSR clears the delta bits and the modem-status interrupt
      this.updateIrq();
    }
    return v;
  }

  /** The highest-priority pending interrupt identification (Table IV), IIR_NONE if none. */
  private currentIid(): number {
    if (this.ier & IER_ELSI && this.lsrErrors !== 0) return IIR_RLS;
    if (this.ier & IER_ERBFI && this.rx.length > 0) {
      if (!this.fifoMode() || this.rx.length >= this.rxTrigger()) return IIR_RDA;
      return IIR_CTI;
    }
    if (this.ier & IER_ETBEI && this.thrIpending) return IIR_THRE;
    if (this.ier & IER_EDSSI && this.msrDelta !== 0) return IIR_MS;
    return IIR_NONE;
  }

  private readIir(): number {
    const iid = this.currentIid();
    // Reading IIR clears the THRE interrupt when it is the one reported (Table IV).
    if (iid === IIR_THRE) {
      this.thrIpending = false;
      this.updateIrq();
    }
    return iid | (this.fifoMode() ? IIR_FIFOS_ENABLED : 0);
  }

  private updateIrq(): void {
    const gate = (this.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2;
    const level = gate && this.currentIid() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq?.set(level);
    }
  }
}
