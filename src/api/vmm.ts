// The VM API, shaped like OpenBSD vmm(4)'s ioctls on /dev/vmm:
//   VMM_IOC_CREATE     -> create()        VMM_IOC_RUN        -> run()
//   VMM_IOC_INFO       -> info()          VMM_IOC_TERM       -> terminate()
//   VMM_IOC_RESETCPU   -> resetcpu()      VMM_IOC_INTR       -> intr()
//   VMM_IOC_READREGS   -> readregs()      VMM_IOC_WRITEREGS  -> writeregs()
//   VMM_IOC_READVMPARAMS -> readvmparams() VMM_IOC_WRITEVMPARAMS -> writevmparams()
// plus readMemory/writeMemory, which vmd(8) gets by mapping guest memory.
//
// Calls that vmm(4) would fail with an errno fail here with a VmmError carrying the same
// errno name (ENOENT for an unknown VM, EINVAL for bad arguments, ENOMEM for too many VMs).

import { Machine, type MachineConfig } from '../machine/machine.js';
import { buildPc, type PcDevices, type PcOptions } from '../machine/pc.js';
import { Platform } from '../machine/platform.js';
import type { PciSlotSpec } from '../machine/pci-platform.js';
import type { SchedConfig } from '../machine/scheduler.js';
import type { VmExit } from '../machine/exit.js';
import { readRegisters, prepareRegisterWrite, RegisterError, type VcpuRegisters, type VcpuRegistersUpdate } from '../machine/cpu/register-state.js';
import { createPersonalities, type PersonalityName } from '../hypervisors/index.js';
import { KvStore } from '../hypervisors/kv-store.js';

export type VmmErrno = 'ENOENT' | 'EINVAL' | 'ENOMEM';

export class VmmError extends Error {
  constructor(
    readonly errno: VmmErrno,
    message: string,
  ) {
    super(`${errno}: ${message}`);
  }
}

export interface VmCreateParams {
  name: string;
  vcpus?: number;
  /** Guest RAM in bytes (one range at guest physical 0). */
  memoryBytes?: number;
  /** Hypervisor personalities in CPUID order (first at 0x40000000). */
  hypervisors?: PersonalityName[];
  /** Unhandled port I/O becomes an exit the caller answers ('exit', the default) or reads all ones ('ignore'). */
  unhandledIo?: 'exit' | 'ignore';
  ignoreUnknownMsrs?: boolean;
  exitOnPause?: boolean;
  /** The PC basic devices (serial, PIC, PIT, RTC, fw_cfg, debug-exit...). */
  pc?: PcOptions;
  tscKHz?: number;
  /** Keys of the information store (`--kv`), readable by the guest through each personality's backend. */
  kv?: { key: string; value: string; readOnly?: boolean }[];
  /** Local APICs may use x2APIC mode (bhyve -x): CPUID.1:ECX[21]. */
  x2apic?: boolean;
  /** How several vCPUs share the clock (runAll): policy, base quantum, seed. */
  sched?: SchedConfig;
  /** Seed of guest-visible randomness (virtio-rnd). */
  seed?: number;
  /** PCI functions (bhyve's -s), in order. */
  pciSlots?: readonly PciSlotSpec[];
  /** Firmware tables: ACPI (-A, default off), MP table (default on, -Y off), SMBIOS UUID (-U), -c topology. */
  firmware?: { acpi?: boolean; mptable?: boolean; uuid?: string | null; topology?: { sockets: number; cores: number; threads: number } };
  /** Replaying a trace: devices take host data from it and touch no host file (disks: stand-ins of these sizes). */
  replay?: { blkSizes: Readonly<Record<string, number>> };
}

/** The devices of a VM whose state the digests cover: the PC basics and the platform. */
export type VmDevices = PcDevices & { platform: Platform };

export interface VcpuInfo {
  id: number;
  state: 'runnable' | 'halted' | 'shutdown';
  instructions: number;
}

export interface VmInfo {
  id: number;
  name: string;
  memoryBytes: number;
  vcpus: VcpuInfo[];
  /** Virtual nanoseconds since power-on. */
  virtualNs: number;
}

/** Paravirtual parameters of a vCPU (vmm(4)'s struct vm_rwvmparams_params). */
export interface VmParams {
  /** Guest physical address of the pvclock structure (0 = not set). */
  pvclockSystemGpa: number;
  /** pvclock version of the structure at that address. */
  pvclockVersion: number;
  /** TSC frequency the guest sees, in kHz. */
  tscKHz: number;
}

interface Vm {
  id: number;
  name: string;
  machine: Machine;
  devices: VmDevices;
  params: VmParams[];
}

const MAX_VMS = 64;
const MAX_NAME = 128; // as `hvsim run` accepts

export class Vmm {
  private readonly vms = new Map<number, Vm>();
  private nextId = 1;

  create(p: VmCreateParams): number {
    if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > MAX_NAME) throw new VmmError('EINVAL', `name must be 1-${MAX_NAME} characters`);
    for (const vm of this.vms.values()) if (vm.name === p.name) throw new VmmError('EINVAL', `a VM named ${p.name} exists`);
    if (this.vms.size >= MAX_VMS) throw new VmmError('ENOMEM', 'too many VMs');
    const vcpus = p.vcpus ?? 1;
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 16) throw new VmmError('EINVAL', 'vcpus must be 1-16');
    const memoryBytes = p.memoryBytes ?? 256 * 1024 * 1024;
    if (!Number.isInteger(memoryBytes) || memoryBytes < 1024 * 1024 || memoryBytes % 4096 !== 0 || memoryBytes > 0xe000_0000) {
      throw new VmmError('EINVAL', 'memory must be a multiple of 4 KiB between 1 MiB and 3.5 GiB');
    }
    const tscKHz = p.tscKHz ?? 2_000_000;
    if (!Number.isInteger(tscKHz) || tscKHz < 1000 || tscKHz > 100_000_000) throw new VmmError('EINVAL', 'tscKHz must be 1000-100000000');
    let personalities;
    try {
      personalities = createPersonalities(p.hypervisors ?? [], { tscKHz, vcpus });
    } catch (e) {
      throw new VmmError('EINVAL', (e as Error).message);
    }
    const cfg: MachineConfig = {
      memoryBytes, vcpus, unhandledIo: p.unhandledIo ?? 'exit', ignoreUnknownMsrs: p.ignoreUnknownMsrs ?? false,
      exitOnPause: p.exitOnPause ?? false, personalities, clock: { nsPerInsn: 1, tscKHz },
      kv: new KvStore(p.kv ?? []), bootTime: p.pc?.rtcTime, x2apic: p.x2apic ?? false, sched: p.sched,
    };
    let machine: Machine;
    try {
      machine = new Machine(cfg);
    } catch (e) {
      if (e instanceof RangeError) throw new VmmError('EINVAL', e.message);
      throw e;
    }
    const fw = p.firmware ?? {};
    const platform = new Platform(machine, {
      vmname: p.name, seed: p.seed ?? 0, x2apic: p.x2apic ?? false, pciSlots: p.pciSlots,
      acpiTables: fw.acpi ?? false, mptable: fw.mptable ?? true, uuid: fw.uuid ?? null, topology: fw.topology, replay: p.replay,
    });
    const devices: VmDevices = { ...buildPc(machine, { ...p.pc, gsi: (g, level) => platform.gsi(g, level) }), platform };
    platform.connect(devices);
    const id = this.nextId++;
    const params = machine.cpus.map(() => ({ pvclockSystemGpa: 0, pvclockVersion: 0, tscKHz }));
    this.vms.set(id, { id, name: p.name, machine, devices, params });
    return id;
  }

  private vm(id: number): Vm {
    const vm = this.vms.get(id);
    if (vm === undefined) throw new VmmError('ENOENT', `no VM with id ${id}`);
    return vm;
  }

  private vcpu(vm: Vm, vcpu: number): number {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= vm.machine.cpus.length) throw new VmmError('EINVAL', `no vCPU ${vcpu} in VM ${vm.id}`);
    return vcpu;
  }

  /** The machine behind a VM (for loaders, devices and tests; not part of vmm(4)). */
  machine(id: number): Machine {
    return this.vm(id).machine;
  }

  devices(id: number): VmDevices {
    return this.vm(id).devices;
  }

  /**
   * Run a vCPU until its next exit or `maxInsns` instructions. An I/O exit the caller must
   * answer (an IN from an unhandled port) is answered by setting `value` on the returned
   * record before the next run() of that VM.
   */
  run(id: number, vcpu: number, opts: { maxInsns?: number } = {}): VmExit {
    const vm = this.vm(id);
    this.vcpu(vm, vcpu);
    const max = opts.maxInsns ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(max) || max <= 0) throw new VmmError('EINVAL', 'maxInsns must be a positive integer');
    return vm.machine.run(vcpu, max);
  }

  /**
   * Run every vCPU of a VM under its deterministic scheduler (hvsim's own call: vmm(4) runs one
   * vCPU per thread, which a deterministic machine cannot). Returns the exit and its vCPU.
   */
  runAll(id: number, opts: { maxInsns?: number } = {}): { vcpu: number; exit: VmExit } {
    const vm = this.vm(id);
    const max = opts.maxInsns ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(max) || max <= 0) throw new VmmError('EINVAL', 'maxInsns must be a positive integer');
    const exit = vm.machine.runAll(max);
    return { vcpu: vm.machine.lastVcpu, exit };
  }

  info(): VmInfo[] {
    const out: VmInfo[] = [];
    for (const vm of this.vms.values()) {
      out.push({
        id: vm.id,
        name: vm.name,
        memoryBytes: vm.machine.mem.size,
        virtualNs: vm.machine.clock.nowNs(),
        vcpus: vm.machine.cpus.map((c) => ({
          id: c.id,
          state: c.shutdown ? 'shutdown' : c.halted ? 'halted' : 'runnable',
          instructions: c.insns,
        })),
      });
    }
    return out;
  }

  terminate(id: number): void {
    this.vm(id);
    this.vms.delete(id);
  }

  /** Reset a vCPU to its power-on state, or to the given registers on top of it. */
  resetcpu(id: number, vcpu: number, regs?: VcpuRegistersUpdate): void {
    const vm = this.vm(id);
    const c = vm.machine.cpus[this.vcpu(vm, vcpu)];
    const apply = regs === undefined ? null : this.checkRegs(() => prepareRegisterWrite(c, regs));
    c.resetState();
    apply?.();
    vm.machine.discardPending(vcpu);
    vm.machine.startVcpu(vcpu); // the caller set it up: it no longer waits for a StartUp IPI
  }

  /** Inject an external interrupt `vector` (delivered when the vCPU's RFLAGS.IF allows). */
  intr(id: number, vcpu: number, vector: number): void {
    const vm = this.vm(id);
    this.vcpu(vm, vcpu);
    if (!Number.isInteger(vector) || vector < 16 || vector > 255) throw new VmmError('EINVAL', 'vector must be 16-255');
    vm.machine.injectInterrupt(vcpu, vector);
  }

  readregs(id: number, vcpu: number): VcpuRegisters {
    const vm = this.vm(id);
    return readRegisters(vm.machine.cpus[this.vcpu(vm, vcpu)]);
  }

  writeregs(id: number, vcpu: number, regs: VcpuRegistersUpdate): void {
    const vm = this.vm(id);
    const c = vm.machine.cpus[this.vcpu(vm, vcpu)];
    this.checkRegs(() => prepareRegisterWrite(c, regs))();
    vm.machine.discardPending(vcpu);
    vm.machine.startVcpu(vcpu);
  }

  readvmparams(id: number, vcpu: number): VmParams {
    const vm = this.vm(id);
    return { ...vm.params[this.vcpu(vm, vcpu)] };
  }

  writevmparams(id: number, vcpu: number, p: Partial<VmParams>): void {
    const vm = this.vm(id);
    const cur = vm.params[this.vcpu(vm, vcpu)];
    if (p.pvclockSystemGpa !== undefined) {
      const gpa = p.pvclockSystemGpa;
      if (!Number.isInteger(gpa) || gpa < 0 || (gpa !== 0 && !vm.machine.mem.isRam(gpa, 32))) throw new VmmError('EINVAL', 'pvclockSystemGpa must be 0 or a RAM address with 32 bytes after it');
    }
    if (p.pvclockVersion !== undefined && (!Number.isInteger(p.pvclockVersion) || p.pvclockVersion < 0 || p.pvclockVersion > 0xffffffff)) {
      throw new VmmError('EINVAL', 'pvclockVersion must be a 32-bit unsigned integer');
    }
    if (p.tscKHz !== undefined) {
      if (!Number.isInteger(p.tscKHz) || p.tscKHz < 1000 || p.tscKHz > 100_000_000) throw new VmmError('EINVAL', 'tscKHz must be 1000-100000000');
      vm.machine.setTscKHz(p.tscKHz);
      for (const q of vm.params) q.tscKHz = p.tscKHz;
    }
    if (p.pvclockSystemGpa !== undefined) cur.pvclockSystemGpa = p.pvclockSystemGpa;
    if (p.pvclockVersion !== undefined) cur.pvclockVersion = p.pvclockVersion;
  }

  readMemory(id: number, gpa: number, length: number): Uint8Array {
    const vm = this.vm(id);
    const bytes = vm.machine.mem.readBytes(gpa, length);
    if (bytes === null) throw new VmmError('EINVAL', `[0x${gpa.toString(16)}, +${length}) is not guest RAM`);
    return bytes;
  }

  writeMemory(id: number, gpa: number, data: Uint8Array): void {
    const vm = this.vm(id);
    if (!vm.machine.mem.writeBytes(gpa, data)) throw new VmmError('EINVAL', `[0x${gpa.toString(16)}, +${data.length}) is not guest RAM`);
  }

  private checkRegs(f: () => () => void): () => void {
    try {
      return f();
    } catch (e) {
      if (e instanceof RegisterError) throw new VmmError('EINVAL', e.message);
      throw e;
    }
  }
}
