// XenStore as a domain sees it (spec digest §5.6; Xen io/xs_wire.h, docs/misc/xenstore.txt,
// tools/xenstored): the ring page (struct xenstore_domain_interface), the message wire format,
// and the tree, backed by the flat key/value store (§2.2).
//
// Tree <-> KvStore: a key without a leading '/' is a path relative to the domain's home
// /local/domain/<domid> ("vm-data/foo" is /local/domain/<domid>/vm-data/foo, which is also how
// OpenBSD's xs_kvop resolves relative keys); a key with a leading '/' is that absolute path. A
// node exists if it is a key, an ancestor of one (a directory with an empty value), or one of
// /, /local, /local/domain and the home. The guest may write anywhere under its home except
// read-only keys (EACCES); everything else is dom0's (EACCES).
//
// Hostile rings, as xenstored treats them: indexes more than a ring apart, or a header with
// len > XENSTORE_PAYLOAD_MAX, make the server ignore the connection for good (ignore_connection)
// and report it in the page's `error` field (XENSTORE_SERVER_FEATURE_ERROR). Bad paths get an
// XS_ERROR reply. Work per notification is bounded by the ring size.

import type { KvStore } from './kv-store.js';

export const XENSTORE_RING_SIZE = 1024;
export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_REL_PATH_MAX = 2048;
export const XS_HEADER_SIZE = 16;
/** Ring page offsets (§5.6). */
export const XS_REQ = 0;
export const XS_RSP = 1024;
export const XS_REQ_CONS = 2048;
export const XS_REQ_PROD = 2052;
export const XS_RSP_CONS = 2056;
export const XS_RSP_PROD = 2060;
export const XS_SERVER_FEATURES = 2064;
export const XS_CONNECTION = 2068;
export const XS_ERROR_FIELD = 2072;
export const XENSTORE_SERVER_FEATURE_ERROR = 2;
export const XENSTORE_ERROR_RINGIDX = 2;
export const XENSTORE_ERROR_PROTO = 3;

/** Message types (xs_wire.h enum xsd_sockmsg_type). */
export const enum Xs {
  Control = 0, Directory = 1, Read = 2, GetPerms = 3, Watch = 4, Unwatch = 5, TransactionStart = 6,
  TransactionEnd = 7, Introduce = 8, Release = 9, GetDomainPath = 10, Write = 11, Mkdir = 12, Rm = 13,
  SetPerms = 14, WatchEvent = 15, Error = 16, IsDomainIntroduced = 17, Resume = 18, SetTarget = 19,
  ResetWatches = 21, DirectoryPart = 22,
}

/** Only dom0 may send these (xenstored XS_FLAG_PRIV): a domU gets EACCES. */
const PRIVILEGED = new Set<number>([Xs.Control, Xs.Introduce, Xs.Release, Xs.IsDomainIntroduced, Xs.Resume, Xs.SetTarget]);

class XsError {
  constructor(readonly name: string) {}
}

interface Watch {
  /** As the guest gave it (events use the same relative/absolute form). */
  path: string;
  abs: string;
  token: string;
}

const utf8 = new TextDecoder('utf-8');
const enc = new TextEncoder();
const VALID_PATH = /^[A-Za-z0-9\-/_@]*$/;

export class XenStoreServer {
  readonly home: string;
  /** Set once the ring broke the protocol: nothing more is read or written (xenstored is_ignored). */
  ignored = false;
  private hdr = new Uint8Array(XS_HEADER_SIZE);
  private hdrUsed = 0;
  private body: Uint8Array | null = null;
  private bodyUsed = 0;
  /** Replies and watch events not yet copied into the response ring. */
  private out: Uint8Array[] = [];
  private outOff = 0;
  private watches: Watch[] = [];
  private readonly transactions = new Set<number>();
  private nextTx = 1;
  private readonly view: DataView;

  constructor(readonly page: Uint8Array, private readonly kv: KvStore, readonly domid: number) {
    this.home = `/local/domain/${domid}`;
    this.view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    this.view.setUint32(XS_SERVER_FEATURES, XENSTORE_SERVER_FEATURE_ERROR, true);
  }

  private idx(off: number): number {
    return this.view.getUint32(off, true);
  }

  private ignore(err: number): void {
    this.ignored = true;
    this.view.setUint32(XS_ERROR_FIELD, err, true);
    this.out = [];
    this.watches = [];
    this.transactions.clear();
  }

  /**
   * The guest notified the store event channel: take what is in the request ring, answer it,
   * copy replies into the response ring. True if either ring moved (xenstored notifies the guest
   * after consuming requests and after producing replies).
   */
  notify(): boolean {
    if (this.ignored) return false;
    let moved = this.flush();
    while (!this.ignored && this.out.length === 0) {
      const cons = this.idx(XS_REQ_CONS);
      const prod = this.idx(XS_REQ_PROD);
      const avail = (prod - cons) >>> 0;
      if (avail > XENSTORE_RING_SIZE) {
        this.ignore(XENSTORE_ERROR_RINGIDX);
        break;
      }
      if (avail === 0) break;
      const n = this.take(cons, avail);
      this.view.setUint32(XS_REQ_CONS, (cons + n) >>> 0, true);
      if (n > 0) moved = true;
      if (this.ignored) break;
      if (n === 0) break;
      if (this.out.length > 0) moved = this.flush() || moved;
    }
    return moved;
  }

  /** Copy up to `avail` request bytes from ring index `cons` into the message being read. */
  private take(cons: number, avail: number): number {
    let used = 0;
    while (used < avail && !this.ignored) {
      const at = (cons + used) & (XENSTORE_RING_SIZE - 1);
      const b = this.page[XS_REQ + at];
      used++;
      if (this.body === null) {
        this.hdr[this.hdrUsed++] = b;
        if (this.hdrUsed === XS_HEADER_SIZE) {
          const len = this.hdrField(12);
          if (len > XENSTORE_PAYLOAD_MAX) {
            this.ignore(XENSTORE_ERROR_PROTO);
            break;
          }
          this.body = new Uint8Array(len);
          this.bodyUsed = 0;
          if (len === 0) this.finish();
        }
      } else {
        this.body[this.bodyUsed++] = b;
        if (this.bodyUsed === this.body.length) this.finish();
      }
      if (this.out.length > 0) break; // one reply at a time: output stays bounded
    }
    return used;
  }

  private hdrField(off: number): number {
    const h = this.hdr;
    return (h[off] | (h[off + 1] << 8) | (h[off + 2] << 16) | (h[off + 3] << 24)) >>> 0;
  }

  private finish(): void {
    const type = this.hdrField(0);
    const reqId = this.hdrField(4);
    const txId = this.hdrField(8);
    const body = this.body!;
    this.hdrUsed = 0;
    this.body = null;
    let reply: { type: number; data: Uint8Array };
    try {
      const data = this.process(type, reqId, txId, body);
      if (data === NO_REPLY) return;
      reply = { type, data };
    } catch (e) {
      if (!(e instanceof XsError)) throw e;
      reply = { type: Xs.Error, data: cstr(e.name) };
    }
    if (reply.data.length > XENSTORE_PAYLOAD_MAX) reply = { type: Xs.Error, data: cstr('E2BIG') };
    this.queue(reply.type, reqId, txId, reply.data);
  }

  private queue(type: number, reqId: number, txId: number, data: Uint8Array): void {
    const m = new Uint8Array(XS_HEADER_SIZE + data.length);
    const v = new DataView(m.buffer);
    v.setUint32(0, type, true);
    v.setUint32(4, reqId, true);
    v.setUint32(8, txId, true);
    v.setUint32(12, data.length, true);
    m.set(data, XS_HEADER_SIZE);
    this.out.push(m);
  }

  /** Copy queued output into the response ring as space allows (xenstored writechn). */
  private flush(): boolean {
    let wrote = false;
    while (this.out.length > 0) {
      const cons = this.idx(XS_RSP_CONS);
      const prod = this.idx(XS_RSP_PROD);
      const used = (prod - cons) >>> 0;
      if (used > XENSTORE_RING_SIZE) {
        this.ignore(XENSTORE_ERROR_RINGIDX);
        return wrote;
      }
      const space = XENSTORE_RING_SIZE - used;
      if (space === 0) break;
      const m = this.out[0];
      const n = Math.min(space, m.length - this.outOff);
      for (let i = 0; i < n; i++) this.page[XS_RSP + ((prod + i) & (XENSTORE_RING_SIZE - 1))] = m[this.outOff + i];
      this.view.setUint32(XS_RSP_PROD, (prod + n) >>> 0, true);
      wrote = true;
      this.outOff += n;
      if (this.outOff === m.length) {
        this.out.shift();
        this.outOff = 0;
      }
    }
    return wrote;
  }

  // ---- Requests ----------------------------------------------------------------------------

  private process(type: number, reqId: number, txId: number, body: Uint8Array): Uint8Array {
    if (PRIVILEGED.has(type)) throw new XsError('EACCES');
    const takesTx = type !== Xs.TransactionStart && type !== Xs.Watch && type !== Xs.Unwatch && type !== Xs.GetDomainPath && type !== Xs.ResetWatches;
    if (takesTx && txId !== 0 && !this.transactions.has(txId)) throw new XsError('ENOENT');
    switch (type) {
      case Xs.Read: {
        const p = this.canonical(oneArgRaw(body));
        const v = this.valueOf(p);
        if (v === null) throw new XsError('ENOENT');
        return enc.encode(v); // no terminating NUL (§5.6)
      }
      case Xs.Directory: {
        const p = this.canonical(oneArgRaw(body));
        if (!this.exists(p)) throw new XsError('ENOENT');
        return joinNul(this.children(p));
      }
      case Xs.Write: {
        const nul = body.indexOf(0);
        if (nul < 0) throw new XsError('EINVAL');
        const p = this.canonical(ascii(body.subarray(0, nul)));
        const key = this.writableKey(p);
        if (this.kv.set(key, utf8.decode(body.subarray(nul + 1))) !== 'ok') throw new XsError('EACCES');
        this.fireWatches(p);
        return OK;
      }
      case Xs.Mkdir: {
        const p = this.canonical(oneArgRaw(body));
        if (this.exists(p)) return OK;
        if (this.kv.set(this.writableKey(p), '') !== 'ok') throw new XsError('EACCES');
        this.fireWatches(p);
        return OK;
      }
      case Xs.Rm:
        return this.rm(this.canonical(oneArgRaw(body)));
      case Xs.GetPerms: {
        const p = this.canonical(oneArgRaw(body));
        if (!this.exists(p)) throw new XsError('ENOENT');
        return joinNul(this.guestOwns(p) ? [`n${this.domid}`] : ['n0', `r${this.domid}`]);
      }
      case Xs.SetPerms: {
        const nul = body.indexOf(0);
        if (nul < 0) throw new XsError('EINVAL');
        const p = this.canonical(ascii(body.subarray(0, nul)));
        if (!this.exists(p)) throw new XsError('ENOENT');
        if (!this.guestOwns(p)) throw new XsError('EACCES');
        return OK; // accepted; hvsim keeps no per-node permissions
      }
      case Xs.Watch: {
        const [path, token] = twoArgs(body);
        // Special watches: only xenstored's two event names (check_watch_path).
        if (path.startsWith('@') && path !== '@introduceDomain' && path !== '@releaseDomain') throw new XsError('EINVAL');
        const abs = path.startsWith('@') ? path : this.canonical(path);
        if (this.watches.some((w) => w.abs === abs && w.token === token)) throw new XsError('EEXIST');
        this.watches.push({ path, abs, token });
        // The reply, then the immediate event xenstored always sends for a new watch (§8 note 10).
        this.queue(Xs.Watch, reqId, txId, OK);
        this.queue(Xs.WatchEvent, 0, 0, joinNul([path, token]));
        return NO_REPLY;
      }
      case Xs.Unwatch: {
        const [path, token] = twoArgs(body);
        const i = this.watches.findIndex((w) => w.path === path && w.token === token);
        if (i < 0) throw new XsError('ENOENT');
        this.watches.splice(i, 1);
        return OK;
      }
      case Xs.ResetWatches:
        this.watches = [];
        return OK;
      case Xs.TransactionStart: {
        const id = this.nextTx;
        this.nextTx = this.nextTx >= 0x7fffffff ? 1 : this.nextTx + 1;
        this.transactions.add(id);
        return cstr(String(id));
      }
      case Xs.TransactionEnd: {
        const arg = oneArgRaw(body);
        if (txId === 0 || !this.transactions.has(txId)) throw new XsError('ENOENT');
        if (arg !== 'T' && arg !== 'F') throw new XsError('EINVAL');
        this.transactions.delete(txId);
        return OK;
      }
      case Xs.GetDomainPath: {
        const arg = oneArgRaw(body);
        if (arg === null) throw new XsError('EINVAL');
        return cstr(`/local/domain/${Number.parseInt(arg, 10) >>> 0 & 0xffff}`);
      }
      default:
        throw new XsError('ENOSYS');
    }
  }

  /** canonicalize(): valid characters, relative paths under the home, no '//' or trailing '/', length. */
  private canonical(node: string | null): string {
    if (node === null || !VALID_PATH.test(node) || node.startsWith('@') || node === '') throw new XsError('EINVAL');
    const p = node.startsWith('/') ? node : `${this.home}/${node}`;
    if ((p.endsWith('/') && p !== '/') || p.includes('//')) throw new XsError('EINVAL');
    const local = /^\/local\/domain\/\d{1,5}\//.exec(p);
    if (p.length - (local ? local[0].length : 0) > XENSTORE_REL_PATH_MAX) throw new XsError('EINVAL');
    return p;
  }

  /** The store key of a path: relative under the home, unless the user gave that node as an absolute key. */
  private keyOf(p: string): string {
    if (!p.startsWith(`${this.home}/`) || this.kv.has(p)) return p;
    return p.slice(this.home.length + 1);
  }

  private pathOf(key: string): string {
    return key.startsWith('/') ? key : `${this.home}/${key}`;
  }

  private fixed(p: string): boolean {
    return p === '/' || p === '/local' || p === '/local/domain' || p === this.home;
  }

  private exists(p: string): boolean {
    if (this.fixed(p) || this.kv.has(this.keyOf(p))) return true;
    const prefix = p === '/' ? '/' : `${p}/`;
    return this.kv.keys().some((k) => this.pathOf(k).startsWith(prefix));
  }

  private valueOf(p: string): string | null {
    const v = this.kv.get(this.keyOf(p));
    if (v !== undefined) return v;
    return this.exists(p) ? '' : null;
  }

  /** Immediate children's names, sorted (code-unit order: deterministic). */
  private children(p: string): string[] {
    const prefix = p === '/' ? '/' : `${p}/`;
    const names = new Set<string>();
    for (const k of this.kv.keys()) {
      const full = this.pathOf(k);
      if (full.startsWith(prefix)) names.add(full.slice(prefix.length).split('/')[0]);
    }
    for (const f of [this.home, '/local/domain', '/local', '/']) {
      if (f !== p && f.startsWith(prefix)) names.add(f.slice(prefix.length).split('/')[0]);
    }
    return [...names].sort();
  }

  private guestOwns(p: string): boolean {
    return p.startsWith(`${this.home}/`) && !this.kv.isReadOnly(this.keyOf(p));
  }

  /** The store key for a guest write to p, or EACCES (outside the home, the home itself, read-only). */
  private writableKey(p: string): string {
    if (!this.guestOwns(p)) throw new XsError('EACCES');
    return this.keyOf(p);
  }

  private rm(p: string): Uint8Array {
    if (p === '/') throw new XsError('EINVAL');
    if (!this.exists(p)) {
      // xenstored do_rm: a missing node is fine if its parent exists.
      const parent = p.slice(0, p.lastIndexOf('/')) || '/';
      if (this.exists(parent)) return OK;
      throw new XsError('ENOENT');
    }
    if (!p.startsWith(`${this.home}/`)) throw new XsError('EACCES');
    const prefix = `${p}/`;
    const doomed = this.kv.keys().filter((k) => { const f = this.pathOf(k); return f === p || f.startsWith(prefix); });
    if (doomed.some((k) => this.kv.isReadOnly(k))) throw new XsError('EACCES');
    for (const k of doomed) this.kv.remove(k);
    this.fireWatches(p);
    return OK;
  }

  /** A watch fires for a change at or below its path (xenstored fire_watches, MATCH_SUBTREE on the changed node). */
  private fireWatches(changed: string): void {
    for (const w of this.watches) {
      if (changed === w.abs || changed.startsWith(`${w.abs}/`)) {
        const shown = w.path.startsWith('/') ? changed : changed.slice(this.home.length + 1);
        this.queue(Xs.WatchEvent, 0, 0, joinNul([shown, w.token]));
      }
    }
  }
}

const OK = cstr('OK');
/** process() result when the request queued its own reply (XS_WATCH). */
const NO_REPLY = new Uint8Array(0);

function cstr(s: string): Uint8Array {
  return enc.encode(`${s}\0`);
}

function joinNul(parts: string[]): Uint8Array {
  return enc.encode(parts.map((p) => `${p}\0`).join(''));
}

function ascii(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** onearg(): the payload must hold exactly one NUL, at its end; else null (-> EINVAL). */
function oneArgRaw(body: Uint8Array): string | null {
  if (body.length === 0 || body.indexOf(0) !== body.length - 1) return null;
  return ascii(body.subarray(0, body.length - 1));
}


/** `a\0b\0` (XS_WATCH / XS_UNWATCH), else EINVAL. */
function twoArgs(body: Uint8Array): [string, string] {
  const a = body.indexOf(0);
  const b = a < 0 ? -1 : body.indexOf(0, a + 1);
  if (a < 0 || b < 0) throw new XsError('EINVAL');
  return [ascii(body.subarray(0, a)), ascii(body.subarray(a + 1, b))];
}
