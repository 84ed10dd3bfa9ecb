// The smoke run of issue 7 inside `npm test`: Debian's own cloud kernel (never committed; fetched
// into a cache by scripts/linux/fetch.sh, which .ci/run calls) boots under the KVM personality
// until its stock code prints "Hypervisor detected: KVM" and registers kvm-clock. The whole
// boot matrix is `npm run linux` (scripts/linux/matrix.mjs, docs/linux.md).
//
// The oracle is the kernel itself: those lines come from Linux's hypervisor detection
// (arch/x86/kernel/cpu/hypervisor.c) and kvmclock code reading our CPUID leaves and MSRs.

import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createSession } from '../../src/api/session.js';
import { ExitKind } from '../../src/machine/exit.js';

const CACHE = process.env.HVSIM_CACHE ?? join(homedir(), '.cache/hvsim/debian');

function cachedKernel(): string | null {
  if (!existsSync(CACHE)) return null;
  for (const d of readdirSync(CACHE).sort()) {
    if (!/^linux-image-.*-cloud-amd64-unsigned$/.test(d) || !existsSync(join(CACHE, d, '.extracted'))) continue;
    const boot = join(CACHE, d, 'boot');
    const k = existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
    if (k !== undefined) return join(boot, k);
  }
  return null;
}

const KERNEL = cachedKernel();
if (KERNEL === null) console.log(`linux smoke: skipped, no Debian cloud kernel in ${CACHE} (run scripts/linux/fetch.sh)`);

describe('Debian 6.1 cloud kernel (smoke)', () => {
  it.skipIf(KERNEL === null)('detects the KVM personality and registers kvm-clock', () => {
    let console = '';
    const s = createSession(
      {
        vmname: 'linux-smoke', vcpus: 1, memoryBytes: 256 << 20, hypervisors: ['kvm'], strictIo: false, ignoreUnknownMsrs: false,
        exitOnPause: false, rtcTime: 946684800, append: 'console=ttyS0 earlyprintk=ttyS0', kv: [],
      },
      { kernel: new Uint8Array(readFileSync(KERNEL!)), kernelName: 'vmlinuz', modules: [] },
      { com1: (b) => void (console += String.fromCharCode(b)) },
    );
    const done = (): boolean => console.includes('Hypervisor detected: KVM') && /clocksource: kvm-clock: /.test(console);
    for (let step = 0; step < 100 && !done(); step++) {
      const { exit } = s.vmm.runAll(s.id, { maxInsns: 5_000_000 });
      if (exit.kind !== ExitKind.Limit) break;
    }
    expect(console).toContain('Linux version 6.1');
    expect(console).toContain('Hypervisor detected: KVM');
    expect(console).toMatch(/kvm-clock: Using msrs 4b564d01 and 4b564d00/);
    expect(console).toMatch(/clocksource: kvm-clock: /);
  }, 600_000);
});
