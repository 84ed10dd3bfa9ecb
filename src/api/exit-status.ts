// The process exit status of `hvsim run` for each way a run can end (also recorded in a
// trace's end event, so a replay checks it). isa-debug-exit keeps
// QEMU's convention, (value << 1) | 1, so bare-metal test binaries report as they do under
// QEMU; every other ending has its own even status. Documented in README.md.

import { ExitKind, type VmExit } from '../machine/exit.js';

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
  CANT_CREATE: 73, // --record: the trace file cannot be written (EX_CANTCREAT)
} as const;

/** `hvsim replay` and `hvsim trace diff`: identity, a difference, or a file that is not a usable trace. */
export const REPLAY_STATUS = {
  IDENTICAL: 0,
  DIVERGED: 1,
  USAGE: 64,
  BAD_INPUT: 65,
  INTERNAL_ERROR: 70,
} as const;

export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) & 0xff;
}

/** The exit status of a run that ended with `e`. */
export function statusOf(e: VmExit): number {
  switch (e.kind) {
    case ExitKind.DebugExit: return debugExitStatus(e.code);
    case ExitKind.PowerOff: return STATUS.POWER_OFF;
    case ExitKind.Reset: return STATUS.REBOOT;
    case ExitKind.Shutdown: return e.reason === 'triple-fault' ? STATUS.TRIPLE_FAULT : STATUS.HALTED;
    case ExitKind.Limit: return STATUS.INSN_LIMIT;
    case ExitKind.Io: return STATUS.UNHANDLED_IO;
    case ExitKind.Hlt: return STATUS.IDLE_FOREVER;
    case ExitKind.Pause: return STATUS.PAUSE;
    default: return STATUS.INTERNAL_ERROR;
  }
}

/** A trace end event's reason: the exit kind, plus the shutdown cause. */
export function endReason(e: VmExit): string {
  return e.kind === ExitKind.Shutdown ? `shutdown:${e.reason}` : e.kind;
}
