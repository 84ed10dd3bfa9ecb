// The snippet environment as the /dev/kvm oracle (tools/kvm-oracle/kvm-oracle.c) builds it.
// src/machine/snippet.ts states the contract; this file pins down the details that a result can
// depend on, so that hvsim's runSnippet (src/machine/cpu/snippet-runner.ts) can reproduce them:
//
//  - Memory is zero except: code at 0x10000; the data area 0x20000-0x2ffff filled with
//    snippetDataByte(i) below (a fixed pattern: the same for every case); and the oracle's own
//    system structures below 0x8000 (IVT/IDT/GDT/page tables/exception stubs), which snippets
//    never address. The stack (0x8000-0x8fff) starts zeroed.
//  - Segments and control registers per mode as in src/machine/snippet.ts:
//      16: real mode, CS=0x1000 (base 0x10000) IP=0, DS=ES=0x2000 (base 0x20000), SS=FS=GS=0,
//          all limits 0xffff (so an access crossing offset 0xffff faults).
//      32: CS=0x08 (32-bit code, base 0, limit 4 GiB), DS=ES=FS=GS=SS=0x10 (flat data),
//          CR0=PE|ET|NE, paging off.
//      64: CS=0x18 (L=1), data 0x10 flat, FS/GS base 0, CR0=PG|WP|NE|ET|PE, CR4=PAE,
//          EFER=LME|LMA, CR3 -> PML4 at 0x4000 identity-mapping 0-2 MiB with one 2 MiB page
//          (U/S=0, R/W=1), so an access at or above 0x200000 is a #PF.
//  - RFLAGS starts as (input & 0xcd5) | 2: only CF PF AF ZF SF DF OF can be set; IF=TF=AC=0.
//  - Exceptions: the result is the architectural state at delivery (GPRs and RFLAGS saved by
//    the exception frame): for a fault, the state before the faulting instruction; for a trap,
//    after it. RSP is the value before delivery (the frame is not part of the result), RF=0.
//    hvsim needs no IDT: it stops at the first exception and reports its vector.
//  - The result's RFLAGS is compared on CF PF AF ZF SF DF OF only (test/differential/compare.ts).
//  - In 16/32-bit modes only the low 32 bits of the first 8 GPRs are compared.

export { SNIPPET_CODE_ADDR, SNIPPET_DATA_ADDR, SNIPPET_DATA_SIZE } from '../../src/machine/snippet.js';

/** Initial stack pointer (top of the 0x8000-0x8fff stack; in real mode SS=0 so SP=0x9000). */
export const SNIPPET_STACK_TOP = 0x9000;

/** Byte at offset i (0 <= i < 0x10000) of the data area: the top byte of a 32-bit Fibonacci hash
 *  of i, ((i * 0x9E3779B1) mod 2^32) >> 24. Zero at i=0, irregular everywhere else. */
export function snippetDataByte(i: number): number {
  return Math.imul(i, 0x9e3779b1 | 0) >>> 24;
}

/** Fills `area` (the 64 KiB data area or a prefix of it) with the pattern. */
export function fillSnippetData(area: Uint8Array): void {
  for (let i = 0; i < area.length; i++) area[i] = snippetDataByte(i);
}

/** Reads a little-endian value of `bytes` bytes from the pristine data area at `offset`. */
export function snippetDataValue(offset: number, bytes: number): bigint {
  let v = 0n;
  for (let k = bytes - 1; k >= 0; k--) v = (v << 8n) | BigInt(snippetDataByte(offset + k));
  return v;
}
