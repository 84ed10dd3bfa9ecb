// x2APIC mode (Intel SDM vol. 3A, 11.12): IA32_APIC_BASE transitions, the MSR interface and its
// #GP rules, x2APIC logical destinations.

import { describe, expect, it } from 'vitest';
import { makeApic } from './test-harness.js';

const BASE = 0xfee00000;
const EN = 0x800;
const EXTD = 0x400;

function x2(id = 0) {
  const h = makeApic({ id, bsp: id === 0 });
  expect(h.apic.wrmsr(0x1b, BASE | EN | EXTD, 0)).toBe('ok');
  return h;
}

describe('IA32_APIC_BASE: mode transitions (11.12.5, figure 11-27)', () => {
  it('EXTD is #GP when CPUID does not advertise x2APIC', () => {
    const { apic } = makeApic({ x2apicSupported: false });
    expect(apic.wrmsr(0x1b, BASE | EN | EXTD, 0)).toBe('gp');
    expect(apic.x2apicMode).toBe(false);
  });

  it('allows xAPIC -> x2APIC -> disabled -> xAPIC, refuses x2APIC -> xAPIC, disabled -> x2APIC and EN=0/EXTD=1', () => {
    const { apic, rdmsr } = makeApic();
    expect(apic.wrmsr(0x1b, BASE | EXTD, 0)).toBe('gp'); // invalid state
    expect(apic.wrmsr(0x1b, BASE | EN | EXTD, 0)).toBe('ok');
    expect(apic.x2apicMode).toBe(true);
    expect(rdmsr(0x1b).lo).toBe((BASE | EN | EXTD | 0x100) >>> 0);
    expect(apic.wrmsr(0x1b, BASE | EN, 0)).toBe('gp'); // x2APIC -> xAPIC
    expect(apic.wrmsr(0x1b, BASE | EN | EXTD, 0)).toBe('ok'); // no change
    expect(apic.wrmsr(0x1b, BASE, 0)).toBe('ok'); // -> disabled
    expect(apic.x2apicMode).toBe(false);
    expect(apic.wrmsr(0x1b, BASE | EN | EXTD, 0)).toBe('gp'); // disabled -> x2APIC
    expect(apic.wrmsr(0x1b, BASE | EN, 0)).toBe('ok');
    expect(apic.wrmsr(0x1b, BASE | EN | EXTD, 0)).toBe('ok');
  });

  it('reserved bits are #GP; the BSP flag is read-only (11.4.4)', () => {
    const { apic, rdmsr } = makeApic({ id: 1, bsp: false });
    expect(apic.wrmsr(0x1b, BASE | EN | 1, 0)).toBe('gp');
    expect(apic.wrmsr(0x1b, BASE | EN | 0x200, 0)).toBe('gp');
    expect(apic.wrmsr(0x1b, BASE | EN, 0x80)).toBe('gp'); // above MAXPHYADDR 39
    expect(apic.wrmsr(0x1b, BASE | EN | 0x100, 0)).toBe('ok');
    expect(rdmsr(0x1b).lo).toBe((BASE | EN) >>> 0);
  });

  it('a relocated base is reported; globally disabling resets the registers', () => {
    const { apic, rd, wr } = makeApic();
    wr(0x80, 0x30);
    expect(apic.wrmsr(0x1b, 0xfed00000 | EN | 0x100, 0)).toBe('ok');
    expect(apic.baseAddress).toBe(0xfed00000);
    apic.wrmsr(0x1b, 0xfee00100, 0);
    expect(rd(0x80)).toBe(0); // disabled: the page reads 0
    apic.wrmsr(0x1b, 0xfee00900, 0);
    expect(rd(0x80)).toBe(0);
    expect(rd(0xf0)).toBe(0xff); // software-disabled after the reset
  });
});

describe('x2APIC MSRs (11.12.1.2, table 11-6)', () => {
  it('are #GP outside x2APIC mode; the MMIO page reads 0 and ignores writes inside it', () => {
    const { apic, rdmsr, rd, wr } = makeApic();
    expect(rdmsr(0x802).r).toBe('gp');
    expect(apic.wrmsr(0x808, 0, 0)).toBe('gp');
    apic.wrmsr(0x1b, BASE | EN | EXTD, 0);
    expect(rd(0x30)).toBe(0);
    wr(0x80, 0x40);
    expect(rdmsr(0x808).lo).toBe(0);
  });

  it('leave other MSRs to the machine', () => {
    const { apic, rdmsr } = x2();
    expect(rdmsr(0x10).r).toBe('no');
    expect(apic.wrmsr(0x7ff, 0, 0)).toBe('no');
    expect(apic.wrmsr(0x900, 0, 0)).toBe('no');
  });

  it('ID (32-bit x2APIC ID), version and LDR derived from the ID are read-only', () => {
    const { apic, rdmsr } = x2(0x23);
    expect(rdmsr(0x802)).toEqual({ r: 'ok', lo: 0x23, hi: 0 });
    expect(rdmsr(0x803).lo).toBe(0x50014);
    expect(rdmsr(0x80d).lo).toBe(0x00020008); // cluster 2, bit 3 (11.12.10.2)
    for (const msr of [0x802, 0x803, 0x80a, 0x80d, 0x810, 0x818, 0x820, 0x839]) expect(apic.wrmsr(msr, 0, 0), msr.toString(16)).toBe('gp');
  });

  it('MSRs with no x2APIC register are #GP: APR, RRD, DFR, ICR high, CMCI, reserved', () => {
    const { apic, rdmsr } = x2();
    for (const msr of [0x800, 0x809, 0x80c, 0x80e, 0x82f, 0x831, 0x840, 0x8ff]) {
      expect(rdmsr(msr).r, msr.toString(16)).toBe('gp');
      expect(apic.wrmsr(msr, 0, 0), msr.toString(16)).toBe('gp');
    }
  });

  it('write-only EOI and SELF IPI are #GP to read; EOI and ESR take only 0 (11.12.1.2)', () => {
    const { apic, rdmsr } = x2();
    expect(rdmsr(0x80b).r).toBe('gp');
    expect(rdmsr(0x83f).r).toBe('gp');
    expect(apic.wrmsr(0x80b, 1, 0)).toBe('gp');
    expect(apic.wrmsr(0x80b, 0, 0)).toBe('ok');
    expect(apic.wrmsr(0x828, 1, 0)).toBe('gp');
    expect(apic.wrmsr(0x828, 0, 0)).toBe('ok');
  });

  it('non-zero reserved bits are #GP (11.12.1.3), including bits 63:32 of 32-bit registers', () => {
    const { apic, rdmsr } = x2();
    expect(apic.wrmsr(0x808, 0x100, 0)).toBe('gp');
    expect(apic.wrmsr(0x808, 0x20, 1)).toBe('gp');
    expect(apic.wrmsr(0x80f, 0x1000 | 0x1ff, 0)).toBe('gp'); // EOI-broadcast suppression not offered
    expect(apic.wrmsr(0x832, 0x80000, 0)).toBe('gp'); // LVT timer bit 19
    expect(apic.wrmsr(0x83e, 0x4, 0)).toBe('gp');
    expect(apic.wrmsr(0x83f, 0x100, 0)).toBe('gp');
    expect(apic.wrmsr(0x830, 0x1000, 0)).toBe('gp'); // no delivery status bit in x2APIC
    expect(apic.wrmsr(0x808, 0x20, 0)).toBe('ok');
    expect(rdmsr(0x808).lo).toBe(0x20);
    expect(apic.wrmsr(0x835, 0x10700, 0)).toBe('ok');
    expect(rdmsr(0x835).lo).toBe(0x10700);
  });

  it('SELF IPI sets the IRR bit of its vector; vectors 0-15 are send and receive errors (11.5.3)', () => {
    const { apic, rdmsr } = x2();
    expect(apic.wrmsr(0x83f, 0x55, 0)).toBe('ok');
    expect(apic.acknowledge()).toBe(0x55);
    expect(apic.wrmsr(0x83f, 0x0e, 0)).toBe('ok');
    expect(apic.hasInterrupt()).toBe(false);
    apic.wrmsr(0x828, 0, 0);
    expect(rdmsr(0x828).lo).toBe(0x60);
  });

  it('ICR is one 64-bit MSR: the destination is the 32-bit x2APIC ID in bits 63:32', () => {
    const { apic, sent, rdmsr } = x2(7);
    expect(apic.wrmsr(0x830, 0x4031, 0x12345)).toBe('ok');
    expect(sent).toEqual([{ vector: 0x31, deliveryMode: 0, logical: false, dest: 0x12345, levelTriggered: false, assert: true, shorthand: 0, source: 7 }]);
    expect(rdmsr(0x830)).toEqual({ r: 'ok', lo: 0x4031, hi: 0x12345 });
    apic.wrmsr(0x830, 0xc4500, 0);
    expect(sent[1].dest).toBe(0xffffffff);
  });

  it('the timer through MSRs: initial 0x838, current 0x839, divide 0x83e', () => {
    const { apic, clock, rdmsr } = x2();
    apic.wrmsr(0x83e, 0xb, 0);
    apic.wrmsr(0x832, 0x40, 0);
    apic.wrmsr(0x838, 500, 0);
    clock.advanceTo(123);
    expect(rdmsr(0x839).lo).toBe(377);
    clock.advanceTo(500);
    expect(apic.hasInterrupt()).toBe(true);
  });
});

describe('x2APIC destinations (11.12.10)', () => {
  it('physical: the 32-bit ID or 0xffffffff; logical: cluster in bits 31:16, member bitmap in 15:0', () => {
    const { apic } = x2(0x23);
    expect(apic.matches(false, 0x23)).toBe(true);
    expect(apic.matches(false, 0x24)).toBe(false);
    expect(apic.matches(false, 0xffffffff)).toBe(true);
    expect(apic.matches(true, 0x00020008)).toBe(true);
    expect(apic.matches(true, 0x0002000c)).toBe(true);
    expect(apic.matches(true, 0x00020004)).toBe(false);
    expect(apic.matches(true, 0x00010008)).toBe(false);
    expect(apic.matches(true, 0xffffffff)).toBe(true);
  });
});
