// How the trace tools present one event: as named fields for people (`hvsim trace show`,
// `hvsim trace diff`) and as a JSON object for programs (`--json`). Field names follow
// docs/trace-format.md, "Records".

import type { TraceEvent, TraceEventKind, U64 } from './encoding.js';

/** Every event kind, in tag order (docs/trace-format.md, "Records"). */
export const EVENT_KINDS = [
  'io',
  'mmio',
  'cpuid',
  'rdmsr',
  'wrmsr',
  'hypercall',
  'hlt',
  'pause',
  'shutdown',
  'reset',
  'poweroff',
  'debug-exit',
  'interrupt',
  'dma',
  'host-input',
  'digest',
  'end',
  'kv-write',
  'host-output',
] as const satisfies readonly TraceEventKind[];
// Fails to compile if a kind is added to the format but not to the list above.
const allKindsListed: [Exclude<TraceEventKind, (typeof EVENT_KINDS)[number]>] extends [never] ? true : false = true;
void allKindsListed;

/** Names of the hypercall argument registers in the order the trace stores them. */
export const HYPERCALL_REGS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'r8', 'r9', 'r10'] as const;

/**
 * Names of well-known MSRs (Intel SDM vol. 4; KVM's paravirtual MSRs from
 * Documentation/virt/kvm/x86/msr.rst). The 0x40000000 range is left out on purpose: its
 * meaning depends on the personality (Hyper-V's synthetic MSRs, Xen's hypercall page).
 */
const MSR_NAMES = new Map<number, string>([
  [0x10, 'IA32_TIME_STAMP_COUNTER'],
  [0x11, 'KVM_WALL_CLOCK'],
  [0x12, 'KVM_SYSTEM_TIME'],
  [0x17, 'IA32_PLATFORM_ID'],
  [0x1b, 'IA32_APIC_BASE'],
  [0x3a, 'IA32_FEATURE_CONTROL'],
  [0x3b, 'IA32_TSC_ADJUST'],
  [0x48, 'IA32_SPEC_CTRL'],
  [0x49, 'IA32_PRED_CMD'],
  [0x8b, 'IA32_BIOS_SIGN_ID'],
  [0xe7, 'IA32_MPERF'],
  [0xe8, 'IA32_APERF'],
  [0xfe, 'IA32_MTRRCAP'],
  [0x10a, 'IA32_ARCH_CAPABILITIES'],
  [0x174, 'IA32_SYSENTER_CS'],
  [0x175, 'IA32_SYSENTER_ESP'],
  [0x176, 'IA32_SYSENTER_EIP'],
  [0x179, 'IA32_MCG_CAP'],
  [0x17a, 'IA32_MCG_STATUS'],
  [0x1a0, 'IA32_MISC_ENABLE'],
  [0x277, 'IA32_PAT'],
  [0x2ff, 'IA32_MTRR_DEF_TYPE'],
  [0x6e0, 'IA32_TSC_DEADLINE'],
  [0xc0000080, 'IA32_EFER'],
  [0xc0000081, 'IA32_STAR'],
  [0xc0000082, 'IA32_LSTAR'],
  [0xc0000083, 'IA32_CSTAR'],
  [0xc0000084, 'IA32_FMASK'],
  [0xc0000100, 'IA32_FS_BASE'],
  [0xc0000101, 'IA32_GS_BASE'],
  [0xc0000102, 'IA32_KERNEL_GS_BASE'],
  [0xc0000103, 'IA32_TSC_AUX'],
  [0x4b564d00, 'KVM_WALL_CLOCK_NEW'],
  [0x4b564d01, 'KVM_SYSTEM_TIME_NEW'],
  [0x4b564d02, 'KVM_ASYNC_PF_EN'],
  [0x4b564d03, 'KVM_STEAL_TIME'],
  [0x4b564d04, 'KVM_PV_EOI_EN'],
]);

export function msrName(msr: number): string | undefined {
  const known = MSR_NAMES.get(msr);
  if (known) return known;
  if (msr >= 0x800 && msr <= 0x8ff) return 'IA32_X2APIC'; // the x2APIC register block
  if (msr >= 0x200 && msr <= 0x21f) return `IA32_MTRR_PHYS${msr & 1 ? 'MASK' : 'BASE'}${(msr - 0x200) >> 1}`;
  return undefined;
}

/** Data registers of the PC's four standard UARTs (COM1-COM4 base ports). */
const UART_DATA_PORTS = new Set([0x3f8, 0x2f8, 0x3e8, 0x2e8]);

/** The character a byte moved through a UART data register stands for, so console output reads as text. */
function uartChar(port: number, size: number, value: number): string {
  if (size !== 1 || !UART_DATA_PORTS.has(port)) return '';
  if (value >= 0x20 && value < 0x7f) return ` '${String.fromCharCode(value)}'`;
  const named: Record<number, string> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };
  return named[value] ? ` '${named[value]}'` : '';
}

/** 0x-prefixed lower-case hex, zero-padded to `digits`. */
export function hexNum(n: number, digits = 1): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}

/** A 64-bit [lo, hi] pair as 0x-prefixed hex (16 digits when `pad`, else the shortest form). */
export function hexU64(v: U64, pad = false): string {
  const [lo, hi] = v;
  if (pad) return '0x' + hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
  return hi === 0 ? '0x' + lo.toString(16) : '0x' + hi.toString(16) + lo.toString(16).padStart(8, '0');
}

export function hexBytes(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

/** Hex of the first `keep` bytes, with '…' when there are more (digests, DMA data). */
export function shortHex(b: Uint8Array, keep = 6): string {
  return b.length <= keep + 2 ? hexBytes(b) : hexBytes(b.subarray(0, keep)) + '…';
}

const printable = /^[\x20-\x7e\t\n\r]*$/;

/** Serial-style input as a quoted, escaped string if it is plain text, else as hex. */
function bytesAsText(b: Uint8Array, keep: number): { text: string; full: string } {
  const s = Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  if (printable.test(s)) {
    const full = JSON.stringify(s);
    return { text: s.length > keep ? JSON.stringify(s.slice(0, keep)) + '…' : full, full };
  }
  return { text: b.length > keep ? hexBytes(b.subarray(0, keep)) + '…' : hexBytes(b), full: hexBytes(b) };
}

export interface Field {
  name: string;
  /** What a person reads (digests and long data shortened). */
  text: string;
  /** The exact value when `text` is shortened; what diff compares. */
  full?: string;
  /** How `show` prints the field: default `name=text`; a bare word, or '' to leave it out. */
  show?: string;
}

export const exact = (f: Field): string => f.full ?? f.text;

/** The fields of an event after its stamp (vCPU, icount, kind), in record order. */
export function eventFields(e: TraceEvent): Field[] {
  switch (e.kind) {
    case 'io': {
      const dir = e.write ? 'out' : 'in';
      return [
        { name: 'direction', text: dir, show: dir.padEnd(3) },
        { name: 'port', text: hexNum(e.port, 2) },
        { name: 'size', text: String(e.size) },
        { name: 'value', text: hexNum(e.value, e.size * 2), show: `value=${hexNum(e.value, e.size * 2)}${uartChar(e.port, e.size, e.value)}` },
      ];
    }
    case 'mmio': {
      const dir = e.write ? 'write' : 'read';
      return [
        { name: 'direction', text: dir, show: dir.padEnd(5) },
        { name: 'gpa', text: hexNum(e.gpa) },
        { name: 'size', text: String(e.size) },
        { name: 'value', text: hexNum(e.value, e.size * 2) },
      ];
    }
    case 'cpuid':
      return [
        { name: 'leaf', text: hexNum(e.leaf) },
        { name: 'subleaf', text: hexNum(e.subleaf) },
        ...(['eax', 'ebx', 'ecx', 'edx'] as const).map((r, i) => ({ name: r, text: hexNum(e.result[i], 8) })),
      ];
    case 'rdmsr':
    case 'wrmsr': {
      const name = msrName(e.msr);
      return [
        { name: 'msr', text: hexNum(e.msr), show: `msr=${hexNum(e.msr)}${name ? ` ${name}` : ''}` },
        { name: 'value', text: hexU64(e.value, true) },
        { name: 'gp', text: e.gp ? 'yes' : 'no', show: e.gp ? '#GP' : '' },
      ];
    }
    case 'hypercall':
      return [
        { name: 'insn', text: e.insn, show: e.insn },
        ...e.args.map((a, i) => ({ name: HYPERCALL_REGS[i] ?? `arg${i}`, text: hexU64(a) })),
        { name: 'result', text: hexU64(e.result) },
        { name: 'ud', text: e.ud === true ? 'yes' : 'no', show: e.ud === true ? '#UD' : '' },
      ];
    case 'hlt':
    case 'pause':
    case 'reset':
    case 'poweroff':
      return [];
    case 'shutdown':
      return [{ name: 'reason', text: e.reason }];
    case 'debug-exit':
      return [{ name: 'code', text: hexNum(e.code) }];
    case 'interrupt':
      return [
        { name: 'vector', text: hexNum(e.vector, 2) },
        { name: 'source', text: e.source },
      ];
    case 'dma': {
      const dir = e.toGuest ? 'to-guest' : 'from-guest';
      const payload: Field =
        'data' in e
          ? { name: 'data', text: shortHex(e.data, 16), full: hexBytes(e.data) }
          : { name: 'digest', text: shortHex(e.digest), full: hexBytes(e.digest) };
      return [
        { name: 'direction', text: dir, show: dir },
        { name: 'device', text: e.device },
        { name: 'gpa', text: hexNum(e.gpa) },
        { name: 'length', text: String(e.length) },
        payload,
      ];
    }
    case 'host-input':
    case 'host-output': {
      const d = bytesAsText(e.data, 32);
      return [
        { name: 'device', text: e.device },
        { name: 'length', text: String(e.data.length) },
        { name: 'data', text: d.text, full: d.full },
      ];
    }
    case 'digest':
      return [
        { name: 'hash', text: shortHex(e.hash), full: hexBytes(e.hash) },
        ...e.parts.map((p) => ({ name: `part.${p.name}`, text: shortHex(p.hash), full: hexBytes(p.hash), show: `${p.name}=${shortHex(p.hash)}` })),
      ];
    case 'end':
      return [
        { name: 'reason', text: e.reason },
        { name: 'status', text: String(e.exitStatus) },
        { name: 'digest', text: shortHex(e.digest), full: hexBytes(e.digest) },
      ];
    case 'kv-write':
      return [
        { name: 'key', text: JSON.stringify(e.key) },
        { name: 'value', text: JSON.stringify(e.value) },
      ];
  }
  return unknownKind(e);
}

function unknownKind(e: { kind: string }): never {
  throw new TypeError(`trace event of unknown kind '${e.kind}'`);
}

/** The fields as `show` prints them after the stamp columns. */
export function fieldsText(fields: readonly Field[]): string {
  const out: string[] = [];
  for (const f of fields) {
    const s = f.show ?? `${f.name}=${f.text}`;
    if (s !== '') out.push(s);
  }
  return out.join(' ');
}

/**
 * The event as one JSON-plain object: its number, the stamp, then the fields with the
 * names TraceEvent uses; 64-bit values as 0x hex strings (they may exceed 2^53), byte
 * blobs as plain hex strings.
 */
export function eventJson(n: number, e: TraceEvent): Record<string, unknown> {
  // Fields are added with Object.assign: an object spread costs ~10 µs per event in Node 20.
  const o: Record<string, unknown> = { event: n, vcpu: e.vcpu, icount: e.icount, kind: e.kind };
  switch (e.kind) {
    case 'io':
      return Object.assign(o, { write: e.write, port: e.port, size: e.size, value: e.value });
    case 'mmio':
      return Object.assign(o, { write: e.write, gpa: e.gpa, size: e.size, value: e.value });
    case 'cpuid':
      return Object.assign(o, { leaf: e.leaf, subleaf: e.subleaf, eax: e.result[0], ebx: e.result[1], ecx: e.result[2], edx: e.result[3] });
    case 'rdmsr':
    case 'wrmsr':
      return Object.assign(o, { msr: e.msr, value: hexU64(e.value), gp: e.gp });
    case 'hypercall':
      return Object.assign(o, { insn: e.insn, args: e.args.map((a) => hexU64(a)), result: hexU64(e.result), ud: e.ud === true });
    case 'hlt':
    case 'pause':
    case 'reset':
    case 'poweroff':
      return o;
    case 'shutdown':
      return Object.assign(o, { reason: e.reason });
    case 'debug-exit':
      return Object.assign(o, { code: e.code });
    case 'interrupt':
      return Object.assign(o, { vector: e.vector, source: e.source });
    case 'dma':
      return 'data' in e
        ? Object.assign(o, { toGuest: e.toGuest, device: e.device, gpa: e.gpa, length: e.length, data: hexBytes(e.data) })
        : Object.assign(o, { toGuest: e.toGuest, device: e.device, gpa: e.gpa, length: e.length, digest: hexBytes(e.digest) });
    case 'host-input':
    case 'host-output':
      return Object.assign(o, { device: e.device, data: hexBytes(e.data) });
    case 'digest':
      return Object.assign(o, { hash: hexBytes(e.hash), parts: e.parts.map((p) => ({ name: p.name, hash: hexBytes(p.hash) })) });
    case 'end':
      return Object.assign(o, { reason: e.reason, exitStatus: e.exitStatus, digest: hexBytes(e.digest) });
    case 'kv-write':
      return Object.assign(o, { key: e.key, value: e.value });
  }
  return unknownKind(e);
}
