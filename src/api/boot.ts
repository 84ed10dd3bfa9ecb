// Loading a kernel into a VM and setting vCPU 0 to its entry state: the job vmd(8) does
// before the first VMM_IOC_RUN. Shared by `hvsim run`, the benchmarks and the tests.

import type { Machine } from '../machine/machine.js';
import { loadMultiboot, findMultibootHeader, qemuStyleCmdline, defaultE820, LoaderError } from '../loaders/index.js';
import { applyEntryState } from '../machine/cpu/register-state.js';

export interface KernelImage {
  /** The image bytes. */
  bytes: Uint8Array;
  /** The name the guest sees as argv[0] of its command line (QEMU passes the file name). */
  name: string;
  /** The rest of the command line. */
  append?: string;
  /** Multiboot modules (QEMU's -initrd and module list). */
  modules?: { data: Uint8Array; string?: string }[];
}

/** Load a multiboot v1 kernel; throws LoaderError with one clear sentence for a bad image. */
export function bootKernel(m: Machine, k: KernelImage): void {
  if (findMultibootHeader(k.bytes) === null) {
    throw new LoaderError('invalid', 'not a multiboot kernel (no multiboot header in its first 8 KiB; the Linux boot protocol comes later)');
  }
  const res = loadMultiboot(m.mem, k.bytes, {
    cmdline: qemuStyleCmdline(k.name, k.append ?? ''),
    modules: k.modules ?? [],
    e820: defaultE820(m.mem.size),
  });
  applyEntryState(m.cpus[0], res.state);
}
