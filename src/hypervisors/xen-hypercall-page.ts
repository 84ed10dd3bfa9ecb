// The hypercall page Xen writes for an HVM guest (spec digest §5.1; xen/arch/x86/domain.c
// init_hypercall_page, hvm/vmx/vmx.c vmx_init_hypercall_page, hvm/svm/svm.c): the page is first
// filled with 0xCC (int3), then 128 stubs of 32 bytes: stub i is `mov eax, i` (B8 imm32), VMCALL
// (0F 01 C1; VMMCALL 0F 01 D9 on AMD), `ret` (C3). Stub 23 (__HYPERVISOR_iret, PV only) is a
// bare `ud2` (0F 0B).

import { HYPERVISOR_iret } from './xen-abi.js';

export const XEN_HYPERCALL_STUB_SIZE = 32;
export const XEN_HYPERCALL_PAGE_SIZE = 4096;

export function buildXenHypercallPage(amd = false): Uint8Array {
  const p = new Uint8Array(XEN_HYPERCALL_PAGE_SIZE).fill(0xcc);
  for (let i = 0; i < XEN_HYPERCALL_PAGE_SIZE / XEN_HYPERCALL_STUB_SIZE; i++) {
    const o = i * XEN_HYPERCALL_STUB_SIZE;
    if (i === HYPERVISOR_iret) {
      p[o] = 0x0f;
      p[o + 1] = 0x0b;
      continue;
    }
    p[o] = 0xb8;
    p[o + 1] = i; // imm32 = i (i < 128)
    p[o + 2] = p[o + 3] = p[o + 4] = 0;
    p[o + 5] = 0x0f;
    p[o + 6] = 0x01;
    p[o + 7] = amd ? 0xd9 : 0xc1;
    p[o + 8] = 0xc3;
  }
  return p;
}
