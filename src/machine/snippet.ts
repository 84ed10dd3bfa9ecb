// Running a short, interrupt-free instruction sequence from a given register state:
// the contract shared by the differential test against real hardware (/dev/kvm) and hvsim.

export type SnippetMode = 16 | 32 | 64;

/** The 16 general registers in encoding order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15),
 *  each as [lo, hi] unsigned 32-bit halves. In 16/32-bit modes only the first 8 matter. */
export type GprFile = Array<[number, number]>;

export interface SnippetInput {
  mode: SnippetMode;
  /** Machine code; execution starts at its first byte and stops at the first HLT (0xf4). */
  code: Uint8Array;
  gprs: GprFile;
  /** Initial RFLAGS (bit 1 is forced to 1; IF, TF and other system bits are forced to 0). */
  rflags: number;
}

export interface SnippetResult {
  /** 'hlt' on normal completion; 'exception' if a fault (vector) was raised; 'timeout'. */
  outcome: 'hlt' | 'exception' | 'timeout';
  vector?: number;
  gprs: GprFile;
  rflags: number;
}

/** The standard snippet environment, identical for hvsim and the KVM oracle:
 *  - code loaded at guest physical/linear 0x10000, RSP/ESP points into a scratch stack whose
 *    top is 0x9000 unless the snippet's initial RSP says otherwise (the generator keeps stack
 *    use within 0x8000-0x9000),
 *  - scratch data memory at 0x20000-0x2ffff that memory operands may address,
 *  - 16-bit: real mode, CS=0x1000 IP=0, DS=ES=0x2000 (the data area), SS=FS=GS=0;
 *    32-bit: flat protected mode (all segment bases 0, limits 4 GiB), paging off;
 *    64-bit: long mode, identity-mapped first 2 MiB with 2 MiB pages, flat segments. */
export const SNIPPET_CODE_ADDR = 0x10000;
export const SNIPPET_DATA_ADDR = 0x20000;
export const SNIPPET_DATA_SIZE = 0x10000;

/** Runs a snippet in hvsim (implemented next to the CPU). */
export type SnippetRunner = (input: SnippetInput) => SnippetResult;
