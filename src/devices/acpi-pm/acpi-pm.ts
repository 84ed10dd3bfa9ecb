// ACPI fixed hardware (ACPI 6.5, 4.8): the PM1a event block (PM1_STS, PM1_EN), the PM1a
// control block (PM1_CNT) with soft-off, the PM timer, and the SMI command port that switches
// between legacy and ACPI mode (5.2.9 FADT SMI_CMD / ACPI_ENABLE / ACPI_DISABLE).
//
// Ports (platform-layout.ts): PM1a_EVT_BLK 0x400 (STS 0x400, EN 0x402), PM1a_CNT_BLK 0x404,
// PM_TMR_BLK 0x408, SMI_CMD 0xb2. All are decoded a byte at a time (an access of any size is
// split into bytes, little-endian), except 4-byte PM timer reads, which take a fast path.
//
// The SCI (level) is asserted while SCI_EN is set and some status bit has its enable bit set
// (4.8.4.1). With SCI_EN clear the events would raise an SMI; there is no SMM, so nothing
// happens. TMR_STS is kept lazily: it is set once bit 23 of the timer has changed since it was
// last cleared, and a DeviceClock timer is armed for the next change only while TMR_EN is set.
//
// Sleep: SLP_EN with SLP_TYP = SLP_TYP_S5 calls powerOff(); other sleep types are not
// supported (no S1-S4) and the write does nothing beyond storing SLP_TYP.

import type { PortIoBus } from '../../machine/io-bus.js';
import type { IrqLine } from '../../machine/irq.js';
import type { DeviceClock, DeviceState } from '../device.js';
import { attachPorts, type AttachablePortDevice, type PortSpan } from '../port-device.js';
import { stateBool, stateNum } from '../state.js';
import { PM_TMR_STS_PERIOD_TICKS, pmNsOfTick, pmTicksAt, pmTimerValue } from './pm-timer.js';

// Ports, as platform-layout.ts (devices don't import the machine).
export const PM1A_EVT_PORT = 0x400;
export const PM1A_CNT_PORT = 0x404;
export const PM_TMR_PORT = 0x408;
export const SMI_CMD_PORT = 0xb2;
export const ACPI_ENABLE_CMD = 0xa0;
export const ACPI_DISABLE_CMD = 0xa1;
export const SLP_TYP_SOFT_OFF = 5;

// PM1_STS (4.8.4.1.1, table 4.16) and PM1_EN (4.8.4.1.2, table 4.17) bits.
export const TMR_STS = 1 << 0;
const BM_STS = 1 << 4;
const GBL_STS = 1 << 5;
export const PWRBTN_STS = 1 << 8;
const SLPBTN_STS = 1 << 9;
const RTC_STS = 1 << 10;
const PCIEXP_WAKE_STS = 1 << 14;
const WAK_STS = 1 << 15;
const STS_BITS = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS | PCIEXP_WAKE_STS | WAK_STS;
export const TMR_EN = 1 << 0;
const EN_BITS = TMR_EN | (1 << 5) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 14);
/** Status bits that raise the SCI when enabled (bit 14 of PM1_EN is PCIEXP_WAKE_DIS, not an enable). */
const SCI_SOURCES = TMR_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS;

// PM1_CNT (4.8.4.2.1, table 4.19).
export const SCI_EN = 1 << 0;
const BM_RLD = 1 << 1;
const SLP_TYP_SHIFT = 10;
const SLP_TYP_MASK = 7 << SLP_TYP_SHIFT;
export const SLP_EN = 1 << 13;

export interface AcpiPmOptions {
  clock: DeviceClock;
  /** The SCI (logical level: true = asserted; the wire is active low, the MADT says so). */
  sci: IrqLine;
  /** Soft-off (S5) requested by the guest. */
  powerOff(): void;
}

export class AcpiPm implements AttachablePortDevice {
  readonly name = 'acpi-pm';
  readonly ports: readonly PortSpan[] = [
    { first: PM1A_EVT_PORT, count: 4, name: 'pm1a-evt' },
    { first: PM1A_CNT_PORT, count: 2, name: 'pm1a-cnt' },
    { first: PM_TMR_PORT, count: 4, name: 'pm-tmr' },
    { first: SMI_CMD_PORT, count: 1, name: 'smi-cmd' },
  ];
  private readonly clock: DeviceClock;
  private readonly sci: IrqLine;
  private readonly powerOff: () => void;
  /** PM1_STS bits other than TMR_STS. */
  private sts = 0;
  private en = 0;
  /** PM1_CNT: SCI_EN, BM_RLD, SLP_TYP (SLP_EN and GBL_RLS are write-only). */
  private cnt = 0;
  private tmrSts = false;
  /** Number of bit-23 changes (2^23-tick periods) accounted for in tmrSts. */
  private tmrEpoch = 0;
  private sciLevel = false;
  private timerId = -1;
  private timerGen = 0;

  constructor(opts: AcpiPmOptions) {
    this.clock = opts.clock;
    this.sci = opts.sci;
    this.powerOff = opts.powerOff;
    this.reset();
  }

  attach(bus: PortIoBus): void {
    attachPorts(bus, this);
  }

  /** The power button was pressed (PWRBTN_STS, 4.8.2.2.1.1): an SCI if PWRBTN_EN and SCI_EN. */
  pressPowerButton(): void {
    this.sts |= PWRBTN_STS;
    this.updateSci();
  }

  // ---- Device ----

  reset(): void {
    this.sts = 0;
    this.en = 0;
    this.cnt = 0;
    this.tmrSts = false;
    this.tmrEpoch = this.epochNow();
    this.driveSci(false);
    this.armTimer();
  }

  saveState(): DeviceState {
    return { sts: this.sts, en: this.en, cnt: this.cnt, tmrSts: this.tmrSts, tmrEpoch: this.tmrEpoch, sciLevel: this.sciLevel };
  }

  loadState(s: DeviceState): void {
    const sts = stateNum(s, 'sts');
    const en = stateNum(s, 'en');
    const cnt = stateNum(s, 'cnt');
    const tmrSts = stateBool(s, 'tmrSts');
    const tmrEpoch = stateNum(s, 'tmrEpoch');
    const sciLevel = stateBool(s, 'sciLevel');
    this.sts = sts & STS_BITS & ~TMR_STS;
    this.en = en & EN_BITS;
    this.cnt = cnt & (SCI_EN | BM_RLD | SLP_TYP_MASK);
    this.tmrSts = tmrSts;
    this.tmrEpoch = tmrEpoch;
    this.sciLevel = sciLevel;
    this.armTimer();
  }

  // ---- PortHandler ----

  ioRead(port: number, size: number): number {
    if (port === PM_TMR_PORT && size >= 4) return pmTimerValue(this.clock.nowNs()); // bits 31:24 read 0
    const n = size >= 4 ? 4 : size === 2 || size === 3 ? 2 : 1;
    let v = 0;
    for (let i = 0; i < n; i++) v |= this.readByte((port + i) & 0xffff) << (8 * i);
    return v >>> 0;
  }

  ioWrite(port: number, size: number, value: number): void {
    const n = size >= 4 ? 4 : size === 2 || size === 3 ? 2 : 1;
    // SLP_TYP and SLP_EN share PM1_CNT's high byte, so byte order does not matter.
    for (let i = 0; i < n; i++) this.writeByte((port + i) & 0xffff, (value >>> (8 * i)) & 0xff);
  }

  private readByte(port: number): number {
    switch (port) {
      case PM1A_EVT_PORT:
      case PM1A_EVT_PORT + 1:
        return (this.readSts() >> (8 * (port - PM1A_EVT_PORT))) & 0xff;
      case PM1A_EVT_PORT + 2:
      case PM1A_EVT_PORT + 3:
        return (this.en >> (8 * (port - PM1A_EVT_PORT - 2))) & 0xff;
      case PM1A_CNT_PORT:
      case PM1A_CNT_PORT + 1:
        return (this.cnt >> (8 * (port - PM1A_CNT_PORT))) & 0xff;
      case PM_TMR_PORT:
      case PM_TMR_PORT + 1:
      case PM_TMR_PORT + 2:
      case PM_TMR_PORT + 3:
        return (pmTimerValue(this.clock.nowNs()) >>> (8 * (port - PM_TMR_PORT))) & 0xff;
      default:
        return port === SMI_CMD_PORT ? 0 : 0xff;
    }
  }

  private writeByte(port: number, b: number): void {
    switch (port) {
      case PM1A_EVT_PORT:
      case PM1A_EVT_PORT + 1:
        this.clearSts((b << (8 * (port - PM1A_EVT_PORT))) & STS_BITS);
        break;
      case PM1A_EVT_PORT + 2:
      case PM1A_EVT_PORT + 3: {
        const shift = 8 * (port - PM1A_EVT_PORT - 2);
        this.en = ((this.en & ~(0xff << shift)) | (b << shift)) & EN_BITS;
        this.sync();
        this.updateSci();
        this.armTimer();
        break;
      }
      case PM1A_CNT_PORT:
        // SCI_EN is owned by the hardware (set and cleared through SMI_CMD, 4.8.4.2.1).
        this.cnt = (this.cnt & ~BM_RLD) | (b & BM_RLD);
        break;
      case PM1A_CNT_PORT + 1: {
        const v = b << 8;
        this.cnt = (this.cnt & ~SLP_TYP_MASK) | (v & SLP_TYP_MASK);
        if (v & SLP_EN && (v & SLP_TYP_MASK) >> SLP_TYP_SHIFT === SLP_TYP_SOFT_OFF) this.powerOff();
        break;
      }
      case SMI_CMD_PORT:
        if (b === ACPI_ENABLE_CMD) this.cnt |= SCI_EN;
        else if (b === ACPI_DISABLE_CMD) this.cnt &= ~SCI_EN;
        this.updateSci();
        break;
      default:
        break; // PM_TMR is read-only
    }
  }

  // ---- status and SCI ----

  private readSts(): number {
    this.sync();
    return this.sts | (this.tmrSts ? TMR_STS : 0);
  }

  /** Write-1-to-clear (4.8.4.1.1). */
  private clearSts(bits: number): void {
    this.sync();
    this.sts &= ~bits;
    if (bits & TMR_STS) this.tmrSts = false;
    this.updateSci();
    this.armTimer();
  }

  private epochNow(): number {
    return Math.floor(pmTicksAt(this.clock.nowNs()) / PM_TMR_STS_PERIOD_TICKS); // exact: divisor is 2^23
  }

  /** TMR_STS catches up with virtual time. */
  private sync(): void {
    const e = this.epochNow();
    if (e > this.tmrEpoch) {
      this.tmrSts = true;
      this.tmrEpoch = e;
    }
  }

  private updateSci(): void {
    const sts = this.sts | (this.tmrSts ? TMR_STS : 0);
    this.driveSci((this.cnt & SCI_EN) !== 0 && (sts & this.en & SCI_SOURCES) !== 0);
  }

  private driveSci(level: boolean): void {
    if (level === this.sciLevel) return;
    this.sciLevel = level;
    this.sci.set(level);
  }

  /** While TMR_EN is set and TMR_STS clear, wake at the next bit-23 change. */
  private armTimer(): void {
    if (this.timerId >= 0) this.clock.cancel(this.timerId);
    this.timerId = -1;
    const gen = ++this.timerGen;
    if ((this.en & TMR_EN) === 0 || this.tmrSts) return;
    const due = pmNsOfTick((this.tmrEpoch + 1) * PM_TMR_STS_PERIOD_TICKS);
    const now = this.clock.nowNs();
    this.timerId = this.clock.after(due > now ? due - now : 0, () => this.onTimer(gen));
  }

  private onTimer(gen: number): void {
    if (gen !== this.timerGen) return;
    this.timerId = -1;
    this.sync();
    this.updateSci();
    this.armTimer();
  }
}
