// SMBIOS read back with a reader written from DSP0134 (SMBIOS 3.x, which keeps the 2.x
// entry point and structure layouts), then handed to dmidecode, the real oracle.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleDescription } from './sample-description.test-helper.js';
import type { PlatformDescription } from './platform-description.js';
import { buildSmbios, smbiosUuidBytes } from './smbios.js';

const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);

interface Struct { type: number; length: number; handle: number; at: number; strings: string[] }

function parse(d: PlatformDescription, base = d.areas.smbios) {
  const img = buildSmbios(d, base);
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  // 5.2.1, Table 1: the 32-bit entry point.
  expect(String.fromCharCode(...img.subarray(0, 4))).toBe('_SM_');
  const epLen = img[5];
  expect(epLen).toBe(0x1f);
  expect(sum(img.subarray(0, epLen))).toBe(0);
  expect(String.fromCharCode(...img.subarray(0x10, 0x15))).toBe('_DMI_');
  expect(sum(img.subarray(0x10, 0x1f))).toBe(0); // intermediate checksum
  expect([img[6], img[7], img[0x1e]]).toEqual([2, 8, 0x28]);
  const tableLen = dv.getUint16(0x16, true);
  const tableAt = dv.getUint32(0x18, true) - base;
  const count = dv.getUint16(0x1c, true);
  // 6.1.2/6.1.3: formatted area, then strings each NUL-terminated, the set ending in a double NUL.
  const structs: Struct[] = [];
  let o = tableAt;
  let maxSize = 0;
  for (let i = 0; i < count; i++) {
    const length = img[o + 1];
    const s: Struct = { type: img[o], length, handle: dv.getUint16(o + 2, true), at: o, strings: [] };
    let p = o + length;
    if (img[p] === 0 && img[p + 1] === 0) p += 2;
    else {
      while (img[p] !== 0) {
        const start = p;
        while (img[p] !== 0) p++;
        s.strings.push(String.fromCharCode(...img.subarray(start, p)));
        p++;
      }
      p++;
    }
    maxSize = Math.max(maxSize, p - o);
    structs.push(s);
    o = p;
  }
  expect(o - tableAt).toBe(tableLen);
  expect(dv.getUint16(8, true)).toBe(maxSize);
  expect(structs[structs.length - 1].type).toBe(127);
  expect(new Set(structs.map((s) => s.handle)).size).toBe(structs.length);
  return { img, dv, structs };
}

describe('SMBIOS 2.8 structures', () => {
  it('has types 0, 1, 3, 4, 16, 17, 19, 32, 127 with their 2.8 lengths', () => {
    const { structs } = parse(sampleDescription());
    expect(structs.map((s) => [s.type, s.length])).toEqual([
      [0, 0x18], [1, 0x1b], [3, 0x16], [4, 0x2a], [16, 0x17], [17, 0x28], [19, 0x1f], [32, 0x0b], [127, 4],
    ]);
  });

  it('type 1 UUID: the spec example 00112233-4455-6677-8899-AABBCCDDEEFF is stored 33 22 11 00 55 44 77 66 88 99 AA.. (7.2.1)', () => {
    expect(Array.from(smbiosUuidBytes('00112233-4455-6677-8899-aabbccddeeff'))).toEqual([
      0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ]);
    const { img, structs } = parse(sampleDescription({ uuid: '00112233-4455-6677-8899-aabbccddeeff' }));
    const t1 = structs.find((s) => s.type === 1)!;
    expect(Array.from(img.subarray(t1.at + 8, t1.at + 24))).toEqual(Array.from(smbiosUuidBytes('00112233-4455-6677-8899-aabbccddeeff')));
  });

  it('one type 4 per socket with cores and threads per socket', () => {
    const { img, structs } = parse(sampleDescription({ vcpus: 16, topology: { sockets: 2, cores: 4, threads: 2 } }));
    const t4 = structs.filter((s) => s.type === 4);
    expect(t4.length).toBe(2);
    for (const s of t4) expect([img[s.at + 0x23], img[s.at + 0x24], img[s.at + 0x25]]).toEqual([4, 4, 8]);
  });

  it('memory: type 16 capacity and type 17 size equal RAM, type 19 maps [0, RAM) in KiB, linked by handle', () => {
    const ram = 512 * 1024 * 1024;
    const { dv, structs } = parse(sampleDescription({ ramBytes: ram }));
    const t16 = structs.find((s) => s.type === 16)!;
    const t17 = structs.find((s) => s.type === 17)!;
    const t19 = structs.find((s) => s.type === 19)!;
    expect(dv.getUint32(t16.at + 7, true)).toBe(ram / 1024);
    expect(dv.getUint16(t17.at + 4, true)).toBe(t16.handle);
    expect(dv.getUint16(t17.at + 0x0c, true)).toBe(512); // MiB, bit 15 clear
    expect(dv.getUint32(t19.at + 4, true)).toBe(0);
    expect(dv.getUint32(t19.at + 8, true)).toBe(ram / 1024 - 1);
    expect(dv.getUint16(t19.at + 0x0c, true)).toBe(t16.handle);
  });
});

const hasDmidecode = spawnSync('dmidecode', ['--version']).status === 0;
if (!hasDmidecode) console.warn('smbios: dmidecode not found (apt-get install dmidecode); dmidecode checks skipped');
const dir = mkdtempSync(join(tmpdir(), 'hvsim-smbios-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** dmidecode's --dump-bin layout: entry point at offset 0, table at offset 32 (our base 0 gives exactly that). */
function dmidecode(d: PlatformDescription, args: string[] = []): string {
  const file = join(dir, 'dmi.bin');
  writeFileSync(file, buildSmbios(d, 0));
  const r = spawnSync('dmidecode', ['--from-dump', file, ...args], { encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/\b(invalid|wrong|truncated|unreachable|bad|checksum)\b/i);
  return r.stdout;
}

describe.skipIf(!hasDmidecode)('dmidecode --from-dump', () => {
  it('finds SMBIOS 2.8 and prints the UUID as given (-U)', () => {
    const uuid = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
    const out = dmidecode(sampleDescription({ uuid }));
    expect(out).toContain('SMBIOS 2.8 present.');
    expect(out).toMatch(new RegExp(`UUID: ${uuid}`, 'i'));
    expect(dmidecode(sampleDescription({ uuid }), ['-s', 'system-uuid']).trim().toLowerCase()).toBe(uuid);
  });

  it('reports the BIOS, system, processors and memory we describe', () => {
    const d = sampleDescription({ vcpus: 4, topology: { sockets: 2, cores: 2, threads: 1 }, ramBytes: 1024 * 1024 * 1024 });
    const out = dmidecode(d);
    expect(dmidecode(d, ['-s', 'bios-vendor']).trim()).toBe(d.biosVendor);
    expect(dmidecode(d, ['-s', 'system-product-name']).trim()).toBe(d.systemProduct);
    expect(out).toContain('System is a virtual machine');
    expect(out.match(/Processor Information/g)?.length).toBe(2);
    expect(out).toMatch(/Core Count: 2/);
    expect(out).toMatch(/Size: 1 GB|Size: 1024 MB/);
    expect(out).toMatch(/Range Size: 1 GB|Range Size: 1024 MB/);
    expect(out).toMatch(/Maximum Capacity: 1 GB|Maximum Capacity: 1024 MB/);
    expect(out).toContain('End Of Table');
  });

  it('decodes a non-MiB RAM size below 32 MiB in KiB (type 17 bit 15)', () => {
    const out = dmidecode(sampleDescription({ ramBytes: 20 * 1024 * 1024 + 4096 }));
    expect(out).toMatch(/Size: 20484 kB/);
  });
});
