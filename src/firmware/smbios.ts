// SMBIOS 2.8 (DMTF DSP0134): the 32-bit entry point ("_SM_" with the "_DMI_" intermediate
// anchor, 5.2.1, Table 1) and the structure table: types 0 (BIOS), 1 (system, UUID), 3
// (chassis), 4 (one processor per socket), 16/17/19 (memory array, device, mapped range),
// 32 (boot information) and 127 (end of table). Version 2.8 is the newest the 32-bit entry
// point describes and every tool and kernel reads.

import { ByteWriter } from './bytes.js';
import { uuidToBytes, type PlatformDescription } from './platform-description.js';

export const SMBIOS_MAJOR = 2;
export const SMBIOS_MINOR = 8;
const ENTRY_POINT_LENGTH = 0x1f;
const KIB = 1024;
const MIB = 1024 * 1024;

/** One structure: formatted area, then its strings (7.1.3; "" strings are index 0, none). */
class Structure {
  readonly w = new ByteWriter();
  private strings: string[] = [];
  constructor(type: number, length: number, handle: number) {
    this.w.u8(type).u8(length).u16(handle);
  }
  /** String number for `text` (1-based), 0 for an empty string. */
  str(text: string): number {
    if (text === '') return 0;
    this.strings.push(text.replace(/[^\x20-\x7e]/g, '?'));
    return this.strings.length;
  }
  finish(): Uint8Array {
    const out = new ByteWriter();
    out.bytes(this.w.toBytes());
    if (this.strings.length === 0) return out.u8(0).u8(0).toBytes();
    for (const s of this.strings) out.fixedAscii(s, s.length).u8(0);
    return out.u8(0).toBytes();
  }
}

export function buildSmbios(d: PlatformDescription, base: number): Uint8Array {
  if (base % 16 !== 0) throw new Error(`SMBIOS base 0x${base.toString(16)} is not 16-byte aligned`);
  const structures: Uint8Array[] = [];
  let handle = 0;
  const next = () => handle++;

  // Type 0, BIOS Information (7.1, length 0x18 for 2.4+).
  {
    const s = new Structure(0, 0x18, next());
    s.w.u8(s.str(d.biosVendor)).u8(s.str(d.biosVersion)).u16(0xf000); // vendor, version, segment
    s.w.u8(s.str(d.biosDate)).u8(0); // release date, ROM size 64 KiB ((n + 1) * 64K)
    s.w.u32(1 << 3).u32(0); // characteristics: bit 3 "not supported"
    s.w.u8(0x01); // extension byte 1: bit 0 ACPI supported
    s.w.u8(0x10); // extension byte 2: bit 4 the table describes a virtual machine
    s.w.u8(1).u8(0).u8(0xff).u8(0xff); // BIOS release 1.0, no embedded controller
    structures.push(s.finish());
  }
  // Type 1, System Information (7.2, length 0x1b); UUID in 7.2.1's byte order.
  {
    const s = new Structure(1, 0x1b, next());
    s.w.u8(s.str(d.systemVendor)).u8(s.str(d.systemProduct)).u8(s.str('1.0')).u8(s.str('None'));
    s.w.bytes(smbiosUuidBytes(d.uuid));
    s.w.u8(0x06); // wake-up type: power switch
    s.w.u8(s.str(d.vmname)).u8(s.str('Virtual Machine')); // SKU number, family
    structures.push(s.finish());
  }
  // Type 3, System Enclosure (7.4, length 0x15 + n*m + 1 with no contained elements).
  {
    const s = new Structure(3, 0x16, next());
    s.w.u8(s.str(d.systemVendor)).u8(0x01).u8(s.str('1.0')).u8(s.str('None')).u8(0); // type: Other
    s.w.u8(0x03).u8(0x03).u8(0x03).u8(0x03); // boot-up, power supply, thermal: safe; security: none
    s.w.u32(0).u8(0).u8(0).u8(0).u8(0); // OEM, height, power cords, contained elements (count, length)
    s.w.u8(0); // SKU number
    structures.push(s.finish());
  }
  // Type 4, Processor Information (7.5, length 0x2a for 2.6+), one per socket.
  const topo = d.topology ?? { sockets: 1, cores: d.vcpus, threads: 1 };
  const sockets = Math.max(1, topo.sockets);
  for (let socket = 0; socket < sockets; socket++) {
    const threads = Math.min(0xff, topo.cores * topo.threads);
    const s = new Structure(4, 0x2a, next());
    s.w.u8(s.str(`CPU ${socket}`)).u8(0x03).u8(0x02); // central processor, family unknown
    s.w.u8(s.str(d.cpuVendor)); // manufacturer
    s.w.u32(d.cpuid1.eax).u32(d.cpuid1.edx); // processor ID (7.5.3)
    s.w.u8(0).u8(0); // version string none; voltage: legacy mode, none of the listed
    s.w.u16(0).u16(0).u16(0); // external clock, max speed, current speed: unknown
    s.w.u8(0x41); // status: socket populated, CPU enabled
    s.w.u8(0x01); // upgrade: other
    s.w.u16(0xffff).u16(0xffff).u16(0xffff); // L1/L2/L3 cache handles: none provided
    s.w.u8(0).u8(0).u8(0); // serial, asset tag, part number
    s.w.u8(Math.min(0xff, topo.cores)).u8(Math.min(0xff, topo.cores)).u8(threads);
    s.w.u16(0x0004 | (topo.cores > 1 ? 0x0008 : 0)); // characteristics: 64-bit capable, multi-core
    s.w.u16(0x02); // processor family 2: unknown
    structures.push(s.finish());
  }
  // Type 16, Physical Memory Array (7.17, length 0x17).
  const arrayHandle = next();
  const ramKib = Math.floor(d.ramBytes / KIB);
  {
    const s = new Structure(16, 0x17, arrayHandle);
    s.w.u8(0x03).u8(0x03).u8(0x03); // location system board, use system memory, no ECC
    if (ramKib < 0x8000_0000) s.w.u32(ramKib).u16(0xfffe).u16(1).u64(0);
    else s.w.u32(0x8000_0000).u16(0xfffe).u16(1).u64(d.ramBytes);
    structures.push(s.finish());
  }
  // Type 17, Memory Device (7.18, length 0x28 for 2.8).
  {
    const s = new Structure(17, 0x28, next());
    s.w.u16(arrayHandle).u16(0xfffe).u16(64).u16(64); // array, no error info, total/data width
    s.w.u16(memoryDeviceSize(d.ramBytes)).u8(0x09).u8(0); // size, form factor DIMM, no set
    s.w.u8(s.str('DIMM 0')).u8(s.str('Bank 0')).u8(0x07).u16(0x0002); // type RAM, detail "other"
    s.w.u16(0).u8(s.str(d.systemVendor)).u8(0).u8(0).u8(0).u8(0); // speed, strings, attributes
    s.w.u32(memoryDeviceSize(d.ramBytes) === 0x7fff ? Math.floor(d.ramBytes / MIB) : 0);
    s.w.u16(0).u16(0).u16(0).u16(0); // configured speed, voltages: unknown
    structures.push(s.finish());
  }
  // Type 19, Memory Array Mapped Address (7.20, length 0x1f): RAM from 0, in KiB, inclusive end.
  {
    const s = new Structure(19, 0x1f, next());
    if (ramKib <= 0xffff_ffff) s.w.u32(0).u32(ramKib - 1).u16(arrayHandle).u8(1).u64(0).u64(0);
    else s.w.u32(0xffff_ffff).u32(0xffff_ffff).u16(arrayHandle).u8(1).u64(0).u64(d.ramBytes - 1);
    structures.push(s.finish());
  }
  // Type 32, System Boot Information (7.33): 6 reserved bytes, status 0 (no errors).
  {
    const s = new Structure(32, 0x0b, next());
    s.w.zeros(6).u8(0);
    structures.push(s.finish());
  }
  // Type 127, End-of-Table (7.45).
  structures.push(new Structure(127, 4, next()).finish());

  const table = new ByteWriter();
  let maxSize = 0;
  for (const s of structures) {
    table.bytes(s);
    maxSize = Math.max(maxSize, s.length);
  }
  const tableAt = base + 32; // entry point padded to 32 bytes
  const w = new ByteWriter();
  w.fixedAscii('_SM_', 4).u8(0).u8(ENTRY_POINT_LENGTH).u8(SMBIOS_MAJOR).u8(SMBIOS_MINOR);
  w.u16(maxSize).u8(0).zeros(5); // max structure size, entry point revision 0, formatted area
  w.fixedAscii('_DMI_', 5).u8(0).u16(table.length).u32(tableAt).u16(structures.length);
  w.u8((SMBIOS_MAJOR << 4) | SMBIOS_MINOR); // BCD revision
  w.patchChecksum(0x15, 0x10, ENTRY_POINT_LENGTH); // intermediate checksum: the _DMI_ part
  w.patchChecksum(0x04, 0, ENTRY_POINT_LENGTH); // entry point checksum: all of it
  w.alignTo(32);
  w.bytes(table.toBytes());
  return w.toBytes();
}

/** Type 17 Size (7.18.5): MiB with bit 15 clear; KiB with it set when below 32 MiB and not whole MiB; 0x7fff: see Extended Size. */
function memoryDeviceSize(ramBytes: number): number {
  const mib = Math.floor(ramBytes / MIB);
  if (mib >= 0x7fff) return 0x7fff;
  if (ramBytes % MIB !== 0 && ramBytes < 32 * MIB) return 0x8000 | Math.floor(ramBytes / KIB);
  return mib;
}

/** 7.2.1: the first three UUID fields little-endian, the last two as in RFC 4122. */
export function smbiosUuidBytes(uuid: string): Uint8Array {
  const b = uuidToBytes(uuid);
  return Uint8Array.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.subarray(8)]);
}
