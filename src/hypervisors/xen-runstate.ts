// Per-vCPU runstate areas (Xen public/vcpu.h VCPUOP_register_runstate_memory_area, struct
// vcpu_runstate_info; common/domain.c update_runstate_area). An HVM guest registers the LINEAR
// address of its copy; Xen keeps no mapping and writes through the vCPU's page tables each time
// it schedules the vCPU, silently skipping the write when the address does not translate.
//
// hvsim's model: a vCPU never waits for a physical CPU, so it is RUNSTATE_running from power-on
// and every update is a scheduling point "now": state 0, state_entry_time = now, time[running] =
// now, the other times 0 (no steal). All times come from the virtual clock (Xen system time, the
// clock vcpu_time_info gives).

import { put32, put64, type XenGuestArgs } from './xen-guest-args.js';

/** vcpu.h RUNSTATE_* */
export const RUNSTATE_running = 0;
/** struct vcpu_runstate_info, x86-64: int state @0, (pad) , u64 state_entry_time @8, u64 time[4] @16. */
export const RUNSTATE_INFO_SIZE = 48;
/** The same struct for a 32-bit guest (u64 aligned to 4 on i386): state @0, entry @4, time @12. */
export const RUNSTATE_INFO_SIZE_COMPAT = 44;
/** xen.h VMASST_TYPE_runstate_update_flag: XEN_RUNSTATE_UPDATE (bit 63 of state_entry_time) during updates. */
export const VMASST_TYPE_runstate_update_flag = 5;

export class XenRunstate {
  /** Per vCPU: the registered linear address, or null (Xen: a null guest handle, nothing written). */
  readonly area: (bigint | null)[];

  constructor(vcpus: number) {
    this.area = new Array<bigint | null>(vcpus).fill(null);
  }

  /** The record "running since power-on, last scheduled at nowNs" in the native or compat layout. */
  static encode(nowNs: number, compat: boolean): Uint8Array {
    const b = new Uint8Array(compat ? RUNSTATE_INFO_SIZE_COMPAT : RUNSTATE_INFO_SIZE);
    const entry = compat ? 4 : 8;
    put32(b, 0, RUNSTATE_running);
    put64(b, entry, nowNs); // bit 63 (XEN_RUNSTATE_UPDATE) clear: the update is complete
    put64(b, entry + 8 + 8 * RUNSTATE_running, nowNs); // time[running]; runnable, blocked, offline stay 0
    return b;
  }

  /**
   * VCPUOP_register_runstate_memory_area: remember the address and write the record through
   * `mem` (the calling vCPU's address space, as Xen does). A failed write is not an error: Xen
   * checks nothing for HVM guests (guest_handle_okay) and ignores the copy's result.
   */
  register(vcpu: number, linear: bigint, nowNs: number, compat: boolean, mem: XenGuestArgs): void {
    this.area[vcpu] = linear;
    mem.write(linear, XenRunstate.encode(nowNs, compat));
  }

  /**
   * update_runstate_area at a scheduling point. The guest never sees a half-written record (the
   * update happens between two instructions), so XEN_RUNSTATE_UPDATE is never left set and the
   * VMASST flag protocol holds whether or not the guest enabled it.
   */
  update(vcpu: number, nowNs: number, compat: boolean, mem: XenGuestArgs): void {
    const a = this.area[vcpu];
    if (a !== null && a !== undefined) mem.write(a, XenRunstate.encode(nowNs, compat));
  }
}
