// Hostile drivers against virtio-blk and virtio-net (issue 5 "The guest is hostile"; virtio
// 1.2, 2.7 and 5.1.6 / 5.2.6): arbitrary chains of arbitrary buffers (any length, direction,
// address including outside RAM, loops through raw flags and next fields) carrying arbitrary
// request headers and frames. Invariants:
// - the device never throws;
// - guest RAM changes only inside buffers the driver marked device-writable and the rings;
// - a read-only disk never changes; a writable one changes only when an OUT request was posted
//   (and never past its end: the RAM disk refuses such writes, which would fail the request).
// (Status values per request type are checked one by one in virtio-blk.test.ts.)

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FakeClock } from '../fake-clock.js';
import { createVirtioNet } from '../virtio-net/net-config.js';
import { MemoryBlockBackend } from './block-backend.js';
import { VirtioBlk } from './virtio-blk.js';
import { TestDriver, type Buf } from './test-driver.js';

const MEM = 3 << 20; // rings at 1 MiB, buffers from 2 MiB (test-driver.ts)
const SECTORS = 16;

interface BufSpec { len: number; write: boolean; wild: number | null; rawFlags: number | null; rawNext: number | null }

const bufSpec = fc.record({
  len: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 2048 }) }, { weight: 1, arbitrary: fc.constantFrom(1, 16, 512, 513, 0x10_0000, 0xffff_ffff) }),
  write: fc.boolean(),
  wild: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(MEM - 8, MEM, 0xffff_f000, 0xfee0_0000, 0) }),
  rawFlags: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(7) }),
  rawNext: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(300) }),
});

const header = fc.record({
  type: fc.oneof(fc.constantFrom(0, 1, 4, 8, 10, 11, 13), fc.nat(0xffff_ffff)),
  sectorLo: fc.oneof(fc.integer({ min: 0, max: SECTORS + 2 }), fc.nat(0xffff_ffff)),
  sectorHi: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(0xffff_ffff) }),
});

const chain = fc.record({ hdr: header, bufs: fc.array(bufSpec, { minLength: 1, maxLength: 5 }) });

/** Post the chains without notifying (the first buffer of each carries the header bytes when
 *  device-readable); returns the ranges the device may write. */
function postAll(d: TestDriver, qi: number, chains: { first: Uint8Array; bufs: BufSpec[] }[]): { lo: number; hi: number }[] {
  const writable: { lo: number; hi: number }[] = [];
  for (const c of chains) {
    const bufs: Buf[] = c.bufs.map((b, i) => {
      const len = b.wild === null ? Math.min(b.len, 0x4000) : b.len; // allocated buffers stay small
      return {
        len,
        write: b.write,
        addr: b.wild ?? undefined,
        data: b.wild === null && !b.write && i === 0 ? c.first.subarray(0, len) : undefined,
        rawFlags: b.rawFlags ?? undefined,
        rawNext: b.rawNext ?? undefined,
      };
    });
    const addrs = d.post(qi, bufs);
    // Anything flagged WRITE (by the chain or raw flags) may legitimately be written.
    bufs.forEach((b, i) => {
      const flags = b.rawFlags ?? (b.write ? 2 : 0);
      if ((flags & 2) !== 0 && b.len > 0) writable.push({ lo: addrs[i], hi: addrs[i] + b.len });
    });
  }
  return writable;
}

function changedOutside(before: Uint8Array, after: Uint8Array, allowed: { lo: number; hi: number }[]): number[] {
  const bad: number[] = [];
  const b = Buffer.from(before.buffer, before.byteOffset, before.byteLength);
  const c = Buffer.from(after.buffer, after.byteOffset, after.byteLength);
  for (let a = 0; a < after.length && bad.length < 4; a++) {
    if ((a & 4095) === 0 && b.compare(c, a, a + 4096, a, a + 4096) === 0) {
      a += 4095; // an unchanged page
      continue;
    }
    if (before[a] === after[a]) continue;
    if (a >= 0x10_0000 && a < 0x10_0000 + 0x2_0000) continue; // the rings (test-driver.ts QUEUE_AREA)
    if (!allowed.some((r) => a >= r.lo && a < r.hi)) bad.push(a);
  }
  return bad;
}

describe('hostile drivers', () => {
  it('virtio-blk: no throw, writes only in writable buffers, disk changes only by in-range OUT', () => {
    fc.assert(
      fc.property(fc.array(chain, { minLength: 1, maxLength: 6 }), fc.boolean(), (chains, readOnly) => {
        const disk = new Uint8Array(SECTORS * 512).map((_, i) => i & 0xff);
        const backend = new MemoryBlockBackend(disk.slice(), readOnly);
        const blk = new VirtioBlk({ name: 'b', backend, readOnly, logicalSectorSize: 512, physicalSectorSize: 512, serial: 'S', hostInput: (_d, x) => x });
        const d = new TestDriver(blk, MEM);
        d.init(0xffff_ffff);
        const posted = chains.map((c) => {
          const h = new Uint8Array(16);
          const dv = new DataView(h.buffer);
          dv.setUint32(0, c.hdr.type >>> 0, true);
          dv.setUint32(8, c.hdr.sectorLo >>> 0, true);
          dv.setUint32(12, c.hdr.sectorHi >>> 0, true);
          return { first: h, bufs: c.bufs };
        });
        const allowed = postAll(d, 0, posted);
        const before = d.mem.ram.slice();
        expect(() => d.notify(0)).not.toThrow();
        expect(changedOutside(before, d.mem.ram, allowed)).toEqual([]);
        const same = Buffer.from(backend.bytes).equals(Buffer.from(disk));
        if (readOnly) expect(same).toBe(true);
        // Any disk change is inside the capacity (the RAM disk refuses writes past its end) and
        // came from an OUT request (type 1).
        if (!posted.some((p) => new DataView(p.first.buffer).getUint32(0, true) === 1)) expect(same).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('virtio-net: no throw on any transmit or receive chain, writes only in writable buffers', () => {
    fc.assert(
      fc.property(fc.array(chain, { minLength: 1, maxLength: 6 }), fc.array(chain, { minLength: 0, maxLength: 4 }), fc.boolean(), (tx, rx, legacy) => {
        const nic = createVirtioNet({ bus: 0, slot: 3, function: 0, conf: 'echo', vmname: 'v', run: {}, clock: new FakeClock(), hostInput: (_d, x) => x, hostOutput: () => {} });
        const d = new TestDriver(nic, MEM);
        d.init(0xffff_ffff, legacy ? 0 : 1);
        const frame = new Uint8Array(64).fill(0xab);
        const allowed = postAll(d, 0, rx.map((c) => ({ first: frame, bufs: c.bufs })));
        allowed.push(...postAll(d, 1, tx.map((c) => ({ first: frame, bufs: c.bufs }))));
        const before = d.mem.ram.slice();
        expect(() => {
          d.notify(0);
          d.notify(1);
        }).not.toThrow();
        expect(changedOutside(before, d.mem.ram, allowed)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
