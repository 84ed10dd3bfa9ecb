// Guest accesses to physical addresses at or above 2 GiB (where the APIC, IOAPIC and PCI holes
// live) through 4-level paging: unbacked memory reads as all ones and ignores writes. A page
// walker that masked frame addresses with a plain `&` turned them into negative numbers and the
// host threw a RangeError (found by kvm-unit-tests touching the APIC page at 0xfee00020).

import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { ExitKind } from '../../src/machine/exit.js';
import { setFlatCs, setFlatData } from '../../src/machine/cpu/system.js';

function longModeMachine(pageSize: '1G' | '2M' | '4K'): Machine {
  const m = new Machine({ memoryBytes: 8 << 20, vcpus: 1, unhandledIo: 'ignore', ignoreUnknownMsrs: false, exitOnPause: false, personalities: [] });
  const w = (a: number, v: number): void => void m.mem.write32(a, v);
  w(0x4000, 0x5000 | 3); // PML4[0] -> PDPT
  for (let i = 0; i < 4; i++) {
    if (pageSize === '1G') w(0x5000 + 8 * i, ((i << 30) | 0x83) >>> 0);
    else {
      const pd = 0x10000 + i * 0x1000;
      w(0x5000 + 8 * i, pd | 3);
      for (let j = 0; j < 512; j++) {
        const base = (i << 30) + (j << 21);
        if (pageSize === '4K' && i === 3 && j === 0x1f7) {
          // 0xfee00000-0xfeffffff through a page table of 4 KiB pages (the rest uses 2 MiB pages)
          w(pd + 8 * j, 0x20000 | 3);
          for (let k = 0; k < 512; k++) w(0x20000 + 8 * k, ((base + (k << 12)) | 3) >>> 0);
        } else w(pd + 8 * j, (base | 0x83) >>> 0);
      }
    }
  }
  const c = m.cpus[0];
  c.cr0 = 0x80010031;
  c.cr4 = 0x20;
  c.efer = 0x500;
  c.cr3Lo = 0x4000;
  setFlatCs(c, 0x18, 64, 0);
  for (const s of [0, 2, 3, 4, 5]) setFlatData(c, s, 0x10, 0);
  c.ripLo = 0x1000;
  c.updateMode();
  c.flushTlb();
  return m;
}

describe('physical addresses at or above 2 GiB', () => {
  for (const size of ['1G', '2M', '4K'] as const) {
    it(`read as all ones and ignore writes (${size} pages)`, () => {
      const m = longModeMachine(size);
      // mov ebx, 0xfee00020; mov dword [rbx], 0x1234; mov eax, [rbx]; movzx ecx, word [rbx+2]; hlt
      m.mem.ram.set([0xbb, 0x20, 0x00, 0xe0, 0xfe, 0xc7, 0x03, 0x34, 0x12, 0x00, 0x00, 0x8b, 0x03, 0x0f, 0xb7, 0x4b, 0x02, 0xf4], 0x1000);
      const exit = m.run(0, 1000);
      const c = m.cpus[0];
      expect(exit.kind).toBe(ExitKind.Shutdown); // HLT with IF=0
      expect(c.lo[0] >>> 0).toBe(0xffffffff);
      expect(c.lo[1] >>> 0).toBe(0xffff);
    });
  }
});
