// The HPET description table (IA-PC HPET specification 1.0a, 3.2.4, Table 3): header, Event
// Timer Block ID, the register block's base address (GAS, system memory), HPET number,
// minimum clock tick in periodic mode, page protection.

import type { PlatformDescription } from '../platform-description.js';
import { finishSdt, gas, GAS_SYSTEM_MEMORY, startSdt } from './sdt.js';

export const HPET_TABLE_LENGTH = 56;

export function buildHpetTable(d: PlatformDescription, hpet: NonNullable<PlatformDescription['hpet']>): Uint8Array {
  const w = startSdt('HPET', 1, d);
  w.u32(hpet.blockId);
  gas(w, GAS_SYSTEM_MEMORY, 64, 0, hpet.address);
  w.u8(0); // HPET number (sequence number of this block)
  w.u16(hpet.minimumTick);
  w.u8(0); // no page protection (the block is not alone in a 4 KiB page the OS may expose)
  return finishSdt(w);
}
