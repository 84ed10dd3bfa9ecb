// Stores from one vCPU into code another vCPU has decoded (cross-modifying code, SDM vol. 3,
// 8.1.3): the other vCPU must execute the new bytes. Each vCPU caches decoded instructions and
// has its own TLB with a write fast path; both must hear about the other vCPU's stores.

import { describe, expect, it } from 'vitest';
import { Vmm } from '../../src/api/vmm.js';
import { ExitKind, type IoExit } from '../../src/machine/exit.js';
import { startReal } from '../helpers/real-mode.js';


describe('cross-modifying code between vCPUs', () => {
  it('a vCPU runs the bytes another vCPU stored into its code, even through a write entry made before', () => {
    const vmm = new Vmm();
    const id = vmm.create({ name: 'xmc', vcpus: 2, memoryBytes: 1 << 20 });
    // vCPU 0 at 0x1000: mov al, 0x11; out 0x99, al; jmp 0x1000
    vmm.writeMemory(id, 0x1000, Uint8Array.of(0xb0, 0x11, 0xe6, 0x99, 0xeb, 0xfa));
    // vCPU 1 at 0x3000: mov byte [0x1ff0], 0 (a write entry for vCPU 0's code page, made before
    // vCPU 0 decodes it); out 0x97, al; mov byte [0x1001], 0x22 (vCPU 0's immediate); out 0x97, al; jmp $
    vmm.writeMemory(id, 0x3000, Uint8Array.of(0xc6, 0x06, 0xf0, 0x1f, 0x00, 0xe6, 0x97, 0xc6, 0x06, 0x01, 0x10, 0x22, 0xe6, 0x97, 0xeb, 0xfe));
    startReal(vmm, id, 0, 0x1000);
    startReal(vmm, id, 1, 0x3000);
    const out = (vcpu: number): IoExit => {
      const e = vmm.run(id, vcpu, { maxInsns: 1000 }) as IoExit;
      expect(e.kind).toBe(ExitKind.Io);
      return e;
    };
    expect(out(1).port).toBe(0x97); // vCPU 1 has written to the page
    expect(out(0).value).toBe(0x11); // vCPU 0 decodes and runs it
    expect(out(1).port).toBe(0x97); // vCPU 1 stores the new immediate
    const e = out(0); // jmp back: the decoded mov al, 0x11 is stale
    expect(e.port).toBe(0x99);
    expect(e.value).toBe(0x22);
  });
});
