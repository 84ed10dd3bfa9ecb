// fixtures/guests/xen-guest under the 'xen' personality, through the library API: a 32-bit
// guest that finds Xen, installs the hypercall page, maps shared_info, reads Xen time and talks
// to XenStore through the ring (hypervisor-interfaces.md §5.1-§5.6, §3.9, §2.2).
// What each line must say follows from the spec and the test's own inputs (the seeded keys,
// the RTC time, Xen 4.17's numbers), not from a recorded run.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vmm } from '../../src/api/vmm.js';
import { bootKernel } from '../../src/api/boot.js';
import { ExitKind } from '../../src/machine/exit.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/xen-guest/xen-guest.elf');
const RTC_TIME = 1_234_567_890; // 2009-02-13T23:31:30Z: the wall clock the guest must read

function run() {
  const serial: number[] = [];
  const vmm = new Vmm();
  const id = vmm.create({
    name: 'xen-guest',
    memoryBytes: 64 << 20,
    hypervisors: ['xen'],
    unhandledIo: 'ignore',
    pc: { com1: (b) => serial.push(b), rtcTime: RTC_TIME },
    kv: [
      { key: 'vm-data/foo', value: 'bar' },
      { key: 'vm-data/ro', value: 'fixed', readOnly: true },
    ],
  });
  const m = vmm.machine(id);
  bootKernel(m, { bytes: new Uint8Array(readFileSync(ELF)), name: 'fixtures/guests/xen-guest/xen-guest.elf' });
  const exit = vmm.run(id, 0, { maxInsns: 50_000_000 });
  const lines = Buffer.from(serial).toString('latin1').split('\n');
  return { exit, lines, m, virtualNs: vmm.info().find((v) => v.id === id)!.virtualNs };
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

describe('xen-guest fixture', () => {
  const r = run();

  it('ends through isa-debug-exit 0 after "xen: ok all done"', () => {
    expect(r.lines.filter((l) => l.startsWith('xen: FAIL'))).toEqual([]);
    expect(r.exit).toMatchObject({ kind: ExitKind.DebugExit, code: 0 });
    expect(r.lines).toContain('xen: ok all done');
  });

  it('prints what the spec and the inputs dictate', () => {
    const want = [
      `xen: ok found XenVMMXenVMM at ${hex(0x40000000)}`,
      `xen: ok hypercall page filled through MSR ${hex(0x40000000)}`, // §5.1: base+2 EBX
      `xen: ok xen_version through the page matches CPUID: ${hex((4 << 16) | 17)}`,
      // §5.1 XENFEAT bits an HVM domU of Xen 4.17 gets: 0, 2, 8, 9, 13, 16
      `xen: ok XENVER_get_features submap 0: ${hex(0x12305)}`,
      'xen: ok VMCALL of hypercall 0 gives -ENOSYS',
      // §5.6 / libxl: the store ring at GPFN 0xfeffc, event channel 1
      `xen: ok xenstore ring ${hex(0xfeffc000)} evtchn ${hex(1)}`,
      'xen: ok read vm-data/foo = bar',
      'xen: ok write vm-data/out: OK',
      'xen: ok read back vm-data/out = hello from xen-guest',
      'xen: ok read vm-data/missing: ENOENT',
      'xen: ok write read-only vm-data/ro: EACCES',
      'xen: ok directory vm-data: foo out ro',
      `xen: ok wall clock wc_sec ${hex(RTC_TIME)}`, // §3.9: wall time at system_time 0 = boot
    ];
    for (const w of want) expect(r.lines).toContain(w);
    expect(r.lines.some((l) => /^xen: ok shared_info mapped at 0x[0-9a-f]{8}$/.test(l))).toBe(true);
  });

  it('the guest computed Xen system time within the run (0 < t < virtual ns at the end)', () => {
    const line = r.lines.find((l) => l.startsWith('xen: ok system time advances: '))!;
    expect(line).toMatch(/^xen: ok system time advances: 0x[0-9a-f]{16}$/);
    const t = Number.parseInt(line.slice('xen: ok system time advances: 0x'.length), 16); // 16 hex digits
    expect(t).toBeGreaterThan(0);
    expect(t).toBeLessThanOrEqual(r.virtualNs);
  });

  it('the guest write landed in the store; the read-only key did not change', () => {
    expect(r.m.kv.get('vm-data/out')).toBe('hello from xen-guest');
    expect(r.m.kv.get('vm-data/ro')).toBe('fixed');
    expect(r.m.kv.writes).toEqual([{ key: 'vm-data/out', value: 'hello from xen-guest' }]);
  });

  it('replays identically', () => {
    const again = run();
    expect(again.lines).toEqual(r.lines);
    expect(again.virtualNs).toBe(r.virtualNs);
  });
});
