// Starting a vCPU in real mode at a given address through the VM API (vmm(4)'s WRITEREGS), as
// vmd would for a guest it loads by hand: CS = SS = DS = 0, IP = `at`, SP = 0x8000, IF = 0.

import type { Vmm } from '../../src/api/vmm.js';

export function startReal(vmm: Vmm, id: number, vcpu: number, at: number): void {
  vmm.writeregs(id, vcpu, {
    gprs: { rip: BigInt(at), rsp: 0x8000n, rflags: 0x2n },
    segments: {
      cs: { selector: 0, base: 0n, limit: 0xffff, attributes: 0x9b },
      ss: { selector: 0, base: 0n, limit: 0xffff, attributes: 0x93 },
      ds: { selector: 0, base: 0n, limit: 0xffff, attributes: 0x93 },
    },
  });
}
