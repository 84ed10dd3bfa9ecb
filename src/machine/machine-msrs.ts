// Model-specific registers the platform implements outside the CPU core: the APIC base,
// MTRRs, machine-check and microcode registers a kernel reads at boot (SDM vol. 4). Values
// are plain per-vCPU data; unknown MSRs are not claimed (the machine then raises #GP or,
// with bhyve's -w, reads 0).

import { Msr } from './cpu/constants.js';

/** MTRRcap: 8 variable ranges, fixed ranges supported, write-combining supported (SDM vol. 3, 13.11.1). */
const MTRRCAP = 0x508;
const APIC_BASE_DEFAULT = 0xfee00000;

export class MachineMsrs {
  /** Per-vCPU storage keyed by MSR number, in insertion order (never iterated for the guest). */
  private readonly values = new Map<string, [number, number]>();

  private key(msr: number, cpu: number): string {
    return `${cpu}:${msr}`;
  }

  private get(msr: number, cpu: number, dflt: [number, number]): [number, number] {
    return this.values.get(this.key(msr, cpu)) ?? dflt;
  }

  /** Fill out[0..1]; false if this MSR is not implemented here. */
  read(msr: number, cpu: number, out: Int32Array): boolean {
    let v: [number, number];
    switch (msr) {
      case Msr.APIC_BASE:
        // Enabled (bit 11), BSP flag (bit 8) on vCPU 0 (SDM vol. 3, 11.4.4).
        v = this.get(msr, cpu, [(APIC_BASE_DEFAULT | 0x800 | (cpu === 0 ? 0x100 : 0)) | 0, 0]);
        break;
      case Msr.MTRRCAP:
        v = [MTRRCAP, 0];
        break;
      case Msr.MTRR_DEF_TYPE:
      case Msr.MTRR_FIX64K:
      case Msr.MTRR_FIX16K_80000:
      case Msr.MTRR_FIX16K_A0000:
      case Msr.MISC_ENABLE:
      case Msr.MCG_STATUS:
      case Msr.PLATFORM_ID:
      case Msr.BIOS_SIGN_ID:
        v = this.get(msr, cpu, msr === Msr.MISC_ENABLE ? [1, 0] : [0, 0]); // MISC_ENABLE bit 0: fast strings
        break;
      case Msr.MCG_CAP:
        v = [0, 0]; // no machine-check banks
        break;
      case Msr.FEATURE_CONTROL:
        v = [1, 0]; // locked, VMX off: the guest cannot enable nested virtualisation
        break;
      default:
        if ((msr >= Msr.MTRR_PHYSBASE0 && msr < Msr.MTRR_PHYSBASE0 + 16) || (msr >= Msr.MTRR_FIX4K_C0000 && msr <= Msr.MTRR_FIX4K_F8000)) {
          v = this.get(msr, cpu, [0, 0]);
          break;
        }
        return false;
    }
    out[0] = v[0];
    out[1] = v[1];
    return true;
  }

  write(msr: number, cpu: number, lo: number, hi: number): 'ok' | 'gp' | 'no' {
    switch (msr) {
      case Msr.APIC_BASE:
        // The BSP bit is read-only; bits above MAXPHYADDR are reserved.
        if ((hi & ~0x7f) !== 0 || (lo & 0x6ff) !== 0) return 'gp';
        this.values.set(this.key(msr, cpu), [(lo & ~0x100) | (cpu === 0 ? 0x100 : 0), hi]);
        return 'ok';
      case Msr.MTRRCAP:
      case Msr.MCG_CAP:
      case Msr.FEATURE_CONTROL:
      case Msr.PLATFORM_ID:
        return 'gp'; // read-only
      case Msr.BIOS_SIGN_ID: // writing 0 before CPUID(1) is the microcode-revision protocol
      case Msr.MTRR_DEF_TYPE:
      case Msr.MTRR_FIX64K:
      case Msr.MTRR_FIX16K_80000:
      case Msr.MTRR_FIX16K_A0000:
      case Msr.MISC_ENABLE:
      case Msr.MCG_STATUS:
        this.values.set(this.key(msr, cpu), [lo, hi]);
        return 'ok';
      default:
        if ((msr >= Msr.MTRR_PHYSBASE0 && msr < Msr.MTRR_PHYSBASE0 + 16) || (msr >= Msr.MTRR_FIX4K_C0000 && msr <= Msr.MTRR_FIX4K_F8000)) {
          this.values.set(this.key(msr, cpu), [lo, hi]);
          return 'ok';
        }
        return 'no';
    }
  }
}
