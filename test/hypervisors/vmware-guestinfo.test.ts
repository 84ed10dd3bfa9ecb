// fixtures/guests/vmware-guestinfo under the VMware personality: a guest that talks to the
// backdoor the way OpenBSD's vmt(4) does (hypervisor-interfaces.md §4), with guestinfo keys
// seeded through Vmm.create's kv option. The expected lines are what §4.2-§4.5 and §2.2
// prescribe for this configuration (2 GHz TSC, 1 GHz APIC bus, the seeded values), and the
// guest's writes must reach the KV store's write log.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind } from '../../src/machine/exit.js';
import { VmwarePersonality } from '../../src/hypervisors/vmware.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/vmware-guestinfo/vmware-guestinfo.elf');
const LONG = 'L'.repeat(300);

function boot(tscKHz: number) {
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create({
    name: 'vmware-guestinfo',
    memoryBytes: 64 << 20,
    tscKHz,
    hypervisors: ['vmware'],
    unhandledIo: 'ignore',
    pc: { com1: (b) => serial.push(b) },
    kv: [
      { key: 'guestinfo.seeded', value: 'hello from the host' },
      { key: 'guestinfo.locked', value: 'set by the host', readOnly: true },
      { key: 'guestinfo.long', value: LONG },
    ],
  });
  const m = vmm.machine(id);
  bootKernel(m, { bytes: new Uint8Array(readFileSync(ELF)), name: 'fixtures/guests/vmware-guestinfo/vmware-guestinfo.elf' });
  const exit = vmm.run(id, 0, { maxInsns: 50_000_000 });
  const text = Buffer.from(serial).toString('latin1');
  return { m, exit, lines: text.replace(/\n$/, '').split('\n') };
}

describe('vmware-guestinfo guest fixture', () => {
  it('passes every check, with the values §4 prescribes', () => {
    const { m, exit, lines } = boot(2_000_000);
    expect(lines).toEqual([
      'vmware-guestinfo: 32-bit protected mode',
      'vmware: ok CPUID 0x40000000 is VMwareVMware, max leaf 0x40000010', // §1.5
      'vmware: ok GETVERSION version 0x00000006, EBX = magic, product type 0x00000002', // §4.2
      'vmware: ok GET_SPEED 2000 MHz',
      'vmware: ok GETHZ TSC 2000000000 Hz (CPUID 0x40000010 kHz * 1000), APIC 1000000000 Hz', // §4.2, §1.3
      'vmware: ok info-get guestinfo.seeded reply "1 hello from the host"', // §4.4
      'vmware: ok info-get guestinfo.missing reply "0 No value found"',
      'vmware: ok info-set guestinfo.written reply "1 "',
      'vmware: ok info-get guestinfo.written reads it back, reply "1 written by the guest"',
      'vmware: ok info-set guestinfo.locked refused, reply "0 Permission denied"',
      'vmware: ok info-get guestinfo.locked unchanged, reply "1 set by the host"',
      // §2.2: "1 " + 300 bytes; 302 + 1 > 64 is ERANGE
      'vmware: ok info-get guestinfo.long: reply of 302 bytes + NUL does not fit a buffer of 64 (ERANGE)',
      'vmware: ok low-bandwidth tools.set.version reply "1 "',
      'vmware: ok TCLO: the host sent "reset", we answered "OK ATR toolbox", then no more commands', // §4.5
      'vmware: ok a wrong magic reads 0xffffffff and leaves EBX alone',
      'vmware: all passed',
    ]);
    expect(exit.kind).toBe(ExitKind.DebugExit);
    if (exit.kind === ExitKind.DebugExit) expect(exit.code).toBe(0);
    // Only the writable key was written; the refused write left no trace.
    expect(m.kv.writes).toEqual([{ key: 'guestinfo.written', value: 'written by the guest' }]);
    expect(m.kv.get('guestinfo.locked')).toBe('set by the host');
    const p = m.config.personalities[0] as VmwarePersonality;
    expect(p.backdoor!.tools.tcloAnswers).toEqual([{ command: 'reset', answer: 'OK ATR toolbox' }]);
    expect(p.backdoor!.rpc.openChannels()).toEqual([]); // every channel closed
  });

  it('GETHZ follows the configured TSC frequency (3.5 GHz needs no high half; the guest checks it against CPUID)', () => {
    const { lines } = boot(3_500_000);
    expect(lines).toContain('vmware: ok GET_SPEED 3500 MHz');
    expect(lines).toContain('vmware: ok GETHZ TSC 3500000000 Hz (CPUID 0x40000010 kHz * 1000), APIC 1000000000 Hz');
    expect(lines.at(-1)).toBe('vmware: all passed');
  });

  it('a 5 GHz TSC puts 1 in the high half of GETHZ (EBX) and the guest still agrees with CPUID', () => {
    const { lines } = boot(5_000_000);
    expect(lines).toContain('vmware: ok GETHZ TSC 5000000000 Hz (CPUID 0x40000010 kHz * 1000), APIC 1000000000 Hz');
    expect(lines.at(-1)).toBe('vmware: all passed');
  });

  it('two runs are identical (cookies and channel ids come from counters)', () => {
    const a = boot(2_000_000);
    const b = boot(2_000_000);
    expect(a.lines).toEqual(b.lines);
    expect(a.m.cpus[0].insns).toBe(b.m.cpus[0].insns);
  });
});
