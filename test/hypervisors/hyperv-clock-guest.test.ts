// fixtures/guests/hyperv-clock through the whole machine under the Hyper-V personality: the guest
// detects Hyper-V, enables the hypercall page and calls it from 32-bit and 64-bit mode, enables the
// reference TSC page and reads time from it by the TLFS sequence algorithm, compares it with
// TIME_REF_COUNT, and checks every expectation itself (each line names the spec rule it checked,
// see the fixture's header). It exits through isa-debug-exit with 0 only if all passed.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind, type VmExit } from '../../src/machine/exit.js';
import type { PersonalityName } from '../../src/hypervisors/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/hyperv-clock/hyperv-clock.elf');

function run(hypervisors: PersonalityName[], tscKHz?: number): { lines: string[]; exit: VmExit } {
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create({ name: 'hyperv-clock', memoryBytes: 128 << 20, unhandledIo: 'ignore', hypervisors, tscKHz, pc: { com1: (b) => serial.push(b) } });
  bootKernel(vmm.machine(id), { bytes: new Uint8Array(readFileSync(ELF)), name: 'fixtures/guests/hyperv-clock/hyperv-clock.elf' });
  const exit = vmm.run(id, 0, { maxInsns: 50_000_000 });
  const text = Buffer.from(serial).toString('latin1');
  return { lines: text.replace(/\n$/, '').split('\n'), exit };
}

const PASSED = [
  'hyperv-clock: ok CPUID 0x40000000 "Microsoft Hv", 0x40000001 "Hv#1"',
  'hyperv-clock: ok privileges: reference counter, hypercall MSRs, VP index, reference TSC page, frequency MSRs',
  'hyperv-clock: ok HYPERCALL enable bit stuck after GUEST_OS_ID',
  'hyperv-clock: ok 32-bit call of the hypercall page, input value 0xffff: EDX:EAX = HV_STATUS_INVALID_HYPERCALL_CODE',
  'hyperv-clock: ok 64-bit call of the hypercall page, input value 0xffff: RAX = HV_STATUS_INVALID_HYPERCALL_CODE',
  'hyperv-clock: ok fast HvCallNotifyLongSpinWait: RAX = HV_STATUS_SUCCESS',
  'hyperv-clock: ok VP_INDEX = 0 on the boot vCPU',
  'hyperv-clock: ok reference TSC page enabled, TscSequence != 0',
  'hyperv-clock: ok TscScale = 10^7 * 2^64 / TSC_FREQUENCY (within 2^-20)',
  'hyperv-clock: ok 1000 rounds of TIME_REF_COUNT and page time never decrease',
  'hyperv-clock: ok page time advances by 10^7 * TSC ticks / TSC_FREQUENCY (within 0.1%)',
  'hyperv-clock: all passed',
];

describe('fixtures/guests/hyperv-clock under hvsim', () => {
  for (const tscKHz of [2_000_000, 10_001, 3_333_333, 100_000_000]) {
    it(`hypervisors ['hyperv'], TSC ${tscKHz} kHz: every check passes, debug-exit 0`, () => {
      const r = run(['hyperv'], tscKHz);
      expect(r.lines).toEqual(PASSED);
      expect(r.exit).toMatchObject({ kind: ExitKind.DebugExit, code: 0 });
    });
  }

  it("Hyper-V first in a stack (['hyperv', 'kvm']): the same, the guest looks only at 0x40000000", () => {
    const r = run(['hyperv', 'kvm']);
    expect(r.lines).toEqual(PASSED);
    expect(r.exit).toMatchObject({ kind: ExitKind.DebugExit, code: 0 });
  });

  it('without Hyper-V the guest says so and exits with 2 (as under QEMU TCG, which has no Hyper-V)', () => {
    const r = run(['kvm']);
    expect(r.lines).toEqual(['hyperv-clock: no Hyper-V (CPUID 0x40000000 is not Microsoft Hv / Hv#1)']);
    expect(r.exit).toMatchObject({ kind: ExitKind.DebugExit, code: 2 });
  });
});
