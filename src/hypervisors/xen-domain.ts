// One Xen HVM domain's state and its hypercalls (spec digest §5.1-§5.6, §3.9; Xen common/kernel.c
// do_xen_version, common/memory.c, arch/x86/hvm/hvm.c do_hvm_op, common/domain.c common_vcpu_op,
// common/event_channel.c, common/sched/core.c do_sched_op). xen.ts decodes the registers and
// calls `hypercall`; each handler returns Xen's result (>= 0, or -errno).
//
// Everything the guest sees comes from the HypervisorHost: memory through checked accessors, time
// from the virtual clock, the store from host.kv. Handlers never throw on guest input.

import type { HypervisorHost } from './personality.js';
import { pvclockScaleForTscKHz } from './pvclock.js';
import * as X from './xen-abi.js';
import { XenGuestArgs, charArray, put16, put32, put64, u16, u32, u64 } from './xen-guest-args.js';
import { COMPAT_LAYOUT, NATIVE_LAYOUT, VCPU_INFO_SIZE, XenSharedInfo } from './xen-shared-info.js';
import { XenEventChannels } from './xen-evtchn.js';
import { XenStoreServer } from './xenstore.js';
import { VMASST_TYPE_runstate_update_flag, XenRunstate } from './xen-runstate.js';

/** One hypercall's arguments (u64 in 64-bit mode, u32 in 32-bit mode). */
export interface XenCall {
  vcpu: number;
  /** 32-bit guest: compat structure layouts (Xen's hcall_compat). */
  compat: boolean;
  /** Each argument's low 32 bits as a signed int (Xen's `int cmd` / `unsigned int` parameters). */
  low: number[];
  /** Each argument exactly (pointers: a 64-bit kernel's addresses are above 2^53; `unsigned long` commands). */
  ptrs: bigint[];
  mem: XenGuestArgs;
}

export interface XenDomainOptions {
  domid: number;
  major: number;
  minor: number;
  /** The xenstore ring (4 KiB) and its GPFN, or null when the machine could not place it. */
  storePage: { bytes: Uint8Array; pfn: number } | null;
  /** Called for SCHEDOP_shutdown with Xen's reason (0 poweroff, 1 reboot, ...). */
  onShutdown: (reason: number) => void;
}

const DEPRECATED_PARAMS = [4, 13, 20, 21, 22, 23, 24, 25, 26, 30];
/** Parameters a domain may set on itself (hvm.c hvm_allow_set_param). */
const GUEST_SETTABLE = [0, 15, 37, 19, 34, X.HVM_PARAM_STORE_EVTCHN, X.HVM_PARAM_CONSOLE_EVTCHN, 36];
/** ... and read (hvm_allow_get_param). */
const GUEST_READABLE = [0, 15, 37, 19, 34, X.HVM_PARAM_STORE_PFN, X.HVM_PARAM_STORE_EVTCHN, X.HVM_PARAM_CONSOLE_PFN, X.HVM_PARAM_CONSOLE_EVTCHN, 35, 36];
const HVM_PARAM_ALTP2M = 35;
const HVM_PARAM_X87_FIP_WIDTH = 36;
const XEN_EDOM = 33;
/** xen.h VMASST_CMD_enable / _disable; x86 HVM_VM_ASSIST_MASK: only runstate_update_flag. */
const VMASST_CMD_enable = 0;
const VMASST_CMD_disable = 1;
const HVM_VM_ASSIST_MASK = 1 << VMASST_TYPE_runstate_update_flag;
/** 2^50 ns: singleshot deadlines further away are accepted but not scheduled. */
const MAX_TIMER_NS = 0x4000000000000;

export class XenDomain {
  readonly sharedInfo: XenSharedInfo;
  readonly evtchn: XenEventChannels;
  readonly xenstore: XenStoreServer | null;
  readonly runstate: XenRunstate;
  /** VM assists the guest enabled (HYPERVISOR_vm_assist), a bit per VMASST_TYPE_*. */
  vmAssist = 0;
  /** HVM params (u64), indexed by HVM_PARAM_*. */
  readonly params: bigint[] = new Array<bigint>(X.HVM_NR_PARAMS).fill(0n);
  /** The event channel of the xenstore ring (0 when there is no ring). */
  readonly storePort: number;
  /** Per-vCPU upcall vectors (HVMOP_set_evtchn_upcall_vector); 0 = use CALLBACK_IRQ. */
  readonly upcallVector: number[];
  /** SCHEDOP_shutdown_code, then the reason of SCHEDOP_shutdown once it happens. */
  shutdownCode: number | null = null;
  shutdownReason: number | null = null;
  private readonly singleshot: (number | null)[];

  constructor(private readonly host: HypervisorHost, private readonly o: XenDomainOptions) {
    this.sharedInfo = new XenSharedInfo(host.mem, host.vcpus);
    this.evtchn = new XenEventChannels(host.vcpus);
    this.upcallVector = new Array<number>(host.vcpus).fill(0);
    this.singleshot = new Array<number | null>(host.vcpus).fill(null);
    this.runstate = new XenRunstate(host.vcpus);
    if (o.storePage !== null) {
      this.xenstore = new XenStoreServer(o.storePage.bytes, host.kv, o.domid);
      // libxl allocates the store channel first (port 1), unbound to xenstored in dom0; xenstored's
      // XS_INTRODUCE binds it, so the guest finds it interdomain.
      this.storePort = this.evtchn.preBind({ state: 'interdomain', remoteDom: 0, remotePort: 1, vcpu: 0 });
      this.params[X.HVM_PARAM_STORE_PFN] = BigInt(o.storePage.pfn);
      this.params[X.HVM_PARAM_STORE_EVTCHN] = BigInt(this.storePort);
    } else {
      this.xenstore = null;
      this.storePort = 0;
    }
  }

  /** hvm_latch_shinfo_size: fix the shared_info layout from the guest's mode; the wall clock is rewritten. */
  latchLayout(compat: boolean): void {
    this.sharedInfo.layout = compat ? COMPAT_LAYOUT : NATIVE_LAYOUT;
    this.evtchn.maxPorts = this.sharedInfo.layout.maxPorts;
    this.writeWallClock();
  }

  // ---- Time (§3.9) -------------------------------------------------------------------------

  writeWallClock(): void {
    this.sharedInfo.writeWallClock(Math.floor(this.host.bootTime), 0); // the RTC's whole-second boot time
  }

  /** vcpu_time_info for one vCPU, stamped now; flags 0 (Xen sets TSC_STABLE only with clocksource=tsc). */
  writeVcpuTime(vcpu: number): void {
    const { mul, shift } = pvclockScaleForTscKHz(this.host.tscKHz());
    this.sharedInfo.writeTime(vcpu, { tscTimestamp: BigInt(this.host.tsc()), systemTime: BigInt(this.host.nowNs()), mul, shift, flags: 0 });
    // Xen refreshes both when it schedules the vCPU; the runstate goes through the vCPU's own page tables.
    this.runstate.update(vcpu, this.host.nowNs(), this.sharedInfo.layout.compat, this.guestArgs(vcpu));
  }

  /** Guest linear addresses as `vcpu` sees them now (physical when the host cannot walk page tables). */
  private guestArgs(vcpu: number): XenGuestArgs {
    const h = this.host;
    return new XenGuestArgs(h.mem, h.linearToPhysical ? (v, lo, hi, w) => h.linearToPhysical!(v, lo, hi, w) : null, vcpu);
  }

  /** Rewrite every clock structure (mapping, TSC-frequency change). */
  writeAllTime(): void {
    for (let v = 0; v < this.host.vcpus; v++) this.writeVcpuTime(v);
    this.writeWallClock();
  }

  // ---- Events (§5.4) -----------------------------------------------------------------------

  /** hvm_assert_evtchn_irq: the per-vCPU vector, else a vector-type CALLBACK_IRQ; other callback types are not emulated. */
  private kick(vcpu: number): void {
    let vector = this.upcallVector[vcpu];
    if (vector === 0) {
      const via = this.params[X.HVM_PARAM_CALLBACK_IRQ];
      if (Number(via >> 56n) === X.HVM_PARAM_CALLBACK_TYPE_VECTOR) vector = Number(via & 0xffn);
    }
    if (vector !== 0) this.host.injectInterrupt(vcpu, vector);
  }

  /**
   * hvm_assert_evtchn_irq when the delivery route is set: events marked before it (register_vcpu_info
   * marks everything) must not be lost. The per-vCPU vector is raised as is; the domain-wide
   * callback vector is delivered while evtchn_upcall_pending is set (hvm_vcpu_has_pending_irq).
   */
  private assertEvtchnIrq(vcpu: number): void {
    if (this.upcallVector[vcpu] !== 0) this.host.injectInterrupt(vcpu, this.upcallVector[vcpu]);
    else if (this.sharedInfo.upcallPending(vcpu)) this.kick(vcpu);
  }

  /** Raise a port toward the guest (2-level ABI). */
  raise(port: number): void {
    const ch = this.evtchn.get(port);
    const vcpu = ch?.vcpu ?? 0;
    if (this.sharedInfo.setPending(port, vcpu)) this.kick(vcpu);
  }

  // ---- Dispatch ----------------------------------------------------------------------------

  hypercall(nr: number, c: XenCall): number {
    switch (nr) {
      case X.HYPERVISOR_xen_version: return this.xenVersion(c.low[0], c);
      case X.HYPERVISOR_memory_op: return this.memoryOp(c);
      case X.HYPERVISOR_hvm_op: return this.hvmOp(c);
      case X.HYPERVISOR_vcpu_op: return this.vcpuOp(c);
      case X.HYPERVISOR_event_channel_op: return this.eventChannelOp(c.low[0], c);
      case X.HYPERVISOR_sched_op: return this.schedOp(c.low[0], c);
      case X.HYPERVISOR_vm_assist: return this.vmAssistOp(c.low[0] >>> 0, c.low[1] >>> 0);
      default: return -X.XEN_ENOSYS;
    }
  }

  // ---- vm_assist (common/kernel.c do_vm_assist; x86 arch_vm_assist_valid_mask for HVM) --------

  private vmAssistOp(cmd: number, type: number): number {
    if (type >= 32 || ((HVM_VM_ASSIST_MASK >>> type) & 1) === 0) return -X.XEN_EINVAL; // also types 32..63: not in the HVM mask
    if (cmd === VMASST_CMD_enable) this.vmAssist |= 1 << type;
    else if (cmd === VMASST_CMD_disable) this.vmAssist &= ~(1 << type);
    else return -X.XEN_ENOSYS;
    return 0;
  }

  // ---- xen_version (common/kernel.c do_xen_version; XSM dummy policy for a domU) -------------

  /** XENVER_get_features submap 0 for an HVM domU of this version (see docs/personalities/xen.md). */
  features(): number {
    let f = (1 << X.XENFEAT_memory_op_vnode_supported) | (1 << X.XENFEAT_writable_page_tables) | (1 << X.XENFEAT_auto_translated_physmap)
      | (1 << X.XENFEAT_hvm_safe_pvclock) | (1 << X.XENFEAT_hvm_callback_vector);
    const v = this.o.major * 1000 + this.o.minor;
    if (v >= 4016) f |= 1 << X.XENFEAT_not_direct_mapped;
    if (v >= 4018) f |= (1 << X.XENFEAT_runstate_phys_area) | (1 << X.XENFEAT_vcpu_time_phys_area);
    if (v >= 4019) f |= 1 << X.XENFEAT_dm_msix_all_writes;
    return f >>> 0;
  }

  private xenVersion(cmd: number, c: XenCall): number {
    const arg = c.ptrs[1];
    const put = (b: Uint8Array): number => (c.mem.write(arg, b) ? 0 : -X.XEN_EFAULT);
    switch (cmd) {
      case X.XENVER_version: return (this.o.major << 16) | (this.o.minor & 0xffff);
      case X.XENVER_extraversion: return put(charArray('.0', 16));
      case X.XENVER_compile_info: {
        const b = new Uint8Array(144); // compiler[64] compile_by[16] compile_domain[32] compile_date[32]
        b.set(charArray('hvsim', 64), 0);
        b.set(charArray('hvsim', 16), 64);
        return put(b);
      }
      case X.XENVER_capabilities: return put(charArray('xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 ', 1024));
      case X.XENVER_changeset: return put(charArray('unavailable', 64));
      case X.XENVER_platform_parameters: return put(new Uint8Array(c.compat ? 4 : 8)); // virt_start 0 for HVM
      case X.XENVER_get_features: {
        const fi = c.mem.read(arg, 8);
        if (fi === null) return -X.XEN_EFAULT;
        if (u32(fi, 0) !== 0) return -X.XEN_EINVAL; // XENFEAT_NR_SUBMAPS = 1
        put32(fi, 4, this.features());
        return put(fi);
      }
      case X.XENVER_pagesize: return arg !== 0n ? -X.XEN_EINVAL : 4096;
      case X.XENVER_guest_handle: return put(new Uint8Array(16)); // the domain handle (UUID): none given to hvsim
      case X.XENVER_commandline: return put(charArray('<denied>', 9)); // xsm denies a domU: xen_deny()
      default:
        if (cmd >= X.XENVER_build_id && cmd <= X.XENVER_commandline2) return -X.XEN_EPERM;
        return -X.XEN_ENOSYS;
    }
  }

  // ---- memory_op (common/memory.c, arch/x86/mm/p2m.c) ----------------------------------------

  private ourDomain(domid: number): boolean {
    return domid === X.DOMID_SELF || domid === this.o.domid;
  }

  private memoryOp(c: XenCall): number {
    const cmd = c.ptrs[0]; // unsigned long
    const op = Number(cmd & BigInt(X.MEMOP_CMD_MASK));
    if (op !== X.XENMEM_add_to_physmap) return -X.XEN_ENOSYS;
    if (cmd >> BigInt(X.MEMOP_EXTENT_SHIFT) > 0xffffn) return -XEN_EDOM; // start_extent must fit xatp.size
    // struct xen_add_to_physmap: domid u16, size u16, space u32, idx, gpfn (u64 each; u32 in compat).
    const b = c.mem.read(c.ptrs[1], c.compat ? 16 : 24);
    if (b === null) return -X.XEN_EFAULT;
    const space = u32(b, 4);
    const idx = c.compat ? u32(b, 8) : u64(b, 8);
    const gpfn = c.compat ? u32(b, 12) : u64(b, 16);
    if (space === X.XENMAPSPACE_gmfn_foreign) return -X.XEN_ENOSYS;
    if (!this.ourDomain(u16(b, 0))) return -X.XEN_ESRCH;
    // Only shared_info has a frame here (no grant table): anything else finds no frame, -EINVAL.
    if (space !== X.XENMAPSPACE_shared_info || idx !== 0) return -X.XEN_EINVAL;
    if (!this.sharedInfo.mapAt(gpfn * 4096)) return -X.XEN_EINVAL; // hvsim can only place it in RAM
    this.writeAllTime();
    return 0;
  }

  // ---- hvm_op (arch/x86/hvm/hvm.c) -----------------------------------------------------------

  private hvmOp(c: XenCall): number {
    const op = c.ptrs[0] <= 0xffffn ? Number(c.ptrs[0]) : -1; // unsigned long: high bits make it unknown
    const arg = c.ptrs[1];
    if (op === X.HVMOP_set_param || op === X.HVMOP_get_param) {
      const b = c.mem.read(arg, 16); // domid u16 @0, index u32 @4, value u64 @8
      if (b === null) return -X.XEN_EFAULT;
      const index = u32(b, 4);
      if (index >= X.HVM_NR_PARAMS) return -X.XEN_EINVAL;
      if (!this.ourDomain(u16(b, 0))) return -X.XEN_ESRCH;
      if (DEPRECATED_PARAMS.includes(index)) return -X.XEN_EINVAL;
      if (op === X.HVMOP_get_param) {
        if (!GUEST_READABLE.includes(index)) return -X.XEN_EPERM;
        const v = this.params[index];
        put32(b, 8, Number(v & 0xffffffffn));
        put32(b, 12, Number(v >> 32n));
        return c.mem.write(arg, b) ? 0 : -X.XEN_EFAULT;
      }
      if (index === HVM_PARAM_ALTP2M) return -X.XEN_EEXIST;
      if (!GUEST_SETTABLE.includes(index)) return -X.XEN_EPERM;
      const value = (BigInt(u32(b, 12)) << 32n) | BigInt(u32(b, 8));
      if (index === HVM_PARAM_X87_FIP_WIDTH && value !== 0n && value !== 4n && value !== 8n) return -X.XEN_EINVAL;
      this.params[index] = value;
      if (index === X.HVM_PARAM_CALLBACK_IRQ) {
        this.latchLayout(c.compat);
        for (let v = 0; v < this.host.vcpus; v++) this.assertEvtchnIrq(v); // hvm_set_callback_via
      }
      return 0;
    }
    if (op === X.HVMOP_set_evtchn_upcall_vector) {
      const b = c.mem.read(arg, 8); // vcpu u32 @0, vector u8 @4
      if (b === null) return -X.XEN_EFAULT;
      const vector = b[4];
      const vcpu = u32(b, 0);
      if (vector < 0x10) return -X.XEN_EINVAL;
      if (vcpu >= this.host.vcpus) return -X.XEN_ENOENT;
      this.upcallVector[vcpu] = vector;
      this.assertEvtchnIrq(vcpu);
      return 0;
    }
    return -X.XEN_ENOSYS;
  }

  // ---- vcpu_op (common/domain.c common_vcpu_op) ----------------------------------------------

  private vcpuOp(c: XenCall): number {
    const cmd = c.low[0];
    const vcpu = c.low[1] >>> 0;
    const arg = c.ptrs[2];
    if (vcpu >= this.host.vcpus) return -X.XEN_ENOENT;
    switch (cmd) {
      case X.VCPUOP_is_up: return vcpu === 0 ? 1 : 0; // hvsim runs only vCPU 0 so far
      case X.VCPUOP_stop_periodic_timer: return 0; // HVM vCPUs have none running
      case X.VCPUOP_set_singleshot_timer: {
        if (vcpu !== c.vcpu) return -X.XEN_EINVAL;
        const b = c.mem.read(arg, 16); // timeout_abs_ns u64, flags u32
        if (b === null) return -X.XEN_EFAULT;
        this.stopTimer(vcpu);
        const wait = u64(b, 0) - this.host.nowNs();
        // A deadline ~13 days or more away never comes in a simulated run; scheduling it would let an
        // idle guest jump the virtual clock past exact integer range.
        if (wait > MAX_TIMER_NS) return 0;
        this.singleshot[vcpu] = this.host.after(Math.max(0, wait), () => {
          this.singleshot[vcpu] = null;
          const port = this.evtchn.virqPort(vcpu, X.VIRQ_TIMER);
          if (port !== undefined) this.raise(port);
        });
        return 0;
      }
      case X.VCPUOP_stop_singleshot_timer:
        if (vcpu !== c.vcpu) return -X.XEN_EINVAL;
        this.stopTimer(vcpu);
        return 0;
      case X.VCPUOP_register_vcpu_info: return this.registerVcpuInfo(vcpu, c);
      case X.VCPUOP_register_runstate_memory_area: {
        // struct vcpu_register_runstate_memory_area: a u64 union; a 32-bit guest's handle is its low half.
        const b = c.mem.read(arg, 8);
        if (b === null) return -X.XEN_EFAULT;
        const linear = c.compat ? BigInt(u32(b, 0)) : (BigInt(u32(b, 4)) << 32n) | BigInt(u32(b, 0));
        this.runstate.register(vcpu, linear, this.host.nowNs(), this.sharedInfo.layout.compat, c.mem);
        return 0;
      }
      default: return -X.XEN_ENOSYS;
    }
  }

  private stopTimer(vcpu: number): void {
    const t = this.singleshot[vcpu];
    if (t !== null) this.host.cancel(t);
    this.singleshot[vcpu] = null;
  }

  /** struct vcpu_register_vcpu_info { u64 mfn; u32 offset; u32 rsvd; } */
  private registerVcpuInfo(vcpu: number, c: XenCall): number {
    const b = c.mem.read(c.ptrs[2], 16);
    if (b === null) return -X.XEN_EFAULT;
    const mfn = u64(b, 0);
    const offset = u32(b, 8);
    if (offset >= 4096 || mfn >= 0x10000000000) return -X.XEN_EINVAL; // gaddr's frame must be mfn
    if (this.sharedInfo.registered[vcpu] !== null) return -X.XEN_EBUSY; // no re-registration
    const gaddr = mfn * 4096 + offset;
    if (offset + VCPU_INFO_SIZE > 4096) return -X.XEN_ENXIO; // may not cross a page
    if (gaddr % (this.sharedInfo.layout.compat ? 4 : 8) !== 0) return -X.XEN_ENXIO;
    if (!this.host.mem.isRam(gaddr, VCPU_INFO_SIZE)) return -X.XEN_EINVAL;
    const kick = this.sharedInfo.registerVcpuInfo(vcpu, gaddr);
    this.writeVcpuTime(vcpu);
    if (kick) this.kick(vcpu);
    return 0;
  }

  // ---- event_channel_op (common/event_channel.c) ---------------------------------------------

  private eventChannelOp(cmd: number, c: XenCall): number {
    const arg = c.ptrs[1];
    switch (cmd) {
      case X.EVTCHNOP_send: {
        const b = c.mem.read(arg, 4);
        if (b === null) return -X.XEN_EFAULT;
        return this.send(u32(b, 0), c.vcpu);
      }
      case X.EVTCHNOP_close: {
        const b = c.mem.read(arg, 4);
        if (b === null) return -X.XEN_EFAULT;
        return this.evtchn.close(u32(b, 0)); // closing the store port leaves xenstored deaf, as in Xen
      }
      case X.EVTCHNOP_unmask: {
        const b = c.mem.read(arg, 4);
        if (b === null) return -X.XEN_EFAULT;
        const port = u32(b, 0);
        if (!this.evtchn.valid(port)) return -X.XEN_EINVAL;
        const vcpu = this.evtchn.get(port)?.vcpu ?? 0;
        if (this.sharedInfo.unmask(port, vcpu)) this.kick(vcpu);
        return 0;
      }
      case X.EVTCHNOP_status: {
        const b = c.mem.read(arg, 24); // dom u16 @0, port u32 @4; OUT status @8, vcpu @12, u @16
        if (b === null) return -X.XEN_EFAULT;
        if (!this.ourDomain(u16(b, 0))) return -X.XEN_ESRCH;
        const s = this.evtchn.status(u32(b, 4));
        if (typeof s === 'number') return s;
        put32(b, 8, s.status);
        put32(b, 12, s.vcpu);
        b.fill(0, 16, 24);
        if (s.status === 1 || s.status === 2) put16(b, 16, s.dom);
        if (s.status === 2) put32(b, 20, s.portOrVirq);
        if (s.status === 4) put32(b, 16, s.portOrVirq);
        return c.mem.write(arg, b) ? 0 : -X.XEN_EFAULT;
      }
      case X.EVTCHNOP_alloc_unbound: {
        const b = c.mem.read(arg, 8); // dom u16 @0, remote_dom u16 @2, OUT port u32 @4
        if (b === null) return -X.XEN_EFAULT;
        if (!this.ourDomain(u16(b, 0))) return -X.XEN_ESRCH;
        const remote = u16(b, 2) === X.DOMID_SELF ? this.o.domid : u16(b, 2);
        const port = this.evtchn.allocUnbound(remote);
        if (port < 0) return port;
        put32(b, 4, port);
        return c.mem.write(arg, b) ? 0 : -X.XEN_EFAULT;
      }
      case X.EVTCHNOP_bind_virq: {
        const b = c.mem.read(arg, 12); // virq u32, vcpu u32, OUT port u32
        if (b === null) return -X.XEN_EFAULT;
        const port = this.evtchn.bindVirq(u32(b, 0), u32(b, 4));
        if (port < 0) return port;
        put32(b, 8, port);
        return c.mem.write(arg, b) ? 0 : -X.XEN_EFAULT;
      }
      case X.EVTCHNOP_bind_ipi: {
        const b = c.mem.read(arg, 8); // vcpu u32, OUT port u32
        if (b === null) return -X.XEN_EFAULT;
        const port = this.evtchn.bindIpi(u32(b, 0));
        if (port < 0) return port;
        put32(b, 4, port);
        return c.mem.write(arg, b) ? 0 : -X.XEN_EFAULT;
      }
      default:
        return -X.XEN_ENOSYS;
    }
  }

  /** evtchn_send: interdomain -> the peer (xenstored), IPI -> ourselves, unbound -> dropped, else -EINVAL. */
  private send(port: number, vcpu: number): number {
    const ch = this.evtchn.valid(port) ? this.evtchn.get(port) : undefined;
    if (ch === undefined) return -X.XEN_EINVAL;
    switch (ch.state) {
      case 'interdomain':
        // xenstored reads the ring, answers, and notifies back (it also notifies after consuming).
        if (port === this.storePort && this.xenstore !== null && this.xenstore.notify()) this.raise(port);
        return 0;
      case 'ipi':
        this.raise(port);
        return 0;
      case 'unbound':
        return 0;
      default:
        return -X.XEN_EINVAL;
    }
  }

  // ---- sched_op (common/sched/core.c do_sched_op) --------------------------------------------

  private schedOp(cmd: number, c: XenCall): number {
    switch (cmd) {
      case X.SCHEDOP_yield:
      case X.SCHEDOP_block: // returns at once: an early wake-up, which guests must handle anyway
        return 0;
      case X.SCHEDOP_poll: // likewise returns as if an event had arrived
        return c.mem.read(c.ptrs[1], c.compat ? 16 : 24) === null ? -X.XEN_EFAULT : 0;
      case X.SCHEDOP_shutdown:
      case X.SCHEDOP_shutdown_code: {
        const b = c.mem.read(c.ptrs[1], 4); // struct sched_shutdown { u32 reason; }
        if (b === null) return -X.XEN_EFAULT;
        const reason = b[0]; // (u8)reason, as Xen casts it
        if (cmd === X.SCHEDOP_shutdown_code) {
          if (this.shutdownCode === null) this.shutdownCode = reason;
          return 0;
        }
        this.shutdownReason = reason;
        this.o.onShutdown(reason);
        return 0;
      }
      default:
        return -X.XEN_ENOSYS;
    }
  }
}
