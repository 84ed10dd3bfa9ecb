// The Hyper-V personality inside the real machine (no fake host): the reference TSC page against the
// machine's own TSC (IA32_TSC) and TIME_REF_COUNT (§3.8), across the migration knob (a TSC frequency
// change through the VM API) and a guest write to IA32_TSC. The vCPU's clock is moved by setting its
// retired-instruction count (1 instruction = 1 virtual ns).

import { describe, expect, it } from 'vitest';
import { Vmm } from '../../src/api/vmm.js';

const IA32_TSC = 0x10;
const TIME_REF_COUNT = 0x40000020;
const REFERENCE_TSC = 0x40000021;
const PAGE = 0x10000;

function setup(tscKHz: number) {
  const vmm = new Vmm();
  const id = vmm.create({ name: 'hv', memoryBytes: 16 << 20, hypervisors: ['hyperv'], tscKHz });
  const m = vmm.machine(id);
  const cpu = m.cpus[0];
  const rd = (msr: number): bigint => {
    const out = new Int32Array(2);
    expect(m.rdmsr(cpu, msr, out)).toBe(true);
    return (BigInt(out[1] >>> 0) << 32n) | BigInt(out[0] >>> 0);
  };
  const wr = (msr: number, v: bigint) => m.wrmsr(cpu, msr, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
  /** §3.8 read by the TLFS algorithm with the machine's RDTSC value (IA32_TSC reads the same counter). */
  const pageTime = (): bigint | null => {
    const b = vmm.readMemory(id, PAGE, 24);
    const v = new DataView(b.buffer, b.byteOffset);
    if (v.getUint32(0, true) === 0) return null;
    return BigInt.asUintN(64, ((rd(IA32_TSC) * v.getBigUint64(8, true)) >> 64n) + v.getBigUint64(16, true));
  };
  const sequence = () => new DataView(vmm.readMemory(id, PAGE, 4).buffer).getUint32(0, true);
  return { vmm, id, cpu, rd, wr, pageTime, sequence };
}

describe('Hyper-V reference time in the machine (§3.8)', () => {
  it('TIME_REF_COUNT is virtual ns / 100; the page equals it at every instant, across frequency changes', () => {
    const { vmm, id, cpu, rd, wr, pageTime, sequence } = setup(2_000_000);
    cpu.insns = 123_456_789;
    expect(rd(TIME_REF_COUNT)).toBe(1_234_567n);
    expect(wr(REFERENCE_TSC, BigInt(PAGE | 1))).toBe(true);
    let last = 0n;
    for (const [step, khz] of [[1_000_003, 0], [77, 3_000_000], [5_000_000, 0], [1, 10_001], [999_999, 0], [3, 99_999_999], [12_345_678, 0]]) {
      cpu.insns += step;
      if (khz !== 0) {
        const seq = sequence();
        vmm.writevmparams(id, 0, { tscKHz: khz });
        expect(sequence()).not.toBe(seq);
      }
      const page = pageTime();
      expect(page).toBe(rd(TIME_REF_COUNT));
      expect(page! >= last).toBe(true);
      last = page!;
    }
  });

  it('below 10 MHz the page says sequence 0 and TIME_REF_COUNT runs on virtual time without a jump', () => {
    const { vmm, id, cpu, rd, wr, pageTime } = setup(2_000_000);
    cpu.insns = 50_000_000;
    wr(REFERENCE_TSC, BigInt(PAGE | 1));
    cpu.insns += 1_000;
    const before = rd(TIME_REF_COUNT);
    vmm.writevmparams(id, 0, { tscKHz: 1_000 });
    expect(pageTime()).toBeNull();
    expect(rd(TIME_REF_COUNT)).toBe(before);
    cpu.insns += 10_000;
    expect(rd(TIME_REF_COUNT)).toBe(before + 100n);
  });

  it('a guest write to IA32_TSC does not move TIME_REF_COUNT back (TLFS: monotonic)', () => {
    const { cpu, rd, wr } = setup(2_000_000);
    cpu.insns = 10_000_000;
    wr(REFERENCE_TSC, BigInt(PAGE | 1));
    cpu.insns += 1_000;
    const before = rd(TIME_REF_COUNT);
    expect(wr(IA32_TSC, 5n)).toBe(true);
    expect(rd(TIME_REF_COUNT)).toBe(before);
    cpu.insns += 500;
    expect(rd(TIME_REF_COUNT)).toBe(before + 5n);
  });
});
