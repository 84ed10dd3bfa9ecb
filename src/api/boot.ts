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

/** Second place for the multiboot information block when the kernel covers the first. */
const LOW_INFO_ADDRESS = 0x1000;

/** Load a multiboot v1 kernel; throws LoaderError with one clear sentence for a bad image. */
export function bootKernel(m: Machine, k: KernelImage): void {
  if (findMultibootHeader(k.bytes) === null) {
    throw new LoaderError('invalid', 'not a multiboot kernel (no multiboot header in its first 8 KiB; the Linux boot protocol comes later)');
  }
  const options = {
    cmdline: qemuStyleCmdline(k.name, k.append ?? ''),
    modules: k.modules ?? [],
    e820: defaultE820(m.mem.size),
  };
  let res;
  try {
    res = loadMultiboot(m.mem, k.bytes, options);
  } catch (e) {
    // The information block goes below 640 KiB at 0x9000; a kernel loaded over that spot
    // (kvm-unit-tests' realmode test is) gets it at 0x1000 instead. The loader checks
    // everything before writing anything, so a refused attempt left RAM untouched.
    if (!(e instanceof LoaderError) || e.code !== 'overlap') throw e;
    res = loadMultiboot(m.mem, k.bytes, { ...options, infoAddress: LOW_INFO_ADDRESS });
  }
  applyEntryState(m.cpus[0], res.state);
}
