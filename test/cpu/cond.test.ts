// The 16 condition codes (SDM vol. 1, appendix B, table B-1) through SETcc, CMOVcc and Jcc
// (short and near, forward and backward), each against every combination of CF, ZF, SF, OF
// and PF. CMOVcc: every operand size, register and memory sources; in 64-bit mode a 32-bit
// CMOV zero-extends the destination even when the condition is false (SDM CMOVcc: "the
// destination is written" only when true, but a 32-bit operand always clears bits 63:32).

import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { CF, PF, ZF, SF, OF, DF, AF, PTR, type Width, type Expected } from '../helpers/x86-ref.js';
import { RAX, RBX, RCX, type CpuState } from '../helpers/cpu-run.js';
import { reg, locName, getLoc, setLoc, plantLoc, memSlot, type RegLoc } from '../helpers/operands.js';
import { arbU64, arbReg, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';
import { runCase, type Case } from '../helpers/cases.js';
import { snippetDataValue } from '../oracle/snippet-env.js';
import { condition } from '../helpers/models.js';

const MODES: SnippetMode[] = [16, 32, 64];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** Every combination of the five condition flags (plus AF and DF, which no condition reads). */
const FLAG_COMBOS: number[] = [];
for (let i = 0; i < 32; i++) {
  const f = (i & 1 ? CF : 0) | (i & 2 ? ZF : 0) | (i & 4 ? SF : 0) | (i & 8 ? OF : 0) | (i & 16 ? PF : 0);
  FLAG_COMBOS.push(f | (i % 3 === 0 ? AF : 0) | (i % 5 === 0 ? DF : 0));
}
const arbCombo = fc.constantFrom(...FLAG_COMBOS);
const ok = (st: CpuState): Expected => ({ regs: st.regs, flags: st.rflags });

function setccCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  CC.forEach((cc, n) => {
    const dsts: RegLoc[] = [reg(RBX), reg(RCX, true)];
    if (mode === 64) dsts.push(reg(6), reg(13));
    const d = dsts[n % dsts.length];
    out.push({
      mode, w: 8, runs: 32, src: `set${cc} ${locName(d, 8)}`, flags: arbCombo, arbs: [arbU64],
      examples: [[0n]],
      plant: (regs, v) => { regs[d.r] = v[0]; },
      model: (st) => { setLoc(st.regs, d, 8, condition(n, st.rflags) ? 1n : 0n); return ok(st); },
    });
    // SETcc m8, read back.
    out.push({
      mode, w: 8, runs: 8, src: `mov ${m.text(8)}, al\nset${cc} ${m.text(8)}\nmov bl, ${m.text(8)}`, flags: arbCombo, arbs: [arbU64, arbU64],
      plant: (regs, v) => { regs[m.base] = m.baseVal; regs[RAX] = v[0]; regs[RBX] = v[1]; },
      model: (st) => { setLoc(st.regs, reg(RBX), 8, condition(n, st.rflags) ? 1n : 0n); return ok(st); },
    });
  });
  return out;
}

function cmovCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const m = memSlot(mode);
  const widths: Width[] = mode === 64 ? [16, 32, 64] : [16, 32];
  CC.forEach((cc, n) => {
    for (const w of widths) {
      const pairs: Array<[RegLoc, RegLoc | 'mem']> = [[reg(RBX), reg(RCX)], [reg(RAX), 'mem']];
      if (mode === 64) pairs.push([reg(10), reg(15)]);
      const [d, s] = pairs[(n + w) % pairs.length];
      out.push({
        mode, w, runs: 16, src: `cmov${cc} ${locName(d, w)}, ${s === 'mem' ? m.text(w) : locName(s, w)}`,
        flags: arbCombo, arbs: [arbU64, arbReg(w)],
        plant: (regs, v) => {
          regs[d.r] = v[0];
          if (s === 'mem') regs[m.base] = m.baseVal;
          else plantLoc(regs, s, w, v[1]);
        },
        model: (st) => {
          const sv = s === 'mem' ? snippetDataValue(m.offset, w / 8) : getLoc(st.regs, s, w);
          if (condition(n, st.rflags)) setLoc(st.regs, d, w, sv);
          else if (w === 32) setLoc(st.regs, d, 32, getLoc(st.regs, d, 32)); // zero-extension only
          return ok(st);
        },
      });
    }
  });
  return out;
}

function jccCases(mode: SnippetMode): Case[] {
  const out: Case[] = [];
  const acc = mode === 16 ? 'ax' : 'eax';
  CC.forEach((cc, n) => {
    const forms: Array<[string, string]> = [
      ['short forward', `mov ${acc}, 1\nj${cc} 1f\nmov ${acc}, 2\n1:`],
      ['near forward', `mov ${acc}, 1\nj${cc} 1f\nmov ${acc}, 2\njmp 3f\n.fill 200, 1, 0x90\n1:\n3:`],
      ['short backward', `mov ${acc}, 2\njmp 2f\n1: mov ${acc}, 1\nhlt\n2: j${cc} 1b`],
      ['near backward', `mov ${acc}, 2\njmp 2f\n1: mov ${acc}, 1\nhlt\n.fill 200, 1, 0x90\n2: j${cc} 1b`],
    ];
    for (const [, src] of forms) {
      out.push({
        mode, w: 32, runs: 8, src, flags: arbCombo, arbs: [arbU64],
        plant: (regs, v) => { regs[RAX] = v[0]; },
        model: (st) => { setLoc(st.regs, reg(RAX), mode === 16 ? 16 : 32, condition(n, st.rflags) ? 1n : 2n); return ok(st); },
      });
    }
  });
  return out;
}

const GROUPS = { setcc: setccCases, cmovcc: cmovCases, jcc: jccCases };
const PLAN = new Map<string, Case[]>();
for (const mode of MODES) for (const [name, f] of Object.entries(GROUPS)) PLAN.set(`${mode}:${name}`, f(mode));
prefetch([...PLAN.values()].flat());
void PTR;

describe.skipIf(!HAVE_AS)('condition codes vs SDM table B-1', () => {
  for (const mode of MODES) {
    for (const name of Object.keys(GROUPS)) test(`${name}, all 16 conditions (${mode}-bit mode)`, () => PLAN.get(`${mode}:${name}`)!.forEach(runCase));
  }
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
