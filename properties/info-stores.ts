// Information stores (hypervisor-interfaces.md §2.2 pvbus KV semantics): model-based runs of
// read/write sequences against each backend, through the guest-side driver OpenBSD uses for it
// (kv-clients.ts), with the model predicting every answer: the value, a missing key, a read-only
// key, a value longer than the guest's buffer (ERANGE), key and message size limits.

import fc, { type Command } from 'fast-check';
import { defineProperty } from './define.js';
import { StoreClient, VmtClient, XsClient, type KvClient, type KvResult, type Seed } from './kv-clients.js';
import { textArb } from './arbitraries.js';

const enc = new TextEncoder();
const bytes = (s: string): number => enc.encode(s).length;

interface Model {
  values: Map<string, string>;
  readOnly: Set<string>;
  /** Successful guest writes, in order (KvStore.writes: the trace's kv-write events). */
  writes: { key: string; value: string }[];
}

interface Backend {
  name: string;
  clause: string;
  keys: string[];
  seed: Seed;
  client(seed: Seed): KvClient;
  read(m: Model, key: string, valuelen: number): KvResult;
  /** The predicted answer; `store` says whether the model keeps the value. */
  write(m: Model, key: string, value: string): { result: KvResult; store: boolean };
}

/** pvbus ERANGE (§2.2): the result does not fit in valuelen (its NUL included). */
const fits = (len: number, valuelen: number): boolean => len + 1 <= valuelen;

const VMWARE: Backend = {
  name: 'VMware guestinfo (RPCI over the backdoor, vmt_kvop)',
  clause: 'hypervisor-interfaces.md §2.2 (vmt), §4.3, §4.4',
  keys: ['guestinfo.a', 'guestinfo.b', 'guestinfo.ro', 'guestinfo.seeded', 'other.key'],
  seed: [{ key: 'guestinfo.ro', value: 'fixed', readOnly: true }, { key: 'guestinfo.seeded', value: 'hello' }, { key: 'other.key', value: 'host only' }],
  client: (seed) => new VmtClient(seed),
  read(m, key, valuelen) {
    // §4.4: info-get of an unset key (or one outside guestinfo.*) answers "0 No value found": EINVAL
    const v = key.startsWith('guestinfo.') ? m.values.get(key) : undefined;
    if (v === undefined) return { errno: 'EINVAL' };
    if (!fits(bytes(`1 ${v}`), valuelen)) return { errno: 'ERANGE' };
    return { errno: null, value: v };
  },
  write(m, key, value) {
    if (bytes(`info-set ${key} ${value}`) > 65536) return { result: { errno: 'EIO' }, store: false }; // SENDSIZE refused (GUESTMSG_MAX_IN_SIZE)
    if (!key.startsWith('guestinfo.') || m.readOnly.has(key)) return { result: { errno: 'EINVAL' }, store: false };
    return { result: { errno: null }, store: true };
  },
};

const LONG_XS_KEY = `data/${'k'.repeat(2050)}`;
const XENSTORE: Backend = {
  name: 'XenStore (ring protocol, xs_kvop)',
  clause: 'hypervisor-interfaces.md §2.2 (xen), §5.6',
  keys: ['data/a', 'data/b', 'data/ro', 'data/seeded', LONG_XS_KEY],
  seed: [{ key: 'data/ro', value: 'fixed', readOnly: true }, { key: 'data/seeded', value: 'hello' }],
  client: (seed) => new XsClient(seed),
  read(m, key, valuelen) {
    if (key.length > 2048) return { errno: 'EINVAL' }; // XENSTORE_REL_PATH_MAX
    const v = m.values.get(key);
    if (v === undefined) return { errno: 'ENOENT' };
    if (!fits(bytes(v), valuelen)) return { errno: 'ERANGE' };
    return { errno: null, value: v };
  },
  write(m, key, value) {
    if (bytes(key) + 1 + bytes(value) > 4096) return { result: { errno: 'E2BIG' }, store: false }; // XENSTORE_PAYLOAD_MAX
    if (key.length > 2048) return { result: { errno: 'EINVAL' }, store: false };
    if (m.readOnly.has(key)) return { result: { errno: 'EACCES' }, store: false };
    return { result: { errno: null }, store: true };
  },
};

const GENERIC: Backend = {
  name: 'the generic KvStore',
  clause: 'hypervisor-interfaces.md §2.2 (KVREAD/KVWRITE), src/hypervisors/kv-store.ts',
  keys: ['a', 'b', 'ro', 'seeded', ''],
  seed: [{ key: 'ro', value: 'fixed', readOnly: true }, { key: 'seeded', value: 'hello' }],
  client: (seed) => new StoreClient(seed),
  read(m, key, valuelen) {
    const v = m.values.get(key);
    if (v === undefined) return { errno: 'ENOENT' };
    if (!fits(bytes(v), valuelen)) return { errno: 'ERANGE' };
    return { errno: null, value: v };
  },
  write(m, key) {
    if (m.readOnly.has(key)) return { result: { errno: 'EACCES' }, store: false };
    return { result: { errno: null }, store: true };
  },
};

const same = (a: KvResult, b: KvResult): boolean => a.errno === b.errno && (a.errno !== null || a.value === b.value);
const show = (r: KvResult): string => (r.errno !== null ? r.errno : JSON.stringify(r.value ?? '').slice(0, 60));

class ReadCmd implements Command<Model, KvClient> {
  constructor(readonly b: Backend, readonly key: string, readonly valuelen: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: KvClient): void {
    const want = this.b.read(m, this.key, this.valuelen);
    const got = r.read(this.key, this.valuelen);
    if (!same(want, got)) throw new Error(`read ${this.key.slice(0, 40)} (buffer ${this.valuelen}): got ${show(got)}, the model says ${show(want)}`);
  }
  toString(): string {
    return `read(${JSON.stringify(this.key.slice(0, 40))}, ${this.valuelen})`;
  }
}

class WriteCmd implements Command<Model, KvClient> {
  constructor(readonly b: Backend, readonly key: string, readonly value: string) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: KvClient): void {
    const want = this.b.write(m, this.key, this.value);
    const got = r.write(this.key, this.value);
    if (!same(want.result, got)) throw new Error(`write ${this.key.slice(0, 40)} (${bytes(this.value)} bytes): got ${show(got)}, the model says ${show(want.result)}`);
    if (want.store) {
      m.values.set(this.key, this.value);
      m.writes.push({ key: this.key, value: this.value });
    }
    if (r instanceof StoreClient) {
      // the store's write log and sorted listing follow the model (kv-store.ts: the trace's kv-write events)
      if (JSON.stringify(r.store.writes) !== JSON.stringify(m.writes)) throw new Error('the write log differs from the model');
      const entries = [...m.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (JSON.stringify(r.store.entries()) !== JSON.stringify(entries)) throw new Error('the entries differ from the model');
    }
  }
  toString(): string {
    return `write(${JSON.stringify(this.key.slice(0, 40))}, ${this.value.length > 40 ? `<${this.value.length} chars>` : JSON.stringify(this.value)})`;
  }
}

function commandsArb(b: Backend) {
  const key = fc.constantFrom(...b.keys);
  const value = fc.oneof({ weight: 6, arbitrary: textArb(fc, 40) }, { weight: 1, arbitrary: fc.integer({ min: 3000, max: 70_000 }).map((n) => 'v'.repeat(n)) });
  const valuelen = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(1 << 20));
  return fc.commands([key.chain((k) => valuelen.map((l) => new ReadCmd(b, k, l))), fc.tuple(key, value).map(([k, v]) => new WriteCmd(b, k, v))], { maxCommands: 30 });
}

function storeProperty(b: Backend, quickRuns: number) {
  return defineProperty({
    area: 'info-stores',
    name: `${b.name}: reads and writes follow the pvbus KV model`,
    specClause: b.clause,
    quickRuns,
    arbitrary: () => commandsArb(b),
    predicate: (cmds) => {
      fc.modelRun(() => {
        const model: Model = { values: new Map(b.seed.map((s) => [s.key, s.value])), readOnly: new Set(b.seed.filter((s) => s.readOnly).map((s) => s.key)), writes: [] };
        return { model, real: b.client(b.seed) };
      }, cmds);
    },
  });
}

export const infoStoreProperties = [storeProperty(GENERIC, 60), storeProperty(VMWARE, 25), storeProperty(XENSTORE, 25)];
