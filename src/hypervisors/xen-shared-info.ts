// The shared_info page and the per-vCPU vcpu_info (spec digest §5.2, §3.9; Xen public xen.h):
// where they are, their two layouts, the time fields with Xen's version protocol, and the
// 2-level event-channel bits.
//
// Until the guest maps shared_info (XENMEM_add_to_physmap) it lives in a page of ours; once
// mapped, the guest RAM frame IS the page (the guest writes masks and clears pending bits there
// and we read them back), and a later remap carries the contents along, as Xen moves its page.
//
// Layout: Xen latches a 64-bit or 32-bit ("compat") shared_info when the guest writes the
// hypercall-page MSR or sets HVM_PARAM_CALLBACK_IRQ (hvm.c hvm_latch_shinfo_size). vcpu_info is
// 64 bytes in both with the time at +32; the event words are 64-bit (64 x 8 bytes from 2048) or
// 32-bit (32 x 4 bytes), which moves the wall clock: 3072 native, 2304 compat.

import type { GuestMemory } from '../machine/memory.js';
import { encodePvclockVcpuTimeInfo, PVCLOCK_VCPU_TIME_INFO_SIZE, type PvclockVcpuTimeInfo } from './pvclock.js';

export const SHARED_INFO_SIZE = 4096;
export const VCPU_INFO_SIZE = 64;
/** XEN_LEGACY_MAX_VCPUS: vCPUs 0..31 have a vcpu_info inside shared_info (§5.2). */
export const XEN_LEGACY_MAX_VCPUS = 32;
/** vcpu_info: evtchn_upcall_pending u8 @0; evtchn_pending_sel @8 native, @4 compat; time @32. */
export const VCPU_INFO_TIME = 32;
const EVTCHN_PENDING = 2048;

/** Offsets that differ between the native (x86_64) and compat (x86_32) shared_info. */
export interface SharedInfoLayout {
  compat: boolean;
  pendingSel: number;
  evtchnMask: number;
  wcVersion: number;
  wcSec: number;
  wcNsec: number;
  wcSecHi: number;
  /** Event-channel ports of the 2-level ABI: 64 words of 64 bits, or 32 of 32. */
  maxPorts: number;
  bitsPerWord: number;
}

export const NATIVE_LAYOUT: SharedInfoLayout = {
  compat: false, pendingSel: 8, evtchnMask: 2560, wcVersion: 3072, wcSec: 3076, wcNsec: 3080, wcSecHi: 3084, maxPorts: 4096, bitsPerWord: 64,
};
/** Compat: arch_shared_info (6 x u32 from 2316) ends with wc_sec_hi at 2340. */
export const COMPAT_LAYOUT: SharedInfoLayout = {
  compat: true, pendingSel: 4, evtchnMask: 2176, wcVersion: 2304, wcSec: 2308, wcNsec: 2312, wcSecHi: 2340, maxPorts: 1024, bitsPerWord: 32,
};

/** Xen's version_update_begin / _end (xen/time.h): (v + 1) | 1, then + 1. u32 wrap. */
export function xenVersionBegin(v: number): number {
  return ((v + 1) | 1) >>> 0;
}
export function xenVersionEnd(v: number): number {
  return (v + 1) >>> 0;
}

/** A 4 KiB page either in guest RAM (at gpa) or in our own buffer. */
class Page {
  gpa: number | null = null;
  constructor(private readonly mem: GuestMemory, private readonly own = new Uint8Array(SHARED_INFO_SIZE)) {}
  contents(): Uint8Array {
    return this.gpa === null ? this.own.slice() : (this.mem.readBytes(this.gpa, SHARED_INFO_SIZE) ?? new Uint8Array(SHARED_INFO_SIZE));
  }
  read8(off: number): number {
    return this.gpa === null ? this.own[off] : (this.mem.read8(this.gpa + off) ?? 0);
  }
  write8(off: number, v: number): void {
    if (this.gpa === null) this.own[off] = v & 0xff;
    else this.mem.write8(this.gpa + off, v & 0xff);
  }
  read32(off: number): number {
    if (this.gpa !== null) return this.mem.read32(this.gpa + off) ?? 0;
    return (this.own[off] | (this.own[off + 1] << 8) | (this.own[off + 2] << 16) | (this.own[off + 3] << 24)) >>> 0;
  }
  write32(off: number, v: number): void {
    if (this.gpa !== null) this.mem.write32(this.gpa + off, v);
    else for (let i = 0; i < 4; i++) this.own[off + i] = (v >>> (8 * i)) & 0xff;
  }
  writeBytes(off: number, b: Uint8Array): void {
    if (this.gpa !== null) this.mem.writeBytes(this.gpa + off, b);
    else this.own.set(b, off);
  }
}

/** Where one vCPU's vcpu_info is: inside shared_info, or a registered guest address. */
interface VcpuInfoAt {
  inShared: boolean;
  /** Offset in shared_info, or guest-physical address. */
  addr: number;
}

export class XenSharedInfo {
  /** Native until latched otherwise (Xen's has_32bit_shinfo starts false). */
  layout: SharedInfoLayout = NATIVE_LAYOUT;
  private readonly page: Page;
  /** Per vCPU: a vcpu_info registered with VCPUOP_register_vcpu_info (guest-physical), or null. */
  readonly registered: (number | null)[];

  constructor(private readonly mem: GuestMemory, vcpus: number) {
    this.page = new Page(mem);
    this.registered = new Array<number | null>(vcpus).fill(null);
  }

  get gpa(): number | null {
    return this.page.gpa;
  }

  /** Map the page at a RAM frame (XENMEM_add_to_physmap); false if the frame is not RAM. */
  mapAt(gpa: number): boolean {
    if (!this.mem.isRam(gpa, SHARED_INFO_SIZE)) return false;
    const now = this.page.contents();
    this.page.gpa = gpa;
    this.page.writeBytes(0, now);
    return true;
  }

  /** A copy of the page as the guest would read it now (tests, digests). */
  contents(): Uint8Array {
    return this.page.contents();
  }

  private vcpuInfo(vcpu: number): VcpuInfoAt | null {
    const r = this.registered[vcpu];
    if (r !== null && r !== undefined) return { inShared: false, addr: r };
    if (vcpu < XEN_LEGACY_MAX_VCPUS) return { inShared: true, addr: vcpu * VCPU_INFO_SIZE };
    return null;
  }

  private viRead8(at: VcpuInfoAt, off: number): number {
    return at.inShared ? this.page.read8(at.addr + off) : (this.mem.read8(at.addr + off) ?? 0);
  }
  private viWrite8(at: VcpuInfoAt, off: number, v: number): void {
    if (at.inShared) this.page.write8(at.addr + off, v);
    else this.mem.write8(at.addr + off, v);
  }
  private viRead32(at: VcpuInfoAt, off: number): number {
    return at.inShared ? this.page.read32(at.addr + off) : (this.mem.read32(at.addr + off) ?? 0);
  }
  private viWrite32(at: VcpuInfoAt, off: number, v: number): void {
    if (at.inShared) this.page.write32(at.addr + off, v);
    else this.mem.write32(at.addr + off, v);
  }

  /**
   * VCPUOP_register_vcpu_info's effect (common/domain.c map_guest_area, vcpu_info_populate): the
   * new area gets a copy of the current vcpu_info, every selector bit and upcall_pending are set
   * ("mark everything pending ... the domain will get a spurious event"). True when upcall_pending
   * went 0 -> 1 (the caller kicks the vCPU); the caller also rewrites the time.
   */
  registerVcpuInfo(vcpu: number, gpa: number): boolean {
    const old = this.vcpuInfo(vcpu);
    const copy = new Uint8Array(VCPU_INFO_SIZE);
    if (old !== null) for (let i = 0; i < VCPU_INFO_SIZE; i++) copy[i] = this.viRead8(old, i);
    this.mem.writeBytes(gpa, copy);
    this.registered[vcpu] = gpa;
    const at = this.vcpuInfo(vcpu)!;
    const selBytes = this.layout.compat ? 4 : 8;
    for (let i = 0; i < selBytes; i++) this.viWrite8(at, this.layout.pendingSel + i, 0xff);
    if (this.viRead8(at, 0) !== 0) return false;
    this.viWrite8(at, 0, 1);
    return true;
  }

  /** Write a vCPU's vcpu_time_info by Xen's protocol (time.c __update_vcpu_system_time). */
  writeTime(vcpu: number, t: Omit<PvclockVcpuTimeInfo, 'version'>): void {
    const at = this.vcpuInfo(vcpu);
    if (at === null) return;
    const begin = xenVersionBegin(this.viRead32(at, VCPU_INFO_TIME));
    this.viWrite32(at, VCPU_INFO_TIME, begin);
    const b = encodePvclockVcpuTimeInfo({ ...t, version: begin });
    // Fields after the version first, the final version last (the guest retries on odd/changed).
    for (let i = 4; i < PVCLOCK_VCPU_TIME_INFO_SIZE; i++) this.viWrite8(at, VCPU_INFO_TIME + i, b[i]);
    this.viWrite32(at, VCPU_INFO_TIME, xenVersionEnd(begin));
  }

  /** The wall clock at system_time 0 (common/time.c update_domain_wallclock_time). */
  writeWallClock(sec: number, nsec: number): void {
    const L = this.layout;
    const begin = xenVersionBegin(this.page.read32(L.wcVersion));
    this.page.write32(L.wcVersion, begin);
    this.page.write32(L.wcSec, sec % 4294967296);
    this.page.write32(L.wcNsec, nsec);
    this.page.write32(L.wcSecHi, Math.floor(sec / 4294967296));
    this.page.write32(L.wcVersion, xenVersionEnd(begin));
  }

  private bit(off: number, n: number): boolean {
    return (this.page.read8(off + (n >>> 3)) & (1 << (n & 7))) !== 0;
  }
  private setBit(off: number, n: number, on: boolean): void {
    const o = off + (n >>> 3);
    const v = this.page.read8(o);
    this.page.write8(o, on ? v | (1 << (n & 7)) : v & ~(1 << (n & 7)));
  }

  isPending(port: number): boolean {
    return this.bit(EVTCHN_PENDING, port);
  }
  isMasked(port: number): boolean {
    return this.bit(this.layout.evtchnMask, port);
  }

  /**
   * 2-level delivery (§5.4; event_2l.c evtchn_2l_set_pending): set the port's pending bit; if it
   * was clear and the port is unmasked, set the selector bit and upcall_pending. True when the
   * vCPU must be kicked (upcall_pending went 0 -> 1).
   */
  setPending(port: number, vcpu: number): boolean {
    if (this.isPending(port)) return false;
    this.setBit(EVTCHN_PENDING, port, true);
    if (this.isMasked(port)) return false;
    return this.markSelector(port, vcpu);
  }

  /** EVTCHNOP_unmask (evtchn_2l_unmask): clear a set mask; a pending port then raises the upcall. */
  unmask(port: number, vcpu: number): boolean {
    if (!this.isMasked(port)) return false;
    this.setBit(this.layout.evtchnMask, port, false);
    return this.isPending(port) ? this.markSelector(port, vcpu) : false;
  }

  /** vcpu_info.evtchn_upcall_pending of a vCPU (false when its vcpu_info is nowhere yet). */
  upcallPending(vcpu: number): boolean {
    const at = this.vcpuInfo(vcpu);
    return at !== null && this.viRead8(at, 0) !== 0;
  }

  private markSelector(port: number, vcpu: number): boolean {
    const at = this.vcpuInfo(vcpu);
    if (at === null) return false;
    const word = Math.floor(port / this.layout.bitsPerWord);
    const selOff = this.layout.pendingSel + (word >>> 3);
    const sel = this.viRead8(at, selOff);
    const mask = 1 << (word & 7);
    if ((sel & mask) !== 0) return false;
    this.viWrite8(at, selOff, sel | mask);
    if (this.viRead8(at, 0) !== 0) return false;
    this.viWrite8(at, 0, 1);
    return true;
  }
}
