// Models of how guests find hypervisors through CPUID, as pure functions over a CPUID callback:
// OpenBSD's pvbus_identify() (spec digest §2.1) and Linux's hypervisor_cpuid_base() /
// init_hypervisor_platform() priorities (§2.3). Used by tests to check what a guest would find.

import type { HypervisorPersonality } from './personality.js';

export type CpuidFn = (leaf: number, subleaf: number) => [number, number, number, number];

/** pvbus types in enum order (§2.1): the index is the attach-print order and the ioctl minor order. */
export const PVBUS_TYPES = [
  { signature: 'KVMKVMKVM\0\0\0', name: 'KVM' },
  { signature: 'Microsoft Hv', name: 'Hyper-V' },
  { signature: 'VMwareVMware', name: 'VMware' },
  { signature: 'XenVMMXenVMM', name: 'Xen' },
  { signature: 'bhyve bhyve ', name: 'bhyve' },
  { signature: 'OpenBSDVMM58', name: 'OpenBSD' },
] as const;

export interface PvbusHv {
  type: number;
  name: string;
  base: number;
  /** hv_features from the init hook (§2.1), 0 for types without one. */
  features: number;
  major: number;
  minor: number;
}

function sigBytes(b: number, c: number, d: number): number[] {
  const out: number[] = [];
  for (const r of [b, c, d]) for (let i = 0; i < 4; i++) out.push((r >>> (8 * i)) & 0xff);
  return out;
}

/**
 * pvbus_identify() (§2.1). Returns the hypervisors in scan (base) order. Only if CPUID.1:ECX[31];
 * for base 0x40000000..0x4000FF00: stop at the first block whose first 4 signature bytes are not
 * printable (32..126); a 12-byte match records the type at that base (a later match of the same type
 * overwrites, as pvbus_hv[type] is one slot) and runs its init hook.
 */
export function pvbusIdentify(cpuid: CpuidFn): PvbusHv[] {
  const found = new Map<number, PvbusHv>();
  if (((cpuid(1, 0)[2] >>> 31) & 1) === 0) return [];
  for (let base = 0x40000000; base < 0x40010000; base += 0x100) {
    const [, b, c, d] = cpuid(base, 0);
    const bytes = sigBytes(b, c, d);
    if (bytes.slice(0, 4).some((x) => x < 32 || x > 126)) break;
    const s = String.fromCharCode(...bytes);
    PVBUS_TYPES.forEach((t, type) => {
      if (t.signature !== s) return;
      const hv: PvbusHv = { type, name: t.name, base, features: 0, major: 0, minor: 0 };
      if (t.name === 'KVM' || t.name === 'OpenBSD') hv.features = cpuid(base + 1, 0)[0] >>> 0; // pvbus_kvm
      else if (t.name === 'Hyper-V') {
        hv.features = cpuid(base + 3, 0)[0] >>> 0; // pvbus_hyperv
        const ebx = cpuid(base + 2, 0)[1] >>> 0;
        hv.major = ebx >>> 16;
        hv.minor = ebx & 0xffff;
      } else if (t.name === 'Xen') {
        const eax = cpuid(base + 1, 0)[0] >>> 0; // pvbus_xen
        hv.major = eax >>> 16;
        hv.minor = eax & 0xffff;
      }
      found.delete(type);
      found.set(type, hv);
    });
  }
  return [...found.values()].sort((x, y) => x.base - y.base);
}

/** pvbus_attach's line (§2.1): names in enum order, with version for Hyper-V and Xen. */
export function pvbusAttachLine(hvs: readonly PvbusHv[]): string {
  return [...hvs]
    .sort((a, b) => a.type - b.type)
    .map((h) => (h.name === 'Hyper-V' || h.name === 'Xen' ? `${h.name} ${h.major}.${h.minor}` : h.name))
    .join(', ');
}

/** Linux hypervisor_cpuid_base(sig, leaves) (§2.3): no stop on empty blocks. 0 if absent. */
export function linuxHypervisorCpuidBase(cpuid: CpuidFn, sig: string, leaves: number): number {
  if (((cpuid(1, 0)[2] >>> 31) & 1) === 0) return 0;
  for (let base = 0x40000000; base < 0x40010000; base += 0x100) {
    const [a, b, c, d] = cpuid(base, 0);
    // (leaves == 0 || (eax - base) >= leaves), unsigned 32-bit subtraction as in C
    if (String.fromCharCode(...sigBytes(b, c, d)) === sig && (leaves === 0 || ((a - base) >>> 0) >= leaves)) return base;
  }
  return 0;
}

/** Linux init_hypervisor_platform() (§2.3) over the HVM detectors: the winner's name, or null. */
export function linuxDetect(cpuid: CpuidFn): string | null {
  const hv = ((cpuid(1, 0)[2] >>> 31) & 1) !== 0;
  const prio: [string, number][] = [];
  prio.push(['xen_hvm', linuxHypervisorCpuidBase(cpuid, 'XenVMMXenVMM', 2)]);
  const v = cpuid(0x40000000, 0);
  prio.push(['vmware', hv && String.fromCharCode(...sigBytes(v[1], v[2], v[3])) === 'VMwareVMware' ? 0x40000000 : 0]);
  let ms = 0;
  if (hv && String.fromCharCode(...sigBytes(v[1], v[2], v[3])) === 'Microsoft Hv') {
    const max = v[0] >>> 0;
    const priv = cpuid(0x40000003, 0)[0];
    if (max >= 0x40000005 && max <= 0x4000ffff && (priv & 0x20) !== 0 && (priv & 0x40) !== 0) ms = 0x40000000;
  }
  prio.push(['ms_hyperv', ms]);
  prio.push(['kvm', linuxHypervisorCpuidBase(cpuid, 'KVMKVMKVM\0\0\0', 0)]);
  let best: string | null = null;
  let bestP = 0;
  for (const [n, p] of prio) if (p > bestP) [best, bestP] = [n, p]; // strictly greatest wins (§2.3)
  return best;
}

/**
 * CPUID as the machine answers it for a personality stack (machine.ts cpuid(): zeros, then the
 * personality at index (leaf - 0x40000000) >> 8 fills its block), plus CPUID.1:ECX[31] when any is
 * present (§1.1). Other leaves read as zeros here.
 */
export function stackCpuid(ps: readonly HypervisorPersonality[], vcpu = 0): CpuidFn {
  return (leaf, subleaf) => {
    const out = new Int32Array(4);
    if (leaf === 1) {
      if (ps.length > 0) out[2] = 1 << 31;
    } else if (leaf >= 0x40000000 && leaf <= 0x4fffffff) {
      const idx = (leaf - 0x40000000) >>> 8;
      const p = ps[idx];
      if (p !== undefined) p.cpuid(leaf & 0xff, subleaf, 0x40000000 + idx * 0x100, out, vcpu);
    }
    return [out[0], out[1], out[2], out[3]];
  };
}
