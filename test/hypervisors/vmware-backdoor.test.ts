// The VMware backdoor and GuestRPC against the spec digest (§4.1-§4.5) and the public guest
// code it summarises (open-vm-tools lib/message/message.c and backdoor_def.h, OpenBSD vmt.c).
// The numbers below are written out from those sources, not taken from the implementation.
// A test-side RPCI client drives portIo with a fake register file exactly as the CPU does: a
// 32-bit IN on 0x5658, and REP OUTSB / REP INSB on 0x5659 one byte per call with RCX counting
// the byte in flight (src/machine/cpu/exec-string.ts).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VmwarePersonality } from '../../src/hypervisors/vmware.js';
import { createPersonalities } from '../../src/hypervisors/index.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import { GuestMemory } from '../../src/machine/memory.js';
import type { GuestRegs, HypervisorHost } from '../../src/hypervisors/personality.js';

// §4.1
const MAGIC = 0x564d5868;
const LB = 0x5658;
const HB = 0x5659;
// §4.2 commands
const GET_SPEED = 1;
const GETVERSION = 10;
const GET_MEM_SIZE = 20;
const MESSAGE = 30;
const GETHZ = 45;
const GET_TIME_FULL = 46;
const GETVCPU_INFO = 68;
// §4.3 sub-commands and status bits
const OPEN = 0, SENDSIZE = 1, SENDPAYLOAD = 2, RECVSIZE = 3, RECVPAYLOAD = 4, RECVSTATUS = 5, CLOSE = 6;
const SUCCESS = 0x0001, DORECV = 0x0002, HB_BIT = 0x0080;
const RPCI = 0x49435052, TCLO = 0x4f4c4354, COOKIE_FLAG = 0x80000000;
// Register indices (x86 order).
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, EBP = 5, ESI = 6, EDI = 7;

interface Setup {
  p: VmwarePersonality;
  kv: KvStore;
  clock: { ns: number; tscKHz: number };
}

function setup(opts: { kv?: { key: string; value: string; readOnly?: boolean }[]; restrict?: boolean; tscKHz?: number; bootTime?: number } = {}): Setup {
  const kv = new KvStore(opts.kv ?? []);
  const clock = { ns: 0, tscKHz: opts.tscKHz ?? 2_000_000 };
  const host: HypervisorHost = {
    vcpus: 1,
    mem: new GuestMemory(64 * 1024 * 1024),
    nowNs: () => clock.ns,
    tsc: () => Math.floor((clock.ns * clock.tscKHz) / 1e6),
    tscKHz: () => clock.tscKHz,
    bootTime: opts.bootTime ?? 946684800,
    injectInterrupt: () => {},
    after: () => 0,
    cancel: () => {},
    kv,
  };
  const p = new VmwarePersonality({ tscKHz: clock.tscKHz, backdoor: { restrictToCpl0: opts.restrict } });
  p.attach(host);
  return { p, kv, clock };
}

function regs(init: Partial<Record<number, number>> = {}, cpl = 0): GuestRegs {
  const r: GuestRegs = { vcpu: 0, lo: new Int32Array(16), hi: new Int32Array(16), cpl, long: false };
  for (const [k, v] of Object.entries(init)) r.lo[Number(k)] = v! | 0;
  return r;
}

const u = (r: GuestRegs, i: number): number => r.lo[i] >>> 0;

/** `in eax, dx` as the CPU runs it: the returned value lands in EAX. */
function inl(p: VmwarePersonality, r: GuestRegs): void {
  const v = p.portIo(r, u(r, EDX) & 0xffff, 4, false, 0);
  r.lo[EAX] = v | 0;
}

/** Backdoor command with the usual register set-up; returns the registers after the IN. */
function cmd(p: VmwarePersonality, command: number, extra: Partial<Record<number, number>> = {}, cpl = 0): GuestRegs {
  const r = regs({ [EAX]: MAGIC, [ECX]: command, [EDX]: LB, ...extra }, cpl);
  inl(p, r);
  return r;
}

/** `cld; rep outsb` on DX: one portIo per byte, RCX counting the byte in flight, RSI advancing. */
function repOutsb(p: VmwarePersonality, r: GuestRegs, bytes: Uint8Array, count = bytes.length): void {
  r.lo[ECX] = count;
  for (let i = 0; i < count; i++) {
    p.portIo(r, u(r, EDX) & 0xffff, 1, true, bytes[i]);
    r.lo[ESI]++;
    r.lo[ECX]--;
  }
}

/** `cld; rep insb` on DX: one portIo per byte, RDI advancing. */
function repInsb(p: VmwarePersonality, r: GuestRegs, count: number): Uint8Array {
  const out = new Uint8Array(count);
  r.lo[ECX] = count;
  for (let i = 0; i < count; i++) {
    out[i] = p.portIo(r, u(r, EDX) & 0xffff, 1, false, 0) & 0xff;
    r.lo[EDI]++;
    r.lo[ECX]--;
  }
  return out;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const status = (r: GuestRegs): number => u(r, ECX) >>> 16;

/**
 * A guest's GuestRPC client, written from message.c (low bandwidth, and HB when the host
 * says so) and vmt.c (HB always; OpenBSD's exact success checks).
 */
class Client {
  id = 0;
  c1 = 0;
  c2 = 0;
  constructor(readonly p: VmwarePersonality, readonly mode: 'lb' | 'hb') {}

  call(sub: number, init: Partial<Record<number, number>> = {}): GuestRegs {
    return cmd(this.p, MESSAGE | (sub << 16), { [EDX]: (this.id << 16) | LB, [ESI]: this.c1, [EDI]: this.c2, ...init });
  }

  open(proto = RPCI, flags = COOKIE_FLAG): GuestRegs {
    const r = cmd(this.p, MESSAGE | (OPEN << 16), { [EBX]: proto | flags });
    // vmt.c vm_rpc_open: ECX high must be exactly 1 and EDX low 0.
    expect(status(r)).toBe(SUCCESS);
    expect(u(r, ECX) & 0xffff).toBe(0);
    expect(u(r, EDX) & 0xffff).toBe(0);
    this.id = u(r, EDX) >>> 16;
    this.c1 = u(r, ESI);
    this.c2 = u(r, EDI);
    return r;
  }

  send(msg: Uint8Array): void {
    const r = this.call(SENDSIZE, { [EBX]: msg.length });
    expect(status(r) & SUCCESS).toBe(SUCCESS);
    if (msg.length === 0) return;
    if (this.mode === 'hb') {
      // vmt.c vm_rpc_send: EBX 0x00010000, ECX length, EBP cookie1, EDI cookie2, ESI buffer.
      const h = regs({ [EAX]: MAGIC, [EBX]: 0x00010000, [EDX]: (this.id << 16) | HB, [EBP]: this.c1, [EDI]: this.c2, [ESI]: 0x200000 });
      repOutsb(this.p, h, msg);
      expect(u(h, EBX)).toBe(0x00010000);
    } else {
      for (let i = 0; i < msg.length; i += 4) {
        let w = 0;
        for (let j = 0; j < 4 && i + j < msg.length; j++) w |= msg[i + j] << (8 * j);
        const s = this.call(SENDPAYLOAD, { [EBX]: w });
        expect(status(s) & SUCCESS).toBe(SUCCESS);
      }
    }
  }

  /** RECVSIZE, payload (truncated to `limit` bytes, as vmt.c does), RECVSTATUS. */
  receive(limit = Infinity): { length: number; data: Uint8Array } {
    const r = this.call(RECVSIZE);
    expect(status(r) & SUCCESS).toBe(SUCCESS);
    if ((status(r) & DORECV) === 0) return { length: 0, data: new Uint8Array(0) };
    const length = u(r, EBX);
    expect(u(r, EDX) >>> 16).toBe(SENDSIZE); // message.c: the data id must be SENDSIZE
    const n = Math.min(length, limit);
    let data: Uint8Array;
    if (this.mode === 'hb') {
      // vmt.c vm_rpc_get_data: ESI cookie1, EBP cookie2, EDI buffer.
      const h = regs({ [EAX]: MAGIC, [EBX]: 0x00010000, [EDX]: (this.id << 16) | HB, [ESI]: this.c1, [EBP]: this.c2, [EDI]: 0x300000 });
      data = repInsb(this.p, h, n);
      expect(u(h, EBX)).toBe(0x00010000);
    } else {
      data = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const s = this.call(RECVPAYLOAD, { [EBX]: SUCCESS });
        expect(status(s) & SUCCESS).toBe(SUCCESS);
        expect(u(s, EDX) >>> 16).toBe(SENDPAYLOAD);
        for (let j = 0; j < 4 && i + j < n; j++) data[i + j] = (u(s, EBX) >>> (8 * j)) & 0xff;
      }
    }
    const st = this.call(RECVSTATUS, { [EBX]: SENDSIZE });
    expect(status(st)).not.toBe(0);
    return { length, data };
  }

  close(): void {
    const r = this.call(CLOSE);
    // vmt.c vm_rpc_close: fails if ECX high == 0 or ECX low != 0.
    expect(status(r)).not.toBe(0);
    expect(u(r, ECX) & 0xffff).toBe(0);
  }

  /** One RPCI round trip on a fresh channel, as vmt.c and rpcout.c do. */
  static rpci(p: VmwarePersonality, request: string | Uint8Array, mode: 'lb' | 'hb' = 'hb'): string {
    const c = new Client(p, mode);
    c.open();
    c.send(typeof request === 'string' ? enc(request) : request);
    const reply = dec(c.receive().data);
    c.close();
    return reply;
  }
}

describe('VMware personality: ports and wiring', () => {
  it('claims the low- and high-bandwidth backdoor ports (§4.1)', () => {
    const [p] = createPersonalities(['vmware']);
    expect([...(p.backdoorPorts ?? [])]).toEqual([0x5658, 0x5659]);
    expect(typeof p.portIo).toBe('function');
  });
});

describe('backdoor commands (§4.2)', () => {
  it('GETVERSION: EAX version (not 0xffffffff), EBX = magic, ECX = product type; OpenBSD probe inputs', () => {
    const { p } = setup();
    const r = cmd(p, GETVERSION | (0xffff << 16), { [EBX]: ~MAGIC });
    expect(u(r, EAX)).toBe(6);
    expect(u(r, EBX)).toBe(MAGIC);
    expect(u(r, ECX)).toBe(2); // ESX server, QEMU's default
  });

  it('GET_SPEED: CPU MHz, which is not the magic (vmt_probe)', () => {
    const { p } = setup({ tscKHz: 2_000_000 });
    const r = cmd(p, GET_SPEED | (0xffff << 16), { [EBX]: ~MAGIC });
    expect(u(r, EAX)).toBe(2000);
    expect(u(r, EAX)).not.toBe(MAGIC);
  });

  it('GETHZ: TSC Hz in EBX:EAX, APIC Hz in ECX; follows the TSC frequency now', () => {
    const s = setup({ tscKHz: 2_000_000 });
    let r = cmd(s.p, GETHZ, { [EBX]: 0xffffffff });
    expect(u(r, EAX)).toBe(2_000_000_000);
    expect(u(r, EBX)).toBe(0);
    expect(u(r, ECX)).toBe(1_000_000_000); // default APIC bus 1 GHz (§1.3)
    s.clock.tscKHz = 5_000_000; // 5 GHz needs the high half: 5e9 = 1 * 2^32 + 705032704
    r = cmd(s.p, GETHZ, { [EBX]: 0xffffffff });
    expect(u(r, EBX)).toBe(1);
    expect(u(r, EAX)).toBe(5_000_000_000 - 4294967296);
    // Linux vmware_platform_setup: tsc_khz = (EBX:EAX) / 1000
    expect((u(r, EBX) * 4294967296 + u(r, EAX)) / 1000).toBe(5_000_000);
  });

  it('GET_MEM_SIZE: RAM in MiB', () => {
    const { p } = setup();
    expect(u(cmd(p, GET_MEM_SIZE), EAX)).toBe(64);
  });

  it('GET_TIME_FULL: seconds in ESI:EDX, µs in EBX, EAX left as the magic (open-vm-tools checks it)', () => {
    const s = setup({ bootTime: 1_700_000_000 });
    s.clock.ns = 3_250_000_123;
    const r = cmd(s.p, GET_TIME_FULL);
    expect(u(r, EAX)).toBe(MAGIC);
    expect(u(r, ESI) * 4294967296 + u(r, EDX)).toBe(1_700_000_003);
    expect(u(r, EBX)).toBe(250_000);
  });

  it('GETVCPU_INFO: reserved bit 31 clear', () => {
    const { p } = setup();
    expect(u(cmd(p, GETVCPU_INFO), EAX) >>> 31).toBe(0);
  });

  it('unsupported commands answer EAX = 0xffffffff and leave the other registers alone (§4.1)', () => {
    const { p } = setup();
    for (const c of [0, 2, 15, 19, 55, 0xffff]) {
      const r = cmd(p, c | (0x1234 << 16), { [EBX]: 0x11111111, [ESI]: 0x22222222, [EDI]: 0x33333333 });
      expect(u(r, EAX), `command ${c}`).toBe(0xffffffff);
      expect([u(r, EBX), u(r, ECX), u(r, EDX), u(r, ESI), u(r, EDI)]).toEqual([0x11111111, c | (0x1234 << 16), LB, 0x22222222, 0x33333333]);
    }
  });
});

describe('accesses that are not backdoor calls', () => {
  it('a wrong magic reads as an empty port (all ones) and changes no other register', () => {
    const { p } = setup();
    for (const port of [LB, HB]) {
      for (const size of [1, 2, 4]) {
        const r = regs({ [EAX]: MAGIC ^ 1, [EBX]: 7, [ECX]: GETVERSION, [EDX]: port, [ESI]: 8, [EDI]: 9 });
        const before = [...r.lo];
        const v = p.portIo(r, port, size, false, 0);
        expect(v & (size === 4 ? -1 : (1 << (8 * size)) - 1)).toBe(size === 1 ? 0xff : size === 2 ? 0xffff : -1);
        expect([...r.lo]).toEqual(before);
        p.portIo(r, port, size, true, 0x55);
        expect([...r.lo]).toEqual(before);
      }
    }
  });

  it('8- and 16-bit INs and any OUT on 0x5658 are not commands, even with the magic', () => {
    const { p } = setup();
    for (const size of [1, 2]) {
      const r = regs({ [EAX]: MAGIC, [EBX]: 7, [ECX]: GETVERSION, [EDX]: LB });
      const before = [...r.lo];
      expect(p.portIo(r, LB, size, false, 0)).toBe(size === 1 ? 0xff : 0xffff);
      expect([...r.lo]).toEqual(before);
    }
    const r = regs({ [EAX]: MAGIC, [EBX]: 7, [ECX]: GETVERSION, [EDX]: LB });
    const before = [...r.lo];
    p.portIo(r, LB, 4, true, MAGIC);
    expect([...r.lo]).toEqual(before);
  });

  it('works from CPL 3 by default (VMware: user-mode tools use it); restrictToCpl0 refuses it', () => {
    expect(u(cmd(setup().p, GETVERSION, {}, 3), EBX)).toBe(MAGIC);
    const r = cmd(setup({ restrict: true }).p, GETVERSION, { [EBX]: 5 }, 3);
    expect(u(r, EAX)).toBe(0xffffffff);
    expect(u(r, EBX)).toBe(5);
    expect(u(cmd(setup({ restrict: true }).p, GETVERSION, {}, 0), EBX)).toBe(MAGIC);
  });

  it('tells the machine which user-mode accesses skip the I/O permission #GP: the magic on our ports only', () => {
    const { p } = setup();
    expect(p.bypassesIoPermission(regs({ [EAX]: MAGIC }, 3), LB)).toBe(true);
    expect(p.bypassesIoPermission(regs({ [EAX]: MAGIC }, 3), HB)).toBe(true);
    expect(p.bypassesIoPermission(regs({ [EAX]: MAGIC ^ 1 }, 3), LB)).toBe(false);
    expect(p.bypassesIoPermission(regs({ [EAX]: MAGIC }, 3), 0x3f8)).toBe(false);
    expect(setup({ restrict: true }).p.bypassesIoPermission(regs({ [EAX]: MAGIC }, 3), LB)).toBe(false);
  });
});

describe('MESSAGE channels (§4.3)', () => {
  it('OPEN: status exactly SUCCESS, ECX low 0, channel in EDX high with EDX low 0, non-zero cookies', () => {
    const { p } = setup();
    const c = new Client(p, 'hb');
    c.open();
    expect(c.c1).not.toBe(0);
    expect(c.c2).not.toBe(0);
    expect(c.id).toBeLessThan(8);
  });

  it('ids are the lowest free slot; at most 8 channels (GUESTMSG_MAX_CHANNEL); cookies differ per open', () => {
    const { p } = setup();
    const cs = Array.from({ length: 8 }, () => new Client(p, 'hb'));
    cs.forEach((c) => c.open());
    expect(cs.map((c) => c.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(cs.flatMap((c) => [c.c1, c.c2])).size).toBe(16);
    const full = cmd(p, MESSAGE | (OPEN << 16), { [EBX]: RPCI | COOKIE_FLAG });
    expect(status(full)).toBe(0);
    cs[3].close();
    const again = new Client(p, 'hb');
    again.open();
    expect(again.id).toBe(3);
    expect([again.c1, again.c2]).not.toEqual([cs[3].c1, cs[3].c2]);
  });

  it('cookies are deterministic: two fresh machines hand out the same ones', () => {
    const a = new Client(setup().p, 'hb');
    const b = new Client(setup().p, 'hb');
    a.open();
    b.open();
    expect([a.c1, a.c2]).toEqual([b.c1, b.c2]);
  });

  it('OPEN of an unknown protocol fails with status 0', () => {
    const { p } = setup();
    expect(status(cmd(p, MESSAGE | (OPEN << 16), { [EBX]: 0x12345678 | COOKIE_FLAG }))).toBe(0);
    expect(status(cmd(p, MESSAGE | (OPEN << 16), { [EBX]: 0 }))).toBe(0);
  });

  it('a channel opened without the cookie flag works without cookies (message.c falls back to it)', () => {
    const { p } = setup({ kv: [{ key: 'guestinfo.a', value: 'b' }] });
    const c = new Client(p, 'lb');
    c.open(RPCI, 0);
    c.c1 = 0x1234;
    c.c2 = 0x5678; // ignored
    c.send(enc('info-get guestinfo.a'));
    expect(dec(c.receive().data)).toBe('1 b');
  });

  it('status bits of each sub-command, ECX low always 0', () => {
    const { p } = setup({ kv: [{ key: 'guestinfo.k', value: 'v' }] });
    const c = new Client(p, 'lb');
    c.open();
    let r = c.call(RECVSIZE);
    expect(status(r)).toBe(SUCCESS); // nothing to receive: no DORECV
    r = c.call(SENDSIZE, { [EBX]: 'info-get guestinfo.k'.length });
    expect(status(r)).toBe(SUCCESS | HB_BIT); // HB: the high-bandwidth port is there
    expect(u(r, ECX) & 0xffff).toBe(0);
    const msg = enc('info-get guestinfo.k');
    for (let i = 0; i < msg.length; i += 4) {
      r = c.call(SENDPAYLOAD, { [EBX]: msg[i] | (msg[i + 1] << 8) | (msg[i + 2] << 16) | (msg[i + 3] << 24) });
      expect(status(r)).toBe(SUCCESS);
    }
    r = c.call(RECVSIZE);
    expect(status(r)).toBe(SUCCESS | DORECV | HB_BIT);
    expect(u(r, EBX)).toBe(3); // "1 v"
    expect(u(r, EDX)).toBe((SENDSIZE << 16) | LB);
    r = c.call(RECVPAYLOAD, { [EBX]: SUCCESS });
    expect(status(r)).toBe(SUCCESS);
    expect(u(r, EBX)).toBe(0x31 | (0x20 << 8) | (0x76 << 16)); // '1', ' ', 'v', zero padding
    expect(u(r, EDX) >>> 16).toBe(SENDPAYLOAD);
    r = c.call(RECVSTATUS, { [EBX]: SENDSIZE });
    expect(status(r)).toBe(SUCCESS);
    expect(status(c.call(RECVSIZE))).toBe(SUCCESS); // acknowledged: gone
    r = c.call(CLOSE);
    expect(status(r)).toBe(SUCCESS);
    expect(u(r, ECX) & 0xffff).toBe(0);
  });
});

describe('RPCI commands (§4.4) over both transports', () => {
  for (const mode of ['lb', 'hb'] as const) {
    it(`${mode}: info-get, info-set and the read-back, read-only keys, unknown commands`, () => {
      const s = setup({ kv: [{ key: 'guestinfo.foo', value: 'bar' }, { key: 'guestinfo.ro', value: 'fixed', readOnly: true }] });
      const rpc = (m: string): string => Client.rpci(s.p, m, mode);
      expect(rpc('info-get guestinfo.foo')).toBe('1 bar');
      expect(rpc('info-get guestinfo.missing')).toBe('0 No value found');
      expect(rpc('info-set guestinfo.new hello world')).toBe('1 '); // value = rest of the line
      expect(rpc('info-get guestinfo.new')).toBe('1 hello world');
      expect(s.kv.writes).toEqual([{ key: 'guestinfo.new', value: 'hello world' }]);
      expect(rpc('info-set guestinfo.ro changed')).toBe('0 Permission denied');
      expect(rpc('info-get guestinfo.ro')).toBe('1 fixed');
      expect(rpc('info-set guestinfo.novalue')).toBe('0 Two and exactly two arguments expected');
      expect(rpc('info-set guestinfo.empty ')).toBe('1 ');
      expect(rpc('info-get guestinfo.empty')).toBe('1 ');
      // Only guestinfo.* belongs to the guest.
      expect(rpc('info-get foo')).toBe('0 No value found');
      expect(rpc('info-set foo bar')).toBe('0 Permission denied');
      expect(s.kv.writes.length).toBe(2);
      expect(rpc('tools.set.version 2147483647')).toBe('1 ');
      expect(rpc('tools.capability.hgfs_server toolbox 1')).toBe('1 ');
      expect(rpc('SetGuestInfo  7 12300')).toBe('1 ');
      expect(rpc('log hello from the guest')).toBe('1 ');
      expect(s.p.backdoor!.tools.guestLog).toEqual(['hello from the guest']);
      expect(rpc('frobnicate')).toBe('0 Unknown command');
      expect(rpc('')).toBe('0 Unknown command');
    });
  }

  it("OpenBSD's 4096-byte NUL-padded request is read up to its first NUL (§4.3)", () => {
    const s = setup({ kv: [{ key: 'guestinfo.hostname', value: 'vm1' }] });
    const buf = new Uint8Array(4096);
    buf.set(enc('info-get guestinfo.hostname'));
    expect(Client.rpci(s.p, buf, 'hb')).toBe('1 vm1');
    buf.fill(0);
    buf.set(enc('info-set guestinfo.hostname vm2'));
    expect(Client.rpci(s.p, buf, 'hb')).toBe('1 ');
    expect(s.kv.get('guestinfo.hostname')).toBe('vm2');
  });

  it('a value longer than the guest buffer: RECVSIZE gives the full length (the guest detects ERANGE, §2.2)', () => {
    const long = 'x'.repeat(5000);
    const s = setup({ kv: [{ key: 'guestinfo.big', value: long }] });
    const c = new Client(s.p, 'hb');
    c.open();
    c.send(enc('info-get guestinfo.big'));
    const got = c.receive(4095); // vmt.c truncates to VMT_RPC_BUFLEN - 1
    expect(got.length).toBe(5002); // "1 " + 5000 bytes
    expect(got.length + 1).toBeGreaterThan(4096); // vmt_kvop: rlen + 1 > valuelen -> ERANGE
    expect(dec(got.data)).toBe(('1 ' + long).slice(0, 4095));
    c.close();
  });

  it('UTF-8 keys and values pass through as text', () => {
    const s = setup();
    expect(Client.rpci(s.p, 'info-set guestinfo.name Grüße ☃')).toBe('1 ');
    expect(s.kv.get('guestinfo.name')).toBe('Grüße ☃');
    expect(Client.rpci(s.p, 'info-get guestinfo.name')).toBe('1 Grüße ☃');
  });

  it('a request at the 64 KiB limit works; one byte more is refused at SENDSIZE', () => {
    const s = setup();
    const head = 'info-set guestinfo.big ';
    const max = enc(head + 'y'.repeat(65536 - head.length));
    expect(max.length).toBe(65536);
    expect(Client.rpci(s.p, max)).toBe('1 ');
    const c = new Client(s.p, 'hb');
    c.open();
    expect(status(c.call(SENDSIZE, { [EBX]: 65537 }))).toBe(0);
    expect(status(c.call(SENDSIZE, { [EBX]: 0xffffffff }))).toBe(0);
    expect(status(c.call(SENDPAYLOAD, { [EBX]: 0x41414141 }))).toBe(0); // no message outstanding
  });
});

describe('hostile sequences', () => {
  it('payload before size, payload after the message, receive with nothing to receive', () => {
    const { p } = setup();
    const c = new Client(p, 'lb');
    c.open();
    expect(status(c.call(SENDPAYLOAD, { [EBX]: 0x41414141 }))).toBe(0);
    expect(status(c.call(RECVPAYLOAD))).toBe(0);
    expect(status(c.call(RECVSTATUS, { [EBX]: 1 }))).toBe(0);
    expect(status(c.call(SENDSIZE, { [EBX]: 2 }))).toBe(SUCCESS | HB_BIT);
    expect(status(c.call(SENDPAYLOAD, { [EBX]: 0x2020 }))).toBe(SUCCESS); // completes the message
    expect(status(c.call(SENDPAYLOAD, { [EBX]: 0x2020 }))).toBe(0);
    // Reading beyond the reply fails instead of inventing bytes.
    const r = c.call(RECVSIZE);
    const len = u(r, EBX);
    for (let i = 0; i < len; i += 4) expect(status(c.call(RECVPAYLOAD))).toBe(SUCCESS);
    expect(status(c.call(RECVPAYLOAD))).toBe(0);
    c.close();
  });

  it('unknown channel ids, wrong cookies, closed channels and unknown sub-commands give status 0', () => {
    const { p } = setup();
    const c = new Client(p, 'lb');
    c.open();
    for (const id of [1, 7, 8, 0xffff]) {
      const r = cmd(p, MESSAGE | (SENDSIZE << 16), { [EBX]: 4, [EDX]: (id << 16) | LB, [ESI]: c.c1, [EDI]: c.c2 });
      expect(status(r), `channel ${id}`).toBe(0);
    }
    expect(status(c.call(SENDSIZE, { [ESI]: c.c1 ^ 1, [EBX]: 4 }))).toBe(0);
    expect(status(c.call(SENDSIZE, { [EDI]: c.c2 ^ 0x80000000, [EBX]: 4 }))).toBe(0);
    for (const sub of [7, 8, 0xffff]) expect(status(c.call(sub))).toBe(0);
    c.close();
    expect(status(c.call(SENDSIZE, { [EBX]: 4 }))).toBe(0);
    expect(status(c.call(CLOSE))).toBe(0);
  });

  it('high-bandwidth transfers the host cannot accept leave EBX without SUCCESS', () => {
    const { p } = setup();
    const c = new Client(p, 'hb');
    c.open();
    const hb = (init: Partial<Record<number, number>>): GuestRegs =>
      regs({ [EAX]: MAGIC, [EBX]: 0x00010000, [EDX]: (c.id << 16) | HB, [EBP]: c.c1, [EDI]: c.c2, ...init });
    // Send without SENDSIZE.
    let h = hb({});
    repOutsb(p, h, enc('abcd'));
    expect(u(h, EBX)).toBe(0);
    // More bytes than SENDSIZE announced: refused as a whole, the message stays pending.
    expect(status(c.call(SENDSIZE, { [EBX]: 3 }))).toBe(SUCCESS | HB_BIT);
    h = hb({});
    repOutsb(p, h, enc('abcd'));
    expect(u(h, EBX)).toBe(0);
    // Wrong cookies, unknown HB command.
    h = hb({ [EBP]: c.c1 ^ 1 });
    repOutsb(p, h, enc('abc'));
    expect(u(h, EBX)).toBe(0);
    h = hb({ [EBX]: 0x00010001 });
    repOutsb(p, h, enc('abc'));
    expect(u(h, EBX)).toBe(0);
    // The message can still be sent properly.
    h = hb({});
    repOutsb(p, h, enc('abc'));
    expect(u(h, EBX)).toBe(0x00010000);
    const reply = c.call(RECVSIZE);
    expect(status(reply) & DORECV).toBe(DORECV);
    // Receive more than the reply: refused, reads zeros.
    const r = regs({ [EAX]: MAGIC, [EBX]: 0x00010000, [EDX]: (c.id << 16) | HB, [ESI]: c.c1, [EBP]: c.c2 });
    const got = repInsb(p, r, u(reply, EBX) + 1);
    expect(u(r, EBX)).toBe(0);
    expect([...got].every((b) => b === 0)).toBe(true);
    // Receive with no reply at all.
    c.call(RECVSTATUS, { [EBX]: 1 });
    const none = regs({ [EAX]: MAGIC, [EBX]: 0x00010000, [EDX]: (c.id << 16) | HB, [ESI]: c.c1, [EBP]: c.c2 });
    repInsb(p, none, 4);
    expect(u(none, EBX)).toBe(0);
  });

  it('a REP OUTSB interrupted by a fault and re-executed continues the same transfer', () => {
    const { p } = setup({ kv: [{ key: 'guestinfo.k', value: 'v' }] });
    const c = new Client(p, 'hb');
    c.open();
    const msg = enc('info-get guestinfo.k');
    expect(status(c.call(SENDSIZE, { [EBX]: msg.length }))).toBe(SUCCESS | HB_BIT);
    const h = regs({ [EAX]: MAGIC, [EBX]: 0x00010000, [EDX]: (c.id << 16) | HB, [EBP]: c.c1, [EDI]: c.c2 });
    h.lo[ECX] = msg.length;
    for (let i = 0; i < msg.length; i++) {
      // A #PF after 7 bytes: the guest's handler runs, the REP restarts with RCX = what is left.
      if (i === 7) cmd(p, GETVERSION);
      p.portIo(h, HB, 1, true, msg[i]);
      h.lo[ECX]--;
    }
    expect(u(h, EBX)).toBe(0x00010000);
    expect(dec(c.receive().data)).toBe('1 v');
  });

  it('random register files never make the backdoor throw', () => {
    const { p } = setup({ kv: [{ key: 'guestinfo.a', value: 'b' }] });
    const c = new Client(p, 'lb');
    c.open();
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { minLength: 8, maxLength: 8 }),
        fc.constantFrom(LB, HB),
        fc.constantFrom(1, 2, 4),
        fc.boolean(),
        fc.boolean(),
        fc.nat({ max: 6 }),
        (vals, port, size, write, magic, sub) => {
          const r = regs();
          vals.forEach((v, i) => (r.lo[i] = v));
          if (magic) r.lo[EAX] = MAGIC;
          if (magic && port === LB && (vals[1] & 1) === 0) r.lo[ECX] = MESSAGE | (sub << 16);
          if ((vals[2] & 1) === 0) r.lo[EDX] = (c.id << 16) | port;
          r.lo[ECX] &= port === HB ? 0xffff : -1; // keep REP counts small
          const isMessage = magic && port === LB && size === 4 && !write && (r.lo[ECX] & 0xffff) === MESSAGE;
          p.portIo(r, port, size, write, vals[3]);
          // §4.3: hvsim never checkpoints, powers off or times out a channel, so a MESSAGE reply
          // carries only SUCCESS, DORECV and HB, and ECX low is 0.
          if (isMessage) expect(u(r, ECX) & ~((SUCCESS | DORECV | HB_BIT) << 16)).toBe(0);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('TCLO (§4.5)', () => {
  it('a new TCLO channel hears "reset", records the "OK" answer, then polls empty; queued host commands follow', () => {
    const { p } = setup();
    const c = new Client(p, 'hb');
    c.open(TCLO);
    c.send(new Uint8Array(0)); // vmt_tclo_tick: the first poll is an empty message
    expect(dec(c.receive().data)).toBe('reset');
    c.send(enc('OK ATR toolbox'));
    expect(p.backdoor!.tools.tcloAnswers).toEqual([{ command: 'reset', answer: 'OK ATR toolbox' }]);
    expect(c.receive().length).toBe(0); // nothing more: length 0, no DORECV
    c.send(new Uint8Array(0));
    expect(c.receive().length).toBe(0);
    p.backdoor!.tools.sendTclo('ping');
    c.send(new Uint8Array(0));
    expect(dec(c.receive().data)).toBe('ping');
    expect(c.receive().length).toBe(0); // one command at a time: the answer comes first
    c.send(enc('OK '));
    expect(p.backdoor!.tools.tcloAnswers[1]).toEqual({ command: 'ping', answer: 'OK ' });
    c.close();
  });

  it('an RPCI channel never hears TCLO commands', () => {
    const { p } = setup();
    const c = new Client(p, 'lb');
    c.open(RPCI);
    expect(c.receive().length).toBe(0);
  });
});
