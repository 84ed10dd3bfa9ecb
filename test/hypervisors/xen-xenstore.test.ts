// XenStore ring protocol (hypervisor-interfaces.md §5.6, §2.2, §8 note 10; Xen io/xs_wire.h,
// docs/misc/xenstore.txt, tools/xenstored core.c / domain.c). A test-side client plays the guest:
// it writes requests into the ring page with free-running indexes, "notifies", and parses replies.

import { describe, expect, it } from 'vitest';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import { XenStoreServer } from '../../src/hypervisors/xenstore.js';

// xs_wire.h
const T = { DIRECTORY: 1, READ: 2, GET_PERMS: 3, WATCH: 4, UNWATCH: 5, TX_START: 6, TX_END: 7, INTRODUCE: 8, GET_DOMAIN_PATH: 10, WRITE: 11, MKDIR: 12, RM: 13, SET_PERMS: 14, WATCH_EVENT: 15, ERROR: 16, DIRECTORY_PART: 22 };
const REQ_CONS = 2048, REQ_PROD = 2052, RSP_CONS = 2056, RSP_PROD = 2060, FEATURES = 2064, ERROR = 2072;

interface Msg {
  type: number;
  reqId: number;
  txId: number;
  body: string;
}

class Client {
  readonly page = new Uint8Array(4096);
  readonly v = new DataView(this.page.buffer);
  readonly server: XenStoreServer;
  private nextId = 100;

  constructor(readonly kv = new KvStore(), domid = 7) {
    this.server = new XenStoreServer(this.page, kv, domid);
  }

  get(off: number): number {
    return this.v.getUint32(off, true);
  }
  set(off: number, val: number): void {
    this.v.setUint32(off, val >>> 0, true);
  }

  /** Append raw bytes to the request ring (wrapping at 1024). */
  push(bytes: Uint8Array): void {
    let prod = this.get(REQ_PROD);
    for (const b of bytes) {
      this.page[prod & 1023] = b;
      prod = (prod + 1) >>> 0;
    }
    this.set(REQ_PROD, prod);
  }

  static encode(type: number, body: string | Uint8Array, reqId: number, txId = 0, len?: number): Uint8Array {
    const b = typeof body === 'string' ? new Uint8Array(Buffer.from(body, 'latin1')) : body;
    const m = new Uint8Array(16 + b.length);
    const v = new DataView(m.buffer);
    v.setUint32(0, type, true);
    v.setUint32(4, reqId, true);
    v.setUint32(8, txId, true);
    v.setUint32(12, len ?? b.length, true);
    m.set(b, 16);
    return m;
  }

  /** Take every complete reply from the response ring. */
  replies(): Msg[] {
    const out: Msg[] = [];
    for (;;) {
      const cons = this.get(RSP_CONS);
      const prod = this.get(RSP_PROD);
      if (((prod - cons) >>> 0) < 16) return out;
      const at = (i: number) => this.page[1024 + ((cons + i) & 1023)];
      const u = (i: number) => (at(i) | (at(i + 1) << 8) | (at(i + 2) << 16) | (at(i + 3) << 24)) >>> 0;
      const len = u(12);
      if (((prod - cons) >>> 0) < 16 + len) return out;
      let body = '';
      for (let i = 0; i < len; i++) body += String.fromCharCode(at(16 + i));
      out.push({ type: u(0), reqId: u(4), txId: u(8), body });
      this.set(RSP_CONS, cons + 16 + len);
    }
  }

  /** Send a message as a guest does: as much as the ring has room for, notify, repeat. */
  send(m: Uint8Array): void {
    let sent = 0;
    do {
      const room = 1024 - ((this.get(REQ_PROD) - this.get(REQ_CONS)) >>> 0);
      const n = Math.min(room, m.length - sent);
      this.push(m.subarray(sent, sent + n));
      sent += n;
      this.server.notify();
    } while (sent < m.length);
  }

  /** One request, the replies. */
  req(type: number, body: string, txId = 0): Msg[] {
    const id = this.nextId++;
    this.send(Client.encode(type, body, id, txId));
    const r = this.replies();
    for (const m of r) if (m.type !== T.WATCH_EVENT) expect(m.reqId).toBe(id); // replies echo req_id (§5.6)
    return r;
  }

  one(type: number, body: string, txId = 0): { type: number; body: string } {
    const r = this.req(type, body, txId);
    expect(r.length).toBe(1);
    expect(r[0].txId).toBe(txId);
    return { type: r[0].type, body: r[0].body };
  }
}

const err = (name: string) => ({ type: T.ERROR, body: `${name}\0` });
const ok = (type: number) => ({ type, body: 'OK\0' });

function seeded(): Client {
  return new Client(new KvStore([
    { key: 'vm-data/foo', value: 'bar' },
    { key: 'vm-data/ro', value: 'fixed', readOnly: true },
    { key: 'name', value: 'guest-7' },
    { key: '/vm/uuid-1/name', value: 'abs' },
  ]));
}

describe('XenStore requests (§5.6; xenstored core.c)', () => {
  it('announces the error field feature (XENSTORE_SERVER_FEATURE_ERROR = 2)', () => {
    expect(new Client().get(FEATURES) & 2).toBe(2);
  });

  it('XS_READ: relative keys live under /local/domain/<domid>/, the value has no NUL; missing -> ENOENT', () => {
    const c = seeded();
    expect(c.one(T.READ, 'vm-data/foo\0')).toEqual({ type: T.READ, body: 'bar' });
    expect(c.one(T.READ, '/local/domain/7/vm-data/foo\0')).toEqual({ type: T.READ, body: 'bar' });
    expect(c.one(T.READ, '/vm/uuid-1/name\0')).toEqual({ type: T.READ, body: 'abs' });
    expect(c.one(T.READ, 'vm-data\0')).toEqual({ type: T.READ, body: '' }); // a directory node
    expect(c.one(T.READ, 'vm-data/nope\0')).toEqual(err('ENOENT'));
    expect(c.one(T.READ, '/local/domain/8/name\0')).toEqual(err('ENOENT'));
  });

  it('XS_WRITE stores `path\\0value` (value not NUL-terminated); read-only keys and dom0 paths -> EACCES', () => {
    const c = seeded();
    expect(c.one(T.WRITE, 'vm-data/new\0hello world')).toEqual(ok(T.WRITE));
    expect(c.kv.get('vm-data/new')).toBe('hello world');
    expect(c.one(T.WRITE, '/local/domain/7/data/x\0')).toEqual(ok(T.WRITE));
    expect(c.kv.get('data/x')).toBe('');
    expect(c.one(T.WRITE, 'vm-data/ro\0changed')).toEqual(err('EACCES'));
    expect(c.kv.get('vm-data/ro')).toBe('fixed');
    expect(c.one(T.WRITE, '/local/domain/0/name\0x')).toEqual(err('EACCES'));
    expect(c.one(T.WRITE, '/local/domain/7\0x')).toEqual(err('EACCES'));
    expect(c.one(T.WRITE, 'no-nul-at-all')).toEqual(err('EINVAL'));
    expect(c.kv.writes.map((w) => w.key)).toEqual(['vm-data/new', 'data/x']);
  });

  it('a key given as an absolute path under the home is the same node as its relative name', () => {
    const c = new Client(new KvStore([{ key: '/local/domain/7/data/a', value: '1' }]));
    expect(c.one(T.READ, 'data/a\0')).toEqual({ type: T.READ, body: '1' });
    expect(c.one(T.WRITE, 'data/a\x002')).toEqual(ok(T.WRITE));
    expect(c.kv.keys()).toEqual(['/local/domain/7/data/a']);
    expect(c.kv.get('/local/domain/7/data/a')).toBe('2');
  });

  it('XS_DIRECTORY lists children NUL-terminated and sorted; the fixed tree is there', () => {
    const c = seeded();
    expect(c.one(T.DIRECTORY, 'vm-data\0')).toEqual({ type: T.DIRECTORY, body: 'foo\0ro\0' });
    expect(c.one(T.DIRECTORY, '/local/domain/7\0')).toEqual({ type: T.DIRECTORY, body: 'name\0vm-data\0' });
    expect(c.one(T.DIRECTORY, '/\0')).toEqual({ type: T.DIRECTORY, body: 'local\0vm\0' });
    expect(c.one(T.DIRECTORY, '/local/domain\0')).toEqual({ type: T.DIRECTORY, body: '7\0' });
    expect(c.one(T.DIRECTORY, 'vm-data/foo\0')).toEqual({ type: T.DIRECTORY, body: '' });
    expect(c.one(T.DIRECTORY, 'nope\0')).toEqual(err('ENOENT'));
  });

  it('XS_RM removes a subtree; a missing node with an existing parent is OK, else ENOENT; read-only inside -> EACCES', () => {
    const c = seeded();
    c.one(T.WRITE, 'tmp/a/b\0x');
    c.one(T.WRITE, 'tmp/c\0y');
    expect(c.one(T.RM, 'tmp\0')).toEqual(ok(T.RM));
    expect(c.kv.has('tmp/a/b') || c.kv.has('tmp/c')).toBe(false);
    expect(c.one(T.RM, 'vm-data/never\0')).toEqual(ok(T.RM));
    expect(c.one(T.RM, 'no/such/parent\0')).toEqual(err('ENOENT'));
    expect(c.one(T.RM, 'vm-data\0')).toEqual(err('EACCES'));
    expect(c.kv.get('vm-data/foo')).toBe('bar');
    expect(c.one(T.RM, '/\0')).toEqual(err('EINVAL'));
  });

  it('XS_MKDIR, XS_GET_PERMS (guest-owned vs dom0-owned), XS_SET_PERMS, XS_GET_DOMAIN_PATH', () => {
    const c = seeded();
    expect(c.one(T.MKDIR, 'd\0')).toEqual(ok(T.MKDIR));
    expect(c.one(T.READ, 'd\0')).toEqual({ type: T.READ, body: '' });
    expect(c.one(T.GET_PERMS, 'vm-data/foo\0')).toEqual({ type: T.GET_PERMS, body: 'n7\0' });
    expect(c.one(T.GET_PERMS, 'vm-data/ro\0')).toEqual({ type: T.GET_PERMS, body: 'n0\0r7\0' });
    expect(c.one(T.GET_PERMS, 'missing\0')).toEqual(err('ENOENT'));
    expect(c.one(T.SET_PERMS, 'vm-data/foo\0n7\0')).toEqual(ok(T.SET_PERMS));
    expect(c.one(T.SET_PERMS, 'vm-data/ro\0b7\0')).toEqual(err('EACCES'));
    expect(c.one(T.GET_DOMAIN_PATH, '7\0')).toEqual({ type: T.GET_DOMAIN_PATH, body: '/local/domain/7\0' });
  });

  it('XS_WATCH answers OK then fires at once, and again on a write below the path; XS_UNWATCH', () => {
    const c = seeded();
    const r = c.req(T.WATCH, 'vm-data\0tok\0');
    expect(r.map((m) => [m.type, m.body])).toEqual([[T.WATCH, 'OK\0'], [T.WATCH_EVENT, 'vm-data\0tok\0']]);
    expect(r[1].reqId).toBe(0);
    expect(c.one(T.WATCH, '/local/domain/7/vm-data\0tok\0')).toEqual(err('EEXIST')); // same node and token (watch.c)
    expect(c.one(T.WATCH, '@bogus\0t\0')).toEqual(err('EINVAL'));
    expect(c.one(T.WATCH, 'vm-data\0')).toEqual(err('EINVAL')); // no token
    // do_write fires the watches before it queues its own ack, so the event comes first.
    const w = c.req(T.WRITE, 'vm-data/foo\0baz');
    expect(w.map((m) => [m.type, m.body])).toEqual([[T.WATCH_EVENT, 'vm-data/foo\0tok\0'], [T.WRITE, 'OK\0']]);
    expect(c.one(T.UNWATCH, 'vm-data\0tok\0')).toEqual(ok(T.UNWATCH));
    expect(c.req(T.WRITE, 'vm-data/foo\0q').length).toBe(1);
    expect(c.one(T.UNWATCH, 'vm-data\0tok\0')).toEqual(err('ENOENT'));
  });

  it('transactions: start returns an id, requests in it echo tx_id, unknown ids -> ENOENT, end takes T/F', () => {
    const c = seeded();
    const s = c.one(T.TX_START, '\0');
    expect(s.type).toBe(T.TX_START);
    const tx = Number(s.body.replace('\0', ''));
    expect(tx).toBeGreaterThan(0);
    expect(c.one(T.WRITE, 'vm-data/t\0v', tx)).toEqual(ok(T.WRITE));
    expect(c.one(T.READ, 'vm-data/t\0', tx + 1)).toEqual(err('ENOENT'));
    expect(c.one(T.TX_END, 'X\0', tx)).toEqual(err('EINVAL'));
    expect(c.one(T.TX_END, 'T\0', tx)).toEqual(ok(T.TX_END));
    expect(c.one(T.TX_END, 'T\0', tx)).toEqual(err('ENOENT'));
  });

  it('privileged requests -> EACCES, unknown types -> ENOSYS', () => {
    const c = seeded();
    expect(c.one(T.INTRODUCE, '1\0')).toEqual(err('EACCES'));
    expect(c.one(0, '')).toEqual(err('EACCES')); // XS_CONTROL
    for (const t of [T.WATCH_EVENT, T.ERROR, 20, 23, 0xffff, 0xffffffff]) expect(c.one(t, 'x\0')).toEqual(err('ENOSYS'));
  });
});

describe('XenStore path validation (canonicalize, onearg)', () => {
  it('EINVAL for bad characters, //, a trailing /, empty, @specials, extra or missing NULs, over-long paths', () => {
    const c = seeded();
    for (const p of ['a b\0', 'a//b\0', 'a/\0', '\0', '@introduceDomain\0', 'vm-data/foo', 'vm-data\0foo\0', 'a\u00e9\0', `${'x'.repeat(2049)}\0`]) {
      expect(c.one(T.READ, p), JSON.stringify(p)).toEqual(err('EINVAL'));
    }
    expect(c.one(T.READ, `${'x'.repeat(2048)}\0`)).toEqual(err('ENOENT')); // at the limit: just missing
  });

  it('E2BIG when a reply would exceed XENSTORE_PAYLOAD_MAX (4096)', () => {
    const kv = new KvStore(Array.from({ length: 300 }, (_, i) => ({ key: `big/${'k'.repeat(12)}${String(i).padStart(3, '0')}`, value: '' })));
    const c = new Client(kv);
    expect(c.one(T.DIRECTORY, 'big\0')).toEqual(err('E2BIG'));
  });
});

describe('XenStore ring mechanics (§5.6: free-running indexes, wrapping, partial messages)', () => {
  it('messages straddling the ring end, indexes wrapping past 2^32', () => {
    const c = seeded();
    for (const o of [REQ_CONS, REQ_PROD, RSP_CONS, RSP_PROD]) c.set(o, 0xfffffff0);
    for (let i = 0; i < 40; i++) expect(c.one(T.READ, 'vm-data/foo\0')).toEqual({ type: T.READ, body: 'bar' });
    expect(c.get(REQ_CONS)).toBe(c.get(REQ_PROD));
    expect(c.get(REQ_PROD)).toBeLessThan(0x1000); // wrapped
  });

  it('a request delivered in pieces over several notifies is answered once complete', () => {
    const c = seeded();
    const m = Client.encode(T.READ, 'vm-data/foo\0', 5);
    c.push(m.subarray(0, 7));
    c.server.notify();
    c.push(m.subarray(7, 20));
    c.server.notify();
    expect(c.replies()).toEqual([]);
    c.push(m.subarray(20));
    c.server.notify();
    expect(c.replies()).toEqual([{ type: T.READ, reqId: 5, txId: 0, body: 'bar' }]);
  });

  it('a full response ring holds replies back until the guest consumes (no loss, no overwrite)', () => {
    const kv = new KvStore([{ key: 'v', value: 'y'.repeat(600) }]);
    const c = new Client(kv);
    c.push(Client.encode(T.READ, 'v\0', 1));
    c.push(Client.encode(T.READ, 'v\0', 2));
    c.push(Client.encode(T.READ, 'v\0', 3));
    c.server.notify();
    expect(((c.get(RSP_PROD) - c.get(RSP_CONS)) >>> 0)).toBe(1024); // ring full, nothing overwritten
    const got: number[] = [];
    for (let i = 0; i < 10 && got.length < 3; i++) {
      for (const m of c.replies()) {
        expect(m.body).toBe('y'.repeat(600));
        got.push(m.reqId);
      }
      c.server.notify(); // the guest made room: the rest of the pending reply goes out
    }
    expect(got).toEqual([1, 2, 3]);
  });
});

describe('XenStore hostile rings (xenstored ignore_connection)', () => {
  it('a header with len > XENSTORE_PAYLOAD_MAX: the connection is ignored, error = XENSTORE_ERROR_PROTO (3)', () => {
    const c = seeded();
    c.push(Client.encode(T.READ, 'vm-data/foo\0', 1, 0, 4097));
    c.server.notify();
    expect(c.get(ERROR)).toBe(3);
    expect(c.server.ignored).toBe(true);
    c.push(Client.encode(T.READ, 'vm-data/foo\0', 2));
    expect(c.server.notify()).toBe(false);
    expect(c.replies()).toEqual([]);
  });

  it('request indexes more than a ring apart: ignored, error = XENSTORE_ERROR_RINGIDX (2), nothing read', () => {
    const c = seeded();
    c.set(REQ_PROD, 1025);
    c.server.notify();
    expect(c.get(ERROR)).toBe(2);
    expect(c.get(REQ_CONS)).toBe(0);
    const d = seeded();
    d.set(REQ_CONS, 10);
    d.set(REQ_PROD, 5); // prod behind cons: a huge unsigned distance
    d.server.notify();
    expect(d.get(ERROR)).toBe(2);
  });

  it('response indexes corrupted by the guest: ignored when a reply is due, no write outside the ring', () => {
    const c = seeded();
    c.set(RSP_CONS, 0x80000000);
    const before = c.page.slice(2048);
    c.push(Client.encode(T.READ, 'vm-data/foo\0', 1));
    c.server.notify();
    expect(c.get(ERROR)).toBe(2);
    expect(c.page.slice(1024, 2048).every((b) => b === 0)).toBe(true);
    expect(c.get(RSP_PROD)).toBe(0);
    expect(c.page.slice(2076)).toEqual(before.slice(28));
  });

  it('len exactly XENSTORE_PAYLOAD_MAX is accepted (bounded work: one ring per notify)', () => {
    const c = seeded();
    const body = new Uint8Array(4096).fill(0x61);
    body[4095] = 0;
    c.send(Client.encode(T.READ, body, 9)); // 4112 bytes: five ring-fulls
    expect(c.replies()).toEqual([{ type: T.ERROR, reqId: 9, txId: 0, body: 'EINVAL\0' }]); // 4095 chars > 2048
    expect(c.get(ERROR)).toBe(0);
  });
});
