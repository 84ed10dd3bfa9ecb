// FADT (ACPI 6.5, 5.2.9, Table 5.9; revision 6, minor version 5) and FACS (5.2.10, Table 5.13).

import { ByteWriter } from '../bytes.js';
import type { PlatformDescription } from '../platform-description.js';
import { finishSdt, gas, GAS_SYSTEM_IO, startSdt } from './sdt.js';

export const FADT_REVISION = 6;
export const FADT_MINOR_VERSION = 5;
export const FADT_LENGTH = 276;
export const FACS_LENGTH = 64;

/** Fixed Feature Flags (Table 5.10). */
export const FADT_FLAGS = {
  WBINVD: 1 << 0,
  PROC_C1: 1 << 2,
  PWR_BUTTON: 1 << 4, // 1: no fixed-feature power button
  SLP_BUTTON: 1 << 5, // 1: no fixed-feature sleep button
  FIX_RTC: 1 << 6, // 1: RTC wake status not in the fixed registers
  TMR_VAL_EXT: 1 << 8,
  RESET_REG_SUP: 1 << 10,
  HW_REDUCED_ACPI: 1 << 20,
} as const;

/** IA-PC Boot Architecture Flags (Table 5.11). */
export const IAPC_BOOT_ARCH = {
  LEGACY_DEVICES: 1 << 0,
  I8042: 1 << 1,
  VGA_NOT_PRESENT: 1 << 2,
  MSI_NOT_SUPPORTED: 1 << 3,
  PCIE_ASPM_CONTROLS: 1 << 4,
  CMOS_RTC_NOT_PRESENT: 1 << 5,
} as const;

/** Register block lengths (4.8.3): PM1 event block 4 (STS + EN), PM1 control 2, PM timer 4. */
const PM1_EVT_LEN = 4;
const PM1_CNT_LEN = 2;
const PM_TMR_LEN = 4;
/** P_LVL2_LAT > 100 and P_LVL3_LAT > 1000 say C2 and C3 are not supported (Table 5.9). */
const NO_C2_LATENCY = 101;
const NO_C3_LATENCY = 1001;

export function fadtBootArch(d: PlatformDescription): number {
  // LPC-style legacy devices (COM ports, RTC) are present; the 8042 is only the reset port, so
  // it is declared absent (Linux then does not probe a keyboard); no VGA.
  let flags = IAPC_BOOT_ARCH.LEGACY_DEVICES | IAPC_BOOT_ARCH.VGA_NOT_PRESENT;
  if (!d.rtc) flags |= IAPC_BOOT_ARCH.CMOS_RTC_NOT_PRESENT;
  return flags;
}

export function buildFadt(d: PlatformDescription, facs: number, dsdt: number): Uint8Array {
  const pm = d.pm;
  const w = startSdt('FACP', FADT_REVISION, d);
  w.u32(facs).u32(dsdt);
  w.u8(0); // reserved (INT_MODEL of ACPI 1.0)
  w.u8(0); // Preferred_PM_Profile: unspecified
  w.u16(pm.sci).u32(pm.smiCmd).u8(pm.enable).u8(pm.disable);
  w.u8(0).u8(0); // S4BIOS_REQ, PSTATE_CNT: not supported
  w.u32(pm.evt).u32(0).u32(pm.cnt).u32(0).u32(0).u32(pm.tmr); // PM1a/b EVT, PM1a/b CNT, PM2, TMR
  w.u32(0).u32(0); // GPE0_BLK, GPE1_BLK: no general-purpose events
  w.u8(PM1_EVT_LEN).u8(PM1_CNT_LEN).u8(0).u8(PM_TMR_LEN).u8(0).u8(0).u8(0); // ..GPE1_BASE
  w.u8(0); // CST_CNT
  w.u16(NO_C2_LATENCY).u16(NO_C3_LATENCY).u16(0).u16(0); // P_LVL2/3_LAT, FLUSH_SIZE/STRIDE
  w.u8(0).u8(0); // DUTY_OFFSET, DUTY_WIDTH
  w.u8(0).u8(0).u8(d.rtc ? d.rtc.centuryIndex : 0); // DAY_ALRM, MON_ALRM, CENTURY
  w.u16(fadtBootArch(d)).u8(0);
  w.u32(FADT_FLAGS.WBINVD | FADT_FLAGS.PROC_C1 | FADT_FLAGS.PWR_BUTTON | FADT_FLAGS.SLP_BUTTON | FADT_FLAGS.FIX_RTC | FADT_FLAGS.RESET_REG_SUP);
  gas(w, GAS_SYSTEM_IO, 8, 1, pm.resetPort); // RESET_REG: one byte at the reset port
  w.u8(pm.resetValue);
  w.u16(0); // ARM_BOOT_ARCH
  w.u8(FADT_MINOR_VERSION);
  // X_FIRMWARE_CTRL must be zero when FIRMWARE_CTRL is used (the FACS is below 4 GiB).
  w.u64(0).u64(dsdt);
  gas(w, GAS_SYSTEM_IO, PM1_EVT_LEN * 8, 2, pm.evt); // X_PM1a_EVT_BLK (16-bit registers)
  gas(w, GAS_SYSTEM_IO, 0, 0, 0); // X_PM1b_EVT_BLK
  gas(w, GAS_SYSTEM_IO, PM1_CNT_LEN * 8, 2, pm.cnt); // X_PM1a_CNT_BLK
  gas(w, GAS_SYSTEM_IO, 0, 0, 0); // X_PM1b_CNT_BLK
  gas(w, GAS_SYSTEM_IO, 0, 0, 0); // X_PM2_CNT_BLK
  gas(w, GAS_SYSTEM_IO, PM_TMR_LEN * 8, 3, pm.tmr); // X_PM_TMR_BLK
  gas(w, GAS_SYSTEM_IO, 0, 0, 0); // X_GPE0_BLK
  gas(w, GAS_SYSTEM_IO, 0, 0, 0); // X_GPE1_BLK
  gas(w, GAS_SYSTEM_IO, 0, 0, 0); // SLEEP_CONTROL_REG (HW-reduced only)
  gas(w, GAS_SYSTEM_IO, 0, 0, 0); // SLEEP_STATUS_REG
  w.fixedAscii('', 8, 0); // Hypervisor Vendor Identity: none
  return finishSdt(w);
}

/** FACS: no checksum; the OS owns the waking vector and global lock. Version 2. */
export function buildFacs(): Uint8Array {
  const w = new ByteWriter();
  w.fixedAscii('FACS', 4).u32(FACS_LENGTH);
  w.u32(0); // hardware signature
  w.u32(0).u32(0).u32(0); // firmware waking vector, global lock, flags
  w.u64(0); // X_Firmware_Waking_Vector
  w.u8(2).zeros(3); // version, reserved
  w.u32(0); // OSPM flags
  w.zeros(24);
  return w.toBytes();
}
