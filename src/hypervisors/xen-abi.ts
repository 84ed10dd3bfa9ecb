// Numbers of Xen's guest ABI that the HVM personality answers (spec digest §5; Xen's public
// headers xen.h, version.h, features.h, memory.h, hvm/hvm_op.h, hvm/params.h, vcpu.h, sched.h,
// event_channel.h, errno.h). Only values: the behaviour lives in xen-*.ts.

/** Xen errno values (public/errno.h: the Linux numbers). Hypercalls return them negated. */
export const XEN_EPERM = 1;
export const XEN_ENOENT = 2;
export const XEN_ESRCH = 3;
export const XEN_ENXIO = 6;
export const XEN_EACCES = 13;
export const XEN_EFAULT = 14;
export const XEN_EBUSY = 16;
export const XEN_EEXIST = 17;
export const XEN_EINVAL = 22;
export const XEN_ENOSPC = 28;
export const XEN_ENOSYS = 38;

/** Hypercall numbers (xen.h, §5.1). */
export const HYPERVISOR_memory_op = 12;
export const HYPERVISOR_xen_version = 17;
export const HYPERVISOR_vm_assist = 21;
export const HYPERVISOR_iret = 23;
export const HYPERVISOR_vcpu_op = 24;
export const HYPERVISOR_sched_op = 29;
export const HYPERVISOR_event_channel_op = 32;
export const HYPERVISOR_hvm_op = 34;

/** xen_version sub-ops (version.h, §5.1). */
export const XENVER_version = 0;
export const XENVER_extraversion = 1;
export const XENVER_compile_info = 2;
export const XENVER_capabilities = 3;
export const XENVER_changeset = 4;
export const XENVER_platform_parameters = 5;
export const XENVER_get_features = 6;
export const XENVER_pagesize = 7;
export const XENVER_guest_handle = 8;
export const XENVER_commandline = 9;
export const XENVER_build_id = 10;
export const XENVER_commandline2 = 14;

/** XENFEAT bit numbers (features.h, §5.1). */
export const XENFEAT_writable_page_tables = 0;
export const XENFEAT_auto_translated_physmap = 2;
export const XENFEAT_hvm_callback_vector = 8;
export const XENFEAT_hvm_safe_pvclock = 9;
export const XENFEAT_memory_op_vnode_supported = 13;
export const XENFEAT_not_direct_mapped = 16;
export const XENFEAT_runstate_phys_area = 18;
export const XENFEAT_vcpu_time_phys_area = 19;
export const XENFEAT_dm_msix_all_writes = 20;

/** memory_op (memory.h): the command is in bits 5:0 of the first argument, a start extent above. */
export const MEMOP_CMD_MASK = 0x3f;
export const MEMOP_EXTENT_SHIFT = 6;
export const XENMEM_add_to_physmap = 7;
export const XENMAPSPACE_shared_info = 0;
export const XENMAPSPACE_gmfn_foreign = 4;
export const DOMID_SELF = 0x7ff0;

/** hvm_op (hvm/hvm_op.h) and the parameters a guest may touch (hvm/params.h). */
export const HVMOP_set_param = 0;
export const HVMOP_get_param = 1;
export const HVMOP_set_evtchn_upcall_vector = 23;
export const HVM_PARAM_CALLBACK_IRQ = 0;
export const HVM_PARAM_STORE_PFN = 1;
export const HVM_PARAM_STORE_EVTCHN = 2;
export const HVM_PARAM_CONSOLE_PFN = 17;
export const HVM_PARAM_CONSOLE_EVTCHN = 18;
export const HVM_NR_PARAMS = 39;
/** CALLBACK_IRQ bits 63:56 = 2: a vector in bits 7:0 (params.h). */
export const HVM_PARAM_CALLBACK_TYPE_VECTOR = 2;

/** vcpu_op (vcpu.h): (cmd, vcpuid, arg). */
export const VCPUOP_is_up = 3;
export const VCPUOP_register_runstate_memory_area = 5;
export const VCPUOP_stop_periodic_timer = 7;
export const VCPUOP_set_singleshot_timer = 8;
export const VCPUOP_stop_singleshot_timer = 9;
export const VCPUOP_register_vcpu_info = 10;

/** sched_op (sched.h). */
export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_shutdown = 2;
export const SCHEDOP_poll = 3;
export const SCHEDOP_shutdown_code = 5;
export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;
export const SHUTDOWN_soft_reset = 5;

/** event_channel_op (event_channel.h, §5.4). */
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_status = 5;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_bind_ipi = 7;
export const EVTCHNOP_unmask = 9;
export const EVTCHNSTAT_closed = 0;
export const EVTCHNSTAT_unbound = 1;
export const EVTCHNSTAT_interdomain = 2;
export const EVTCHNSTAT_virq = 4;
export const EVTCHNSTAT_ipi = 5;
/** VIRQ numbers (xen.h): NR_VIRQS slots; the per-vCPU ones may be bound on any vCPU. */
export const NR_VIRQS = 24;
export const VIRQ_TIMER = 0;
/** Per-vCPU VIRQs (xen.h "V."): TIMER 0, DEBUG 1, XENOPROF 7, XENPMU 13. The others are global ("G."/"D."). */
export const VIRQS_PER_VCPU: readonly number[] = [0, 1, 7, 13];

/** libxl's special pages for HVM guests (libxenguest xg_dom_x86.c, xenguest.h): 8 pages ending at 0xff000. */
export const X86_HVM_END_SPECIAL_REGION = 0xff000;
export const X86_HVM_NR_SPECIAL_PAGES = 8;
export const SPECIALPAGE_XENSTORE = 4;
/** The xenstore ring's GPFN as libxl gives it: 0xfeffc. */
export const XENSTORE_SPECIAL_PFN = X86_HVM_END_SPECIAL_REGION - X86_HVM_NR_SPECIAL_PAGES + SPECIALPAGE_XENSTORE;
