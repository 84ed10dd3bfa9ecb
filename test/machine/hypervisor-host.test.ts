// The machine services personalities get through HypervisorHost: the fault-free page walk
// for hypercall arguments (SDM vol. 3A 4.5: 4-level paging), the vCPU's 64-bit mode, and
// ending the run. A probe personality captures the host the machine attaches.

import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { ExitKind } from '../../src/machine/exit.js';
import type { HypervisorHost, HypervisorPersonality } from '../../src/hypervisors/personality.js';

class Probe implements HypervisorPersonality {
  readonly name = 'probe';
  host: HypervisorHost | null = null;
  attach(h: HypervisorHost): void {
    this.host = h;
  }
  cpuid(): boolean {
    return false;
  }
}

const P = 1; // present
const RW = 2;

/** A machine in 64-bit mode whose page tables map one 4 KiB page: LINEAR -> 0x200000. */
function longModeMachine(): { m: Machine; host: HypervisorHost } {
  const probe = new Probe();
  const m = new Machine({ memoryBytes: 4 << 20, vcpus: 1, unhandledIo: 'ignore', ignoreUnknownMsrs: false, exitOnPause: false, personalities: [probe] });
  // PML4 at 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000. LINEAR = 0xffff8000_00400000:
  // PML4 index 256, PDPT 0, PD 2, PT 0.
  m.mem.write64(0x10000 + 256 * 8, 0x11000 | P | RW, 0);
  m.mem.write64(0x11000, 0x12000 | P | RW, 0);
  m.mem.write64(0x12000 + 2 * 8, 0x13000 | P | RW, 0);
  m.mem.write64(0x13000, 0x200000 | P, 0); // read-only page
  const c = m.cpus[0];
  c.cr2Lo = 0x1234;
  c.cr2Hi = 0;
  return { m, host: probe.host! };
}

function enterLongMode(m: Machine): void {
  const c = m.cpus[0];
  c.cr3Lo = 0x10000;
  c.cr4 |= 1 << 5; // PAE
  c.efer |= (1 << 8) | (1 << 10); // LME, LMA
  c.cr0 |= 1 | (1 << 16) | (1 << 31); // PE, WP (supervisor writes honour read-only pages), PG
  c.segAttr[1] = 0xa09b; // CS: present, code, L=1 (index 1 is CS, SDM segment register order)
  c.updateMode();
}

describe('HypervisorHost', () => {
  it('linearToPhysical walks the page tables; an unmapped or read-only-for-write address is null and CR2 is untouched', () => {
    const { m, host } = longModeMachine();
    enterLongMode(m);
    const c = m.cpus[0];
    expect(c.pagingMode).toBe(4);
    expect(host.linearToPhysical!(0, 0x00400123, 0xffff8000 | 0, false)).toBe(0x200123);
    expect(host.linearToPhysical!(0, 0x00401000, 0xffff8000 | 0, false)).toBeNull(); // PT entry 1 absent
    expect(host.linearToPhysical!(0, 0x00400000, 0x00008000, false)).toBeNull(); // non-canonical
    expect(host.linearToPhysical!(0, 0x00400000, 0xffff8000 | 0, true)).toBeNull(); // a write to a read-only page with CR0.WP=1 (SDM 4.6)
    expect(c.cr2Lo).toBe(0x1234);
    expect(host.vcpuLongMode!(0)).toBe(true);
  });

  it('powerOff and reset end the run after the current instruction', () => {
    const { m, host } = longModeMachine();
    host.powerOff!();
    expect(m.run(0, 1000).kind).toBe(ExitKind.PowerOff);
    host.reset!();
    expect(m.run(0, 1000).kind).toBe(ExitKind.Reset);
    expect(host.vcpuLongMode!(0)).toBe(false);
  });
});

describe('what the observer sees of CPUID', () => {
  it('a MOV to CR4 asks the CPUID model internally (reserved-bit check) without an event; a CPUID instruction is one event', async () => {
    const { Vmm } = await import('../../src/api/vmm.js');
    const { EventShaper } = await import('../../src/trace/recorder.js');
    const vmm = new Vmm();
    const id = vmm.create({ name: 'cr4', memoryBytes: 1 << 20, unhandledIo: 'ignore' });
    // Real mode at 0:0x7c00: mov cr4, eax (eax = 0); cpuid; hlt
    vmm.writeMemory(id, 0x7c00, Uint8Array.of(0x0f, 0x22, 0xe0, 0x0f, 0xa2, 0xfa, 0xf4));
    vmm.writeregs(id, 0, { gprs: { rip: 0x7c00n, rax: 0n }, segments: { cs: { selector: 0, base: 0n, limit: 0xffff, attributes: 0x9b } } });
    const kinds: string[] = [];
    vmm.machine(id).observer = new EventShaper((e) => kinds.push(e.kind === 'cpuid' ? `cpuid ${e.leaf}` : e.kind));
    const exit = vmm.run(id, 0, { maxInsns: 100 });
    expect(exit.kind).toBe(ExitKind.Shutdown); // cli; hlt
    expect(kinds).toEqual(['cpuid 0', 'hlt', 'shutdown']);
  });
});

describe('the VMware backdoor from user mode', () => {
  // 32-bit protected mode at CPL 3 with IOPL 0: `in eax, dx` on 0x5658 with the magic would be
  // #GP by the I/O permission check (SDM vol. 1, 19.5.1), but VMware serves it (spec digest §4.1).
  // GETVERSION (command 10) answers EBX = the magic; then ud2, and with no IDT a triple fault ends
  // the run either way.
  async function run(hypervisors: ('vmware' | 'kvm')[]): Promise<{ ebx: bigint; kind: string }> {
    const { Vmm } = await import('../../src/api/vmm.js');
    const vmm = new Vmm();
    const id = vmm.create({ name: 'cpl3', memoryBytes: 1 << 20, unhandledIo: 'ignore', hypervisors });
    // mov eax, 0x564d5868; mov ecx, 10; mov edx, 0x5658; in eax, dx; ud2
    vmm.writeMemory(id, 0x1000, Uint8Array.of(0xb8, 0x68, 0x58, 0x4d, 0x56, 0xb9, 0x0a, 0, 0, 0, 0xba, 0x58, 0x56, 0, 0, 0xed, 0x0f, 0x0b));
    const user = { base: 0n, limit: 0xffffffff };
    vmm.writeregs(id, 0, {
      gprs: { rip: 0x1000n, rbx: 0n, rflags: 0x2n },
      crs: { cr0: 0x11n },
      segments: {
        cs: { selector: 0x1b, ...user, attributes: 0xc0fb },
        ss: { selector: 0x23, ...user, attributes: 0xc0f3 },
        ds: { selector: 0x23, ...user, attributes: 0xc0f3 },
      },
    });
    const exit = vmm.run(id, 0, { maxInsns: 100 });
    return { ebx: vmm.readregs(id, 0).gprs.rbx, kind: exit.kind };
  }

  it('is served at CPL 3 under vmware, and is #GP without it', async () => {
    const vmware = await run(['vmware']);
    expect(vmware.ebx).toBe(0x564d5868n);
    const kvm = await run(['kvm']);
    expect(kvm.ebx).toBe(0n); // #GP before the IN: EBX untouched
    expect(kvm.kind).toBe(ExitKind.Shutdown);
  });
});
