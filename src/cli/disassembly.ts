// The instructions before a replay divergence, one line each: address, bytes, and the
// instruction in Intel syntax (src/machine/cpu/disasm.ts).

import type { InstructionContext } from '../trace/replay.js';
import { disassemble } from '../machine/cpu/disasm.js';

/** Code size from the mode text of a divergence context ("64-bit long mode", "real mode"...). */
function codeBits(mode: string): 16 | 32 | 64 {
  return /64-bit/.test(mode) ? 64 : /32-bit/.test(mode) ? 32 : 16;
}

/** Each instruction disassembled in the mode at the divergence (the last few rarely change mode). */
export function disassembleForReport(insns: readonly InstructionContext[], mode: string): string[] {
  const bits = codeBits(mode);
  return insns.map((i) => {
    const d = disassemble(i.bytes, bits, i.rip);
    const bytes = Array.from(i.bytes.subarray(0, d.length), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return `0x${i.rip.toString(16).padStart(8, '0')}  ${bytes.padEnd(30)}  ${d.text}`;
  });
}
