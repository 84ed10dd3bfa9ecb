// Guest-side drivers of the information-store backends, as OpenBSD's pvbus kvop handlers use
// them (hypervisor-interfaces.md §2.2): vmt_kvop over the VMware backdoor's RPCI channel (§4.3,
// §4.4, register by register through the low-bandwidth MESSAGE calls) and xs_kvop over the
// XenStore ring (§5.6). Each returns pvbus's answer: an errno name or the value.

import { Vmm } from '../src/api/vmm.js';
import type { VmwarePersonality } from '../src/hypervisors/vmware.js';
import type { GuestRegs } from '../src/hypervisors/personality.js';
import { KvStore } from '../src/hypervisors/kv-store.js';
import { XenStoreServer } from '../src/hypervisors/xenstore.js';

export interface KvResult {
  errno: string | null;
  value?: string;
}

export interface KvClient {
  read(key: string, valuelen: number): KvResult;
  write(key: string, value: string): KvResult;
}

export type Seed = { key: string; value: string; readOnly?: boolean }[];

// ---- VMware: vmt_kvop over RPCI (§2.2 table "vmt", §4.3) ------------------------------------

const MAGIC = 0x564d5868;
const PORT = 0x5658;
const MESSAGE = 30;
const [RAX, RCX, RDX, RBX, RSI, RDI] = [0, 1, 2, 3, 6, 7];
const enc = new TextEncoder();
const dec = new TextDecoder();

export class VmtClient implements KvClient {
  private readonly regs: GuestRegs = { vcpu: 0, lo: new Int32Array(16), hi: new Int32Array(16), cpl: 0, long: true };
  private readonly bd: NonNullable<VmwarePersonality['backdoor']>;

  constructor(seed: Seed) {
    const vmm = new Vmm();
    const id = vmm.create({ name: 'kv', memoryBytes: 1 << 20, hypervisors: ['vmware'], kv: seed });
    const p = vmm.machine(id).config.personalities[0] as VmwarePersonality;
    this.bd = p.backdoor!;
  }

  /** One MESSAGE sub-command (`in eax, dx` with the magic): ECX high = status. */
  private call(sub: number, ebx: number, channel: number, c1: number, c2: number): number {
    const r = this.regs;
    r.lo.fill(0);
    r.hi.fill(0);
    r.lo[RAX] = MAGIC;
    r.lo[RCX] = MESSAGE | (sub << 16);
    r.lo[RBX] = ebx | 0;
    r.lo[RDX] = (channel << 16) | PORT;
    r.lo[RSI] = c1 | 0;
    r.lo[RDI] = c2 | 0;
    r.lo[RAX] = this.bd.portIo(r, PORT, 4, false, 0);
    return (r.lo[RCX] >>> 16) & 0xffff;
  }

  /** One RPCI request and its reply text, or null when the channel refused (vmt: EIO). */
  rpci(text: string): string | null {
    const st = this.call(0, 0x49435052 | 0x80000000, 0, 0, 0); // OPEN, RPCI with cookies
    if (st !== 1) return null;
    const ch = (this.regs.lo[RDX] >>> 16) & 0xffff;
    const c1 = this.regs.lo[RSI];
    const c2 = this.regs.lo[RDI];
    try {
      const msg = enc.encode(text);
      if ((this.call(1, msg.length, ch, c1, c2) & 1) === 0) return null; // SENDSIZE
      for (let i = 0; i < msg.length; i += 4) {
        const w = msg[i] | ((msg[i + 1] ?? 0) << 8) | ((msg[i + 2] ?? 0) << 16) | ((msg[i + 3] ?? 0) << 24);
        if ((this.call(2, w, ch, c1, c2) & 1) === 0) return null; // SENDPAYLOAD
      }
      const rs = this.call(3, 0, ch, c1, c2); // RECVSIZE
      if ((rs & 1) === 0) return null;
      if ((rs & 2) === 0) return '';
      const len = this.regs.lo[RBX] >>> 0;
      const id = (this.regs.lo[RDX] >>> 16) & 0xffff;
      const out = new Uint8Array(len + 3);
      for (let i = 0; i < len; i += 4) {
        if ((this.call(4, 0, ch, c1, c2) & 1) === 0) return null; // RECVPAYLOAD
        const w = this.regs.lo[RBX];
        out[i] = w & 0xff;
        out[i + 1] = (w >>> 8) & 0xff;
        out[i + 2] = (w >>> 16) & 0xff;
        out[i + 3] = (w >>> 24) & 0xff;
      }
      if ((this.call(5, id, ch, c1, c2) & 1) === 0) return null; // RECVSTATUS
      return dec.decode(out.subarray(0, len));
    } finally {
      this.call(6, 0, ch, c1, c2); // CLOSE
    }
  }

  read(key: string, valuelen: number): KvResult {
    const reply = this.rpci(`info-get ${key}`);
    if (reply === null) return { errno: 'EIO' };
    if (!reply.startsWith('1 ')) return { errno: 'EINVAL' };
    // vmt_kvop: ERANGE if reply length + 1 > valuelen, then the 2-character prefix is stripped
    if (enc.encode(reply).length + 1 > valuelen) return { errno: 'ERANGE' };
    return { errno: null, value: reply.slice(2) };
  }

  write(key: string, value: string): KvResult {
    const reply = this.rpci(`info-set ${key} ${value}`);
    if (reply === null) return { errno: 'EIO' };
    return reply.startsWith('1 ') ? { errno: null } : { errno: 'EINVAL' };
  }
}

// ---- Xen: xs_kvop over the XenStore ring (§2.2 table "xen", §5.6) ----------------------------

const RING = 1024;
const REQ_CONS = 2048, REQ_PROD = 2052, RSP_CONS = 2056, RSP_PROD = 2060;
const XS_READ = 2, XS_DIRECTORY = 1, XS_WRITE = 11, XS_ERROR = 16;

export class XsClient implements KvClient {
  readonly page = new Uint8Array(4096);
  private readonly v = new DataView(this.page.buffer);
  private readonly server: XenStoreServer;
  private reqId = 1;

  constructor(seed: Seed) {
    this.server = new XenStoreServer(this.page, new KvStore(seed), 1);
  }

  private u32(off: number): number {
    return this.v.getUint32(off, true);
  }

  /** Send one request (in ring-sized pieces) and collect its reply. */
  request(type: number, body: Uint8Array): { type: number; body: Uint8Array } {
    const msg = new Uint8Array(16 + body.length);
    const h = new DataView(msg.buffer);
    h.setUint32(0, type, true);
    h.setUint32(4, this.reqId++, true);
    h.setUint32(12, body.length, true);
    msg.set(body, 16);
    let sent = 0;
    const got: number[] = [];
    for (let guard = 0; guard < 100_000; guard++) {
      let prod = this.u32(REQ_PROD);
      while (sent < msg.length && ((prod - this.u32(REQ_CONS)) >>> 0) < RING) this.page[prod++ & (RING - 1)] = msg[sent++];
      this.v.setUint32(REQ_PROD, prod >>> 0, true);
      this.server.notify();
      let cons = this.u32(RSP_CONS);
      const rprod = this.u32(RSP_PROD);
      while (cons !== rprod) got.push(this.page[RING + (cons++ & (RING - 1))]);
      this.v.setUint32(RSP_CONS, cons >>> 0, true);
      if (got.length >= 16) {
        const len = got[12] | (got[13] << 8) | (got[14] << 16) | (got[15] << 24);
        if (got.length >= 16 + len) return { type: got[0], body: Uint8Array.from(got.slice(16, 16 + len)) };
      }
      if (this.server.ignored) throw new Error('the XenStore server stopped reading the ring');
    }
    throw new Error('no XenStore reply');
  }

  private static errno(r: { type: number; body: Uint8Array }): string | null {
    return r.type === XS_ERROR ? dec.decode(r.body).replace(/\0$/, '') : null;
  }

  read(key: string, valuelen: number): KvResult {
    let r = this.request(XS_READ, enc.encode(`${key}\0`));
    const e = XsClient.errno(r);
    if (e !== null) return { errno: e };
    let value = dec.decode(r.body);
    if (value === '') {
      // xs_kvop: an empty value is re-read as a directory, its children joined with '\n'
      r = this.request(XS_DIRECTORY, enc.encode(`${key}\0`));
      const de = XsClient.errno(r);
      if (de !== null) return { errno: de };
      value = dec.decode(r.body).split('\0').filter((s) => s !== '').join('\n');
    }
    if (enc.encode(value).length + 1 > valuelen) return { errno: 'ERANGE' };
    return { errno: null, value };
  }

  write(key: string, value: string): KvResult {
    const body = enc.encode(`${key}\0${value}`);
    if (body.length > 4096) return { errno: 'E2BIG' }; // the guest's own check: XENSTORE_PAYLOAD_MAX
    const r = this.request(XS_WRITE, body);
    return { errno: XsClient.errno(r) };
  }
}

// ---- The generic store (src/hypervisors/kv-store.ts) -----------------------------------------

export class StoreClient implements KvClient {
  readonly store: KvStore;
  constructor(seed: Seed) {
    this.store = new KvStore(seed);
  }
  read(key: string, valuelen: number): KvResult {
    const v = this.store.get(key);
    if (v === undefined) return { errno: 'ENOENT' };
    if (enc.encode(v).length + 1 > valuelen) return { errno: 'ERANGE' };
    return { errno: null, value: v };
  }
  write(key: string, value: string): KvResult {
    return this.store.set(key, value) === 'ok' ? { errno: null } : { errno: 'EACCES' };
  }
}
