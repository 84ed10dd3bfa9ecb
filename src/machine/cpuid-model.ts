// The CPU model the guest sees through CPUID's basic and extended leaves (SDM vol. 2, CPUID).
// It advertises exactly what the CPU implements, nothing more: a guest that trusts CPUID
// never reaches an unimplemented instruction. Hypervisor leaves (0x40000000-0x4fffffff)
// come from the personalities, not from here.

export interface CpuidModelConfig {
  vcpus: number;
  /** Set CPUID.1:ECX bit 31 ("hypervisor present"); true whenever a personality is active. */
  hypervisorBit: boolean;
  /** x2APIC advertised (bhyve -x); the APIC itself comes with the interrupt work. */
  x2apic: boolean;
  /** A local APIC (with TSC-deadline timer) is wired to each vCPU: CPUID.1:EDX[9], ECX[24]. */
  localApic?: boolean;
}

// CPUID.1:EDX feature bits (SDM vol. 2, table 3-11).
const EDX1 = {
  FPU: 1 << 0, MMX: 1 << 23, FXSR: 1 << 24, SSE: 1 << 25, SSE2: 1 << 26,
  PSE: 1 << 3, TSC: 1 << 4, MSR: 1 << 5, PAE: 1 << 6, CX8: 1 << 8, SEP: 1 << 11,
  APIC: 1 << 9, PGE: 1 << 13, CMOV: 1 << 15, PAT: 1 << 16, CLFSH: 1 << 19, HTT: 1 << 28,
};
// CPUID.1:ECX (table 3-10).
const ECX1 = { CX16: 1 << 13, X2APIC: 1 << 21, POPCNT: 1 << 23, TSC_DEADLINE: 1 << 24, HYPERVISOR: 1 << 31 };
// CPUID.80000001h (AMD64 / SDM).
const EDX81 = { SYSCALL: 1 << 11, NX: 1 << 20, PDPE1GB: 1 << 26, RDTSCP: 1 << 27, LM: 1 << 29 };
const ECX81 = { LAHF_LM: 1 << 0, ABM: 1 << 5 };

function str4(s: string, i: number): number {
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) | 0;
}

const VENDOR = 'GenuineIntel';
const BRAND = 'hvsim deterministic x86-64 CPU\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0';

export class CpuidModel {
  constructor(private readonly cfg: CpuidModelConfig) {}

  /** The platform wired a local APIC to every vCPU. */
  setLocalApic(on: boolean): void {
    this.cfg.localApic = on;
  }

  /** Fill out[0..3] = EAX, EBX, ECX, EDX for a basic or extended leaf of vCPU `apicId`. */
  leaf(leaf: number, subleaf: number, apicId: number, out: Int32Array): void {
    out[0] = out[1] = out[2] = out[3] = 0;
    const maxBasic = 0xd;
    const maxExt = 0x80000008;
    if (leaf >= 0x80000000 && leaf > maxExt) leaf = maxBasic; // out-of-range: highest basic leaf (Intel behaviour)
    else if (leaf < 0x80000000 && leaf > maxBasic) leaf = maxBasic;
    switch (leaf) {
      case 0:
        out[0] = maxBasic;
        out[1] = str4(VENDOR, 0);
        out[3] = str4(VENDOR, 4);
        out[2] = str4(VENDOR, 8);
        return;
      case 1:
        // Family 6, model 0x55-like numbering is avoided: family 6 model 0x0f stepping 1.
        out[0] = 0x000006f1;
        // EBX: APIC ID in 31:24, logical processor count in 23:16, CLFLUSH line size (8*8=64) in 15:8.
        out[1] = (apicId << 24) | (Math.min(this.cfg.vcpus, 255) << 16) | (8 << 8);
        out[2] = ECX1.CX16 | ECX1.POPCNT | (this.cfg.localApic ? ECX1.TSC_DEADLINE : 0) | (this.cfg.x2apic ? ECX1.X2APIC : 0) | (this.cfg.hypervisorBit ? ECX1.HYPERVISOR : 0);
        out[3] = EDX1.FPU | EDX1.MMX | EDX1.FXSR | EDX1.SSE | EDX1.SSE2 | EDX1.PSE | EDX1.TSC | EDX1.MSR | EDX1.PAE | EDX1.CX8 | EDX1.SEP | (this.cfg.localApic ? EDX1.APIC : 0) | EDX1.PGE | EDX1.CMOV | EDX1.PAT | EDX1.CLFSH
          | (this.cfg.vcpus > 1 ? EDX1.HTT : 0);
        return;
      case 0xb:
        this.topologyLeaf(subleaf, apicId, out);
        return;
      case 0x80000000:
        out[0] = maxExt;
        return;
      case 0x80000001:
        out[2] = ECX81.LAHF_LM | ECX81.ABM;
        out[3] = EDX81.SYSCALL | EDX81.NX | EDX81.PDPE1GB | EDX81.RDTSCP | EDX81.LM;
        return;
      case 0x80000002:
      case 0x80000003:
      case 0x80000004: {
        const base = (leaf - 0x80000002) * 16;
        for (let i = 0; i < 4; i++) out[i] = str4(BRAND, base + i * 4);
        return;
      }
      case 0x80000008:
        // Physical address bits 39, linear 48 (also the page walker's reserved-bit limit).
        out[0] = 39 | (48 << 8);
        return;
      default:
        // Leaves 2-0xd not listed: all zero (no caches/topology/XSAVE advertised yet).
        void subleaf;
        return;
    }
  }

  /**
   * Leaf 0xB, extended topology (SDM vol. 2, CPUID leaf 0BH; vol. 3, 9.9.1): one thread per
   * core and every vCPU a core of one package, so level 0 (SMT) has shift 0 and level 1 (core)
   * shifts by enough bits to hold every APIC ID. EDX is the x2APIC ID at every level.
   */
  private topologyLeaf(subleaf: number, apicId: number, out: Int32Array): void {
    const level = subleaf >>> 0;
    out[3] = apicId;
    out[2] = level & 0xff;
    if (level === 0) {
      out[0] = 0;
      out[1] = 1;
      out[2] |= 1 << 8; // level type SMT
    } else if (level === 1) {
      let shift = 0;
      while (1 << shift < this.cfg.vcpus) shift++;
      out[0] = shift;
      out[1] = this.cfg.vcpus;
      out[2] |= 2 << 8; // level type core
    }
    // Higher levels: type 0 (invalid), EAX = EBX = 0.
  }
}
