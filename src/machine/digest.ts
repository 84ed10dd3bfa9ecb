// State digests: a short, deterministic fingerprint of everything the guest can observe, for
// determinism tests, trace checkpoints and replay divergence reports ("the state differs
// first at event N, in RAM / in vCPU 0 / in the devices").
//
// What goes in (DESIGN.md, "Determinism rules"; each part is hashed separately so a report
// can say which one differs, see digestParts):
//  - every vCPU's architectural registers as readRegisters() gives them (GPRs, RIP, RFLAGS,
//    segments with their hidden parts, GDTR/IDTR, control, MSR and debug registers), plus the
//    CPU's own MSR slots and execution state (retired instructions, halted, shutdown, NMI
//    pending/blocked, interrupt shadow);
//  - guest RAM;
//  - the virtual clock (icount, TSC offset and frequency, ns per instruction, next timer
//    deadline) and the machine's idle instructions;
//  - the exit waiting for the caller's answer, if any;
//  - each device's saveState(), as JSON with sorted keys (the devices are passed in, e.g.
//    `vmm.devices(id)`: the machine does not know its devices).
// Not covered yet, because their owners keep them private: the interrupts queued by
// VMM_IOC_INTR (Machine.injected), the platform MSRs (MachineMsrs.values: APIC base, MTRRs...),
// the timer queue beyond its next deadline, the reset-control latch of port 0xcf9, and
// hypervisor personalities' state. Each needs a read-only accessor or a saveState() there.
//
// The hash is our own, non-cryptographic, 64 bits as two independent 32-bit lanes (a
// murmur3-style lane and an FNV-style lane with a rotate), never BigInt in the RAM loop. RAM
// is hashed per 4 KiB page: an all-zero page is skipped after a fast OR-scan, and every other
// page is hashed with its page number mixed in first, so the result still depends on where
// each byte is. Guest RAM is mostly zero pages, which then cost one read per word.
//
// Cost for 128 MiB of RAM, measured with Node 20 on this 2-vCPU machine under load from other
// jobs (the "cost" test in digest.test.ts prints it): every page zero 16-50 ms (70-115 ms on
// the very first call, which maps never-touched pages and compiles the loop); every page
// non-zero 80-160 ms, i.e. about 1 GB/s. The registers, clock and devices add about 1 ms.
//
// RAM is read through an Int32Array view in host byte order; on a big-endian host words are
// read through a little-endian DataView instead, so a digest is the same on every host.

import type { Machine } from './machine.js';
import type { Cpu } from './cpu/cpu.js';
import { readFpuState, readRegisters } from './cpu/register-state.js';

/** Named devices with a saveState() (or null when absent): `vmm.devices(id)` (PcDevices) fits. */
export type DigestDevices<D> = { readonly [K in keyof D]: { saveState(): Record<string, unknown> } | null };

/** The digest of each part of the state (16 hex digits each). */
export interface DigestParts {
  cpus: string[];
  ram: string;
  clock: string;
  pending: string;
  devices: string;
}

const PAGE_WORDS = 1024; // 4 KiB pages
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// murmur3 constants (Appleby, MurmurHash3_x86_32) and the FNV-1a 32-bit prime.
const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593 | 0;
const M5 = 0xe6546b64 | 0;
const FNV_PRIME = 0x01000193;
const FNV_OFFSET = 0x811c9dc5 | 0;
const SEED1 = 0x9747b28c | 0;

/** Incremental two-lane 32-bit hash; feed 32-bit words, read 16 hex digits. */
class Hasher {
  h1 = SEED1;
  h2 = FNV_OFFSET;
  n = 0;

  word(w: number): void {
    let k = Math.imul(w, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    let h1 = this.h1 ^ k;
    h1 = (h1 << 13) | (h1 >>> 19);
    this.h1 = (Math.imul(h1, 5) + M5) | 0;
    const h2 = Math.imul(this.h2 ^ w, FNV_PRIME);
    this.h2 = (h2 << 7) | (h2 >>> 25);
    this.n++;
  }

  string(s: string): void {
    this.word(s.length);
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
  }

  hex(): string {
    return hex8(fmix32(this.h1 ^ this.n)) + hex8(fmix32(this.h2 ^ Math.imul(this.n, 0x9e3779b1)));
  }
}

/** murmur3's finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

/** 64-bit hash of a string, 16 hex digits. */
export function hashString(s: string): string {
  const h = new Hasher();
  h.string(s);
  return h.hex();
}

/** 64-bit hash of guest RAM (length a multiple of 4 KiB), 16 hex digits. `viaDataView` forces
 *  the big-endian host's path (for tests: both paths must agree). */
export function hashRam(ram: Uint8Array, viaDataView = !LITTLE_ENDIAN): string {
  if (ram.length % 4096 !== 0 || ram.byteOffset % 4 !== 0) throw new RangeError('hashRam: RAM must be whole 4 KiB pages, 4-byte aligned');
  let h1 = SEED1;
  let h2 = FNV_OFFSET;
  let pages = 0;
  const nWords = ram.length >>> 2;
  const words = !viaDataView ? new Int32Array(ram.buffer, ram.byteOffset, nWords) : null;
  const view = new DataView(ram.buffer, ram.byteOffset, ram.length);
  for (let p = 0; p < nWords; p += PAGE_WORDS) {
    const end = p + PAGE_WORDS;
    let nz = 0;
    if (words !== null) {
      for (let i = p; i < end; i += 4) nz |= words[i] | words[i + 1] | words[i + 2] | words[i + 3];
    } else {
      for (let i = p; i < end; i++) nz |= view.getInt32(i << 2, true);
    }
    if (nz === 0) continue;
    pages++;
    // The page number first, then its words, through both lanes.
    h1 = Math.imul(h1 ^ (p >>> 10), C1);
    h2 = Math.imul(h2 ^ (p >>> 10), FNV_PRIME);
    for (let i = p; i < end; i++) {
      const w = words !== null ? words[i] : view.getInt32(i << 2, true);
      let k = Math.imul(w, C1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, C2);
      h1 ^= k;
      h1 = (h1 << 13) | (h1 >>> 19);
      h1 = (Math.imul(h1, 5) + M5) | 0;
      h2 = Math.imul(h2 ^ w, FNV_PRIME);
      h2 = (h2 << 7) | (h2 >>> 25);
    }
  }
  const n = (pages ^ nWords) | 0;
  return hex8(fmix32(h1 ^ n)) + hex8(fmix32(h2 ^ Math.imul(n, 0x9e3779b1)));
}

/**
 * Canonical text of plain data: object keys sorted, arrays and typed arrays in order, Maps and
 * Sets in insertion order, bigints as hex with an `n`, -0/NaN/Infinity spelled out (JSON would
 * fold -0 into 0 and NaN into null). Functions and symbols are refused: state must be data.
 */
export function canonicalJson(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v); // String gives NaN, Infinity, -Infinity as such
    case 'bigint':
      return (v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16)) + 'n';
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
      if (ArrayBuffer.isView(v)) {
        const a = v instanceof DataView ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : (v as unknown as ArrayLike<number | bigint>);
        const parts: string[] = [];
        for (let i = 0; i < a.length; i++) parts.push(canonicalJson(a[i]));
        return `${v.constructor.name}[${parts.join(',')}]`;
      }
      if (v instanceof Map) return 'Map{' + [...v].map(([k, x]) => canonicalJson(k) + ':' + canonicalJson(x)).join(',') + '}';
      if (v instanceof Set) return 'Set[' + [...v].map(canonicalJson).join(',') + ']';
      const keys = Object.keys(v).sort();
      return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson((v as Record<string, unknown>)[k])).join(',') + '}';
    }
    default:
      throw new TypeError(`canonicalJson: ${typeof v} is not plain data`);
  }
}

function cpuState(c: Cpu): unknown {
  return {
    regs: readRegisters(c),
    fpu: readFpuState(c), // x87, MMX, SSE registers, MXCSR
    // MSR slots the register set does not name (MISC_ENABLE, APIC_BASE, TSC_DEADLINE, SPEC_CTRL...).
    msrLo: c.msrLo,
    msrHi: c.msrHi,
    insns: c.insns,
    halted: c.halted,
    shutdown: c.shutdown,
    nmiPending: c.nmiPending,
    nmiBlocked: c.nmiBlocked,
    // Only whether a shadow is still active matters, not the icount it was set at.
    interruptShadow: c.inhibitUntil > c.insns ? c.inhibitUntil - c.insns : 0,
  };
}

/** The digest of each part of the state, for reports that say what differs. */
export function digestParts<D extends DigestDevices<D>>(m: Machine, devices?: D): DigestParts {
  const clock = m.clock;
  const devState: Record<string, unknown> = {};
  if (devices !== undefined) {
    for (const name of Object.keys(devices).sort()) {
      const d = devices[name as keyof D] as { saveState(): Record<string, unknown> } | null;
      devState[name] = d === null ? null : d.saveState();
    }
  }
  return {
    cpus: m.cpus.map((c) => hashString(canonicalJson(cpuState(c)))),
    ram: hashRam(m.mem.ram),
    clock: hashString(
      canonicalJson({
        icount: clock.icount,
        nsPerInsn: clock.nsPerInsn,
        tscKHz: clock.tscKHz,
        tscOffset: clock.tscOffset,
        nextDeadline: clock.nextDeadline(),
        idleInsns: m.idleInsns,
      }),
    ),
    pending: hashString(canonicalJson(m.cpus.map((_, i) => m.pendingExit(i)))),
    devices: hashString(canonicalJson(devState)),
  };
}

/**
 * A 64-bit digest (16 hex digits) of the guest-visible state of `m` and, if given, its
 * devices. Equal states give equal digests on every host; a change of any register, RAM byte,
 * clock field or device register changes it (up to hash collisions).
 */
export function stateDigest<D extends DigestDevices<D>>(m: Machine, devices?: D): string {
  const p = digestParts(m, devices);
  return hashString(`cpus:${p.cpus.join(',')};ram:${p.ram};clock:${p.clock};pending:${p.pending};devices:${devices === undefined ? '-' : p.devices}`);
}
