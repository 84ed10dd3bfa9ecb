// The key/value store behind pvbus-style information stores (OpenBSD pvbus(4) KVREAD/KVWRITE;
// spec digest §2.2): VMware guestinfo, XenStore, Hyper-V KVP each map their own protocol onto
// it. Seeded from `--kv key=value` (read-only with `--kv-ro`); every write the guest makes is
// kept in order, for the trace and for the end-of-run report.
//
// Keys and values are byte strings held as JS strings of UTF-8 text; backends impose their own
// size limits (they know their wire formats), the store only keeps what they accept.

export interface KvWrite {
  key: string;
  value: string;
}

export type KvSetResult = 'ok' | 'read-only';

export class KvStore {
  private readonly values = new Map<string, string>();
  private readonly readOnly = new Set<string>();
  /** The guest's writes, in order. */
  readonly writes: KvWrite[] = [];
  /** Called after every successful write by the guest (the trace records it). */
  onWrite: ((w: KvWrite) => void) | null = null;

  constructor(seed: Iterable<{ key: string; value: string; readOnly?: boolean }> = []) {
    for (const s of seed) {
      this.values.set(s.key, s.value);
      if (s.readOnly === true) this.readOnly.add(s.key);
    }
  }

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  isReadOnly(key: string): boolean {
    return this.readOnly.has(key);
  }

  /** A write by the guest: refused for a read-only key. */
  set(key: string, value: string): KvSetResult {
    if (this.readOnly.has(key)) return 'read-only';
    this.values.set(key, value);
    const w = { key, value };
    this.writes.push(w);
    this.onWrite?.(w);
    return 'ok';
  }

  /** A removal by the guest (XenStore XS_RM): false for a read-only or missing key. */
  remove(key: string): boolean {
    if (this.readOnly.has(key) || !this.values.has(key)) return false;
    this.values.delete(key);
    return true;
  }

  /** All keys, sorted (code-unit order), so listings never depend on insertion history. */
  keys(): string[] {
    return [...this.values.keys()].sort();
  }

  /** The whole store as sorted [key, value] pairs (state digests, end-of-run report). */
  entries(): [string, string][] {
    return this.keys().map((k) => [k, this.values.get(k)!]);
  }
}
