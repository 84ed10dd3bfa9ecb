// The disassembler against GNU objdump (`objdump -d -M intel`), the oracle named by the task:
// for a list of assembled instructions covering the opcode table in 16-, 32- and 64-bit code,
// and for random byte strings (fast-check, fixed seed), our text and length must be objdump's
// after the normalisations below. Hostile input (truncated, empty, random) must never throw.
//
// How objdump is run: each sample gets its own symbol in one object file, so objdump restarts
// decoding at every sample (with `-b binary` it would decode one stream and lose the sample
// boundaries); the first instruction after each symbol is the sample's disassembly. 16-bit
// samples are assembled with .code16 and disassembled with `-m i8086`.
//
// Normalisations of objdump's output (cosmetic differences only):
//  - runs of whitespace become one space; "," becomes ", "; everything is lower case
//    (objdump pads the mnemonic to 6 columns and writes "DWORD PTR");
//  - a branch target printed against a symbol, "4c <s18>", is the bare address "0x4c";
//  - the RIP-relative comment "# 128 <s24+0xcf>" is "# 0x128";
//  - ".byte 0xf" (objdump's word for a truncated instruction) is "(bad)";
//  - string instructions with their default operands, "movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]",
//    are the short mnemonic "movsb" (the task asks for "rep movsb").
// Known differences (KNOWN_DIFFERENCES, each with its reason there) count as agreement in the
// first rate printed and as disagreement in the "strictly" rate: where the CPU and objdump read
// the same bytes differently (SALC, 66 on near branches in 64-bit code, F2/F3 as mandatory
// prefixes, MPX, FWAIT merged with x87, fence aliases, EIP-relative wrap), and "(bad)" against
// "(bad)" whatever each consumed (ours is always 1 byte).
// The test prints both agreement rates on random bytes; the assertion is that every instruction
// we decode (text other than "(bad)") has objdump's length.

import { describe, test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { disassemble } from '../../src/machine/cpu/disasm.js';
import { OPCODE_FLAGS, Op, MNEMONICS, OP_COUNT } from '../../src/machine/cpu/opcode-table.js';
import { Decoder, DecodeStatus } from '../../src/machine/cpu/decoder.js';
import { DecodedStore } from '../../src/machine/cpu/decoded.js';

type Mode = 16 | 32 | 64;

function probe(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const HAVE_BINUTILS = probe('objdump') && probe('as');
const SKIP_REASON = 'GNU objdump/as not found: the disassembler is compared against objdump -M intel';
if (!HAVE_BINUTILS) console.warn(`test/cpu/disasm.test.ts: skipping the objdump comparisons (${SKIP_REASON})`);
const skipNote = HAVE_BINUTILS ? '' : ` (skipped: ${SKIP_REASON})`;

interface Line {
  addr: number;
  bytes: Uint8Array; // the first instruction's
  text: string;
  sampleBytes: number[]; // every byte under the sample's symbol
}

/**
 * objdump's first instruction of each sample (a sample is asm source text). 16-bit samples go
 * in batches that stay below 64 KiB: objdump's i8086 branch targets keep the file offset's bits
 * above 16, where a 16-bit IP would wrap.
 */
function objdumpFirst(mode: Mode, sources: string[]): Line[] {
  const batch = mode === 16 ? 3000 : sources.length;
  const out: Line[] = [];
  for (let i = 0; i < sources.length; i += batch) out.push(...objdumpBatch(mode, sources.slice(i, i + batch)));
  return out;
}

function objdumpBatch(mode: Mode, sources: string[]): Line[] {
  const dir = mkdtempSync(join(tmpdir(), 'hvsim-disasm-'));
  try {
    const s = join(dir, 'a.s');
    const o = join(dir, 'a.o');
    const lines = ['.intel_syntax noprefix', '.text', `.code${mode}`];
    sources.forEach((src, i) => lines.push(`s${i}:`, src));
    writeFileSync(s, lines.join('\n') + '\n');
    execFileSync('as', [mode === 64 ? '--64' : '--32', '-o', o, s], { stdio: ['ignore', 'ignore', 'ignore'] });
    const args = ['-d', '-z', '-M', 'intel', '--insn-width=16'];
    if (mode === 16) args.push('-m', 'i8086');
    const out = execFileSync('objdump', [...args, o], { maxBuffer: 256 << 20 }).toString();
    const result: Line[] = new Array(sources.length);
    let current = -1;
    for (const line of out.split('\n')) {
      const head = /^([0-9a-f]+) <s(\d+)>:$/.exec(line);
      if (head) {
        current = Number(head[2]);
        continue;
      }
      const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+)\t(.*)$/.exec(line);
      if (m && current >= 0) {
        const bytes = m[2].trim().split(' ').map((h) => parseInt(h, 16));
        if (result[current] === undefined) {
          result[current] = { addr: parseInt(m[1], 16), bytes: Uint8Array.from(bytes), text: m[3], sampleBytes: [] };
        }
        result[current].sampleBytes.push(...bytes);
      }
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const STRING_SHORT: Record<string, string> = { byte: 'b', word: 'w', dword: 'd', qword: 'q' };
const DEFAULT_REGS: Record<Mode, [string, string]> = { 16: ['si', 'di'], 32: ['esi', 'edi'], 64: ['rsi', 'rdi'] };

/** objdump's text in our conventions (see the list at the top of the file). */
function normalise(text: string, mode: Mode): string {
  let t = text.replace(/\s+/g, ' ').trim().toLowerCase();
  if (/^\.byte /.test(t)) return '(bad)';
  t = t.replace(/,/g, ', ');
  t = t.replace(/# ([0-9a-f]+)( <[^>]*>)?$/, (_, a: string) => `# 0x${a}`);
  t = t.replace(/ ([0-9a-f]+) <[^>]*>$/, (_, a: string) => ` 0x${a}`);
  t = t.replace(/\s+#/, ' #');
  // String instructions with the default segments and registers.
  const [si, di] = DEFAULT_REGS[mode];
  const sz = '(byte|word|dword|qword)';
  const acc = '(al|ax|eax|rax)';
  const src = `${sz} ptr ds:\\[${si}\\]`;
  const dst = `${sz} ptr es:\\[${di}\\]`;
  const forms: [RegExp, string, number][] = [
    [new RegExp(`\\bmovs ${dst}, ${src}$`), 'movs', 1],
    [new RegExp(`\\bcmps ${src}, ${dst}$`), 'cmps', 1],
    [new RegExp(`\\bstos ${dst}, ${acc}$`), 'stos', 1],
    [new RegExp(`\\blods ${acc}, ${src}$`), 'lods', 2],
    [new RegExp(`\\bscas ${acc}, ${dst}$`), 'scas', 2],
    [new RegExp(`\\bins ${dst}, dx$`), 'ins', 1],
    [new RegExp(`\\bouts dx, ${src}$`), 'outs', 1],
  ];
  for (const [re, name, group] of forms) {
    const m = re.exec(t);
    if (m) t = t.slice(0, m.index) + name + STRING_SHORT[m[group]];
  }
  return t;
}

interface Compared {
  total: number;
  textAgree: number; // known differences counted as agreement
  lengthAgree: number;
  strictText: number; // known differences counted as disagreement
  strictLength: number;
  mismatches: string[];
  lengthErrors: string[];
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Compare our disassembly of each sample's bytes with objdump's first instruction. */
function compare(mode: Mode, sources: string[], sampleBytes: (i: number, line: Line) => Uint8Array): Compared {
  const lines = objdumpFirst(mode, sources);
  const r: Compared = { total: 0, textAgree: 0, lengthAgree: 0, strictText: 0, strictLength: 0, mismatches: [], lengthErrors: [] };
  lines.forEach((line, i) => {
    if (line === undefined) return;
    const bytes = sampleBytes(i, line);
    const ours = disassemble(bytes, mode, line.addr);
    const theirs = normalise(line.text, mode);
    r.total++;
    const known = KNOWN_DIFFERENCES.some((k) => k(bytes, mode, theirs, ours.text));
    if (ours.text === theirs) r.strictText++;
    if (ours.length === line.bytes.length) r.strictLength++;
    if (ours.text === theirs || known) r.textAgree++;
    else r.mismatches.push(`${mode}: ${hex(line.bytes)} | objdump: ${theirs} | ours: ${ours.text} (${ours.length})`);
    if (ours.length === line.bytes.length || known) r.lengthAgree++;
    else if (ours.text !== '(bad)') {
      r.lengthErrors.push(`${mode}: ${hex(line.bytes)} | objdump: ${theirs} (${line.bytes.length}) | ours: ${ours.text} (${ours.length})`);
    } else if (theirs === '(bad)') r.lengthAgree++;
  });
  return r;
}

/** The legacy prefixes (and REX in 64-bit code) before the opcode, and the opcode's first byte. */
function splitPrefixes(b: Uint8Array, mode: Mode): { prefixes: number[]; opcode: number } {
  let i = 0;
  while (i < b.length && (LEGACY_PREFIXES.includes(b[i]) || (mode === 64 && (b[i] & 0xf0) === 0x40))) i++;
  return { prefixes: Array.from(b.subarray(0, i)), opcode: b[i] };
}

const PREFIX_WORDS = new Set(['lock', 'rep', 'repz', 'repnz', 'bnd', 'xacquire', 'xrelease', 'data16', 'data32', 'addr16', 'addr32', 'es', 'cs', 'ss', 'ds', 'fs', 'gs']);

/** Deliberate differences (see the top of the file). */
const KNOWN_DIFFERENCES: ((b: Uint8Array, mode: Mode, theirs: string, ours: string) => boolean)[] = [
  // 66 on a near branch in 64-bit code: the CPU follows Intel (66 ignored, rel32, SDM Jcc/JMP/CALL
  // "in 64-bit mode the operand size is fixed at 64 bits"); objdump decodes AMD's rel16 form.
  (b, mode) => {
    const { prefixes, opcode } = splitPrefixes(b, mode);
    const at = prefixes.length;
    const branch = opcode === 0xe8 || opcode === 0xe9 || opcode === 0xc2 || opcode === 0xc3 ||
      (opcode === 0x0f && b[at + 1] >= 0x80 && b[at + 1] <= 0x8f);
    return mode === 64 && prefixes.includes(0x66) && branch;
  },
  // 0F AE F1-F7 / F9-FF: the CPU runs every register form of /6 and /7 as MFENCE/SFENCE;
  // objdump accepts only F0 and F8.
  (b, mode) => {
    const { prefixes, opcode } = splitPrefixes(b, mode);
    const m = b[prefixes.length + 2];
    return opcode === 0x0f && b[prefixes.length + 1] === 0xae && m > 0xf0 && m !== 0xf8;
  },
  // 0F 1A / 0F 1B: objdump decodes MPX (BNDLDX, BNDSTX...); the CPU does not advertise MPX and
  // runs them as the hint NOPs of the 0F 18-1F block (SDM vol. 2, NOP).
  (b, mode) => {
    const { prefixes, opcode } = splitPrefixes(b, mode);
    return opcode === 0x0f && (b[prefixes.length + 1] === 0x1a || b[prefixes.length + 1] === 0x1b);
  },
  // EIP-relative operands (67 in 64-bit code): the address wraps at 4 GiB (SDM vol. 1, 3.3.7);
  // objdump prints the unwrapped 64-bit sum in its comment.
  (_b, mode, theirs, ours) => mode === 64 && /\[eip[+-]/.test(ours) && theirs.replace(/ # 0x[0-9a-f]+$/, '') === ours.replace(/ # 0x[0-9a-f]+$/, ''),
  // F2/F3 before a 0F-map opcode: objdump reads a mandatory prefix (RDPID, UMONITOR, BNDCL... or
  // "(bad)"), the CPU implements none of those forms and ignores the prefix. Likewise 66 where
  // objdump then says "(bad)" or names an SSE-era instruction (66 0F AE /7 = CLFLUSHOPT).
  (b, mode, theirs, ours) => {
    const { prefixes, opcode } = splitPrefixes(b, mode);
    if (opcode !== 0x0f) return false;
    if (prefixes.includes(0xf2) || prefixes.includes(0xf3)) return true;
    const mnemonic = (t: string): string => t.split(' ').find((w) => !PREFIX_WORDS.has(w)) ?? '';
    return prefixes.includes(0x66) && (theirs.endsWith('(bad)') || mnemonic(theirs) !== mnemonic(ours));
  },
  // FWAIT before an x87 instruction: the CPU executes 9B as an instruction of its own (SDM FWAIT);
  // objdump merges it with a following no-wait form ("9b d9 38" = fstcw).
  (b, mode, theirs) => {
    const { opcode } = splitPrefixes(b, mode);
    return opcode === 0x9b && !theirs.endsWith('fwait');
  },
  (_b, mode, theirs, ours) => mode !== 64 && theirs.endsWith('(bad)') && ours.endsWith('salc'),
  // objdump prints the prefixes it read before giving up ("ss ss repz (bad)").
  (_b, _m, theirs, ours) => theirs.includes('(bad)') && ours === '(bad)',
];

// ---- the instruction list: every row of the opcode table, in forms that exercise operands ----

const COMMON = [
  'add al, 0x12', 'add eax, 0x12345678', 'add ax, 0x1234', 'or byte ptr [ebx], cl', 'adc cl, byte ptr [ebx+4]',
  'sbb dword ptr [ebx+esi*2-8], 3', 'and eax, -3', 'sub word ptr [ebx], 0x1234', 'xor ecx, edx', 'cmp dword ptr [ebp-4], eax',
  'inc byte ptr [eax]', 'dec word ptr [eax]', 'not ecx', 'neg byte ptr [esi]', 'mul ecx', 'imul dword ptr [eax]', 'div bl', 'idiv cx',
  'test al, 1', 'test eax, 0x10000', 'test byte ptr [eax], 7', 'test dword ptr [eax], 0x100', 'test ecx, edx',
  'xchg eax, ecx', 'xchg ecx, dword ptr [eax]', 'xchg bl, bh',
  'mov eax, ebx', 'mov byte ptr [eax], 5', 'mov dword ptr [eax+0x10], 0x12345678', 'mov ax, word ptr [esi]', 'mov cl, 0x12',
  'mov edx, 0x12345678', 'mov eax, dword ptr ds:0x1234', 'mov dword ptr ds:0x1234, eax', 'mov al, byte ptr ds:0x12345678',
  'mov es, ax', 'mov ax, ds', 'mov word ptr [eax], fs', 'mov ss, word ptr [eax]',
  'lea eax, [ebx+ecx*8+0x100]', 'lea esi, [esp+4]', 'lea edi, [ebp]',
  'push eax', 'pop ecx', 'push dword ptr [eax]', 'pop dword ptr [eax]', 'push 0x12345678', 'push -1', 'push es', 'pop ds',
  'push fs', 'pop gs', 'pushad', 'popad', 'pushfd', 'popfd', 'pusha', 'popa', 'pushf', 'popf',
  'imul eax, ecx, 0x12345', 'imul eax, dword ptr [ebx], -2', 'imul ecx, edx',
  'insb', 'insd', 'outsb', 'outsw', 'rep insb', 'rep outsd',
  'jo .+0x10', 'jno .+0x10', 'jb .-0x10', 'jae .', 'je .+0x7f', 'jne .-0x80', 'jbe .+2', 'ja .+3', 'js .+4', 'jns .+5', 'jp .+6', 'jnp .+7',
  'jl .+8', 'jge .+9', 'jle .+10', 'jg .+11', 'je .+0x1000', 'jne .-0x1000', 'jmp .+0x1000', 'call .+0x1234', 'jmp .+5',
  'loop .+5', 'loope .-5', 'loopne .', 'jecxz .+8',
  'nop', 'pause', 'cwde', 'cdq', 'cbw', 'cwd', 'fwait', 'sahf', 'lahf',
  'movsb', 'movsd', 'movsw', 'cmpsb', 'stosd', 'lodsb', 'scasw', 'rep movsb', 'rep stosd', 'repe cmpsb', 'repne scasb',
  'movsb es:[edi], fs:[esi]', 'lodsd eax, gs:[esi]',
  'rol al, 1', 'ror ecx, cl', 'rcl dword ptr [eax], 3', 'rcr bl, 7', 'shl edx, 4', 'shr word ptr [eax], 1', 'sar eax, cl',
  'ret', 'ret 8', 'retf', 'retf 0x10', 'enter 0x10, 0', 'enter 8, 1', 'leave', 'int3', 'int 0x80', 'iretd', 'iret', 'int1',
  'aam', 'aad', 'aam 8', 'daa', 'das', 'aaa', 'aas', 'into', 'bound eax, qword ptr [ebx]', 'arpl word ptr [eax], cx', 'xlatb',
  'in al, 0x60', 'in eax, 0x60', 'out 0x80, al', 'out 0x80, ax', 'in al, dx', 'in ax, dx', 'out dx, al', 'out dx, eax',
  'hlt', 'cmc', 'clc', 'stc', 'cli', 'sti', 'cld', 'std',
  'call eax', 'call dword ptr [eax]', 'jmp ecx', 'jmp dword ptr [ebx+4]', 'call fword ptr [eax]', 'jmp fword ptr [eax]',
  'call 0x10:0x1000', 'jmp 0x10:0x12345678', 'les eax, [ebx]', 'lds ecx, [ebx]', 'lss esp, [eax]', 'lfs eax, [eax]', 'lgs eax, [eax]',
  'sldt ax', 'sldt word ptr [eax]', 'str eax', 'lldt ax', 'ltr word ptr [eax]', 'verr ax', 'verw word ptr [eax]',
  'sgdt [eax]', 'sidt [eax]', 'lgdt [eax]', 'lidt [eax]', 'smsw eax', 'smsw word ptr [eax]', 'lmsw ax', 'invlpg [eax]',
  'vmcall', 'vmmcall', 'monitor', 'mwait', 'clac', 'stac', 'xgetbv', 'xsetbv', 'rdtscp',
  'lar eax, ecx', 'lsl eax, word ptr [eax]', 'clts', 'invd', 'wbinvd', 'ud2', 'prefetch [eax]', 'prefetchw [eax]',
  'prefetchnta [eax]', 'prefetcht0 [eax]', 'prefetcht1 [eax]', 'prefetcht2 [eax]', 'nop dword ptr [eax]', 'nop word ptr [eax+eax*1+0]',
  'mov eax, cr0', 'mov cr3, eax', 'mov cr4, ecx', 'mov eax, dr7', 'mov dr0, eax',
  'wrmsr', 'rdtsc', 'rdmsr', 'rdpmc', 'sysenter', 'sysexit', 'cpuid',
  'cmovo eax, ecx', 'cmovne eax, dword ptr [eax]', 'cmovg cx, dx', 'seto al', 'setne byte ptr [eax]', 'setg bh',
  'bt eax, ecx', 'bts dword ptr [eax], ecx', 'btr eax, 5', 'btc word ptr [eax], 3', 'bt dword ptr [eax], 31',
  'shld eax, ecx, 3', 'shld eax, ecx, cl', 'shrd dword ptr [eax], edx, 7', 'shrd ax, dx, cl', 'imul eax, dword ptr [eax]',
  'cmpxchg byte ptr [eax], cl', 'cmpxchg dword ptr [eax], ecx', 'lock cmpxchg dword ptr [eax], ecx', 'lock add dword ptr [eax], 1',
  'lock xadd dword ptr [eax], ecx', 'lock inc dword ptr [ebx]', 'lock btс dword ptr [eax], 1'.replace('с', 'c'), 'lock cmpxchg8b qword ptr [eax]',
  'movzx eax, byte ptr [eax]', 'movzx eax, cx', 'movzx ax, bl', 'movsx eax, bh', 'movsx ecx, word ptr [eax]',
  'popcnt eax, ecx', 'ud1 eax, ecx', 'ud0 eax, dword ptr [eax]', 'bsf eax, ecx', 'bsr eax, dword ptr [eax]', 'lzcnt eax, ecx',
  'xadd cl, dl', 'xadd dword ptr [eax], ecx', 'cmpxchg8b qword ptr [eax]', 'bswap eax', 'bswap edi',
  'fxsave [eax]', 'fxrstor [eax]', 'ldmxcsr dword ptr [eax]', 'stmxcsr dword ptr [eax]', 'xsave [eax]', 'xrstor [eax]',
  'xsaveopt [eax]', 'clflush byte ptr [eax]', 'lfence', 'mfence', 'sfence',
  'mov eax, dword ptr fs:[eax]', 'mov eax, dword ptr es:[ebx]', 'mov eax, dword ptr gs:0x10', 'add byte ptr ss:[eax+ebx], 1',
  'mov eax, dword ptr [esp]', 'mov eax, dword ptr [esp+ecx*2]', 'mov eax, dword ptr [ecx*4+0x100]', 'mov eax, dword ptr [ebp+0x12345678]',
];

const ONLY64 = [
  'mov rax, qword ptr [rbx+rcx*4+0x10]', 'mov r8, r9', 'add r15d, 1', 'mov r10b, sil', 'mov spl, dil', 'mov rax, 0x1234567890',
  'mov rax, -1', 'mov eax, dword ptr [rip+0x100]', 'lea rax, [rip-0x10]', 'lea r12, [r13+r14*8]', 'movsxd rax, ecx',
  'movsxd rax, dword ptr [rax]', 'push r12', 'pop r15', 'push 5', 'push qword ptr [rax]', 'call rax', 'jmp qword ptr [r8]',
  'cdqe', 'cqo', 'pushfq', 'popfq', 'iretq', 'swapgs', 'syscall', 'sysret', 'sysretq', 'lock cmpxchg16b oword ptr [rax]',
  'movabs rax, qword ptr ds:0x123456789a', 'movabs qword ptr ds:0x10, rax', 'movabs al, byte ptr ds:0x10', 'mov eax, dword ptr [r12]',
  'mov eax, dword ptr [r13]', 'mov eax, dword ptr [rsp+r12*2]', 'movsq', 'rep stosq', 'lodsq', 'bswap r9', 'bswap rax',
  'xchg r8, rax', 'xchg rax, rax', 'inc r8', 'dec qword ptr [rax]', 'shl r9, 3', 'imul r8, r9, 0x10', 'cmovle rax, qword ptr [rsi]',
  'setb r9b', 'movzx r8d, byte ptr [r9]', 'movzx rax, word ptr [rax]', 'movsx r8, r9b', 'mov cr8, rax', 'mov rax, cr2',
  'mov eax, dword ptr fs:0x28', 'mov rax, qword ptr gs:[0]', 'jrcxz .+4', 'fxsave64 [rax]', 'xsave64 [rax]', 'lea eax, [eax+ebx]',
  'mov eax, dword ptr [eip+0x10]', 'bt rax, 63', 'btc qword ptr [rax], rcx', 'popcnt rax, qword ptr [rax]', 'lar rax, cx',
  'rdrand eax', 'rdseed rcx', 'in eax, dx', 'retf', 'call qword ptr [rip+0x20]', 'ret 0x10',
  'mov rax, cr0', 'mov cr3, rax', 'mov rax, dr7', 'mov dr0, rax', 'mov rax, cr8',
  '.byte 0x0f, 0x07', '.byte 0x48, 0x0f, 0x07', '.byte 0x0f, 0x35', '.byte 0x48, 0x0f, 0x35',
  '.byte 0x48, 0x26, 0x01, 0xc0', '.byte 0x66, 0x48, 0x01, 0xc0', '.byte 0x40, 0x88, 0xe0', '.byte 0x48, 0x90',
  '.byte 0x41, 0x90', '.byte 0x64, 0x36, 0x8b, 0x00', '.byte 0x3e, 0x8b, 0x00', '.byte 0x2e, 0x74, 0x00',
  '.byte 0x48, 0xff, 0x18', '.byte 0x66, 0xff, 0x18', '.byte 0x48, 0x0f, 0xb2, 0x00', '.byte 0x8b, 0x04, 0x20',
  '.byte 0x8b, 0x04, 0x65, 0, 0, 0, 0', '.byte 0x67, 0x8b, 0x04, 0x25, 0, 0, 0, 0', '.byte 0x49, 0x54',
];

/** Encodings given as bytes (prefix combinations, system forms), compared in every mode. */
const BYTES = [
  '.byte 0xf0, 0x01, 0xc0', '.byte 0xf0, 0x90', '.byte 0xf3, 0xc3', '.byte 0xf2, 0xc3', '.byte 0xf2, 0xe8, 0, 0, 0, 0',
  '.byte 0xf3, 0x86, 0x00', '.byte 0xf2, 0xf0, 0x01, 0x00', '.byte 0xf3, 0x89, 0x00', '.byte 0xf0, 0xf3, 0x88, 0x03',
  '.byte 0x66, 0x66, 0x01, 0xc0', '.byte 0x2e, 0x3e, 0xa5', '.byte 0xf3, 0x2e, 0xab', '.byte 0xf3, 0xf2, 0x6d',
  '.byte 0x26, 0x90', '.byte 0x66, 0x90', '.byte 0x67, 0x90', '.byte 0x67, 0xe3, 0x00', '.byte 0x66, 0xc9',
  '.byte 0xf0, 0x0f, 0x20, 0xc0', '.byte 0x66, 0x0f, 0x20, 0xc0', '.byte 0x8c, 0xf0', '.byte 0xfe, 0xf8', '.byte 0xff, 0xff',
  '.byte 0x0f, 0x01, 0xc2', '.byte 0x0f, 0x01, 0xc3', '.byte 0x0f, 0x01, 0xc4', '.byte 0x0f, 0x01, 0xd8', '.byte 0x0f, 0x01, 0xda',
  '.byte 0x0f, 0x01, 0xdb', '.byte 0x0f, 0x01, 0xdc', '.byte 0x0f, 0x01, 0xdd', '.byte 0x0f, 0x01, 0xde', '.byte 0x0f, 0x01, 0xdf',
  '.byte 0x0f, 0x01, 0xd5', '.byte 0x0f, 0x01, 0xd6', '.byte 0x0f, 0x01, 0xfa', '.byte 0x0f, 0x01, 0xfb', '.byte 0x0f, 0x01, 0xfc',
  '.byte 0x0f, 0x01, 0xe0', '.byte 0x0f, 0x01, 0xf0', '.byte 0x0f, 0x00, 0xc0', '.byte 0x0f, 0x00, 0xd8', '.byte 0x0f, 0xae, 0xe9',
  '.byte 0x0f, 0x18, 0xc0', '.byte 0x0f, 0x0d, 0x08', '.byte 0xd6', '.byte 0x0f, 0xff', '.byte 0x8d, 0xc0', '.byte 0xc4, 0xc0',
  '.byte 0xd9, 0xc1', '.byte 0xd8, 0x00', '.byte 0xdd, 0x38', '.byte 0xdf, 0xe0', '.byte 0xdb, 0xe3', '.byte 0x9b',
  '.byte 0xd1, 0x30', '.byte 0xc0, 0xf0, 3', '.byte 0x66, 0xea, 1, 2, 3, 4, 5, 6', '.byte 0x62, 0x00', '.byte 0x0f, 0xb8, 0xc1',
];

const ONLY16 = [
  'mov ax, word ptr [bx+si]', 'mov ax, word ptr [bp+di+0x10]', 'mov al, byte ptr [bp-2]', 'mov word ptr [0x1234], ax',
  'add byte ptr [si], 1', 'lea bx, [bp+si+0x100]', 'mov eax, dword ptr [bx]', 'mov ax, word ptr [eax+ebx*2]', 'jcxz .+4',
  'call .+0x100', 'jmp .-0x100', 'pushad', 'push 0x1234', 'push ax', 'call 0x1234:0x5678', 'ljmp 0xf000:0xe05b', 'iret',
  'mov ax, word ptr es:[di]', 'movsw', 'rep stosb', 'lodsd', 'int 0x10', 'retf', 'in al, 0x71', 'out 0x70, al',
  'mov cr0, eax', 'lgdt [bx]', 'lidt [0x100]', 'ljmp 0x08:0x1000',
];

const LISTS: Record<Mode, string[]> = {
  // COMMON in 64-bit code: 32-bit addresses get the 67 prefix; rows invalid there are dropped
  // by `as` (see acceptedByAs) and stay covered by the 32-bit list.
  64: [...COMMON, ...COMMON.map((s) => s.replace(/\be([a-d]x|[sd]i|sp|bp)\b/g, 'r$1')), ...ONLY64, ...BYTES],
  32: [...COMMON, ...BYTES],
  16: [...COMMON, ...ONLY16, ...BYTES],
};

/** The sources `as` accepts in `mode` (it names the line of each one it refuses). */
function acceptedByAs(mode: Mode, sources: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'hvsim-disasm-'));
  try {
    const s = join(dir, 'a.s');
    const header = ['.intel_syntax noprefix', '.text', `.code${mode}`];
    writeFileSync(s, [...header, ...sources].join('\n') + '\n');
    try {
      execFileSync('as', [mode === 64 ? '--64' : '--32', '-o', join(dir, 'a.o'), s], { stdio: ['ignore', 'ignore', 'pipe'] });
      return sources;
    } catch (e) {
      const err = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
      const bad = new Set([...err.matchAll(/a\.s:(\d+): Error/g)].map((m) => Number(m[1]) - header.length - 1));
      return sources.filter((_, i) => !bad.has(i));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bytes of a sample as objdump printed them (the instruction and what follows it). */
const lineBytes = (_i: number, line: Line): Uint8Array => Uint8Array.from(line.sampleBytes);

/**
 * A sweep of the opcode table: every one-byte and 0F-map opcode the table defines, with every
 * ModRM.reg, a register operand and two memory operands, without a prefix and with 66, 67 (and
 * REX.W, REX.RB in 64-bit code); the bytes after the opcode are a fixed pattern that serves as
 * displacement and immediate.
 */
function tableSweep(mode: Mode): string[] {
  const out: string[] = [];
  const tail = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
  const prefixes: number[][] = [[], [0x66], [0x67], ...(mode === 64 ? [[0x48], [0x45]] : [])];
  for (let opc = 0; opc < 0x200; opc++) {
    const flags = OPCODE_FLAGS[opc];
    if ((flags & (Op.INVALID | Op.PREFIX)) !== 0 || opc === 0x0f) continue;
    const opBytes = opc < 0x100 ? [opc] : [0x0f, opc & 0xff];
    const modrms: number[][] = [];
    if ((flags & Op.MODRM) !== 0) {
      for (let reg = 0; reg < 8; reg++) {
        modrms.push([0xc1 | (reg << 3)], [0x43 | (reg << 3), 0x10], [0x04 | (reg << 3), 0x8b]);
      }
    } else modrms.push([]);
    for (const p of prefixes) {
      for (const m of modrms) out.push('.byte ' + [...p, ...opBytes, ...m, ...tail].map((b) => '0x' + b.toString(16)).join(', '));
    }
  }
  return out;
}

/** Op ids of the opcode table that the sweep's encodings reach, by the CPU's own decoder. */
function sweepCoverage(): Set<number> {
  const covered = new Set<number>();
  const store = new DecodedStore();
  const decoder = new Decoder(store);
  for (const mode of [64, 32, 16] as const) {
    for (const src of tableSweep(mode)) {
      const bytes = src.slice('.byte '.length).split(', ').map((h) => parseInt(h, 16));
      const n = Math.min(bytes.length, 16);
      decoder.window.set(bytes.slice(0, n));
      decoder.windowLen = n;
      if (decoder.decode(0, mode === 64 ? 3 : mode === 32 ? 2 : 1) === DecodeStatus.OK) covered.add(store.op[0]);
    }
  }
  return covered;
}

describe.skipIf(!HAVE_BINUTILS)('disassembler against objdump: assembled instructions' + skipNote, () => {
  for (const mode of [64, 32, 16] as const) {
    test(`${mode}-bit: text and length match objdump for every listed instruction`, () => {
      const list = acceptedByAs(mode, LISTS[mode]);
      const dropped = LISTS[mode].filter((src) => !list.includes(src));
      console.log(`${mode}-bit: ${list.length} instructions compared; not encodable in this mode: ${dropped.join('; ')}`);
      const r = compare(mode, list, lineBytes);
      expect(r.mismatches).toEqual([]);
      expect(r.lengthErrors).toEqual([]);
      expect(r.total).toBe(list.length);
      expect(list.length).toBeGreaterThan(LISTS[mode].length / 2);
    });
  }

  for (const mode of [64, 32, 16] as const) {
    test(`${mode}-bit: a sweep of the opcode table matches objdump (lengths of all we decode)`, () => {
      const list = tableSweep(mode);
      const r = compare(mode, list, lineBytes);
      // Encodings the CPU does not decode (VEX in 64-bit code, SSE forms...) may differ.
      expect(r.mismatches.filter((m) => !m.endsWith('ours: (bad) (1)'))).toEqual([]);
      expect(r.lengthErrors).toEqual([]);
    });
  }
});

describe('disassembler: the sweep covers the opcode table', () => {
  test('the sweep reaches every row of the opcode table that has a mnemonic', () => {
    const covered = sweepCoverage();
    const missing: string[] = [];
    for (let op = 0; op < OP_COUNT; op++) {
      const name = MNEMONICS[op];
      if (name && name !== 'prefix' && !covered.has(op)) missing.push(`${op.toString(16)} ${name}`);
    }
    expect(missing).toEqual([]);
  });
});

// ---- random bytes ----

const SAMPLE_LEN = 15;
const LEGACY_PREFIXES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3];
/** First bytes of instructions the CPU decodes (valid rows of the one-byte map). */
const VALID_FIRST = Array.from({ length: 256 }, (_, i) => i).filter((i) => (OPCODE_FLAGS[i] & (Op.INVALID | Op.PREFIX)) === 0 && i !== 0x0f);
const VALID_0F = Array.from({ length: 256 }, (_, i) => i).filter((i) => (OPCODE_FLAGS[0x100 + i] & Op.INVALID) === 0);

/** Fully random bytes, and random bytes shaped like the integer set (prefixes + a table opcode). */
function randomSamples(mode: Mode, n: number, seed: number): Uint8Array[] {
  const anyBytes = fc.uint8Array({ minLength: SAMPLE_LEN, maxLength: SAMPLE_LEN });
  const prefixByte = mode === 64 ? fc.oneof(fc.constantFrom(...LEGACY_PREFIXES), fc.integer({ min: 0x40, max: 0x4f })) : fc.constantFrom(...LEGACY_PREFIXES);
  const opcode = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...VALID_FIRST).map((b) => [b]) },
    { weight: 2, arbitrary: fc.constantFrom(...VALID_0F).map((b) => [0x0f, b]) },
  );
  const shaped = fc
    .tuple(fc.array(prefixByte, { maxLength: 3 }), opcode, anyBytes)
    .map(([p, o, rest]) => Uint8Array.from([...p, ...o, ...rest]).slice(0, SAMPLE_LEN));
  return fc.sample(fc.oneof(anyBytes, shaped, shaped), { seed, numRuns: n });
}

describe.skipIf(!HAVE_BINUTILS)('disassembler against objdump: random bytes' + skipNote, () => {
  for (const mode of [64, 32, 16] as const) {
    test(`${mode}-bit: agreement rate; lengths of every instruction we decode match objdump`, () => {
      const samples = randomSamples(mode, 8000, 0x5eed + mode);
      const sources = samples.map((b) => '.byte ' + Array.from(b, (x) => '0x' + x.toString(16)).join(', '));
      // Our input is the whole sample (the disassembler sees the bytes after the instruction too).
      const r = compare(mode, sources, (i) => samples[i]);
      const pct = (k: number): string => ((100 * k) / r.total).toFixed(1) + '%';
      console.log(
        `disasm vs objdump, ${mode}-bit, ${r.total} random samples: text agrees ${pct(r.textAgree)}, ` +
          `length agrees ${pct(r.lengthAgree)} (known differences allowed); strictly: text ${pct(r.strictText)}, ` +
          `length ${pct(r.strictLength)}` + (r.mismatches.length ? `\n  e.g. ${r.mismatches.slice(0, 40).join('\n  e.g. ')}` : ''),
      );
      expect(r.lengthErrors).toEqual([]);
    });
  }
});

// ---- hostile input ----

describe('disassembler: hostile input never throws', () => {
  test('empty buffer and truncated instructions are (bad) with at most the available length', () => {
    expect(disassemble(new Uint8Array(0), 64)).toEqual({ length: 1, text: '(bad)' });
    // 48 B8 + 8-byte immediate (SDM MOV B8+rd io): every prefix shorter than 10 bytes is cut off.
    const movabs = Uint8Array.from([0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (let k = 1; k < movabs.length; k++) {
      const d = disassemble(movabs.slice(0, k), 64);
      expect(d.text).toBe('(bad)');
      expect(d.length).toBeGreaterThanOrEqual(1);
      expect(d.length).toBeLessThanOrEqual(k);
    }
    expect(disassemble(movabs, 64)).toEqual({ length: 10, text: 'movabs rax, 0x807060504030201' });
  });

  test('more than 15 bytes of prefixes is (bad) of length 1 (SDM vol. 2, 2.3.11: 15-byte limit)', () => {
    expect(disassemble(new Uint8Array(20).fill(0x66), 32)).toEqual({ length: 1, text: '(bad)' });
  });

  test('any byte string in any mode: a string and a length between 1 and 15', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), fc.constantFrom(16, 32, 64), fc.nat(), (b, mode, rip) => {
        const d = disassemble(b, mode as Mode, rip);
        return typeof d.text === 'string' && d.text.length > 0 && d.length >= 1 && d.length <= Math.max(1, Math.min(15, b.length));
      }),
      { seed: 42, numRuns: 20000 },
    );
  });
});

describe('disassembler: examples from the task', () => {
  test.each([
    [[0x8b, 0x44, 0x8b, 0x10], 64, 0, 'mov eax, dword ptr [rbx+rcx*4+0x10]'],
    [[0x75, 0xfa], 64, 0x100234 + 6 - 2, 'jne 0x100234'],
    [[0xec], 32, 0, 'in al, dx'],
    [[0xf3, 0xa4], 64, 0, 'rep movsb'],
    [[0xf0, 0x0f, 0xb1, 0x08], 64, 0, 'lock cmpxchg dword ptr [rax], ecx'],
    [[0x0f, 0x01, 0xc1], 64, 0, 'vmcall'],
    [[0x0f, 0xff], 64, 0, '(bad)'],
  ] as const)('%j in %i-bit code', (bytes, mode, rip, text) => {
    expect(disassemble(Uint8Array.from(bytes), mode, rip).text).toBe(text);
  });
});

// Branch targets: EIP/RIP of the next instruction plus the displacement, truncated to the
// operand size (SDM vol. 2, JMP / Jcc: "tempEIP AND 0000FFFFH" for 16-bit operands, 32-bit
// likewise); objdump's small file offsets cannot show the wrap, so these are checked directly.
describe('disassembler: branch targets and RIP-relative addresses', () => {
  test.each([
    [[0xe9, 0xfb, 0xff, 0xff, 0xff], 64, 0xffffffff81000123n, 'jmp 0xffffffff81000123'], // jmp to itself, above 2^53
    [[0xe8, 0, 0, 0, 0], 64, -0x7f000000, 'call 0xffffffff81000005'], // negative rip = sign-extended
    [[0xeb, 0x00], 32, 0xfffffffe, 'jmp 0x0'], // wraps at 4 GiB
    [[0xeb, 0x00], 16, 0xfffe, 'jmp 0x0'], // wraps at 64 KiB
    [[0x75, 0x80], 16, 0x10, 'jne 0xff92'],
    [[0x48, 0x8b, 0x05, 0, 0, 0, 0], 64, 0x1000, 'mov rax, qword ptr [rip+0x0] # 0x1007'],
    [[0x8b, 0x05, 0xf0, 0xff, 0xff, 0xff], 64, 0x1000, 'mov eax, dword ptr [rip+0xfffffffffffffff0] # 0xff6'],
    [[0xeb, 0x00], 64, Number.NaN, 'jmp 0x2'], // a non-finite address reads as 0
  ] as const)('%j in %i-bit code at %s', (bytes, mode, rip, text) => {
    expect(disassemble(Uint8Array.from(bytes), mode, rip)).toEqual({ length: bytes.length, text });
  });
});
