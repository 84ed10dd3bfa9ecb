// Loading a kernel into a VM and setting vCPU 0 to its entry state: the job vmd(8) does
// before the first VMM_IOC_RUN. Shared by `hvsim run`, the benchmarks and the tests.

import type { Machine } from '../machine/machine.js';
import { loadMultiboot, findMultibootHeader, qemuStyleCmdline, defaultE820, LoaderError, isBzImage, loadBzImage } from '../loaders/index.js';
import { applyEntryState } from '../machine/cpu/register-state.js';
import type { GuestMemory } from '../machine/memory.js';

export interface KernelImage {
  /** The image bytes. */
  bytes: Uint8Array;
  /** The name the guest sees as argv[0] of its command line (QEMU passes the file name). */
  name: string;
  /** The rest of the command line. */
  append?: string;
  /** Multiboot modules (QEMU's -initrd and module list); for a bzImage, the initrd (several are concatenated). */
  modules?: { data: Uint8Array; string?: string }[];
  /** The ACPI RSDP the platform wrote (a bzImage gets it in acpi_rsdp_addr); when left out,
   *  the BIOS area is searched for it as an OS would. */
  acpiRsdp?: number | null;
}

/** Second place for the multiboot information block when the kernel covers the first. */
const LOW_INFO_ADDRESS = 0x1000;

/** Load a Linux bzImage or a multiboot v1 kernel; throws LoaderError with one clear sentence for a bad image. */
export function bootKernel(m: Machine, k: KernelImage): void {
  if (isBzImage(k.bytes)) {
    bootLinux(m, k);
    return;
  }
  if (findMultibootHeader(k.bytes) === null) {
    throw new LoaderError('invalid', 'neither a Linux bzImage nor a multiboot kernel (no multiboot header in its first 8 KiB)');
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

/** The e820 map for Linux: the PC map plus any MMIO window that cuts into RAM. */
function linuxE820(mem: GuestMemory): ReturnType<typeof defaultE820> {
  const inRam = mem.mmio.filter((r) => r.base < mem.size).map((r) => ({ base: r.base, length: r.length }));
  return defaultE820(mem.size, inRam);
}

/** Each initrd padded to 4 bytes and concatenated (the kernel unpacks concatenated cpio archives). */
function concatInitrds(modules: readonly { data: Uint8Array }[]): Uint8Array | null {
  if (modules.length === 0) return null;
  if (modules.length === 1) return modules[0].data;
  const total = modules.reduce((n, x) => n + ((x.data.length + 3) & ~3), 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const x of modules) {
    out.set(x.data, at);
    at += (x.data.length + 3) & ~3;
  }
  return out;
}

/** ACPI 6.5 5.2.5.1: on IA-PC systems the RSDP is on a 16-byte boundary in 0xe0000-0xfffff,
 *  signature "RSD PTR " with the first 20 bytes summing to 0. */
export function findRsdp(mem: GuestMemory): number | null {
  const sig = [0x52, 0x53, 0x44, 0x20, 0x50, 0x54, 0x52, 0x20];
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    const b = mem.readBytes(a, 20);
    if (b === null) continue;
    if (!sig.every((c, i) => b[i] === c)) continue;
    let sum = 0;
    for (let i = 0; i < 20; i++) sum += b[i];
    if ((sum & 0xff) === 0) return a;
  }
  return null;
}

/** The Linux x86 64-bit boot protocol: the command line is the -append text as it is. */
function bootLinux(m: Machine, k: KernelImage): void {
  const res = loadBzImage(m.mem, k.bytes, {
    cmdline: k.append ?? '',
    initrd: concatInitrds(k.modules ?? []),
    e820: linuxE820(m.mem),
    acpiRsdp: k.acpiRsdp === undefined ? findRsdp(m.mem) : k.acpiRsdp,
  });
  applyEntryState(m.cpus[0], res.state);
}
