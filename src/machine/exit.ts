// VM-exit records: plain, serialisable data. The same record is returned by the VM API
// when nobody handled an exit, written to traces, and compared by the replayer.
//
// 64-bit quantities (MSR values, hypercall arguments) are `[lo, hi]` pairs of unsigned
// 32-bit numbers, so records stay JSON-plain and cheap to build.

export type U64 = [lo: number, hi: number];

export const enum ExitKind {
  Io = 'io',
  Mmio = 'mmio',
  Cpuid = 'cpuid',
  Rdmsr = 'rdmsr',
  Wrmsr = 'wrmsr',
  Hlt = 'hlt',
  Pause = 'pause',
  Hypercall = 'hypercall',
  Shutdown = 'shutdown',
  Limit = 'limit',
  DebugExit = 'debug-exit',
  Reset = 'reset',
  PowerOff = 'poweroff',
  InternalError = 'internal-error',
}

export interface IoExit {
  kind: ExitKind.Io;
  port: number;
  size: 1 | 2 | 4;
  write: boolean;
  /** Value written, or (after handling) value read. */
  value: number;
}

export interface MmioExit {
  kind: ExitKind.Mmio;
  gpa: number;
  size: number;
  write: boolean;
  value: number;
}

export interface CpuidExit {
  kind: ExitKind.Cpuid;
  leaf: number;
  subleaf: number;
  /** Filled by the handler: eax, ebx, ecx, edx. */
  result: [number, number, number, number];
}

export interface MsrExit {
  kind: ExitKind.Rdmsr | ExitKind.Wrmsr;
  msr: number;
  value: U64;
  /** Set by the handler when the MSR is not implemented: the guest gets #GP(0). */
  gp?: boolean;
}

export interface HypercallExit {
  kind: ExitKind.Hypercall;
  /** 'vmcall' (Intel) or 'vmmcall' (AMD) */
  insn: 'vmcall' | 'vmmcall';
  /** rax, rbx, rcx, rdx, rsi, rdi, r8, r9, r10 at the call, as U64. */
  args: U64[];
  /** The value the handler puts in RAX. */
  result: U64;
}

export interface SimpleExit {
  kind: ExitKind.Hlt | ExitKind.Pause | ExitKind.Limit | ExitKind.Reset | ExitKind.PowerOff;
}

export interface ShutdownExit {
  kind: ExitKind.Shutdown;
  /** 'triple-fault' or 'hlt-with-interrupts-off' */
  reason: string;
}

export interface DebugExitExit {
  kind: ExitKind.DebugExit;
  /** Value written to isa-debug-exit; the process status is (code << 1) | 1. */
  code: number;
}

export interface InternalErrorExit {
  kind: ExitKind.InternalError;
  message: string;
}

export type VmExit =
  | IoExit
  | MmioExit
  | CpuidExit
  | MsrExit
  | HypercallExit
  | SimpleExit
  | ShutdownExit
  | DebugExitExit
  | InternalErrorExit;
