// The root of the ACPI tables: RSDP (ACPI 6.5, 5.2.5.3, Table 5.3, revision 2 with both
// checksums), RSDT (5.2.7, 32-bit entries) and XSDT (5.2.8, 64-bit entries).

import { ByteWriter } from '../bytes.js';
import { finishSdt, startSdt, type TableIds } from './sdt.js';

export const RSDP_LENGTH = 36;

export function buildRsdp(ids: TableIds, rsdt: number, xsdt: number): Uint8Array {
  const w = new ByteWriter();
  w.fixedAscii('RSD PTR ', 8).u8(0).fixedAscii(ids.oemId, 6).u8(2).u32(rsdt);
  w.u32(RSDP_LENGTH).u64(xsdt).u8(0).zeros(3);
  w.patchChecksum(8, 0, 20); // first 20 bytes: the ACPI 1.0 structure
  w.patchChecksum(32, 0, RSDP_LENGTH); // extended checksum: the whole structure
  return w.toBytes();
}

export function buildRsdt(ids: TableIds, tables: readonly number[]): Uint8Array {
  const w = startSdt('RSDT', 1, ids);
  for (const t of tables) w.u32(t);
  return finishSdt(w);
}

export function buildXsdt(ids: TableIds, tables: readonly number[]): Uint8Array {
  const w = startSdt('XSDT', 1, ids);
  for (const t of tables) w.u64(t);
  return finishSdt(w);
}
