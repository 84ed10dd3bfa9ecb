// The PC basics wired to a Machine: two 16550A UARTs, the 8259 pair, the 8254 PIT with port
// 0x61, the CMOS RTC, the POST port 0x80, fw_cfg, isa-debug-exit, QEMU's pc-testdev ports, and
// the reset-control ports (0xcf9, keyboard controller 0x64). Devices know nothing of the
// machine: they get a DeviceClock, IrqLines and callbacks from here.

import type { Machine } from './machine.js';
import { ExitKind } from './exit.js';
import type { DeviceClock, ByteSink } from '../devices/device.js';
import type { PortHandler } from './io-bus.js';
import {
  Uart16550, COM1, COM2, PicPair, Pit8254, Rtc146818, IsaDebugExit, PostPort, FwCfg, PcTestDev,
} from '../devices/index.js';
import { irqLine, type IrqRouter } from './irq.js';
import { isaIrqToGsi } from './platform-layout.js';

export interface PcOptions {
  /** Where COM1 / COM2 output goes (default: discarded). */
  com1?: ByteSink;
  com2?: ByteSink;
  /** Unix time the RTC shows at power-on (default 2000-01-01T00:00:00Z). */
  rtcTime?: number;
  /** isa-debug-exit at 0xf4 (default on). */
  debugExit?: boolean;
  /** Kernel command line for fw_cfg. */
  cmdline?: string;
  /** The IOAPIC's inputs: ISA IRQ n also drives GSI isaIrqToGsi(n) (the platform's; default none). */
  gsi?: (gsi: number, level: boolean) => void;
}

export interface PcDevices {
  com1: Uart16550;
  com2: Uart16550;
  pic: PicPair;
  pit: Pit8254;
  rtc: Rtc146818;
  fwCfg: FwCfg;
  post: PostPort;
  debugExit: IsaDebugExit | null;
  testdev: PcTestDev;
}

export const DEFAULT_RTC_TIME = 946684800; // 2000-01-01T00:00:00Z

/** A DeviceClock on the machine's virtual clock. */
export function deviceClock(m: Machine): DeviceClock {
  return {
    nowNs: () => m.clock.nowNs(),
    after: (ns, cb) => m.clock.schedule(m.clock.icount + m.clock.insnsForNs(ns), cb),
    cancel: (id) => m.clock.cancel(id),
  };
}

export function buildPc(m: Machine, opts: PcOptions): PcDevices {
  const clock = deviceClock(m);
  const discard: ByteSink = () => {};
  const pic = new PicPair();
  pic.attach(m.io);
  m.interrupts = pic;
  // Each ISA IRQ line goes to the 8259 and, when the platform has one, to the IOAPIC.
  const gsi = opts.gsi;
  const isa: IrqRouter = gsi === undefined ? pic : {
    setIrq: (irq, level) => {
      pic.setIrq(irq, level);
      gsi(isaIrqToGsi(irq), level);
    },
  };
  m.isaIrqs = isa;
  // The PIT's and the RTC's lines, silenced while an HPET in legacy replacement owns IRQ 0 and 8
  // (IA-PC HPET 1.0a, 2.3.5); m.legacyIrqOwned is the platform's.
  const owned = (irq: number): IrqRouter => ({ setIrq: (n, level) => void (m.legacyIrqOwned?.(irq) !== true && isa.setIrq(n, level)) });
  const com1 = new Uart16550({ name: 'com1', base: COM1.base, irq: irqLine(isa, COM1.irq), sink: opts.com1 ?? discard });
  const com2 = new Uart16550({ name: 'com2', base: COM2.base, irq: irqLine(isa, COM2.irq), sink: opts.com2 ?? discard });
  com1.attach(m.io);
  com2.attach(m.io);
  const pit = new Pit8254({ clock, irq: irqLine(owned(0), 0) });
  pit.attach(m.io);
  const rtc = new Rtc146818({ clock, irq: irqLine(owned(8), 8), bootTime: opts.rtcTime ?? DEFAULT_RTC_TIME, ramSize: m.mem.size, cpus: m.cpus.length });
  rtc.attach(m.io);
  const post = new PostPort();
  post.attach(m.io);
  const fwCfg = new FwCfg({ ramSize: m.mem.size, nbCpus: m.cpus.length, cmdline: opts.cmdline });
  fwCfg.attach(m.io);
  let debugExit: IsaDebugExit | null = null;
  if (opts.debugExit ?? true) {
    debugExit = new IsaDebugExit({ onExit: (code) => m.stopWith({ kind: ExitKind.DebugExit, code }) });
    debugExit.attach(m.io);
  }
  const testdev = new PcTestDev({ irq: isa });
  testdev.attach(m.io);
  attachResetPorts(m);
  return { com1, com2, pic, pit, rtc, fwCfg, post, debugExit, testdev };
}

/** Reset through the reset control register (0xcf9, bits SYS_RST|RST_CPU) or the keyboard
 *  controller's pulse-reset command 0xfe (the two ways Linux and BSDs reboot a PC). */
function attachResetPorts(m: Machine): void {
  let cf9 = 0;
  const rcr: PortHandler = {
    ioRead: () => cf9,
    ioWrite: (_p, _s, v) => {
      cf9 = v & 0x0e;
      if ((v & 0x04) !== 0) m.stopWith({ kind: ExitKind.Reset });
    },
  };
  m.io.register(0xcf9, 1, rcr, 'reset-control');
  const kbc: PortHandler = {
    // Status: input and output buffers empty, system flag set, so drivers see an idle 8042.
    ioRead: () => 0x04,
    ioWrite: (_p, _s, v) => {
      if ((v & 0xff) === 0xfe) m.stopWith({ kind: ExitKind.Reset });
    },
  };
  m.io.register(0x64, 1, kbc, 'i8042-command');
}
