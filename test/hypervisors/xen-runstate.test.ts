// Xen runstate areas and vm_assist, against Xen's public headers and hypervisor sources:
// public/vcpu.h (VCPUOP_register_runstate_memory_area = 5, struct vcpu_runstate_info, RUNSTATE_*),
// common/domain.c (the sub-op: -EFAULT only when the argument cannot be read; the record copied
// at once; update_runstate_area), public/xen.h (VMASST_*), common/kernel.c do_vm_assist and x86
// HVM_VM_ASSIST_MASK. Linux 6.1's xen_setup_runstate_info BUG()s on any non-zero answer.

import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypercallRegs, HypervisorHost } from '../../src/hypervisors/personality.js';
import { XenPersonality, type XenHostServices } from '../../src/hypervisors/xen.js';

const RAM = 16 << 20;
const ARG = 0x10000;
const AREA = 0x30010; // 16-byte aligned, like a per-cpu variable
const EINVAL = -22, EFAULT = -14, ENOENT = -2, ENOSYS = -38;
const HYPERVISOR_vm_assist = 21, HYPERVISOR_vcpu_op = 24;
const VCPUOP_register_runstate_memory_area = 5;
const VMASST_CMD_enable = 0, VMASST_CMD_disable = 1, VMASST_TYPE_runstate_update_flag = 5;

type Host = HypervisorHost & XenHostServices & { ns: number };

function setup(vcpus = 2) {
  const h: Host = {
    vcpus,
    mem: new GuestMemory(RAM),
    bootTime: 1_700_000_000,
    kv: new KvStore(),
    ns: 5_000_000,
    nowNs: () => h.ns,
    tsc: () => h.ns * 2,
    tscKHz: () => 2_000_000,
    injectInterrupt: () => {},
    after: () => 1,
    cancel: () => {},
  };
  const x = new XenPersonality();
  x.attach(h);
  return { h, x, mem: h.mem };
}

function hc(x: XenPersonality, nr: number, args: bigint[], o: { long?: boolean; vcpu?: number } = {}): number {
  const long = o.long ?? true;
  const lo = new Int32Array(16);
  const hi = new Int32Array(16);
  lo[0] = nr;
  const order = long ? [7, 6, 2, 10, 8] : [3, 1, 2, 6, 7];
  args.forEach((a, i) => {
    lo[order[i]] = Number(a & 0xffffffffn) | 0;
    hi[order[i]] = Number((a >> 32n) & 0xffffffffn) | 0;
  });
  const regs: HypercallRegs = { vcpu: o.vcpu ?? 0, lo, hi, cpl: 0, long, insn: 'vmcall' };
  x.hypercall(regs);
  return lo[0];
}

/** struct vcpu_register_runstate_memory_area: one u64 (the guest address). */
function register(x: XenPersonality, mem: GuestMemory, vcpu: number, addr: bigint, o: { long?: boolean; caller?: number } = {}): number {
  mem.write64(ARG, Number(addr & 0xffffffffn), Number(addr >> 32n));
  return hc(x, HYPERVISOR_vcpu_op, [BigInt(VCPUOP_register_runstate_memory_area), BigInt(vcpu), BigInt(ARG)], { long: o.long, vcpu: o.caller ?? vcpu });
}

/** A u64 field as a BigInt. */
function u64(mem: GuestMemory, a: number): bigint {
  return (BigInt(mem.read32(a + 4)!) << 32n) + BigInt(mem.read32(a)!);
}

describe('VCPUOP_register_runstate_memory_area (public/vcpu.h; common/domain.c)', () => {
  it('writes struct vcpu_runstate_info (x86-64: state @0, state_entry_time @8, time[4] @16, 48 bytes) at once', () => {
    const { x, mem } = setup();
    mem.writeBytes(AREA - 8, new Uint8Array(64).fill(0xcc));
    expect(register(x, mem, 0, BigInt(AREA))).toBe(0);
    expect(mem.read32(AREA)).toBe(0); // RUNSTATE_running
    expect(mem.read32(AREA + 4)).toBe(0); // the padding after int state is copied with the struct (sizeof 48)
    expect(u64(mem, AREA + 8)).toBe(5_000_000n); // entered "now", in Xen system time (ns since boot)
    expect(u64(mem, AREA + 16)).toBe(5_000_000n); // time[running]: running since power-on
    expect([u64(mem, AREA + 24), u64(mem, AREA + 32), u64(mem, AREA + 40)]).toEqual([0n, 0n, 0n]); // runnable, blocked, offline: no steal
    expect(mem.read32(AREA + 48)).toBe(0xcccccccc); // nothing past the 48 bytes
    // XEN_RUNSTATE_UPDATE (bit 63 of state_entry_time) is never left set.
    expect(mem.read32(AREA + 12)! >>> 31).toBe(0);
  });

  it('the sum of time[] plus (now - state_entry_time) is the system time, at every update (vcpu.h: "guaranteed not to drift")', () => {
    const { h, x, mem } = setup();
    register(x, mem, 0, BigInt(AREA));
    h.ns = 123_456_789;
    x.clockChanged(); // the personality rewrites its time structures: a scheduling point
    const entry = u64(mem, AREA + 8);
    const sum = [16, 24, 32, 40].reduce((s, o) => s + u64(mem, AREA + o), 0n);
    expect(entry).toBe(123_456_789n);
    expect(sum + (BigInt(h.ns) - entry)).toBe(BigInt(h.ns));
    // Mapping shared_info also rewrites the vCPU time, and with it the runstate.
    h.ns = 200_000_000;
    mem.writeBytes(ARG, new Uint8Array(24));
    mem.write16(ARG, 0x7ff0); // DOMID_SELF
    mem.write32(ARG + 4, 0); // XENMAPSPACE_shared_info
    mem.write32(ARG + 16, 0x20); // gpfn
    expect(hc(x, 12, [7n, BigInt(ARG)])).toBe(0);
    expect(u64(mem, AREA + 8)).toBe(200_000_000n);
  });

  it('the address is linear: translated through the vCPU\'s page tables now, at registration and at each update', () => {
    const { h, x, mem } = setup();
    const HIGH = 0xffff888000000000n; // Linux's direct map
    let mapped = true;
    const walks: number[] = [];
    h.linearToPhysical = (vcpu, lo, hi) => {
      walks.push(vcpu);
      const a = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      return mapped && a >= HIGH ? Number(a - HIGH) : a < 0x100000n ? Number(a) : null;
    };
    expect(register(x, mem, 1, HIGH + BigInt(AREA), { caller: 1 })).toBe(0);
    expect(u64(mem, AREA + 8)).toBe(5_000_000n);
    mapped = false; // the vCPU switched to page tables that lack it: Xen skips the copy, no error
    h.ns = 9_000_000;
    x.clockChanged();
    expect(u64(mem, AREA + 8)).toBe(5_000_000n);
    mapped = true;
    h.ns = 10_000_000;
    walks.length = 0;
    x.clockChanged();
    expect(u64(mem, AREA + 8)).toBe(10_000_000n);
    expect(walks.every((v) => v === 1 || v === 0)).toBe(true);
  });

  it('a 32-bit guest (compat shared_info) gets the i386 layout: state @0, entry @4, time @12, 44 bytes', () => {
    const { x, mem } = setup();
    // Setting CALLBACK_IRQ from 32-bit mode latches the compat layout (hvm.c).
    mem.writeBytes(ARG, new Uint8Array(16));
    mem.write16(ARG, 0x7ff0);
    mem.write32(ARG + 8, 0xf3);
    mem.write32(ARG + 12, 0x02000000);
    expect(hc(x, 34, [0n, BigInt(ARG)], { long: false })).toBe(0);
    mem.writeBytes(AREA, new Uint8Array(64).fill(0xcc));
    expect(register(x, mem, 0, BigInt(AREA) | 0xdead00000000n, { long: false })).toBe(0); // high half of the u64: not a 32-bit handle
    expect(mem.read32(AREA)).toBe(0);
    expect(u64(mem, AREA + 4)).toBe(5_000_000n);
    expect(u64(mem, AREA + 12)).toBe(5_000_000n);
    expect(u64(mem, AREA + 36)).toBe(0n);
    expect(mem.read32(AREA + 44)).toBe(0xcccccccc);
  });

  it('hostile: unreadable argument -EFAULT; bad vCPU -ENOENT; an unmapped or out-of-RAM area is accepted and not written', () => {
    const { x, mem } = setup(2);
    expect(hc(x, HYPERVISOR_vcpu_op, [5n, 0n, BigInt(RAM - 4)])).toBe(EFAULT); // the u64 straddles the end of RAM
    expect(hc(x, HYPERVISOR_vcpu_op, [5n, 0n, 0xffffffffffffffffn])).toBe(EFAULT);
    expect(register(x, mem, 2, BigInt(AREA))).toBe(ENOENT);
    expect(register(x, mem, 0xffffffff, BigInt(AREA))).toBe(ENOENT);
    const before = mem.readBytes(RAM - 4096, 4096)!;
    expect(register(x, mem, 0, BigInt(RAM - 20))).toBe(0); // straddles the end of RAM: nothing written at all
    expect(mem.readBytes(RAM - 4096, 4096)).toEqual(before);
    expect(register(x, mem, 0, 0xfffffffffffffff0n)).toBe(0); // wraps past 2^64
    x.clockChanged(); // updates to such areas are skipped, never a throw
    expect(mem.readBytes(RAM - 4096, 4096)).toEqual(before);
    expect(register(x, mem, 0, BigInt(AREA))).toBe(0); // re-registration moves it (no -EBUSY, unlike vcpu_info)
    expect(mem.read32(AREA + 8)).toBe(5_000_000);
  });
});

describe('vm_assist (public/xen.h VMASST_*; common/kernel.c do_vm_assist; x86 HVM_VM_ASSIST_MASK)', () => {
  it('an HVM guest may enable and disable runstate_update_flag; nothing else', () => {
    const { x } = setup();
    expect(hc(x, HYPERVISOR_vm_assist, [BigInt(VMASST_CMD_enable), BigInt(VMASST_TYPE_runstate_update_flag)])).toBe(0);
    expect(x.domain!.vmAssist).toBe(1 << 5);
    expect(hc(x, HYPERVISOR_vm_assist, [BigInt(VMASST_CMD_disable), BigInt(VMASST_TYPE_runstate_update_flag)])).toBe(0);
    expect(x.domain!.vmAssist).toBe(0);
    for (const type of [0, 1, 2, 3, 4, 32, 63, 64, 0xffffffff]) {
      expect(hc(x, HYPERVISOR_vm_assist, [0n, BigInt(type)])).toBe(EINVAL); // PV-only or unknown types
    }
    expect(hc(x, HYPERVISOR_vm_assist, [2n, 5n])).toBe(ENOSYS); // unknown command, valid type
    expect(x.domain!.vmAssist).toBe(0);
  });
});
