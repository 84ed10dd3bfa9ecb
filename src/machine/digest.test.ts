import { describe, expect, it } from 'vitest';
import { Vmm } from '../api/vmm.js';
import { canonicalJson, digestParts, hashRam, hashString, stateDigest } from './digest.js';

const MiB = 1024 * 1024;

function freshVm(name = 'd', memoryBytes = 2 * MiB): { vmm: Vmm; id: number; digest: () => string } {
  const vmm = new Vmm();
  const id = vmm.create({ name, memoryBytes });
  return { vmm, id, digest: () => stateDigest(vmm.machine(id), vmm.devices(id)) };
}

describe('stateDigest', () => {
  it('is 16 hex digits and equal for equal states (two fresh VMs, two calls)', () => {
    // The VM's name is guest state (SMBIOS carries it and the UUID derived from it): two VMs
    // of one name in two Vmm instances.
    const a = freshVm('a');
    const b = freshVm('a');
    expect(a.digest()).toMatch(/^[0-9a-f]{16}$/);
    expect(a.digest()).toBe(a.digest());
    expect(a.digest()).toBe(b.digest());
    expect(digestParts(a.vmm.machine(a.id), a.vmm.devices(a.id))).toEqual(digestParts(b.vmm.machine(b.id), b.vmm.devices(b.id)));
  });

  it('changes with a general register, RIP or RFLAGS, and comes back when the change is undone', () => {
    const { vmm, id, digest } = freshVm();
    const d0 = digest();
    vmm.writeregs(id, 0, { gprs: { r13: 1n << 63n } });
    const d1 = digest();
    expect(d1).not.toBe(d0);
    vmm.writeregs(id, 0, { gprs: { r13: 0n } });
    expect(digest()).toBe(d0);
    vmm.writeregs(id, 0, { gprs: { rip: 0xfff1n } });
    expect(digest()).not.toBe(d0);
    vmm.writeregs(id, 0, { gprs: { rip: 0xfff0n } });
    expect(digest()).toBe(d0);
    vmm.writeregs(id, 0, { gprs: { rflags: 0x202n } }); // IF
    expect(digest()).not.toBe(d0);
    vmm.writeregs(id, 0, { gprs: { rflags: 0x2n } });
    expect(digest()).toBe(d0);
  });

  it('changes with a segment base, a control register and an MSR', () => {
    const { vmm, id, digest } = freshVm();
    const d0 = digest();
    const seen = new Set([d0]);
    vmm.writeregs(id, 0, { segments: { fs: { selector: 0, base: 0x1000n, limit: 0xffff, attributes: 0x93 } } });
    seen.add(digest());
    vmm.writeregs(id, 0, { crs: { cr2: 0xdead000n } });
    seen.add(digest());
    vmm.writeregs(id, 0, { msrs: { lstar: 0xffffffff80000000n } });
    seen.add(digest());
    expect(seen.size).toBe(4);
  });

  it('covers every vCPU, not only the first', () => {
    const vmm = new Vmm();
    const id = vmm.create({ name: 'smp', vcpus: 2, memoryBytes: 2 * MiB });
    const d0 = stateDigest(vmm.machine(id), vmm.devices(id));
    vmm.writeregs(id, 1, { gprs: { rax: 1n } });
    expect(stateDigest(vmm.machine(id), vmm.devices(id))).not.toBe(d0);
  });

  it('changes with one byte of RAM anywhere (first, middle, last byte)', () => {
    const { vmm, id, digest } = freshVm();
    const d0 = digest();
    for (const gpa of [0, 0x12345, 2 * MiB - 1]) {
      vmm.writeMemory(id, gpa, new Uint8Array([1]));
      expect(digest()).not.toBe(d0);
      vmm.writeMemory(id, gpa, new Uint8Array([0]));
      expect(digest()).toBe(d0);
    }
  });

  it('changes with a device register (COM1 scratch register) and with a device absent', () => {
    const { vmm, id, digest } = freshVm();
    const d0 = digest();
    const com1 = vmm.devices(id).com1;
    com1.ioWrite(0x3ff, 1, 0x5a);
    expect(digest()).not.toBe(d0);
    com1.ioWrite(0x3ff, 1, 0);
    expect(digest()).toBe(d0);
    // Without devices the digest covers the machine only (and differs from one with them).
    expect(stateDigest(vmm.machine(id))).not.toBe(d0);
    const noDebugExit = new Vmm();
    const id2 = noDebugExit.create({ name: 'x', memoryBytes: 2 * MiB, pc: { debugExit: false } });
    expect(stateDigest(noDebugExit.machine(id2), noDebugExit.devices(id2))).not.toBe(d0);
  });

  it('changes with the virtual clock (icount, TSC offset) and the TSC frequency', () => {
    const { vmm, id, digest } = freshVm();
    const m = vmm.machine(id);
    const d0 = digest();
    m.clock.icount += 1;
    expect(digest()).not.toBe(d0);
    m.clock.icount -= 1;
    expect(digest()).toBe(d0);
    m.clock.tscOffset = 1;
    expect(digest()).not.toBe(d0);
    m.clock.tscOffset = 0;
    expect(digest()).toBe(d0);
    vmm.writevmparams(id, 0, { tscKHz: 3_000_000 });
    expect(digest()).not.toBe(d0);
  });

  it('says which part differs', () => {
    const { vmm, id } = freshVm();
    const m = vmm.machine(id);
    const p0 = digestParts(m, vmm.devices(id));
    vmm.writeMemory(id, 0x5000, new Uint8Array([7]));
    const p1 = digestParts(m, vmm.devices(id));
    expect(p1.ram).not.toBe(p0.ram);
    expect({ ...p1, ram: p0.ram }).toEqual(p0);
  });
});

describe('hashRam', () => {
  it('depends on where bytes are: swapped pages and moved bytes differ', () => {
    const a = new Uint8Array(4 * 4096);
    a[10] = 1;
    a[4096 + 20] = 2;
    const b = new Uint8Array(4 * 4096);
    b[4096 + 10] = 1; // same contents, pages swapped
    b[20] = 2;
    const c = new Uint8Array(4 * 4096);
    c[11] = 1;
    c[4096 + 20] = 2;
    expect(new Set([hashRam(a), hashRam(b), hashRam(c)]).size).toBe(3);
  });

  it('distinguishes RAM sizes even when all zero', () => {
    expect(hashRam(new Uint8Array(4096))).not.toBe(hashRam(new Uint8Array(8192)));
  });

  it('gives the same value through the big-endian host path (DataView)', () => {
    const r = new Uint8Array(3 * 4096);
    for (let i = 0; i < r.length; i += 7) r[i] = (i * 31) & 0xff;
    r.fill(0, 4096, 8192);
    expect(hashRam(r, true)).toBe(hashRam(r, false));
  });

  it('tells an all-zero 128 MiB RAM from one with data in every page (its cost is measured by npm run bench)', () => {
    const ram = new Uint8Array(128 * MiB);
    const zero = hashRam(ram);
    const w = new Int32Array(ram.buffer);
    for (let i = 0; i < w.length; i += 1021) w[i] = i;
    expect(hashRam(ram)).not.toBe(zero);
  });
});

describe('canonicalJson', () => {
  it('sorts keys, keeps array order, spells -0, NaN and bigints', () => {
    expect(canonicalJson({ b: 1, a: [2, 1] })).toBe(canonicalJson({ a: [2, 1], b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
    expect(canonicalJson(-0)).not.toBe(canonicalJson(0));
    expect(canonicalJson(NaN)).not.toBe(canonicalJson(null));
    expect(canonicalJson(1n)).not.toBe(canonicalJson(1));
    expect(canonicalJson('1')).not.toBe(canonicalJson(1));
    expect(canonicalJson(new Uint8Array([1, 2]))).not.toBe(canonicalJson({ 0: 1, 1: 2 }));
    expect(() => canonicalJson({ f: () => 0 })).toThrow(TypeError);
  });

  it('hashString separates strings that differ in one character', () => {
    expect(hashString('abc')).not.toBe(hashString('abd'));
    expect(hashString('')).not.toBe(hashString('\0'));
  });
});
