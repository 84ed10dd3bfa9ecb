// The process exit status of `hvsim run` for each way a run can end. isa-debug-exit keeps
// QEMU's convention, (value << 1) | 1, so bare-metal test binaries report as they do under
// QEMU; every other ending has its own even status. Documented in README.md.

export const STATUS = {
  POWER_OFF: 0,
  REBOOT: 2,
  HALTED: 4, // HLT with interrupts off (nothing can ever wake the CPU)
  TRIPLE_FAULT: 6,
  INSN_LIMIT: 8, // --max-insns reached
  UNHANDLED_IO: 10, // -e: the guest touched an unemulated port
  IDLE_FOREVER: 12, // HLT with interrupts on but no timer or device that could wake it
  INTERNAL_ERROR: 70, // a bug in hvsim (EX_SOFTWARE)
  USAGE: 64, // bad command line (EX_USAGE)
  BAD_INPUT: 65, // unreadable or invalid image/file (EX_DATAERR)
  PAUSE: 14, // -P: the guest executed PAUSE
} as const;

export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) & 0xff;
}
