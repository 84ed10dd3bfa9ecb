// Hyper-V hypercalls against the TLFS (hypercall-interface.md; spec digest §6.3): who may call
// (#UD cases), the hypercall input value and its common status codes, the x64 and x86 register
// conventions, the calls implemented, and hostile inputs (never a host exception, only RAX or
// EDX:EAX change).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HypervPersonality } from '../../src/hypervisors/hyperv.js';
import type { HvConnections } from '../../src/hypervisors/hyperv-hypercall.js';
import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypercallRegs, HypervisorHost } from '../../src/hypervisors/personality.js';

const MEM = 1 << 20;

function host(): HypervisorHost {
  return {
    vcpus: 1,
    mem: new GuestMemory(MEM),
    bootTime: 0,
    kv: new KvStore(),
    nowNs: () => 0,
    tsc: () => 0,
    tscKHz: () => 2_000_000,
    injectInterrupt: () => {},
    after: () => 0,
    cancel: () => {},
  };
}

/** A personality with the hypercall page enabled at 0x2000 (TLFS steps 3-7). */
function ready(opts = {}): { h: HypervPersonality; mem: GuestMemory } {
  const h = new HypervPersonality(opts);
  const hst = host();
  h.attach(hst);
  expect(h.wrmsr(0x40000000, 0x0c000000, 0x81000006)).toBe('ok');
  expect(h.wrmsr(0x40000001, 0x2001, 0)).toBe('ok');
  return { h, mem: hst.mem };
}

// GPR indices: RAX 0, RCX 1, RDX 2, RBX 3, RSI 6, RDI 7, R8 8.
function regs(long: boolean, cpl = 0): HypercallRegs {
  return { vcpu: 0, lo: new Int32Array(16), hi: new Int32Array(16), cpl, long, insn: 'vmcall' };
}

/** x64: RCX control, RDX input, R8 output (TLFS register mapping). */
function call64(h: HypervPersonality, control: bigint, input = 0n, output = 0n, r = regs(true)): { handled: boolean; status: number; reps: number } {
  const set = (i: number, v: bigint) => {
    r.lo[i] = Number(v & 0xffffffffn) | 0;
    r.hi[i] = Number((v >> 32n) & 0xffffffffn) | 0;
  };
  set(1, control);
  set(2, input);
  set(8, output);
  const handled = h.hypercall(r);
  return { handled, status: r.lo[0] & 0xffff, reps: r.hi[0] & 0xfff };
}

/** x86: EDX:EAX control, EBX:ECX input, EDI:ESI output; result in EDX:EAX. */
function call32(h: HypervPersonality, control: bigint, input = 0n, output = 0n): { handled: boolean; status: number; edx: number } {
  const r = regs(false);
  const lo = (v: bigint) => Number(v & 0xffffffffn) | 0;
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn) | 0;
  r.lo[0] = lo(control);
  r.lo[2] = hi(control);
  r.lo[1] = lo(input);
  r.lo[3] = hi(input);
  r.lo[6] = lo(output);
  r.lo[7] = hi(output);
  const handled = h.hypercall(r);
  return { handled, status: r.lo[0] >>> 0, edx: r.lo[2] >>> 0 };
}

const S = {
  SUCCESS: 0,
  INVALID_HYPERCALL_CODE: 2,
  INVALID_HYPERCALL_INPUT: 3,
  INVALID_ALIGNMENT: 4,
  INVALID_PARAMETER: 5,
  ACCESS_DENIED: 6,
  INVALID_CONNECTION_ID: 0x12,
};
const FAST = 1n << 16n;
const POST_MESSAGE = 0x5cn;
const SIGNAL_EVENT = 0x5dn;
const NOTIFY_LONG_SPIN_WAIT = 0x8n;

/** HvCallPostMessage input block (HvCallPostMessage.md). */
function writePostMessage(mem: GuestMemory, gpa: number, connectionId: number, type: number, size: number): void {
  mem.write32(gpa, connectionId);
  mem.write32(gpa + 4, 0);
  mem.write32(gpa + 8, type);
  mem.write32(gpa + 12, size);
  for (let i = 0; i < 240; i++) mem.write8(gpa + 16 + i, i);
}

describe('who may make a hypercall (TLFS "Legal Hypercall Environments", "Establishing the Hypercall Interface")', () => {
  it('not ours while the hypercall page is disabled (no GUEST_OS_ID, or page not enabled): the machine raises #UD', () => {
    const h = new HypervPersonality();
    h.attach(host());
    expect(call64(h, 0xffffn).handled).toBe(false);
    h.wrmsr(0x40000000, 1, 0);
    expect(call64(h, 0xffffn).handled).toBe(false);
    h.wrmsr(0x40000001, 0x2001, 0);
    expect(call64(h, 0xffffn).handled).toBe(true);
    h.wrmsr(0x40000000, 0, 0); // zeroing GUEST_OS_ID disables the page
    expect(call64(h, 0xffffn).handled).toBe(false);
  });

  it('CPL > 0 is #UD (not handled), whatever the call', () => {
    const { h } = ready();
    for (const cpl of [1, 2, 3]) {
      const r = regs(true, cpl);
      r.lo[0] = 0x1234;
      expect(call64(h, NOTIFY_LONG_SPIN_WAIT | FAST, 0n, 0n, r).handled).toBe(false);
      expect(r.lo[0]).toBe(0x1234);
    }
  });
});

describe('hypercall input value and common status codes (TLFS "Hypercall Inputs", "Common Hypercall Status Codes")', () => {
  it('an unknown call code is HV_STATUS_INVALID_HYPERCALL_CODE, 0 reps completed', () => {
    const { h } = ready();
    for (const code of [0x0000n, 0x0001n, 0x0002n, 0x0013n, 0x0046n, 0x005en, 0x8001n, 0xffffn]) {
      expect(call64(h, code)).toEqual({ handled: true, status: S.INVALID_HYPERCALL_CODE, reps: 0 });
    }
  });

  it('any RsvdZ bit (31:27, 47:44, 63:60) is HV_STATUS_INVALID_HYPERCALL_INPUT', () => {
    const { h } = ready();
    for (const bit of [27n, 28n, 31n, 44n, 47n, 60n, 63n]) {
      expect(call64(h, NOTIFY_LONG_SPIN_WAIT | FAST | (1n << bit)).status).toBe(S.INVALID_HYPERCALL_INPUT);
    }
  });

  it('a rep count or rep start on a simple call, or a variable header on a call without one, is HV_STATUS_INVALID_HYPERCALL_INPUT', () => {
    const { h } = ready();
    expect(call64(h, NOTIFY_LONG_SPIN_WAIT | FAST | (1n << 32n)).status).toBe(S.INVALID_HYPERCALL_INPUT);
    expect(call64(h, NOTIFY_LONG_SPIN_WAIT | FAST | (1n << 48n)).status).toBe(S.INVALID_HYPERCALL_INPUT);
    expect(call64(h, NOTIFY_LONG_SPIN_WAIT | FAST | (1n << 17n)).status).toBe(S.INVALID_HYPERCALL_INPUT);
    expect(call64(h, NOTIFY_LONG_SPIN_WAIT | FAST).status).toBe(S.SUCCESS);
  });

  it('x86 convention: control in EDX:EAX, input GPA in EBX:ECX, result in EDX:EAX', () => {
    const { h, mem } = ready();
    expect(call32(h, 0xffffn)).toEqual({ handled: true, status: S.INVALID_HYPERCALL_CODE, edx: 0 });
    expect(call32(h, NOTIFY_LONG_SPIN_WAIT | (1n << 32n)).status).toBe(S.INVALID_HYPERCALL_INPUT); // rep count in EDX
    writePostMessage(mem, 0x4000, 1, 1, 4);
    expect(call32(h, POST_MESSAGE, 0x4000n).status).toBe(S.INVALID_CONNECTION_ID);
    expect(call32(h, POST_MESSAGE, 0x4000n | (1n << 32n)).status).toBe(S.INVALID_ALIGNMENT); // EBX = GPA high
  });
});

describe('implemented calls (§6.3)', () => {
  it('HvCallNotifyLongSpinWait (0x0008): always success, fast or not, whatever the input', () => {
    const { h } = ready();
    expect(call64(h, NOTIFY_LONG_SPIN_WAIT | FAST, 0xffffffffffffffffn).status).toBe(S.SUCCESS);
    expect(call64(h, NOTIFY_LONG_SPIN_WAIT, 0xfffffffffffff007n).status).toBe(S.SUCCESS);
  });

  it('HvCallPostMessage (0x005C): statuses of HvCallPostMessage.md; no connection exists before VMBus', () => {
    const { h, mem } = ready();
    writePostMessage(mem, 0x4000, 1, 1, 240);
    expect(call64(h, POST_MESSAGE, 0x4000n).status).toBe(S.INVALID_CONNECTION_ID);
    expect(call64(h, POST_MESSAGE | FAST, 0x4000n).status).toBe(S.INVALID_HYPERCALL_INPUT);
    writePostMessage(mem, 0x4000, 1, 0, 4); // type 0
    expect(call64(h, POST_MESSAGE, 0x4000n).status).toBe(S.INVALID_PARAMETER);
    writePostMessage(mem, 0x4000, 1, 0x80000001, 4); // MSB set
    expect(call64(h, POST_MESSAGE, 0x4000n).status).toBe(S.INVALID_PARAMETER);
    writePostMessage(mem, 0x4000, 1, 1, 241); // payload > 240
    expect(call64(h, POST_MESSAGE, 0x4000n).status).toBe(S.INVALID_PARAMETER);
    const denied = ready({ privilegesHi: 0x20 }); // SignalEvents only
    writePostMessage(denied.mem, 0x4000, 1, 1, 4);
    expect(call64(denied.h, POST_MESSAGE, 0x4000n).status).toBe(S.ACCESS_DENIED);
  });

  it('HvCallPostMessage: misaligned, page-crossing, outside-RAM and beyond-2^64-of-sense GPAs are HV_STATUS_INVALID_ALIGNMENT', () => {
    const { h } = ready();
    for (const gpa of [0x4004n, 0x4f08n, 0x4f00n + 8n, BigInt(MEM - 8), BigInt(MEM), 0xfffffffffffff000n, 0x8000000000n]) {
      expect(call64(h, POST_MESSAGE, gpa).status).toBe(S.INVALID_ALIGNMENT);
    }
  });

  it('HvCallSignalEvent (0x005D): fast and memory forms; RsvdZ bits 63:48 refused; no connection before VMBus', () => {
    const { h, mem } = ready();
    expect(call64(h, SIGNAL_EVENT | FAST, 1n | (3n << 32n)).status).toBe(S.INVALID_CONNECTION_ID);
    expect(call64(h, SIGNAL_EVENT | FAST, 1n | (1n << 48n)).status).toBe(S.INVALID_HYPERCALL_INPUT);
    mem.write32(0x4000, 1);
    mem.write32(0x4004, 0);
    expect(call64(h, SIGNAL_EVENT, 0x4000n).status).toBe(S.INVALID_CONNECTION_ID);
    expect(call64(h, SIGNAL_EVENT, 0x4001n).status).toBe(S.INVALID_ALIGNMENT);
    expect(call64(h, SIGNAL_EVENT, 0xfff8n + BigInt(MEM)).status).toBe(S.INVALID_ALIGNMENT);
    expect(call64(ready({ privilegesHi: 0x10 }).h, SIGNAL_EVENT | FAST, 1n).status).toBe(S.ACCESS_DENIED);
  });

  it('a connection handler (VMBus, later) receives the validated message and event, and its status is returned', () => {
    const { h, mem } = ready();
    const seen: unknown[] = [];
    const conns: HvConnections = {
      postMessage: (vcpu, id, type, payload) => (seen.push(['msg', vcpu, id, type, [...payload]]), 0),
      signalEvent: (vcpu, id, flag) => (seen.push(['evt', vcpu, id, flag]), 0x11),
    };
    h.connections = conns;
    writePostMessage(mem, 0x4000, 4, 1, 3);
    expect(call64(h, POST_MESSAGE, 0x4000n).status).toBe(S.SUCCESS);
    expect(call64(h, SIGNAL_EVENT | FAST, 0x2n | (7n << 32n)).status).toBe(0x11);
    writePostMessage(mem, 0x4000, 0x1000000, 1, 3); // connection id bits 31:24 reserved
    expect(call64(h, POST_MESSAGE, 0x4000n).status).toBe(S.INVALID_CONNECTION_ID);
    expect(seen).toEqual([['msg', 0, 4, 1, [0, 1, 2]], ['evt', 0, 2, 7]]);
  });
});

describe('hostile hypercalls', () => {
  it('any registers, mode and memory: no host exception; the status is a TLFS code; only RAX (x64) or EDX:EAX (x86) change', () => {
    const { h, mem } = ready();
    const codes = [0x0008, 0x005c, 0x005d];
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 32, maxLength: 32 }),
        fc.option(fc.constantFrom(...codes), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: MEM / 8 - 1 }), { nil: undefined }),
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        (long, words, code, inputQword, block) => {
          const r = regs(long);
          for (let i = 0; i < 16; i++) {
            r.lo[i] = words[i];
            r.hi[i] = words[16 + i];
          }
          // Sometimes a real call code, a RAM input GPA and random input bytes, so the calls' own checks run.
          // A well-formed control word (only the fast bit random) for a real call code.
          if (code !== undefined) {
            if (long) [r.lo[1], r.hi[1]] = [code | (words[0] & 0x10000), 0];
            else [r.lo[0], r.lo[2]] = [code | (words[0] & 0x10000), 0];
          }
          if (inputQword !== undefined) {
            const gpa = inputQword * 8;
            mem.writeBytes(Math.min(gpa, MEM - 256), block);
            if (long) [r.lo[2], r.hi[2]] = [gpa, 0];
            else [r.lo[1], r.lo[3]] = [gpa, 0];
          }
          const lo = Int32Array.from(r.lo);
          const hi = Int32Array.from(r.hi);
          expect(h.hypercall(r)).toBe(true);
          const status = r.lo[0] >>> 0;
          expect([0, 2, 3, 4, 5, 6, 0x12]).toContain(status & 0xffff);
          expect(status >>> 16).toBe(0);
          const unchanged = (a: Int32Array, b: Int32Array) => [...a].every((v, i) => i === 0 || (!long && i === 2) || v === b[i]);
          expect(unchanged(r.lo, lo) && unchanged(r.hi, hi)).toBe(true);
          if (long) expect(r.hi[0]).toBe(0); // reps completed 0, reserved bits 0
          else {
            expect(r.lo[2]).toBe(0);
            expect(r.hi[0]).toBe(hi[0]); // the upper halves are not the x86 caller's
            expect(r.hi[2]).toBe(hi[2]);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
