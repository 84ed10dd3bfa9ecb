// Setting the event-channel upcall route (Xen arch/x86/hvm/hvm.c hvmop_set_evtchn_upcall_vector,
// hvm/irq.c hvm_set_callback_via; both end in hvm_assert_evtchn_irq): the per-vCPU vector is
// raised at once, the domain-wide callback vector is delivered while evtchn_upcall_pending is set
// (hvm_vcpu_has_pending_irq). Linux registers its vcpu_info (which marks everything pending) before
// it sets the vector; without this the pending upcall is never delivered and no later event is.

import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypercallRegs, HypervisorHost } from '../../src/hypervisors/personality.js';
import { XenPersonality } from '../../src/hypervisors/xen.js';

const ARG = 0x10000;
const VCPU_INFO = 0x30040;
const EINVAL = -22, ENOENT = -2, EFAULT = -14;

function setup(vcpus = 2) {
  const irqs: [number, number][] = [];
  const host: HypervisorHost = {
    vcpus,
    mem: new GuestMemory(1 << 20),
    bootTime: 0,
    kv: new KvStore(),
    nowNs: () => 1000,
    tsc: () => 2000,
    tscKHz: () => 2_000_000,
    injectInterrupt: (v, vec) => irqs.push([v, vec]),
    after: () => 1,
    cancel: () => {},
  };
  const x = new XenPersonality();
  x.attach(host);
  return { x, mem: host.mem, irqs };
}

function hc(x: XenPersonality, nr: number, args: number[], vcpu = 0): number {
  const lo = new Int32Array(16);
  const hi = new Int32Array(16);
  lo[0] = nr;
  [7, 6, 2].forEach((r, i) => (lo[r] = args[i] ?? 0));
  const regs: HypercallRegs = { vcpu, lo, hi, cpl: 0, long: true, insn: 'vmcall' };
  x.hypercall(regs);
  return lo[0];
}

function registerVcpuInfo(x: XenPersonality, mem: GuestMemory, vcpu: number, gpa: number): number {
  mem.writeBytes(ARG, new Uint8Array(16));
  mem.write32(ARG, gpa >>> 12);
  mem.write32(ARG + 8, gpa & 0xfff);
  return hc(x, 24, [10, vcpu, ARG], vcpu);
}

function setUpcallVector(x: XenPersonality, mem: GuestMemory, vcpu: number, vector: number): number {
  mem.writeBytes(ARG, new Uint8Array(8));
  mem.write32(ARG, vcpu);
  mem.write8(ARG + 4, vector);
  return hc(x, 34, [23, ARG]);
}

function setCallbackVector(x: XenPersonality, mem: GuestMemory, vector: number): number {
  mem.writeBytes(ARG, new Uint8Array(16));
  mem.write16(ARG, 0x7ff0); // DOMID_SELF
  mem.write32(ARG + 4, 0); // HVM_PARAM_CALLBACK_IRQ
  mem.write32(ARG + 8, vector);
  mem.write32(ARG + 12, 2 << 24); // HVM_PARAM_CALLBACK_TYPE_VECTOR in bits 63:56
  return hc(x, 34, [0, ARG]);
}

describe('the upcall route once set (hvm_assert_evtchn_irq)', () => {
  it('register_vcpu_info before any vector: nothing to inject; the per-vCPU vector then raises it at once', () => {
    const { x, mem, irqs } = setup();
    expect(registerVcpuInfo(x, mem, 0, VCPU_INFO)).toBe(0);
    expect(mem.read8(VCPU_INFO)).toBe(1); // evtchn_upcall_pending
    expect(irqs).toEqual([]);
    expect(setUpcallVector(x, mem, 0, 0xf3)).toBe(0);
    expect(irqs).toEqual([[0, 0xf3]]);
  });

  it('the per-vCPU vector is raised even with nothing pending (Xen does not look)', () => {
    const { x, mem, irqs } = setup();
    expect(setUpcallVector(x, mem, 1, 0xf3)).toBe(0);
    expect(irqs).toEqual([[1, 0xf3]]);
  });

  it('a vector-type CALLBACK_IRQ delivers to each vCPU whose evtchn_upcall_pending is set, and only those', () => {
    const { x, mem, irqs } = setup();
    expect(registerVcpuInfo(x, mem, 1, VCPU_INFO)).toBe(0); // vCPU 1 pending; vCPU 0 has its shared_info slot, unmapped
    expect(setCallbackVector(x, mem, 0xf3)).toBe(0);
    expect(irqs).toEqual([[1, 0xf3]]);
    mem.write8(VCPU_INFO, 0); // the guest's upcall handler cleared it
    irqs.length = 0;
    expect(setCallbackVector(x, mem, 0xf3)).toBe(0);
    expect(irqs).toEqual([]);
  });

  it('hostile: vector < 0x10 -EINVAL, bad vCPU -ENOENT, unreadable argument -EFAULT; nothing injected', () => {
    const { x, mem, irqs } = setup();
    expect(setUpcallVector(x, mem, 0, 0x0f)).toBe(EINVAL);
    expect(setUpcallVector(x, mem, 2, 0xf3)).toBe(ENOENT);
    expect(setUpcallVector(x, mem, 0xffffffff, 0xf3)).toBe(ENOENT);
    expect(hc(x, 34, [23, (1 << 20) - 4])).toBe(EFAULT);
    expect(irqs).toEqual([]);
  });
});
