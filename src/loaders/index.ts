// Guest image loaders, apart from the machine (in the manner of rust-vmm's linux-loader):
// they write into guest RAM through GuestMemory's checked accessors and return plain data
// describing where things went and the CPU state the machine must set.

export { LoaderError, type LoaderErrorCode } from './errors.js';
export { loadFlat, type FlatLoadResult } from './flat.js';
export {
  EM_386,
  EM_X86_64,
  PF_R,
  PF_W,
  PF_X,
  isElf,
  loadElf,
  parseElf,
  type ElfImage,
  type ElfLoadResult,
  type ElfOptions,
  type ElfPlacement,
  type ElfSegment,
} from './elf.js';
export {
  E820_ACPI,
  E820_NVS,
  E820_RAM,
  E820_RESERVED,
  E820_UNUSABLE,
  checkE820,
  defaultE820,
  type E820Entry,
} from './e820.js';
export type { GuestRange } from './guest-ram.js';
export {
  CR0_ET,
  CR0_PE,
  EFLAGS_FIXED,
  EFLAGS_IF,
  EFLAGS_VM,
  FLAT_CODE_SELECTOR,
  FLAT_DATA_SELECTOR,
  type DescriptorTableState,
  type ProtectedModeEntryState,
  type SegmentState,
} from './boot-state.js';
export {
  MULTIBOOT_AOUT_KLUDGE,
  MULTIBOOT_HEADER_MAGIC,
  MULTIBOOT_MEMORY_INFO,
  MULTIBOOT_PAGE_ALIGN,
  MULTIBOOT_VIDEO_MODE,
  findMultibootHeader,
  type MultibootAddressFields,
  type MultibootHeader,
} from './multiboot-header.js';
export { MULTIBOOT_BOOTLOADER_MAGIC } from './multiboot-info.js';
export {
  BOOT_LOADER_NAME,
  DEFAULT_MULTIBOOT_INFO_ADDRESS,
  loadMultiboot,
  multibootEntryState,
  qemuStyleCmdline,
  type MultibootInfo,
  type MultibootKernel,
  type MultibootKernelSegment,
  type MultibootLoadResult,
  type MultibootModule,
  type MultibootOptions,
  type MultibootPlacedModule,
} from './multiboot.js';
export {
  BOOT_CS,
  BOOT_DS,
  LINUX_BOOT_PARAMS_ADDRESS,
  LINUX_CMDLINE_ADDRESS,
  isBzImage,
  linuxEntryState,
  loadBzImage,
  type BzImageLoadResult,
  type BzImageOptions,
} from './bzimage.js';
export { parseSetupHeader, encodeBootParams, type SetupHeader, type BootParamsFields } from './linux-boot-params.js';
