// The Xen HVM personality's hypercall page, hypercall ABI and hypercalls, against the spec digest
// (hypervisor-interfaces.md §5.1-§5.4, §3.9) and Xen's public headers / hypervisor sources named
// in each test. A fake HypervisorHost gives guest RAM, a settable virtual clock and records
// injected interrupts; structures are built and read back byte by byte here.

import { beforeEach, describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypercallRegs, HypervisorHost } from '../../src/hypervisors/personality.js';
import { XenPersonality, type XenHostServices } from '../../src/hypervisors/xen.js';
import { pvclockReadNs } from '../../src/hypervisors/pvclock.js';

const RAM = 16 << 20;
const BOOT_TIME = 1_700_000_000;

interface FakeHost extends HypervisorHost, XenHostServices {
  ns: number;
  irqs: [number, number][];
  timers: { at: number; cb: () => void; id: number }[];
  stops: string[];
  setKHz(k: number): void;
}

function fakeHost(opts: { vcpus?: number; kv?: KvStore; tscKHz?: number } = {}): FakeHost {
  let khz = opts.tscKHz ?? 2_000_000;
  const h: FakeHost = {
    vcpus: opts.vcpus ?? 2,
    mem: new GuestMemory(RAM),
    bootTime: BOOT_TIME,
    kv: opts.kv ?? new KvStore(),
    ns: 1_000_000,
    irqs: [],
    timers: [],
    stops: [],
    nowNs: () => h.ns,
    // TSC = ns * kHz / 10^6 exactly (integers here: the tests pick round values).
    tsc: () => Math.floor((h.ns * khz) / 1_000_000),
    tscKHz: () => khz,
    injectInterrupt: (vcpu, vector) => h.irqs.push([vcpu, vector]),
    after: (ns, cb) => {
      const id = h.timers.length + 1;
      h.timers.push({ at: h.ns + ns, cb, id });
      return id;
    },
    cancel: (id) => {
      h.timers = h.timers.filter((t) => t.id !== id);
    },
    powerOff: () => h.stops.push('poweroff'),
    reset: () => h.stops.push('reset'),
    setKHz: (k) => {
      khz = k;
    },
  };
  return h;
}

const REG = { rax: 0, rcx: 1, rdx: 2, rbx: 3, rsi: 6, rdi: 7, r8: 8, r10: 10 } as const;

/** One hypercall; returns RAX as a signed Number (64-bit) or EAX (32-bit) and the raw halves. */
function hc(x: XenPersonality, nr: number, args: (number | bigint)[], o: { long?: boolean; cpl?: number; vcpu?: number; raxHi?: number } = {}) {
  const long = o.long ?? true;
  const lo = new Int32Array(16);
  const hi = new Int32Array(16);
  lo[REG.rax] = nr;
  hi[REG.rax] = o.raxHi ?? 0x5a5a5a5a;
  if (long) hi[REG.rax] = o.raxHi ?? 0;
  const order = long ? [REG.rdi, REG.rsi, REG.rdx, REG.r10, REG.r8] : [REG.rbx, REG.rcx, REG.rdx, REG.rsi, REG.rdi];
  args.forEach((a, i) => {
    const v = BigInt(a);
    lo[order[i]] = Number(v & 0xffffffffn);
    hi[order[i]] = Number((v >> 32n) & 0xffffffffn);
  });
  const regs: HypercallRegs = { vcpu: o.vcpu ?? 0, lo, hi, cpl: o.cpl ?? 0, long, insn: 'vmcall' };
  const handled = x.hypercall(regs);
  return { handled, ret: lo[REG.rax], hi: hi[REG.rax] };
}

function setup(opts: { vcpus?: number; kv?: KvStore; tscKHz?: number } = {}) {
  const host = fakeHost(opts);
  const x = new XenPersonality({ tscKHz: opts.tscKHz });
  x.attach(host);
  return { host, x, mem: host.mem };
}

const ARG = 0x10000; // argument structures
const SHINFO = 0x20000; // where tests map shared_info
const u32 = (m: GuestMemory, a: number) => m.read32(a)!;

// Errno values (Xen public/errno.h).
const EPERM = -1, ENOENT = -2, ESRCH = -3, ENXIO = -6, EFAULT = -14, EBUSY = -16, EEXIST = -17, EINVAL = -22, ENOSYS = -38;

describe('hypercall page (§5.1; vmx_init_hypercall_page, init_hypercall_page)', () => {
  it('128 stubs `mov eax, i; vmcall; ret`, iret (23) is ud2, the rest int3', () => {
    const { x, mem } = setup();
    expect(x.wrmsr(0x40000000, 0x3000, 0)).toBe('ok');
    const p = mem.readBytes(0x3000, 4096)!;
    for (let i = 0; i < 128; i++) {
      const s = [...p.subarray(32 * i, 32 * i + 32)];
      if (i === 23) expect(s).toEqual([0x0f, 0x0b, ...new Array(30).fill(0xcc)]);
      else expect(s).toEqual([0xb8, i, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3, ...new Array(23).fill(0xcc)]);
    }
  });

  it('#GP for a page index, or a frame outside RAM (guest_wrmsr_xen)', () => {
    const { x } = setup();
    expect(x.wrmsr(0x40000000, 0x3001, 0)).toBe('gp');
    expect(x.wrmsr(0x40000000, RAM, 0)).toBe('gp');
    expect(x.wrmsr(0x40000000, 0, 1)).toBe('gp'); // 4 GiB: no RAM there
  });
});

describe('hypercall ABI (§5.1; hvm_hypercall)', () => {
  it('64-bit: number in RAX, args RDI.., result sign-extended into RAX', () => {
    const { x } = setup();
    const r = hc(x, 17, [0, 0]);
    expect(r).toEqual({ handled: true, ret: (4 << 16) | 17, hi: 0 });
  });

  it('-ENOSYS for every unknown number, out-of-range ones and RAX above 32 bits', () => {
    const { x } = setup();
    for (const nr of [0, 1, 13, 15, 18, 20, 23, 33, 35, 36, 41, 48, 55, 56, 127, 128, 0x7fffffff]) {
      expect(hc(x, nr, []), `nr ${nr}`).toEqual({ handled: true, ret: ENOSYS, hi: -1 });
    }
    expect(hc(x, 17, [0, 0], { raxHi: 1 }).ret).toBe(ENOSYS); // 0x1_00000011 is not xen_version
    // xen_version's `int cmd` is the low half of RDI: 0xffffffff_00000011 is sub-op 17 (unknown)
    expect(hc(x, 17, [0xffffffff00000011n, 0]).ret).toBe(ENOSYS);
    expect(hc(x, 17, [0x1234567800000000n, 0]).ret).toBe((4 << 16) | 17); // sub-op 0: XENVER_version
    expect(hc(x, 34, [0x100000001n, ARG]).ret).toBe(ENOSYS); // hvm_op's `unsigned long op`: not get_param
  });

  it('32-bit: EAX and EBX, ECX..; the result only in EAX', () => {
    const { x } = setup();
    const r = hc(x, 17, [0, 0], { long: false });
    expect(r.ret).toBe((4 << 16) | 17);
    expect(r.hi).toBe(0x5a5a5a5a); // upper half untouched (regs->eax)
    expect(hc(x, 99, [], { long: false }).ret).toBe(ENOSYS);
  });

  it('CPL > 0 gets -EPERM in all of RAX, whatever the call', () => {
    const { x } = setup();
    expect(hc(x, 17, [0, 0], { cpl: 3 })).toEqual({ handled: true, ret: EPERM, hi: -1 });
    expect(hc(x, 17, [0, 0], { cpl: 1, long: false })).toEqual({ handled: true, ret: EPERM, hi: -1 });
  });

  it('with Viridian, numbers with bit 31 set are left to Hyper-V', () => {
    const host = fakeHost();
    const x = new XenPersonality({ base: 0x40000100 });
    x.attach(host);
    expect(hc(x, 0x80000000, []).handled).toBe(false);
    expect(hc(x, 0x80000000, [], { cpl: 3 }).ret).toBe(EPERM); // the CPL check comes first
  });
});

describe('xen_version (§5.1; common/kernel.c do_xen_version)', () => {
  it('version, extraversion, capabilities, changeset, compile_info, pagesize', () => {
    const { x, mem } = setup();
    expect(hc(x, 17, [0, 0]).ret).toBe(0x40011);
    mem.writeBytes(ARG, new Uint8Array(1024).fill(0xee));
    expect(hc(x, 17, [1, ARG]).ret).toBe(0);
    const s = (len: number) => Buffer.from(mem.readBytes(ARG, len)!).toString('latin1');
    expect(s(16)).toBe('.0' + '\0'.repeat(14));
    expect(hc(x, 17, [3, ARG]).ret).toBe(0);
    expect(s(1024).replace(/\0+$/, '')).toBe('xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 ');
    expect(hc(x, 17, [4, ARG]).ret).toBe(0);
    expect(s(64).replace(/\0+$/, '')).toBe('unavailable');
    expect(hc(x, 17, [2, ARG]).ret).toBe(0);
    expect(mem.read8(ARG + 143)).toBe(0); // 144-byte struct fully written
    expect(hc(x, 17, [7, 0]).ret).toBe(4096);
    expect(hc(x, 17, [7, ARG]).ret).toBe(EINVAL); // the handle must be NULL
  });

  it('a domU is denied the command line ("<denied>") and build ids (-EPERM); unknown sub-ops -ENOSYS', () => {
    const { x, mem } = setup();
    expect(hc(x, 17, [9, ARG]).ret).toBe(0);
    expect(Buffer.from(mem.readBytes(ARG, 9)!).toString('latin1')).toBe('<denied>\0');
    for (const cmd of [10, 11, 12, 13, 14]) expect(hc(x, 17, [cmd, ARG]).ret).toBe(EPERM);
    expect(hc(x, 17, [15, ARG]).ret).toBe(ENOSYS);
    expect(hc(x, 17, [-1 >>> 0, ARG]).ret).toBe(ENOSYS);
  });

  it('get_features submap 0 for an HVM domU of Xen 4.17: bits 0, 2, 8, 9, 13, 16; other submaps -EINVAL', () => {
    const { x, mem } = setup();
    mem.write32(ARG, 0);
    mem.write32(ARG + 4, 0xdeadbeef);
    expect(hc(x, 17, [6, ARG]).ret).toBe(0);
    // writable_page_tables 0, auto_translated_physmap 2, hvm_callback_vector 8, hvm_safe_pvclock 9,
    // memory_op_vnode_supported 13, not_direct_mapped 16 (features.h; kernel.c at RELEASE-4.17.0)
    expect(u32(mem, ARG + 4)).toBe((1 << 0) | (1 << 2) | (1 << 8) | (1 << 9) | (1 << 13) | (1 << 16));
    mem.write32(ARG, 1);
    expect(hc(x, 17, [6, ARG]).ret).toBe(EINVAL);
  });

  it('newer versions add runstate/vcpu_time phys areas (4.18) and dm_msix_all_writes (4.19)', () => {
    const host = fakeHost();
    const x = new XenPersonality({ major: 4, minor: 19 });
    x.attach(host);
    host.mem.write32(ARG, 0);
    hc(x, 17, [6, ARG]);
    expect(u32(host.mem, ARG + 4)).toBe(0x12305 | (1 << 18) | (1 << 19) | (1 << 20));
  });

  it('platform_parameters: virt_start 0, 8 bytes in 64-bit mode, 4 in 32-bit mode', () => {
    const { x, mem } = setup();
    mem.writeBytes(ARG, new Uint8Array(8).fill(0xff));
    expect(hc(x, 17, [5, ARG], { long: false }).ret).toBe(0);
    expect([...mem.readBytes(ARG, 8)!]).toEqual([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    expect(hc(x, 17, [5, ARG]).ret).toBe(0);
    expect([...mem.readBytes(ARG, 8)!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('-EFAULT for argument buffers outside RAM (also straddling its end)', () => {
    const { x } = setup();
    expect(hc(x, 17, [1, RAM]).ret).toBe(EFAULT);
    expect(hc(x, 17, [3, RAM - 100]).ret).toBe(EFAULT);
    expect(hc(x, 17, [6, 2 ** 40]).ret).toBe(EFAULT);
    expect(hc(x, 17, [6, 0xffffffff80001000n]).ret).toBe(EFAULT); // a higher-half pointer, no page walk
    expect(hc(x, 17, [1, 0xfffffffffffffff8n]).ret).toBe(EFAULT); // wraps past 2^64
  });
});

/** Write struct xen_add_to_physmap (64-bit layout unless compat). */
function addToPhysmap(mem: GuestMemory, o: { domid?: number; space?: number; idx?: number; gpfn: number; compat?: boolean }) {
  mem.writeBytes(ARG, new Uint8Array(24));
  mem.write16(ARG, o.domid ?? 0x7ff0);
  mem.write32(ARG + 4, o.space ?? 0);
  if (o.compat) {
    mem.write32(ARG + 8, o.idx ?? 0);
    mem.write32(ARG + 12, o.gpfn);
  } else {
    mem.write64(ARG + 8, o.idx ?? 0, 0);
    mem.write64(ARG + 16, o.gpfn, 0);
  }
}

/** Read a vcpu_time_info at `a` and convert TSC `tsc` with the guest formula (§3.3). */
function guestNs(mem: GuestMemory, a: number, tsc: number): bigint {
  const b = mem.readBytes(a, 32)!;
  const v = new DataView(b.buffer);
  return pvclockReadNs(BigInt(tsc), v.getBigUint64(8, true), v.getBigUint64(16, true), v.getUint32(24, true), v.getInt8(28));
}

describe('memory_op XENMEM_add_to_physmap (§5.1, §5.2; common/memory.c)', () => {
  it('maps shared_info at the GPFN with the wall clock (wc_* @3072) and each vCPU time (@64n+32)', () => {
    const { x, mem, host } = setup();
    mem.writeBytes(SHINFO, new Uint8Array(4096).fill(0xab)); // old RAM contents are replaced
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    expect(hc(x, 12, [7, ARG]).ret).toBe(0);
    expect(u32(mem, SHINFO + 3072) % 2).toBe(0); // wc_version even
    expect(u32(mem, SHINFO + 3076)).toBe(BOOT_TIME);
    expect(u32(mem, SHINFO + 3080)).toBe(0);
    expect(u32(mem, SHINFO + 3084)).toBe(0); // wc_sec_hi
    expect(mem.read8(SHINFO + 2048)).toBe(0); // event bitmaps start clear
    for (const v of [0, 1]) {
      expect(u32(mem, SHINFO + 64 * v + 32)).toBe(2); // version: (0 + 1) | 1, then + 1
      expect(guestNs(mem, SHINFO + 64 * v + 32, host.tsc())).toBe(BigInt(host.ns));
    }
    expect(u32(mem, SHINFO + 64 * 2 + 32)).toBe(0); // no third vCPU
  });

  it('a 32-bit guest that latched compat (set CALLBACK_IRQ) has the wall clock at 2304', () => {
    const { x, mem } = setup();
    writeParam(mem, 0, 0x02000000_000000f3n);
    expect(hc(x, 34, [0, ARG], { long: false }).ret).toBe(0);
    addToPhysmap(mem, { gpfn: SHINFO >> 12, compat: true });
    expect(hc(x, 12, [7, ARG], { long: false }).ret).toBe(0);
    expect(u32(mem, SHINFO + 2308)).toBe(BOOT_TIME);
    expect(u32(mem, SHINFO + 3076)).toBe(0);
  });

  it('remapping moves the page with its contents (guest-written mask bits kept)', () => {
    const { x, mem } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    hc(x, 12, [7, ARG]);
    mem.write8(SHINFO + 2560, 0x80); // mask port 7
    addToPhysmap(mem, { gpfn: (SHINFO >> 12) + 1 });
    expect(hc(x, 12, [7, ARG]).ret).toBe(0);
    expect(mem.read8(SHINFO + 4096 + 2560)).toBe(0x80);
  });

  it('errors: other domain -ESRCH, no frame -EINVAL, outside RAM -EINVAL, foreign -ENOSYS, bad extent -EDOM, other ops -ENOSYS', () => {
    const { x, mem } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12, domid: 0 });
    expect(hc(x, 12, [7, ARG]).ret).toBe(ESRCH);
    addToPhysmap(mem, { gpfn: SHINFO >> 12, idx: 1 });
    expect(hc(x, 12, [7, ARG]).ret).toBe(EINVAL);
    addToPhysmap(mem, { gpfn: SHINFO >> 12, space: 1 }); // grant table: hvsim has none
    expect(hc(x, 12, [7, ARG]).ret).toBe(EINVAL);
    addToPhysmap(mem, { gpfn: RAM >> 12 });
    expect(hc(x, 12, [7, ARG]).ret).toBe(EINVAL);
    addToPhysmap(mem, { gpfn: SHINFO >> 12, space: 4 });
    expect(hc(x, 12, [7, ARG]).ret).toBe(ENOSYS);
    expect(hc(x, 12, [7 | (0x10000 << 6), ARG]).ret).toBe(-33);
    expect(hc(x, 12, [7, RAM]).ret).toBe(EFAULT);
    for (const op of [0, 1, 6, 8, 63]) expect(hc(x, 12, [op, ARG]).ret).toBe(ENOSYS);
  });
});

function writeParam(mem: GuestMemory, index: number, value = 0n, domid = 0x7ff0) {
  mem.writeBytes(ARG, new Uint8Array(16));
  mem.write16(ARG, domid);
  mem.write32(ARG + 4, index);
  mem.write64(ARG + 8, Number(value & 0xffffffffn), Number(value >> 32n));
}
const paramValue = (mem: GuestMemory) => u32(mem, ARG + 8) + u32(mem, ARG + 12) * 2 ** 32;

describe('time (§3.9; time.c __update_vcpu_system_time, common/time.c update_domain_wallclock_time)', () => {
  it('vcpu_time_info agrees with the virtual clock later on, through the guest formula', () => {
    for (const khz of [2_000_000, 2_400_000, 3_000_000]) {
      const { x, mem, host } = setup({ tscKHz: khz });
      addToPhysmap(mem, { gpfn: SHINFO >> 12 });
      hc(x, 12, [7, ARG]);
      host.ns += 987_654_321;
      const err = guestNs(mem, SHINFO + 32, host.tsc()) - BigInt(host.ns);
      expect(err >= -1n && err <= 1n, `${khz} kHz off by ${err}`).toBe(true);
    }
  });

  it('clockChanged rewrites with the new scale by the version protocol (+2, even)', () => {
    const { x, mem, host } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    hc(x, 12, [7, ARG]);
    host.ns += 5_000_000;
    host.setKHz(3_000_000);
    x.clockChanged();
    expect(u32(mem, SHINFO + 32)).toBe(4);
    expect(u32(mem, SHINFO + 32 + 24)).toBe(0xaaaaaaaa); // mul for 3 GHz (§3.4 table), shift -1
    expect(mem.read8(SHINFO + 32 + 28)).toBe(0xff);
    expect(u32(mem, SHINFO + 3072)).toBe(4); // wc_version: begin (0+1)|1=1, end 2; again 3, 4
    host.ns += 1_000_000;
    expect(guestNs(mem, SHINFO + 32, host.tsc()) - BigInt(host.ns)).toBeLessThanOrEqual(1n);
  });

  it('CPUID base+3 follows the TSC frequency after a change (§1.6: ECX guest TSC kHz, sub-leaf 1 mul/shift)', () => {
    const { x, host } = setup();
    host.setKHz(3_000_000);
    const out = new Int32Array(4);
    x.cpuid(3, 0, 0x40000000, out);
    expect(out[2]).toBe(3_000_000);
    x.cpuid(3, 1, 0x40000000, out);
    expect([out[2] >>> 0, out[3]]).toEqual([0xaaaaaaaa, -1]); // §3.4 table, 3 GHz
  });

  it('an odd (junk) version is stepped as Xen does: (v + 1) | 1, then + 1', () => {
    const { x, mem } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    hc(x, 12, [7, ARG]);
    mem.write32(SHINFO + 32, 7);
    x.clockChanged();
    expect(u32(mem, SHINFO + 32)).toBe(10);
  });
});

describe('hvm_op (§5.1; hvm.c hvm_allow_get_param / hvm_allow_set_param)', () => {
  it('the xenstore ring: STORE_PFN 0xfeffc (libxl special page), STORE_EVTCHN 1; console absent', () => {
    const { x, mem } = setup();
    writeParam(mem, 1);
    expect(hc(x, 34, [1, ARG]).ret).toBe(0);
    expect(paramValue(mem)).toBe(0xfeffc);
    writeParam(mem, 2);
    expect(hc(x, 34, [1, ARG]).ret).toBe(0);
    expect(paramValue(mem)).toBe(1);
    writeParam(mem, 17, 5n);
    expect(hc(x, 34, [1, ARG]).ret).toBe(0);
    expect(paramValue(mem)).toBe(0);
  });

  it('CALLBACK_IRQ is settable and reads back; STORE_PFN is not settable (-EPERM)', () => {
    const { x, mem } = setup();
    writeParam(mem, 0, (2n << 56n) | 0xf3n);
    expect(hc(x, 34, [0, ARG]).ret).toBe(0);
    writeParam(mem, 0);
    hc(x, 34, [1, ARG]);
    expect(u32(mem, ARG + 8)).toBe(0xf3);
    expect(u32(mem, ARG + 12)).toBe(0x02000000);
    writeParam(mem, 1, 0x1234n);
    expect(hc(x, 34, [0, ARG]).ret).toBe(EPERM);
  });

  it('errors: index >= HVM_NR_PARAMS -EINVAL, deprecated -EINVAL, private -EPERM, ALTP2M set -EEXIST, other domain -ESRCH, bad op -ENOSYS', () => {
    const { x, mem } = setup();
    writeParam(mem, 39);
    expect(hc(x, 34, [1, ARG]).ret).toBe(EINVAL);
    writeParam(mem, 0xffffffff);
    expect(hc(x, 34, [0, ARG]).ret).toBe(EINVAL);
    writeParam(mem, 4); // PAE_ENABLED
    expect(hc(x, 34, [1, ARG]).ret).toBe(EINVAL);
    writeParam(mem, 12); // IDENT_PT
    expect(hc(x, 34, [1, ARG]).ret).toBe(EPERM);
    expect(hc(x, 34, [0, ARG]).ret).toBe(EPERM);
    writeParam(mem, 35, 1n);
    expect(hc(x, 34, [0, ARG]).ret).toBe(EEXIST);
    writeParam(mem, 36, 3n); // X87_FIP_WIDTH must be 0, 4 or 8
    expect(hc(x, 34, [0, ARG]).ret).toBe(EINVAL);
    writeParam(mem, 1, 0n, 0);
    expect(hc(x, 34, [1, ARG]).ret).toBe(ESRCH);
    expect(hc(x, 34, [1, RAM]).ret).toBe(EFAULT);
    for (const op of [2, 3, 9, 22, 100]) expect(hc(x, 34, [op, ARG]).ret).toBe(ENOSYS);
  });
});

describe('vcpu_op (§5.1; common/domain.c)', () => {
  function reg(mem: GuestMemory, gpa: number) {
    mem.writeBytes(ARG, new Uint8Array(16));
    mem.write64(ARG, Math.floor(gpa / 4096), 0);
    mem.write32(ARG + 8, gpa % 4096);
  }

  it('register_vcpu_info: time kept at the new place, everything marked pending, upcall kicked', () => {
    const { x, mem, host } = setup();
    writeParam(mem, 0, (2n << 56n) | 0xf3n);
    hc(x, 34, [0, ARG]);
    reg(mem, 0x30040);
    expect(hc(x, 24, [10, 1, ARG], { vcpu: 1 }).ret).toBe(0);
    expect(mem.read8(0x30040)).toBe(1); // evtchn_upcall_pending
    expect(u32(mem, 0x30048)).toBe(0xffffffff); // evtchn_pending_sel all set
    expect(guestNs(mem, 0x30040 + 32, host.tsc())).toBe(BigInt(host.ns));
    expect(host.irqs).toEqual([[1, 0xf3]]);
    x.clockChanged();
    expect(u32(mem, 0x30040 + 32) % 2).toBe(0);
  });

  it('errors: re-registration -EBUSY, crossing a page or misaligned -ENXIO, offset >= 4096 -EINVAL, bad vCPU -ENOENT', () => {
    const { x, mem } = setup();
    reg(mem, 0x30fc8); // 0xfc8 + 64 > 4096
    expect(hc(x, 24, [10, 0, ARG]).ret).toBe(ENXIO);
    reg(mem, 0x30004);
    expect(hc(x, 24, [10, 0, ARG]).ret).toBe(ENXIO);
    mem.write64(ARG, 0x30, 0);
    mem.write32(ARG + 8, 4096);
    expect(hc(x, 24, [10, 0, ARG]).ret).toBe(EINVAL);
    reg(mem, RAM + 0x40);
    expect(hc(x, 24, [10, 0, ARG]).ret).toBe(EINVAL);
    reg(mem, 0x30000);
    expect(hc(x, 24, [10, 0, ARG]).ret).toBe(0);
    expect(hc(x, 24, [10, 0, ARG]).ret).toBe(EBUSY);
    expect(hc(x, 24, [10, 2, ARG]).ret).toBe(ENOENT);
    expect(hc(x, 24, [3, 0, 0]).ret).toBe(1); // is_up
    expect(hc(x, 24, [0, 0, ARG]).ret).toBe(ENOSYS);
  });

  it('singleshot timer raises VIRQ_TIMER at the deadline; only on the calling vCPU', () => {
    const { x, mem, host } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    hc(x, 12, [7, ARG]);
    writeParam(mem, 0, (2n << 56n) | 0xf3n);
    hc(x, 34, [0, ARG]);
    mem.writeBytes(ARG, new Uint8Array(12)); // virq 0 on vCPU 0
    expect(hc(x, 32, [1, ARG]).ret).toBe(0);
    const port = u32(mem, ARG + 8);
    mem.write64(ARG, host.ns + 5000, 0);
    mem.write32(ARG + 8, 0);
    expect(hc(x, 24, [8, 1, ARG]).ret).toBe(EINVAL);
    expect(hc(x, 24, [8, 0, ARG]).ret).toBe(0);
    expect(host.timers.map((t) => t.at)).toEqual([host.ns + 5000]);
    host.timers[0].cb();
    mem.write64(ARG, 0xffffffff, 0xffffffff); // in 584 years: accepted, never scheduled
    expect(hc(x, 24, [8, 0, ARG]).ret).toBe(0);
    expect(host.timers.length).toBe(1);
    expect((mem.read8(SHINFO + 2048 + (port >> 3))! >> (port & 7)) & 1).toBe(1);
    expect(host.irqs).toEqual([[0, 0xf3]]);
  });
});

describe('event channels (§5.4; common/event_channel.c, event_2l.c)', () => {
  function status(x: XenPersonality, mem: GuestMemory, port: number) {
    mem.writeBytes(ARG, new Uint8Array(24));
    mem.write16(ARG, 0x7ff0);
    mem.write32(ARG + 4, port);
    const r = hc(x, 32, [5, ARG]).ret;
    return { r, status: u32(mem, ARG + 8), vcpu: u32(mem, ARG + 12), dom: mem.read16(ARG + 16), port: u32(mem, ARG + 20) };
  }

  it('status: the store port is interdomain to dom0, port 0 and free ports closed, out of range -EINVAL', () => {
    const { x, mem } = setup();
    expect(status(x, mem, 1)).toMatchObject({ r: 0, status: 2, dom: 0 });
    expect(status(x, mem, 0)).toMatchObject({ r: 0, status: 0 });
    expect(status(x, mem, 100)).toMatchObject({ r: 0, status: 0 });
    expect(status(x, mem, 4096).r).toBe(EINVAL);
  });

  it('alloc_unbound takes the lowest free port; bind_virq / bind_ipi; close', () => {
    const { x, mem } = setup();
    mem.writeBytes(ARG, new Uint8Array(8));
    mem.write16(ARG, 0x7ff0);
    mem.write16(ARG + 2, 0);
    expect(hc(x, 32, [6, ARG]).ret).toBe(0);
    expect(u32(mem, ARG + 4)).toBe(2);
    expect(status(x, mem, 2)).toMatchObject({ status: 1, dom: 0 });
    mem.writeBytes(ARG, new Uint8Array(12));
    mem.write32(ARG, 0);
    expect(hc(x, 32, [1, ARG]).ret).toBe(0);
    expect(u32(mem, ARG + 8)).toBe(3);
    expect(hc(x, 32, [1, ARG]).ret).toBe(EEXIST);
    mem.write32(ARG, 24);
    expect(hc(x, 32, [1, ARG]).ret).toBe(EINVAL); // >= NR_VIRQS
    mem.write32(ARG, 2); // VIRQ_CONSOLE is global: vCPU 0 only
    mem.write32(ARG + 4, 1);
    expect(hc(x, 32, [1, ARG]).ret).toBe(EINVAL);
    mem.write32(ARG, 0);
    mem.write32(ARG + 4, 7);
    expect(hc(x, 32, [1, ARG]).ret).toBe(ENOENT);
    mem.write32(ARG, 1);
    expect(hc(x, 32, [7, ARG]).ret).toBe(0); // bind_ipi on vCPU 1
    expect(u32(mem, ARG + 4)).toBe(4);
    expect(status(x, mem, 4)).toMatchObject({ status: 5, vcpu: 1 });
    mem.write32(ARG, 2);
    expect(hc(x, 32, [3, ARG]).ret).toBe(0);
    expect(status(x, mem, 2).status).toBe(0);
    expect(hc(x, 32, [3, ARG]).ret).toBe(EINVAL);
    expect(hc(x, 32, [99, ARG]).ret).toBe(ENOSYS);
  });

  it('send: IPI sets pending, selector and upcall and kicks the vector once; masked ports stay quiet until unmasked', () => {
    const { x, mem, host } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    hc(x, 12, [7, ARG]);
    writeParam(mem, 0, (2n << 56n) | 0xf3n);
    hc(x, 34, [0, ARG]);
    mem.write32(ARG, 0);
    hc(x, 32, [7, ARG]);
    const ipi = u32(mem, ARG + 4); // 2
    mem.write32(ARG, ipi);
    expect(hc(x, 32, [4, ARG]).ret).toBe(0);
    expect(mem.read8(SHINFO + 2048)! & (1 << ipi)).not.toBe(0);
    expect(mem.read8(SHINFO + 8)! & 1).toBe(1); // selector word 0
    expect(mem.read8(SHINFO)).toBe(1);
    expect(host.irqs).toEqual([[0, 0xf3]]);
    hc(x, 32, [4, ARG]); // already pending: nothing more
    expect(host.irqs.length).toBe(1);
    // Guest handles it, masks the port, sends again.
    mem.write8(SHINFO, 0);
    mem.write8(SHINFO + 8, 0);
    mem.write8(SHINFO + 2048, 0);
    mem.write8(SHINFO + 2560, 1 << ipi);
    hc(x, 32, [4, ARG]);
    expect(mem.read8(SHINFO)).toBe(0);
    expect(host.irqs.length).toBe(1);
    expect(hc(x, 32, [9, ARG]).ret).toBe(0); // unmask: pending, so the upcall comes now
    expect(mem.read8(SHINFO)).toBe(1);
    expect(host.irqs.length).toBe(2);
  });

  it('send on a free, reserved, VIRQ or unnameable port is -EINVAL; on an unbound port it is dropped', () => {
    const { x, mem } = setup();
    for (const p of [0, 9, 4096, 0xffffffff]) {
      mem.write32(ARG, p);
      expect(hc(x, 32, [4, ARG]).ret, `port ${p}`).toBe(EINVAL);
    }
    mem.writeBytes(ARG, new Uint8Array(12));
    hc(x, 32, [1, ARG]);
    mem.write32(ARG, u32(mem, ARG + 8));
    expect(hc(x, 32, [4, ARG]).ret).toBe(EINVAL);
    mem.writeBytes(ARG, new Uint8Array(8));
    mem.write16(ARG, 0x7ff0);
    hc(x, 32, [6, ARG]);
    mem.write32(ARG, u32(mem, ARG + 4));
    expect(hc(x, 32, [4, ARG]).ret).toBe(0);
    expect(hc(x, 32, [4, RAM]).ret).toBe(EFAULT);
  });
});

describe('sched_op (§5.1; sched/core.c do_sched_op)', () => {
  it('yield and block return 0; shutdown poweroff/crash stops as power-off, reboot as reset', () => {
    const { x, mem, host } = setup();
    expect(hc(x, 29, [0, 0]).ret).toBe(0);
    expect(hc(x, 29, [1, 0]).ret).toBe(0);
    for (const [reason, stop] of [[0, 'poweroff'], [1, 'reset'], [3, 'poweroff'], [5, 'reset']] as const) {
      mem.write32(ARG, reason);
      expect(hc(x, 29, [2, ARG]).ret).toBe(0);
      expect(host.stops.at(-1)).toBe(stop);
      expect(x.domain!.shutdownReason).toBe(reason);
    }
    expect(hc(x, 29, [2, RAM]).ret).toBe(EFAULT);
    expect(hc(x, 29, [6, ARG]).ret).toBe(ENOSYS);
  });
});

describe('machine services used when the host has them (XenHostServices)', () => {
  it('linearToPhysical: hypercall arguments are linear addresses walked per page', () => {
    const host = fakeHost();
    const HIGH = 0xffffffff80000000n; // a higher-half kernel mapping of physical 0 (above 2^53)
    const walked: string[] = [];
    host.linearToPhysical = (_vcpu, lo, hi) => {
      const linear = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      walked.push(linear.toString(16));
      return linear >= HIGH ? Number(linear - HIGH) : null;
    };
    const x = new XenPersonality();
    x.attach(host);
    expect(hc(x, 17, [1, HIGH + 0xfff8n]).ret).toBe(0); // char[16] straddling two pages
    expect(walked).toEqual(['ffffffff8000fff8', 'ffffffff80010000']);
    expect(Buffer.from(host.mem.readBytes(0xfff8, 3)!).toString('latin1')).toBe('.0\0');
    expect(hc(x, 17, [1, 0x5000]).ret).toBe(EFAULT); // not mapped by this walk
  });

  it('vcpuLongMode: the layout is latched at the MSR write (32-bit guest: compat wall clock at 2304)', () => {
    const host = fakeHost();
    host.vcpuLongMode = () => false;
    const x = new XenPersonality();
    x.attach(host);
    x.wrmsr(0x40000000, 0x3000, 0);
    addToPhysmap(host.mem, { gpfn: SHINFO >> 12 });
    expect(hc(x, 12, [7, ARG]).ret).toBe(0); // a 64-bit-layout struct: the call's mode does not re-latch
    expect(u32(host.mem, SHINFO + 2308)).toBe(BOOT_TIME);
    expect(u32(host.mem, SHINFO + 3076)).toBe(0);
  });

  it('outside long mode the MSR value keeps 32 bits of frame number (guest_wrmsr_xen)', () => {
    const host = fakeHost();
    host.vcpuLongMode = () => false;
    const x = new XenPersonality();
    x.attach(host);
    expect(x.wrmsr(0x40000000, 0x5000, 0x00100000)).toBe('ok'); // frame 0x1_0000_0005 -> 5
    expect(host.mem.read8(0x5000 + 17 * 32)).toBe(0xb8);
    host.vcpuLongMode = () => true;
    expect(x.wrmsr(0x40000000, 0x5000, 0x00100000)).toBe('gp'); // all of it counts in long mode
  });
});

describe('determinism', () => {
  let a: Uint8Array;
  beforeEach(() => {
    const { x, mem } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    hc(x, 12, [7, ARG]);
    a = mem.readBytes(SHINFO, 4096)!;
  });
  it('two identical runs write identical shared_info pages', () => {
    const { x, mem } = setup();
    addToPhysmap(mem, { gpfn: SHINFO >> 12 });
    hc(x, 12, [7, ARG]);
    expect(mem.readBytes(SHINFO, 4096)).toEqual(a);
  });
});
