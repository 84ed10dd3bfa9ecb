import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import { RecordingLine } from '../fake-clock.js';
import { COM1, COM2, Uart16550 } from './uart16550.js';

const B = COM1.base;
const THR = B + 0,
  RBR = B + 0,
  DLL = B + 0,
  IER = B + 1,
  DLM = B + 1,
  IIR = B + 2,
  FCR = B + 2,
  LCR = B + 3,
  MCR = B + 4,
  LSR = B + 5,
  MSR = B + 6,
  SCR = B + 7;

function make() {
  const out: number[] = [];
  const irq = new RecordingLine();
  const u = new Uart16550({ name: 'com1', base: B, irq, sink: (b) => out.push(b) });
  const inb = (p: number) => u.ioRead(p, 1);
  const outb = (p: number, v: number) => u.ioWrite(p, 1, v);
  return { u, out, irq, inb, outb };
}

describe('16550A UART registers', () => {
  it('has the Table III reset values', () => {
    const { inb } = make();
    expect(inb(IER)).toBe(0x00);
    expect(inb(IIR)).toBe(0x01);
    expect(inb(LCR)).toBe(0x00);
    expect(inb(MCR)).toBe(0x00);
    expect(inb(LSR)).toBe(0x60); // THRE | TEMT
    expect(inb(MSR) & 0xf0).toBe(0xb0); // DCD, DSR, CTS of an attached modem
  });

  it('sends THR bytes to the sink at once and stays THRE/TEMT', () => {
    const { out, inb, outb } = make();
    for (const c of 'hi\n') outb(THR, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('hi\n');
    expect(inb(LSR) & 0x60).toBe(0x60);
  });

  it('puts the divisor latch behind DLAB', () => {
    const { inb, outb, out } = make();
    outb(IER, 0x05);
    outb(LCR, 0x83);
    outb(DLL, 0x01);
    outb(DLM, 0x02);
    expect(inb(DLL)).toBe(0x01);
    expect(inb(DLM)).toBe(0x02);
    outb(LCR, 0x03);
    expect(inb(IER)).toBe(0x05); // IER not touched by the DLM write
    expect(out).toEqual([]); // DLL write did not transmit
    outb(LCR, 0x80);
    expect(inb(DLL)).toBe(0x01);
  });

  it('keeps IER bits 4-7 and MCR bits 5-7 at zero, SCR is plain storage', () => {
    const { inb, outb } = make();
    outb(IER, 0xff);
    expect(inb(IER)).toBe(0x0f);
    outb(MCR, 0xff);
    expect(inb(MCR)).toBe(0x1f);
    outb(SCR, 0xa5);
    expect(inb(SCR)).toBe(0xa5);
  });

  it('receives host bytes into RBR with DR', () => {
    const { u, inb } = make();
    u.receive([0x41]);
    expect(inb(LSR) & 0x01).toBe(0x01);
    expect(inb(RBR)).toBe(0x41);
    expect(inb(LSR) & 0x01).toBe(0);
  });

  it('overruns in 16450 mode by overwriting RBR, and reading LSR clears OE', () => {
    const { u, inb } = make();
    u.receive([1, 2]);
    const lsr = inb(LSR);
    expect(lsr & 0x03).toBe(0x03); // DR + OE
    expect(inb(LSR) & 0x02).toBe(0); // cleared by the read
    expect(inb(RBR)).toBe(2);
  });
});

describe('16550A FIFOs', () => {
  it('reports FIFOs enabled in IIR bits 6-7', () => {
    const { inb, outb } = make();
    outb(FCR, 0x01);
    expect(inb(IIR)).toBe(0xc1);
    outb(FCR, 0x00);
    expect(inb(IIR)).toBe(0x01);
  });

  it('holds 16 bytes and overruns on the 17th without losing the FIFO', () => {
    const { u, inb, outb } = make();
    outb(FCR, 0x07);
    u.receive(Array.from({ length: 17 }, (_, i) => i + 1));
    expect(inb(LSR) & 0x03).toBe(0x03);
    const got: number[] = [];
    while (inb(LSR) & 1) got.push(inb(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
  });

  it.each([
    [0x01, 1],
    [0x41, 4],
    [0x81, 8],
    [0xc1, 14],
  ])('FCR=%s: data available at trigger level %d, timeout below it', (fcr, level) => {
    const { u, inb, outb } = make();
    outb(FCR, fcr);
    outb(IER, 0x01);
    if (level > 1) {
      u.receive(new Array(level - 1).fill(0x55));
      expect(inb(IIR)).toBe(0xcc); // character timeout (modelled as immediate)
    }
    u.receive([0x55]);
    expect(inb(IIR)).toBe(0xc4);
  });

  it('clears the RX FIFO on FCR bit 1 and when FIFOs are toggled', () => {
    const { u, inb, outb } = make();
    outb(FCR, 0x01);
    u.receive([1, 2, 3]);
    outb(FCR, 0x03);
    expect(inb(LSR) & 1).toBe(0);
    u.receive([4]);
    outb(FCR, 0x00);
    expect(inb(LSR) & 1).toBe(0);
  });

  it('rxFree tells the machine how much input fits', () => {
    const { u, outb } = make();
    expect(u.rxFree()).toBe(1);
    outb(FCR, 0x01);
    u.receive([1, 2]);
    expect(u.rxFree()).toBe(14);
  });
});

describe('16550A interrupts (Table IV)', () => {
  it('orders sources: line status > data > THRE > modem status', () => {
    const { inb, outb } = make();
    outb(IER, 0x0f);
    outb(MCR, 0x10); // loopback: CTS/DSR/DCD drop -> DCTS, DDSR, DDCD
    outb(THR, 0x11); // loopback into RBR
    outb(THR, 0x22); // overrun (16450 mode)
    expect(inb(IIR)).toBe(0x06); // receiver line status
    expect(inb(LSR) & 0x02).toBe(0x02);
    expect(inb(IIR)).toBe(0x04); // received data available
    expect(inb(RBR)).toBe(0x22);
    expect(inb(IIR)).toBe(0x02); // THR empty; this read clears it
    expect(inb(IIR)).toBe(0x00); // modem status
    expect(inb(MSR) & 0x0f).toBe(0x0b); // DCTS | DDSR | DDCD
    expect(inb(IIR)).toBe(0x01);
  });

  it('raises THRE when ETBEI is enabled with THR empty; IIR read or THR write clears it', () => {
    const { inb, outb } = make();
    outb(IER, 0x02);
    expect(inb(IIR)).toBe(0x02);
    expect(inb(IIR)).toBe(0x01); // cleared by the previous read
    outb(THR, 0x41); // byte leaves at once: THR empty again
    expect(inb(IIR)).toBe(0x02);
    outb(IER, 0x00);
    outb(IER, 0x02); // re-enabling raises it again (Linux's THRE test relies on this)
    expect(inb(IIR)).toBe(0x02);
  });

  it('does not clear THRE when IIR reports a higher-priority source', () => {
    const { u, inb, outb } = make();
    outb(IER, 0x03);
    u.receive([7]);
    expect(inb(IIR)).toBe(0x04);
    inb(RBR);
    expect(inb(IIR)).toBe(0x02);
  });

  it('asserts the IRQ only with OUT2 set and not in loopback', () => {
    const { u, irq, inb, outb } = make();
    outb(IER, 0x01);
    u.receive([1]);
    expect(irq.level).toBe(false); // OUT2 = 0 gates the line on a PC
    outb(MCR, 0x08);
    expect(irq.level).toBe(true);
    inb(RBR);
    expect(irq.level).toBe(false);
    outb(MCR, 0x18); // loopback forces OUT2 inactive
    outb(THR, 5);
    expect(inb(IIR)).toBe(0x04);
    expect(irq.level).toBe(false);
    outb(MCR, 0x08);
    expect(irq.level).toBe(true);
  });

  it('drives the line as a level: one rise per pending period', () => {
    const { irq, inb, outb } = make();
    outb(MCR, 0x08);
    outb(IER, 0x02);
    expect(irq.changes.map((c) => c.level)).toEqual([true]);
    inb(IIR);
    expect(irq.changes.map((c) => c.level)).toEqual([true, false]);
  });
});

describe('16550A loopback and modem status', () => {
  it('loops THR to RBR, not to the host, and ignores host input', () => {
    const { u, out, inb, outb } = make();
    outb(MCR, 0x10);
    outb(THR, 0x42);
    u.receive([0x99]);
    expect(out).toEqual([]);
    expect(inb(RBR)).toBe(0x42);
    expect(inb(LSR) & 1).toBe(0);
  });

  it('maps MCR to MSR in loopback (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD) with deltas', () => {
    const { inb, outb } = make();
    outb(MCR, 0x10);
    inb(MSR); // clear deltas from entering loopback
    outb(MCR, 0x1f);
    expect(inb(MSR)).toBe(0xfb); // CTS DSR RI DCD + DCTS, DDSR, DDCD (RI rose: no TERI)
    outb(MCR, 0x1b); // OUT1 off: RI trailing edge
    expect(inb(MSR)).toBe(0xb4);
    expect(inb(MSR)).toBe(0xb0);
  });
});

describe('16550A plumbing', () => {
  it('attaches 8 ports under its name', () => {
    const bus = new PortIoBus();
    const com1 = new Uart16550({ name: 'com1', base: COM1.base, irq: null, sink: () => {} });
    const com2 = new Uart16550({ name: 'com2', base: COM2.base, irq: null, sink: () => {} });
    com1.attach(bus);
    com2.attach(bus);
    expect(bus.nameOf(0x3f8)).toBe('com1');
    expect(bus.nameOf(0x3ff)).toBe('com1');
    expect(bus.nameOf(0x400)).toBe(null);
    expect(bus.nameOf(0x2fd)).toBe('com2');
    expect(bus.handlerFor(0x3fd)).toBe(com1);
  });

  it('splits wide accesses into byte registers', () => {
    const { u, inb } = make();
    u.ioWrite(LCR, 2, 0x0b03); // LCR = 0x03, MCR = 0x0b
    expect(inb(LCR)).toBe(0x03);
    expect(inb(MCR)).toBe(0x0b);
    expect(u.ioRead(LSR, 4)).toBe(0xff_00_b0_60); // LSR, MSR, SCR=0, past the end = 0xff
  });

  it('saves and restores plain, JSON-able state', () => {
    const a = make();
    a.outb(FCR, 0x81);
    a.outb(IER, 0x03);
    a.outb(SCR, 0x77);
    a.u.receive([1, 2, 3]);
    const json = JSON.stringify(a.u.saveState());
    const b = make();
    b.u.loadState(JSON.parse(json));
    expect(b.u.saveState()).toEqual(a.u.saveState());
    for (const p of [IIR, LSR, RBR, RBR, IIR, SCR]) expect(b.inb(p)).toBe(a.inb(p));
  });

  it('reset keeps the divisor and scratch registers', () => {
    const { u, inb, outb } = make();
    outb(LCR, 0x80);
    outb(DLL, 3);
    outb(LCR, 0);
    outb(SCR, 9);
    outb(IER, 0x0f);
    u.reset();
    expect(inb(IER)).toBe(0);
    expect(inb(SCR)).toBe(9);
    outb(LCR, 0x80);
    expect(inb(DLL)).toBe(3);
  });
});
