// virtio entropy device (virtio 1.2, 5.4).
import { describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import { DescFlag } from '../virtio/virtio-spec.js';
import * as L from '../virtio/legacy-registers.js';
import { harness, legacyInit, legacyWrite, writeDesc } from '../virtio/virtio-test-driver.js';
import { MAX_FILL, VirtioRnd, type EntropySource } from './virtio-rnd.js';

function seeded(seed: string): EntropySource {
  const rng = seedrandom(seed);
  return { nextBytes: (n) => Uint8Array.from({ length: n }, () => (rng.int32() >>> 0) & 0xff) };
}

function run(source: EntropySource, hostInput?: (b: Uint8Array) => Uint8Array): Uint8Array {
  const h = harness(new VirtioRnd('rnd', source, hostInput), 1 << 20);
  const [ring] = legacyInit(h, 0, [{ queue: 0, pfn: 0x10 }]);
  writeDesc(h.mem, ring.desc, 0, 0x40000, 16, DescFlag.WRITE | DescFlag.NEXT, 1);
  writeDesc(h.mem, ring.desc, 1, 0x40010, 16, DescFlag.WRITE, 0);
  ring.post(0);
  legacyWrite(h, L.LEGACY_QUEUE_NOTIFY, 2, 0);
  expect(ring.usedElem(0)).toEqual({ id: 0, len: 32 });
  return h.mem.readBytes(0x40000, 32)!;
}

describe('virtio-rnd', () => {
  it('fills writable buffers with the generator\'s bytes, in order (5.4.6.2)', () => {
    const expected = seeded('x').nextBytes(32);
    expect(Array.from(run(seeded('x')))).toEqual(Array.from(expected));
    expect(Array.from(run(seeded('y')))).not.toEqual(Array.from(expected));
  });

  it('the guest gets what hostInput returns (a replayer\'s recorded bytes)', () => {
    const seen: number[][] = [];
    const got = run(seeded('x'), (b) => { seen.push(Array.from(b)); return new Uint8Array(b.length).fill(7); });
    expect(seen).toHaveLength(1);
    expect(Array.from(got)).toEqual(new Array(32).fill(7));
  });

  it('fills at most MAX_FILL bytes of a huge buffer (5.4.6.2 allows less than the whole buffer)', () => {
    const h = harness(new VirtioRnd('rnd', seeded('z')), 1 << 20);
    const [ring] = legacyInit(h, 0, [{ queue: 0, pfn: 0x10 }]);
    writeDesc(h.mem, ring.desc, 0, 0x40000, 0x80000, DescFlag.WRITE, 0);
    ring.post(0);
    legacyWrite(h, L.LEGACY_QUEUE_NOTIFY, 2, 0);
    expect(ring.usedElem(0)).toEqual({ id: 0, len: MAX_FILL });
  });
});
