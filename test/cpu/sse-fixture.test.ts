// The sse guest fixture (fixtures/guests/sse) under hvsim and under QEMU: the same image prints
// hashes of x87/SSE/SSE2 results over random and special operands (every MXCSR rounding mode,
// FZ/DAZ, sticky flags), FXSAVE images and the exception vectors of SDM vol. 3A table 2-2 and
// 13.1; every line must be identical, except the lines listed in QEMU_GAPS where QEMU is known to
// differ from the SDM (and hvsim's value is checked against the SDM in the first test).
//
// The reference is QEMU's TCG (softfloat, bit-exact IEEE arithmetic), not `-accel kvm`: the
// /dev/kvm of the machines this project runs on is kvm_pvm, which runs such a guest through KVM's
// instruction emulator, and that emulator stops at the first SSE arithmetic instruction
// ("KVM internal error. Suberror: 1"). SSE_FIXTURE_ACCEL=kvm selects KVM where it runs guests on
// the CPU. The fixture already leaves out what TCG 7.2 does not model: MXCSR.DE is not hashed,
// exceptions are masked in the hashed runs, and two-NaN operands are not generated (TCG applies
// the x87 NaN rule to SSE; the SDM rule is tested in test/cpu/sse-fp.test.ts).

import { describe, expect, test } from 'vitest';
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind } from '../../src/machine/exit.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/sse/sse.elf');

function qemuWhyNot(): string | null {
  if (process.env.HVSIM_SKIP_KVM_ORACLE) return 'HVSIM_SKIP_KVM_ORACLE is set';
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed';
  if (ACCEL !== 'kvm') return null;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/kvm is absent or not read/writable';
  }
  return null;
}

function runHvsim(path = ELF): { lines: string[]; exit: string } {
  const bytes = new Uint8Array(readFileSync(path));
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create({ name: 'sse', memoryBytes: 64 << 20, unhandledIo: 'ignore', pc: { com1: (b) => serial.push(b) } });
  bootKernel(vmm.machine(id), { bytes, name: path });
  const e = vmm.run(id, 0, { maxInsns: 400_000_000 });
  const text = Buffer.from(serial).toString('latin1');
  return { lines: text.split('\n').filter((l) => l.length > 0), exit: e.kind === ExitKind.DebugExit ? `debug-exit ${e.code}` : String(e.kind) };
}

function runQemu(path = ELF): string[] {
  const r = spawnSync('/usr/bin/qemu-system-x86_64',
    ['-accel', ACCEL, '-cpu', ACCEL === 'kvm' ? 'host' : 'max', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-m', '64', '-kernel', path],
    { timeout: 120_000, encoding: 'latin1' });
  return (r.stdout ?? '').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0);
}

/** The reference: QEMU with KVM where /dev/kvm runs guests on the CPU; `-accel tcg` otherwise (see the note above). */
const ACCEL = process.env.SSE_FIXTURE_ACCEL ?? 'tcg';
const why = qemuWhyNot();

/** Lines where QEMU 7.2's TCG departs from the SDM; hvsim's values are asserted above. */
const QEMU_GAPS = [
  'fxsave64 fop, fip', // TCG keeps no FOP/FIP (SDM vol. 1, 8.1.8-8.1.9)
  'ldmxcsr-reserved', // TCG: no #GP for reserved MXCSR bits (SDM LDMXCSR)
  'fxrstor-reserved', // likewise for FXRSTOR (SDM FXRSTOR)
  'divps-unmasked-ze', // TCG raises no #XM for unmasked SIMD exceptions (SDM vol. 1, 11.5.1)
  'divps-unmasked-noosxmmexcpt', // ...nor the #UD it becomes with CR4.OSXMMEXCPT=0 (vol. 3A 13.1.4)
  'fdiv-unmasked-next', // TCG reports a pending x87 exception only at FWAIT (SDM vol. 1, 8.6)
  'fstack-underflow', // TCG has no x87 stack fault (SDM vol. 1, 8.5.1.1)
  'cpuid.1:edx', // CPUID is the model's, not the host's
  'mmx write, bits 79:64', // TCG leaves them; the SDM sets them to ones (vol. 1, 9.5.1)
];
let hv: { lines: string[]; exit: string } | null = null;
const hvsim = (): { lines: string[]; exit: string } => (hv ??= runHvsim(process.env.SSE_FIXTURE_ELF ?? ELF));

describe('the sse fixture', () => {
  test('runs to its end under hvsim, with the exception vectors the SDM gives', () => {
    const r = hvsim();
    expect(r.exit).toBe('debug-exit 0');
    expect(r.lines[r.lines.length - 1]).toBe('sse: done');
    expect(r.lines).toContain('fxrstor round trip ok');
    const vec = (name: string): number => {
      const l = r.lines.find((x) => x.startsWith(`${name} vector+1 `));
      expect(l, name).toBeDefined();
      return Number(l!.split(' ').pop()) - 1;
    };
    // SDM vol. 3A table 2-2 and 13.1.3/13.1.4; vol. 2 pages of the instructions.
    expect(vec('addps-ts')).toBe(7); // #NM: CR0.TS
    expect(vec('fxsave-ts')).toBe(7);
    expect(vec('fld1-ts')).toBe(7);
    expect(vec('fwait-ts-mp')).toBe(7); // WAIT: #NM only with MP and TS
    expect(vec('fwait-ts-nomp')).toBe(-1);
    expect(vec('ldmxcsr-ts')).toBe(7);
    expect(vec('addps-em')).toBe(6); // SSE with CR0.EM: #UD
    expect(vec('fld1-em')).toBe(7); // x87 with CR0.EM: #NM
    expect(vec('fxsave-em')).toBe(7);
    expect(vec('pxor-noosfxsr')).toBe(6);
    expect(vec('stmxcsr-noosfxsr')).toBe(6);
    expect(vec('fxsave-noosfxsr')).toBe(-1);
    expect(vec('movaps-misaligned')).toBe(13);
    expect(vec('movups-misaligned')).toBe(-1);
    expect(vec('paddb-misaligned')).toBe(13);
    expect(vec('addss-misaligned')).toBe(-1);
    expect(vec('movdqa-store-misaligned')).toBe(13);
    expect(vec('fxsave-misaligned')).toBe(13);
    expect(vec('ldmxcsr-reserved')).toBe(13);
    expect(vec('fxrstor-reserved')).toBe(13);
    expect(vec('divps-unmasked-ze')).toBe(19); // #XM with CR4.OSXMMEXCPT
    expect(vec('divps-unmasked-noosxmmexcpt')).toBe(6); // else #UD
    expect(vec('fdiv-unmasked-fwait')).toBe(16); // #MF at the next waiting instruction (CR0.NE)
    expect(vec('fdiv-unmasked-next')).toBe(16);
    expect(vec('fnstsw-pending')).toBe(-1);
    expect(vec('fstack-underflow')).toBe(16);
    expect(r.lines).toContain('fninit: fcw 0x037f fsw 0x0000'); // SDM FINIT/FNINIT
    // FXSAVE: FOP = D8 C9 (FMUL ST(0), ST(1)) as opcode bits 10:8 and the ModR/M byte, FIP = that
    // instruction's address (SDM vol. 1, 8.1.8-8.1.9 and table 10-2).
    expect(r.lines).toContain('fxsave64 fop, fip - fmul: 0x00c9 0x00000000');
    expect(r.lines).toContain('cpuid.1:edx fpu/fxsr/sse/sse2 0x07000001');
    expect(r.lines).toContain('mmx write, bits 79:64 of R2: 0xffff'); // SDM vol. 1, 9.5.1
  }, 300_000);

  test.skipIf(why !== null)(`every line is QEMU's (-accel ${ACCEL}) but the known QEMU gaps${why ? ` (skipped: ${why})` : ''}`, () => {
    const q = runQemu(process.env.SSE_FIXTURE_ELF ?? ELF);
    const h = hvsim().lines;
    if (process.env.SSE_FIXTURE_DUMP) writeFileSync(process.env.SSE_FIXTURE_DUMP, h.join('\n') + '\n');
    const diffs: string[] = [];
    const gap = (l: string | undefined): boolean => ACCEL !== 'kvm' && l !== undefined && QEMU_GAPS.some((g) => l.startsWith(g));
    for (let i = 0; i < Math.max(q.length, h.length); i++) if (q[i] !== h[i] && !gap(q[i])) diffs.push(`qemu: ${q[i]} | hvsim: ${h[i]}`);
    if (diffs.length) console.log(`${diffs.length} of ${q.length} lines differ:\n` + diffs.join('\n'));
    expect(q.length).toBeGreaterThan(100);
    expect(diffs).toEqual([]);
  }, 300_000);
});
