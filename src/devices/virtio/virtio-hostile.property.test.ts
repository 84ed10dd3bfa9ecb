// Hostile drivers (issue 5 "The guest is hostile"; virtio 1.2, 2.7): arbitrary descriptor
// tables, indirect tables, avail rings and indices, fed to the entropy device (which writes
// into every writable buffer) and to the balloon (which only reads). Checked against a
// reference walk written here from the spec's rules (2.7.4.2, 2.7.5.2, 2.7.5.3.1, 2.7.13):
// - the device never throws and reads a bounded number of descriptors;
// - every valid chain is returned in order with id = head and len = the bytes written;
// - the first invalid chain (or an avail idx that moved by more than the queue size) stops the
//   queue with DEVICE_NEEDS_RESET, and nothing of it is used;
// - guest RAM after the run equals RAM before plus exactly the writes the reference allows
//   (the device's bytes in the writable buffers of valid chains, the used ring, avail_event).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtioRnd, MAX_FILL } from '../virtio-rnd/virtio-rnd.js';
import { VirtioBalloon } from '../virtio-balloon/virtio-balloon.js';
import { DescFlag, DeviceStatus, FeatureBit } from './virtio-spec.js';
import * as M from './modern-registers.js';
import { harness, modernNotify, modernRead, modernWrite, type Harness } from './virtio-test-driver.js';

const RAM = 0x10000;
const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;
const TABLES = 0x4000; // 8 indirect tables of up to 64 entries (0x400 bytes) each
const DATA = 0x8000;

interface Desc { lo: number; hi: number; len: number; flags: number; next: number }

const wildDesc = (n: number): fc.Arbitrary<Desc> => fc.record({
  lo: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: DATA, max: RAM - 1 }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 7 }).map((k) => TABLES + k * 0x400) },
    { weight: 1, arbitrary: fc.integer({ min: RAM - 0x20, max: RAM + 0x20 }) },
    { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 0xfee00000, 0) },
  ),
  hi: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(0xffffffff) }),
  len: fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 1, max: 0x300 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 64 }).map((k) => 16 * k) },
    { weight: 1, arbitrary: fc.constantFrom(0, 20, 0x8000, 0xffffffff) },
  ),
  flags: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(DescFlag.WRITE, DescFlag.WRITE | DescFlag.NEXT, DescFlag.NEXT, 0) }, { weight: 2, arbitrary: fc.nat(7) }),
  next: fc.nat(n + 1),
});

/** Mostly well-formed descriptors (so that valid chains, and errors deep in them, are common). */
const saneDesc = (n: number): fc.Arbitrary<Desc> => fc.oneof(
  { weight: 8, arbitrary: fc.record({
    lo: fc.integer({ min: DATA, max: RAM - 0x300 }),
    hi: fc.constant(0),
    len: fc.integer({ min: 0, max: 0x300 }),
    flags: fc.constantFrom(DescFlag.WRITE, DescFlag.WRITE | DescFlag.NEXT),
    next: fc.nat(Math.max(0, n - 1)),
  }) },
  { weight: 1, arbitrary: fc.record({
    lo: fc.integer({ min: 0, max: 7 }).map((k) => TABLES + k * 0x400),
    hi: fc.constant(0),
    len: fc.integer({ min: 1, max: 64 }).map((k) => 16 * k),
    flags: fc.constant(DescFlag.INDIRECT),
    next: fc.constant(0),
  }) },
  { weight: 1, arbitrary: wildDesc(n) },
);

const scenarioArb = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.boolean()).chain(([log, sane]) => {
  const n = 1 << log;
  const descArb = sane ? saneDesc : wildDesc;
  return fc.record({
    n: fc.constant(n),
    table: fc.array(descArb(n), { minLength: n, maxLength: n }),
    indirect: fc.array(fc.array(descArb(64), { maxLength: 64 }), { minLength: 8, maxLength: 8 }),
    heads: fc.array(sane ? fc.nat(n - 1) : fc.nat(n + 1), { minLength: n, maxLength: n }),
    availIdx: sane ? fc.nat(n) : fc.oneof(fc.nat(n), fc.nat(0xffff)),
    usedEvent: fc.nat(0xffff),
    noInterrupt: fc.boolean(),
    indirectOk: fc.boolean(),
    eventIdx: fc.boolean(),
  });
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function writeDescs(h: Harness, at: number, descs: Desc[]): void {
  descs.forEach((d, i) => {
    h.mem.write32(at + 16 * i, d.lo);
    h.mem.write32(at + 16 * i + 4, d.hi);
    h.mem.write32(at + 16 * i + 8, d.len);
    h.mem.write16(at + 16 * i + 12, d.flags);
    h.mem.write16(at + 16 * i + 14, d.next);
  });
}

function build(h: Harness, s: Scenario): void {
  writeDescs(h, DESC, s.table);
  s.indirect.forEach((t, k) => writeDescs(h, TABLES + k * 0x400, t));
  h.mem.write16(AVAIL, s.noInterrupt ? 1 : 0);
  h.mem.write16(AVAIL + 2, s.availIdx);
  s.heads.forEach((hd, i) => h.mem.write16(AVAIL + 4 + 2 * i, hd));
  h.mem.write16(AVAIL + 4 + 2 * s.n, s.usedEvent);
  const lo = (s.indirectOk ? 1 << FeatureBit.RING_INDIRECT_DESC : 0) | (s.eventIdx ? 1 << FeatureBit.RING_EVENT_IDX : 0);
  modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
  modernWrite(h, M.CC_DRIVER_FEATURE_SELECT, 4, 0);
  modernWrite(h, M.CC_DRIVER_FEATURE, 4, lo);
  modernWrite(h, M.CC_DRIVER_FEATURE_SELECT, 4, 1);
  modernWrite(h, M.CC_DRIVER_FEATURE, 4, 1);
  modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
  for (let q = 0; q < modernRead(h, M.CC_NUM_QUEUES, 2); q++) {
    modernWrite(h, M.CC_QUEUE_SELECT, 2, q);
    modernWrite(h, M.CC_QUEUE_SIZE, 2, s.n);
    modernWrite(h, M.CC_QUEUE_DESC_LO, 4, DESC);
    modernWrite(h, M.CC_QUEUE_DRIVER_LO, 4, AVAIL);
    modernWrite(h, M.CC_QUEUE_DEVICE_LO, 4, USED);
    modernWrite(h, M.CC_QUEUE_ENABLE, 2, 1);
  }
  modernWrite(h, M.CC_DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
}

/** Reference chain check: the writable segments of a valid chain, or null. Written from the spec rules, list first, then checks. */
function refChain(s: Scenario, head: number): [number, number][] | null {
  const list: Desc[] = [];
  let table: Desc[] = s.table;
  let size = s.n;
  let i = head;
  let inIndirect = false;
  for (let steps = 0; ; steps++) {
    if (i >= size || steps >= size) return null;
    const d = table[i];
    if (d.flags & DescFlag.INDIRECT) {
      if (!s.indirectOk || inIndirect || (d.flags & DescFlag.NEXT) || d.len === 0 || d.len % 16 !== 0 || d.hi !== 0 || d.lo + d.len > RAM) return null;
      const k = (d.lo - TABLES) / 0x400;
      // Only our generated tables lie in the table area; any other in-RAM address is data (zero bytes = descriptors of length 0).
      const entries = d.len / 16;
      // usable() keeps in-RAM indirect tables inside the generated ones; a table may run into
      // the next one(s), and entries a generated table does not have are zero bytes.
      table = [];
      for (let e = 0; e < entries; e++) table.push(s.indirect[k + Math.floor(e / 64)][e % 64] ?? { lo: 0, hi: 0, len: 0, flags: 0, next: 0 });
      size = entries;
      inIndirect = true;
      i = 0;
      steps = -1;
      continue;
    }
    list.push(d);
    if (!(d.flags & DescFlag.NEXT)) break;
    i = d.next;
  }
  const writable: [number, number][] = [];
  let seenW = false;
  let total = 0;
  for (const d of list) {
    // The ordering rule (2.7.4.2: device-writable elements after every device-readable one)
    // holds for every descriptor, a zero-length one included; a zero-length one carries nothing.
    const w = (d.flags & DescFlag.WRITE) !== 0;
    if (!w && seenW) return null;
    if (w) seenW = true;
    if (d.len === 0) continue;
    if (d.hi !== 0 || d.lo + d.len > RAM) return null;
    if (w) writable.push([d.lo, d.len]);
    total += d.len;
  }
  return total > 0xffffffff ? null : writable;
}

/** Keep in-RAM indirect tables inside the generated tables and writable buffers off the rings and tables (elsewhere the device's writes would change what the reference reads). */
function usable(s: Scenario): boolean {
  const pointsIntoData = (d: Desc) => (d.flags & DescFlag.INDIRECT) !== 0 && d.hi === 0 && d.len !== 0 && d.len % 16 === 0 && d.lo + d.len <= RAM &&
    !(d.lo >= TABLES && (d.lo - TABLES) % 0x400 === 0 && d.lo + d.len <= TABLES + 8 * 0x400);
  // A device-writable buffer over the rings or the indirect tables would change what the
  // reference reads from `s` (the device rightly writes there: it is the driver's buffer).
  const writesOverRings = (d: Desc) => (d.flags & (DescFlag.WRITE | DescFlag.INDIRECT)) === DescFlag.WRITE && d.hi === 0 && d.len !== 0 &&
    d.lo < DATA && d.lo + d.len > DESC;
  const bad = (d: Desc) => pointsIntoData(d) || writesOverRings(d);
  return !s.table.some(bad) && !s.indirect.some((t) => t.some(bad));
}

const stats = { runs: 0, bad: 0, served: 0, both: 0 };
describe('hostile drivers', () => {
  it('virtio-rnd: exact RAM effects, NEEDS_RESET on the first bad chain, bounded work', () => {
    fc.assert(fc.property(scenarioArb.filter(usable), (s) => {
      let counter = 0;
      const h = harness(new VirtioRnd('rnd', { nextBytes: (k) => Uint8Array.from({ length: k }, () => (counter++ % 251) + 1) }), RAM);
      build(h, s);
      let reads = 0;
      const read32 = h.mem.read32.bind(h.mem);
      h.mem.read32 = (a: number) => { reads++; return read32(a); };
      const expected = h.mem.ram.slice();
      expect(() => { modernNotify(h, 0); modernNotify(h, 0); }).not.toThrow();
      // Reference run.
      let ref = 0;
      const pending = s.availIdx;
      let bad = pending > s.n;
      let served = 0;
      for (let k = 0; !bad && k < pending; k++) {
        const head = s.heads[k % s.n];
        const w = refChain(s, head);
        if (w === null) { bad = true; break; }
        let want = Math.min(w.reduce((a, [, l]) => a + l, 0), MAX_FILL);
        const len = want;
        for (const [addr, l] of w) {
          for (let b = 0; b < l && want > 0; b++, want--) expected[addr + b] = (ref++ % 251) + 1;
        }
        const e = USED + 4 + 8 * (k % s.n);
        new DataView(expected.buffer).setUint32(e, head, true);
        new DataView(expected.buffer).setUint32(e + 4, len, true);
        served++;
        if (s.eventIdx) new DataView(expected.buffer).setUint16(USED + 4 + 8 * s.n, served, true);
      }
      if (served > 0) new DataView(expected.buffer).setUint16(USED + 2, served, true);
      const status = modernRead(h, M.CC_DEVICE_STATUS, 1);
      expect((status & DeviceStatus.DEVICE_NEEDS_RESET) !== 0).toBe(bad);
      expect(Buffer.compare(h.mem.ram, expected)).toBe(0);
      expect(reads).toBeLessThanOrEqual((served + 2) * 4 * (s.n + 64 * 8));
      stats.runs++; if (bad) stats.bad++; if (served > 0) stats.served++; if (served > 0 && bad) stats.both++;
    }), { numRuns: 400 });
    // The generator must exercise both outcomes (a property that only ever sees errors proves little).
    expect(stats.bad).toBeGreaterThan(stats.runs / 10);
    expect(stats.served).toBeGreaterThan(stats.runs / 10);
    if (process.env.HOSTILE_STATS) console.log(stats);
  });

  it('virtio-balloon: no throw, only the used ring changes, balloon pages stay inside RAM', () => {
    fc.assert(fc.property(scenarioArb.filter(usable), fc.nat(2), (s, q) => {
      const model = new VirtioBalloon('b', RAM);
      const h = harness(model, RAM);
      build(h, s);
      const before = h.mem.ram.slice();
      expect(() => { modernNotify(h, q); model.requestStats(); modernNotify(h, q); }).not.toThrow();
      for (let a = 0; a < RAM; a++) {
        if (h.mem.ram[a] !== before[a]) expect(a >= USED && a < USED + 6 + 8 * s.n).toBe(true);
      }
      expect(model.balloonedPages).toBeLessThanOrEqual(RAM / 4096);
    }), { numRuns: 200 });
  });
});
