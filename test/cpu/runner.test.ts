// runSnippet reuses one Machine across cases (src/machine/cpu/snippet-runner.ts); it must give
// exactly what a fresh SnippetRunner gives:
// same registers, flags, outcome and vector, over snippets that touch memory, the stack,
// faults and every mode, run in an interleaved order (so state left over from one case would
// show in the next).

import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { runSnippet, SnippetRunner } from '../../src/machine/cpu/snippet-runner.js';
import { toGprs, regsWith } from '../helpers/cpu-run.js';
import { assemble } from '../helpers/asm.js';
import { arbU64, arbFlags, fcOpts, prefetch, HAVE_AS, ASM_SKIP_REASON } from '../helpers/gen.js';

const SNIPPETS: Array<{ mode: SnippetMode; src: string }> = [
  { mode: 64, src: 'add rax, rbx\nadc rcx, rdx' },
  { mode: 64, src: 'mov qword ptr [0x20010], rax\npush rbx\npop rcx\nmov rdx, qword ptr [0x20010]' },
  { mode: 64, src: 'div rbx' },
  { mode: 64, src: 'mov al, byte ptr [0x20123]\nstd\nlodsb' },
  { mode: 32, src: 'imul eax, ebx\nsbb ecx, 7' },
  { mode: 32, src: 'mov dword ptr [0x20040], eax\nshl dword ptr [0x20040], cl\nmov ebx, dword ptr [0x20040]' },
  { mode: 32, src: 'ud2' },
  { mode: 16, src: 'add ax, word ptr [0x10]\npush ax\npop dx' },
  { mode: 16, src: 'mov word ptr [bx+si], cx\nmov di, word ptr [bx+si]' },
  { mode: 16, src: 'idiv cl' },
];
prefetch(SNIPPETS);

describe.skipIf(!HAVE_AS)('reused snippet runner', () => {
  test('matches runSnippet', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SNIPPETS.length - 1 }), fc.array(arbU64, { minLength: 8, maxLength: 8 }), arbFlags, (i, vals, flags) => {
        const { mode, src } = SNIPPETS[i];
        const code = assemble(mode, src);
        const regs = regsWith({}, mode);
        [0, 1, 2, 3, 6, 7].forEach((r, k) => (regs[r] = mode === 16 ? vals[k] & 0x7fffn : mode === 64 ? vals[k] : vals[k] & 0xffffffffn));
        const input = { mode, code, gprs: toGprs(regsWith(Object.fromEntries(regs.map((x, k) => [k, x])), mode)), rflags: flags };
        expect(runSnippet(input)).toEqual(new SnippetRunner().run(input));
      }),
      fcOpts(40),
    );
  });
});
if (!HAVE_AS) test.skip(ASM_SKIP_REASON, () => {});
