// The System Description Table header every ACPI table but the RSDP and FACS starts with
// (ACPI 6.5, 5.2.6, Table 5.4), and the GAS structure (5.2.3.2).

import { ByteWriter } from '../bytes.js';

export interface TableIds {
  oemId: string;
  oemTableId: string;
}

export const SDT_HEADER_LENGTH = 36;
const LENGTH_OFFSET = 4;
const CHECKSUM_OFFSET = 9;
/** Creator ID / revision: the tool that built the table (here hvsim itself). */
const CREATOR_ID = 'HVSM';
const CREATOR_REVISION = 1;
const OEM_REVISION = 1;

/** Start a table: the header with length and checksum left for `finishSdt`. */
export function startSdt(signature: string, revision: number, ids: TableIds): ByteWriter {
  const w = new ByteWriter();
  w.fixedAscii(signature, 4).u32(0).u8(revision).u8(0);
  w.fixedAscii(ids.oemId, 6).fixedAscii(ids.oemTableId, 8).u32(OEM_REVISION);
  w.fixedAscii(CREATOR_ID, 4).u32(CREATOR_REVISION);
  return w;
}

/** Fill in Length and make the whole table sum to zero (5.2.6). */
export function finishSdt(w: ByteWriter): Uint8Array {
  w.patchU32(LENGTH_OFFSET, w.length);
  w.patchChecksum(CHECKSUM_OFFSET, 0, w.length);
  return w.toBytes();
}

/** Generic Address Structure address space IDs (Table 5.1). */
export const GAS_SYSTEM_MEMORY = 0;
export const GAS_SYSTEM_IO = 1;
/** Access sizes (Table 5.1): 0 undefined, 1 byte, 2 word, 3 dword, 4 qword. */
export type GasAccessSize = 0 | 1 | 2 | 3 | 4;

/** A 12-byte GAS; all zero when `address` is 0 (the register is absent). */
export function gas(w: ByteWriter, space: number, bitWidth: number, accessSize: GasAccessSize, address: number): void {
  if (address === 0) {
    w.zeros(12);
    return;
  }
  w.u8(space).u8(bitWidth).u8(0).u8(accessSize).u64(address);
}
