// A run of one VM from a machine setup and its images: what `hvsim run` does, what
// `hvsim replay` re-does from a trace's header, and what tests and benchmarks call.
//
// Recording and replaying depend on both sides driving the machine the same way: the same
// setup, the same images, the same slices and digest points. Slices do not change what the
// guest sees (a run stops at exact instruction boundaries and resumes invisibly), but digest
// points must line up, so they sit at fixed multiples of virtual time.

import { Vmm } from './vmm.js';
import { bootKernel } from './boot.js';
import type { Machine } from '../machine/machine.js';
import type { VmDevices } from './vmm.js';
import type { ByteSink } from '../devices/device.js';
import { ExitKind, type VmExit } from '../machine/exit.js';
import { digestParts, hashString } from '../machine/digest.js';
import type { PersonalityName } from '../hypervisors/index.js';
import { scheduleMigration, type MigrationPlan } from '../machine/migration.js';
import { DEFAULT_QUANTUM, type SchedPolicyName } from '../machine/scheduler.js';
import type { PciSlotSpec } from '../machine/pci-platform.js';

/** The parts of a run configuration that shape the machine (`hvsim run`'s RunConfig has them all). */
export interface MachineSetup {
  vmname: string;
  vcpus: number;
  memoryBytes: number;
  hypervisors: readonly string[];
  strictIo: boolean;
  ignoreUnknownMsrs: boolean;
  exitOnPause: boolean;
  rtcTime: number;
  append: string;
  kv: readonly { key: string; value: string; readOnly?: boolean }[];
  /** Simulated migrations (pause and/or TSC frequency change at a virtual time). */
  migrations?: readonly MigrationPlan[];
  // Fields added after the first traces were recorded are optional: an older header lacks them
  // and gets the defaults, which are what those runs had.
  /** Seed of guest-visible randomness (random scheduler, virtio-rnd); default 0. */
  seed?: number;
  /** Scheduler policy and base quantum for several vCPUs; default round-robin, DEFAULT_QUANTUM. */
  sched?: SchedPolicyName;
  quantum?: number;
  /** Local APICs may use x2APIC mode (-x). */
  x2apic?: boolean;
  /** PCI functions (-s), in order. */
  pciSlots?: readonly PciSlotSpec[];
  /** -A, -Y (mptable false), -U, and the -c topology. */
  acpiTables?: boolean;
  mptable?: boolean;
  uuid?: string | null;
  sockets?: number;
  cores?: number;
  threads?: number;
  /** Set by replay: each virtio-blk disk's recorded size; devices then touch no host file. */
  blkSizes?: Readonly<Record<string, number>>;
}

export interface SessionImages {
  kernel: Uint8Array;
  /** argv[0] of the guest's command line (QEMU passes the file name). */
  kernelName: string;
  modules: { data: Uint8Array; string?: string }[];
}

export interface Session {
  vmm: Vmm;
  id: number;
  machine: Machine;
  devices: VmDevices;
}

/** Build the VM and load its kernel. Throws VmmError (bad setup) or LoaderError (bad image). */
export function createSession(setup: MachineSetup, images: SessionImages, sinks: { com1?: ByteSink; com2?: ByteSink }): Session {
  const vmm = new Vmm();
  const id = vmm.create({
    name: setup.vmname,
    vcpus: setup.vcpus,
    memoryBytes: setup.memoryBytes,
    hypervisors: setup.hypervisors as PersonalityName[],
    unhandledIo: setup.strictIo ? 'exit' : 'ignore',
    ignoreUnknownMsrs: setup.ignoreUnknownMsrs,
    exitOnPause: setup.exitOnPause,
    kv: setup.kv.map((k) => ({ ...k })),
    pc: { ...sinks, rtcTime: setup.rtcTime, cmdline: setup.append },
    x2apic: setup.x2apic ?? false,
    pciSlots: setup.pciSlots ?? [],
    replay: setup.blkSizes === undefined ? undefined : { blkSizes: setup.blkSizes },
    firmware: {
      acpi: setup.acpiTables ?? false,
      mptable: setup.mptable ?? true,
      uuid: setup.uuid ?? null,
      topology: setup.sockets === undefined ? undefined : { sockets: setup.sockets, cores: setup.cores ?? 1, threads: setup.threads ?? 1 },
    },
    seed: setup.seed ?? 0,
    sched: { policy: setup.sched ?? 'round-robin', quantum: setup.quantum ?? DEFAULT_QUANTUM, seed: setup.seed ?? 0 },
  });
  const machine = vmm.machine(id);
  bootKernel(machine, { bytes: images.kernel, name: images.kernelName, append: setup.append, modules: images.modules });
  for (const plan of setup.migrations ?? []) scheduleMigration(machine, plan);
  return { vmm, id, machine, devices: vmm.devices(id) };
}

/** Instructions per slice between returns to the driver (progress, stop requests). */
export const SLICE = 50_000_000;

export interface DriveOptions {
  /** Stop after this much virtual time (instructions, idle time included); default none. */
  maxInsns?: number | null;
  /** Take a state digest every this many instructions of virtual time (0: never). */
  digestEvery?: number;
  onDigest?(icount: number, digest: StateDigest): void;
  /** Called between slices (a progress bar). */
  onSlice?(icount: number): void;
}

export interface StateDigest {
  /** The whole state, 8 bytes. */
  hash: Uint8Array;
  /** Each part: cpu0.., ram, clock, pending, devices. */
  parts: { name: string; hash: Uint8Array }[];
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The state digest of a session, split in parts so a mismatch can say what differs. */
export function sessionDigest(s: Session): StateDigest {
  const p = digestParts(s.machine, s.devices);
  const parts: [string, string][] = [...p.cpus.map((h, i): [string, string] => [`cpu${i}`, h]), ['ram', p.ram], ['clock', p.clock], ['pending', p.pending], ['devices', p.devices]];
  return {
    hash: hexBytes(hashString(parts.map(([n, h]) => `${n}:${h}`).join(';'))),
    parts: parts.map(([name, h]) => ({ name, hash: hexBytes(h) })),
  };
}

/**
 * Run the vCPUs (under the machine's scheduler) until an exit that ends the run (anything but an instruction limit short of
 * maxInsns), taking digests on the way. Deterministic: the same session and options give the
 * same exits at the same icounts and the same digests.
 */
export function driveSession(s: Session, o: DriveOptions = {}): VmExit {
  const m = s.machine;
  const limit = o.maxInsns ?? Infinity;
  const every = o.digestEvery ?? 0;
  let nextDigest = every > 0 ? every : Infinity;
  for (;;) {
    const now = m.clock.icount;
    const stopAt = Math.min(limit, nextDigest, now + SLICE);
    const { exit } = s.vmm.runAll(s.id, { maxInsns: Math.max(1, stopAt - now) });
    if (exit.kind !== ExitKind.Limit) return exit;
    const t = m.clock.icount;
    if (t >= nextDigest) {
      o.onDigest?.(m.cpus[0].insns, sessionDigest(s));
      nextDigest += every;
    }
    if (t >= limit) return exit;
    o.onSlice?.(t);
  }
}
