// The vCPU's architectural registers as plain data, for the VM API (READREGS/WRITEREGS, in
// the shape of vmm(4)'s struct vcpu_reg_state: general, segment, control, MSR and debug
// registers), for loaders' entry states and for state digests. This is cold code: 64-bit
// values are bigints here, never in the CPU's hot path.

import type { Cpu } from './cpu.js';
import { MsrSlot } from './cpu.js';
import { Seg } from './constants.js';
import type { ProtectedModeEntryState, SegmentState } from '../../loaders/boot-state.js';

const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type GprName = (typeof GPR_NAMES)[number];
export type Gprs = Record<GprName | 'rip' | 'rflags', bigint>;

/** A segment register with its hidden part. `attributes` uses the VMX access-rights layout
 *  (type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15) as vmm(4) and KVM do. */
export interface SegmentRegister {
  selector: number;
  base: bigint;
  limit: number;
  attributes: number;
}

export interface TableRegister {
  base: bigint;
  limit: number;
}

export interface VcpuRegisters {
  gprs: Gprs;
  segments: Record<'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'ldtr' | 'tr', SegmentRegister>;
  gdtr: TableRegister;
  idtr: TableRegister;
  crs: Record<'cr0' | 'cr2' | 'cr3' | 'cr4' | 'cr8' | 'xcr0', bigint>;
  msrs: Record<'efer' | 'star' | 'lstar' | 'cstar' | 'fmask' | 'kernelGsBase' | 'sysenterCs' | 'sysenterEsp' | 'sysenterEip' | 'pat' | 'tscAux', bigint>;
  drs: Record<'dr0' | 'dr1' | 'dr2' | 'dr3' | 'dr6' | 'dr7', bigint>;
}

/** Deep-partial register set for WRITEREGS: only the named registers change. */
export type VcpuRegistersUpdate = { [K in keyof VcpuRegisters]?: Partial<VcpuRegisters[K]> };

const u64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const lo32 = (v: bigint): number => Number(BigInt.asUintN(32, v)) | 0;
const hi32 = (v: bigint): number => Number(BigInt.asUintN(32, v >> 32n)) | 0;

const SEGS: Array<['cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss', Seg]> = [
  ['es', Seg.ES], ['cs', Seg.CS], ['ss', Seg.SS], ['ds', Seg.DS], ['fs', Seg.FS], ['gs', Seg.GS],
];
const MSR_SLOTS: Array<[keyof VcpuRegisters['msrs'], MsrSlot]> = [
  ['star', MsrSlot.STAR], ['lstar', MsrSlot.LSTAR], ['cstar', MsrSlot.CSTAR], ['fmask', MsrSlot.FMASK],
  ['kernelGsBase', MsrSlot.KERNEL_GS_BASE], ['sysenterCs', MsrSlot.SYSENTER_CS], ['sysenterEsp', MsrSlot.SYSENTER_ESP],
  ['sysenterEip', MsrSlot.SYSENTER_EIP], ['pat', MsrSlot.PAT], ['tscAux', MsrSlot.TSC_AUX],
];
const DRS: Array<[keyof VcpuRegisters['drs'], number]> = [['dr0', 0], ['dr1', 1], ['dr2', 2], ['dr3', 3], ['dr6', 6], ['dr7', 7]];

export function readRegisters(c: Cpu): VcpuRegisters {
  const gprs = {} as Gprs;
  GPR_NAMES.forEach((n, i) => (gprs[n] = u64(c.lo[i], c.hi[i])));
  gprs.rip = u64(c.ripLo, c.ripHi);
  gprs.rflags = BigInt(c.getFlags() >>> 0);
  const segments = {} as VcpuRegisters['segments'];
  for (const [name, s] of SEGS) {
    segments[name] = { selector: c.segSel[s], base: u64(c.segBase[s], c.segBaseHi[s]), limit: c.segLimit[s] >>> 0, attributes: c.segAttr[s] };
  }
  segments.ldtr = { selector: c.ldtSel, base: u64(c.ldtBaseLo, c.ldtBaseHi), limit: c.ldtLimit >>> 0, attributes: c.ldtAttr };
  segments.tr = { selector: c.trSel, base: u64(c.trBaseLo, c.trBaseHi), limit: c.trLimit >>> 0, attributes: c.trAttr };
  const msrs = { efer: BigInt(c.efer >>> 0) } as VcpuRegisters['msrs'];
  for (const [name, slot] of MSR_SLOTS) msrs[name] = u64(c.msrLo[slot], c.msrHi[slot]);
  const drs = {} as VcpuRegisters['drs'];
  for (const [name, i] of DRS) drs[name] = u64(c.drLo[i], c.drHi[i]);
  return {
    gprs,
    segments,
    gdtr: { base: u64(c.gdtBaseLo, c.gdtBaseHi), limit: c.gdtLimit & 0xffff },
    idtr: { base: u64(c.idtBaseLo, c.idtBaseHi), limit: c.idtLimit & 0xffff },
    crs: {
      cr0: BigInt(c.cr0 >>> 0), cr2: u64(c.cr2Lo, c.cr2Hi), cr3: u64(c.cr3Lo, c.cr3Hi), cr4: BigInt(c.cr4 >>> 0),
      cr8: BigInt(c.cr8 >>> 0), xcr0: BigInt(c.xcr0 >>> 0),
    },
    msrs,
    drs,
  };
}

/** Why a register write was refused (the VM API turns this into EINVAL). */
export class RegisterError extends Error {}

function checkU64(name: string, v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) throw new RegisterError(`${name}: expected a 64-bit unsigned bigint`);
  return v;
}

function checkU32(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RegisterError(`${name}: expected a 32-bit unsigned integer`);
  return v;
}

/** Apply a (partial) register set. Validates everything before changing anything. */
export function writeRegisters(c: Cpu, u: VcpuRegistersUpdate): void {
  prepareRegisterWrite(c, u)();
}

/** Validate a register update (RegisterError if invalid) and return the function that applies it. */
export function prepareRegisterWrite(c: Cpu, u: VcpuRegistersUpdate): () => void {
  const ops: Array<() => void> = [];
  // Fields a partial update leaves out keep their current values.
  const now = readRegisters(c);
  for (const [name, v] of Object.entries(u.gprs ?? {})) {
    const val = checkU64(`gprs.${name}`, v);
    if (name === 'rip') ops.push(() => ((c.ripLo = lo32(val)), (c.ripHi = hi32(val))));
    else if (name === 'rflags') {
      if (val >> 32n !== 0n) throw new RegisterError('gprs.rflags: the upper 32 bits are reserved');
      ops.push(() => c.setFlags(lo32(val)));
    } else {
      const i = GPR_NAMES.indexOf(name as GprName);
      if (i < 0) throw new RegisterError(`gprs.${name}: no such register`);
      ops.push(() => ((c.lo[i] = lo32(val)), (c.hi[i] = hi32(val))));
    }
  }
  for (const [name, v] of Object.entries(u.segments ?? {})) {
    if (v === undefined) continue;
    const cur = (now.segments as Record<string, SegmentRegister | undefined>)[name];
    if (cur === undefined) throw new RegisterError(`segments.${name}: no such segment register`);
    const sel = checkU32(`segments.${name}.selector`, v.selector ?? cur.selector);
    const base = checkU64(`segments.${name}.base`, v.base ?? cur.base);
    const limit = checkU32(`segments.${name}.limit`, v.limit ?? cur.limit);
    const attr = checkU32(`segments.${name}.attributes`, v.attributes ?? cur.attributes);
    if (sel > 0xffff) throw new RegisterError(`segments.${name}.selector: above 0xffff`);
    const seg = SEGS.find(([n]) => n === name);
    if (seg !== undefined) {
      const s = seg[1];
      ops.push(() => {
        c.segSel[s] = sel;
        c.segBase[s] = lo32(base);
        c.segBaseHi[s] = hi32(base);
        c.segLimit[s] = limit | 0;
        c.segAttr[s] = attr;
      });
    } else if (name === 'ldtr') {
      ops.push(() => ((c.ldtSel = sel), (c.ldtBaseLo = lo32(base)), (c.ldtBaseHi = hi32(base)), (c.ldtLimit = limit | 0), (c.ldtAttr = attr)));
    } else if (name === 'tr') {
      ops.push(() => ((c.trSel = sel), (c.trBaseLo = lo32(base)), (c.trBaseHi = hi32(base)), (c.trLimit = limit | 0), (c.trAttr = attr)));
    } else throw new RegisterError(`segments.${name}: no such segment register`);
  }
  for (const t of ['gdtr', 'idtr'] as const) {
    const v = u[t];
    if (v === undefined) continue;
    const base = checkU64(`${t}.base`, v.base ?? now[t].base);
    const limit = checkU32(`${t}.limit`, v.limit ?? now[t].limit);
    if (limit > 0xffff) throw new RegisterError(`${t}.limit: above 0xffff`);
    ops.push(() => {
      if (t === 'gdtr') ((c.gdtBaseLo = lo32(base)), (c.gdtBaseHi = hi32(base)), (c.gdtLimit = limit));
      else ((c.idtBaseLo = lo32(base)), (c.idtBaseHi = hi32(base)), (c.idtLimit = limit));
    });
  }
  for (const [name, v] of Object.entries(u.crs ?? {})) {
    const val = checkU64(`crs.${name}`, v);
    switch (name) {
      case 'cr0': ops.push(() => (c.cr0 = lo32(val))); break;
      case 'cr2': ops.push(() => ((c.cr2Lo = lo32(val)), (c.cr2Hi = hi32(val)))); break;
      case 'cr3': ops.push(() => ((c.cr3Lo = lo32(val)), (c.cr3Hi = hi32(val)))); break;
      case 'cr4': ops.push(() => (c.cr4 = lo32(val))); break;
      case 'cr8': ops.push(() => (c.cr8 = lo32(val) & 15)); break;
      case 'xcr0': ops.push(() => (c.xcr0 = lo32(val))); break;
      default: throw new RegisterError(`crs.${name}: no such control register`);
    }
  }
  for (const [name, v] of Object.entries(u.msrs ?? {})) {
    const val = checkU64(`msrs.${name}`, v);
    if (name === 'efer') ops.push(() => (c.efer = lo32(val)));
    else {
      const slot = MSR_SLOTS.find(([n]) => n === name);
      if (slot === undefined) throw new RegisterError(`msrs.${name}: not in the register set`);
      ops.push(() => ((c.msrLo[slot[1]] = lo32(val)), (c.msrHi[slot[1]] = hi32(val))));
    }
  }
  for (const [name, v] of Object.entries(u.drs ?? {})) {
    const val = checkU64(`drs.${name}`, v);
    const dr = DRS.find(([n]) => n === name);
    if (dr === undefined) throw new RegisterError(`drs.${name}: no such debug register`);
    ops.push(() => ((c.drLo[dr[1]] = lo32(val)), (c.drHi[dr[1]] = hi32(val))));
  }
  return () => {
    for (const op of ops) op();
    c.halted = false;
    c.updateMode();
    c.flushTlb();
  };
}

function segmentFromLoader(s: SegmentState): SegmentRegister {
  const attributes = (s.type & 15) | (s.s << 4) | ((s.dpl & 3) << 5) | (s.present << 7) | (s.l << 13) | (s.db << 14) | (s.g << 15);
  return { selector: s.selector, base: BigInt(s.base >>> 0), limit: s.limit >>> 0, attributes };
}

/** Set the state a loader asks for (multiboot's 32-bit protected-mode entry). */
export function applyEntryState(c: Cpu, st: ProtectedModeEntryState): void {
  c.resetState();
  writeRegisters(c, {
    gprs: {
      rax: BigInt(st.eax >>> 0), rbx: BigInt(st.ebx >>> 0), rcx: BigInt(st.ecx >>> 0), rdx: BigInt(st.edx >>> 0),
      rsi: BigInt(st.esi >>> 0), rdi: BigInt(st.edi >>> 0), rbp: BigInt(st.ebp >>> 0), rsp: BigInt(st.esp >>> 0),
      rip: BigInt(st.eip >>> 0), rflags: BigInt(st.eflags >>> 0),
    },
    segments: {
      cs: segmentFromLoader(st.cs), ds: segmentFromLoader(st.ds), es: segmentFromLoader(st.es),
      fs: segmentFromLoader(st.fs), gs: segmentFromLoader(st.gs), ss: segmentFromLoader(st.ss),
    },
    gdtr: { base: BigInt(st.gdtr.base >>> 0), limit: st.gdtr.limit },
    idtr: { base: BigInt(st.idtr.base >>> 0), limit: st.idtr.limit },
    crs: { cr0: BigInt(st.cr0 >>> 0), cr3: BigInt(st.cr3 >>> 0), cr4: BigInt(st.cr4 >>> 0) },
    msrs: { efer: BigInt(st.efer >>> 0) },
  });
}

/** The x87/SSE state as plain data (the FXSAVE fields, SDM vol. 1 table 10-2), for state digests
 *  and debugging: XMM registers and ST registers as hex strings (XMM: bytes 15..0; ST: 80 bits),
 *  ST in physical register order R0-R7. */
export interface FpuRegisters {
  fcw: number; fsw: number; ftw: number; fop: number; fip: bigint; fdp: bigint; fcs: number; fds: number;
  mxcsr: number; st: string[]; xmm: string[];
}

export function readFpuState(c: Cpu): FpuRegisters {
  const f = c.fpu;
  const h32 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
  const xmm: string[] = [];
  for (let i = 0; i < 16; i++) xmm.push(h32(f.xmm[4 * i + 3]) + h32(f.xmm[4 * i + 2]) + h32(f.xmm[4 * i + 1]) + h32(f.xmm[4 * i]));
  const st: string[] = [];
  for (let i = 0; i < 8; i++) st.push((f.st[3 * i + 2] & 0xffff).toString(16).padStart(4, '0') + h32(f.st[3 * i + 1]) + h32(f.st[3 * i]));
  return {
    fcw: f.fcw, fsw: f.statusWord(), ftw: f.tagWord(), fop: f.fop, fip: u64(f.fipLo, f.fipHi), fdp: u64(f.fdpLo, f.fdpHi),
    fcs: f.fcs, fds: f.fds, mxcsr: f.mxcsr >>> 0, st, xmm,
  };
}
