// Register offsets and bits of the PCI configuration space (type 0 header), named as in
// PCI Local Bus Specification 3.0, 6.1-6.2 (figure 6-1) and 6.7-6.8 (capabilities, MSI, MSI-X).

// ---- Type 0 header (PCI 3.0, 6.1, figure 6-1) ----
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
/** Class code: programming interface (0x09), sub-class (0x0a), base class (0x0b). */
export const PCI_CLASS_PROG = 0x09;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BIST = 0x0f;
export const PCI_BAR0 = 0x10;
export const PCI_BAR_COUNT = 6;
export const PCI_CARDBUS_CIS = 0x28;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_EXPANSION_ROM = 0x30;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_MIN_GNT = 0x3e;
export const PCI_MAX_LAT = 0x3f;
/** First byte after the predefined header: where capabilities live (6.7). */
export const PCI_CAP_AREA = 0x40;
export const PCI_CONFIG_SIZE = 256;

/** Header Type bit 7: the device has more than one function (6.2.1). */
export const PCI_HEADER_MULTIFUNCTION = 0x80;

// ---- Command register bits (6.2.2, figure 6-2) ----
export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_PARITY = 0x0040;
export const PCI_COMMAND_SERR = 0x0100;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;
/** The command bits a function implements (the others are hardwired 0: special cycles, MWI,
 *  VGA snoop, fast back-to-back and wait cycle control are not meaningful here). */
export const PCI_COMMAND_WRITABLE =
  PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;

// ---- Status register bits (6.2.3, figure 6-3) ----
export const PCI_STATUS_INTERRUPT = 0x0008;
export const PCI_STATUS_CAP_LIST = 0x0010;
export const PCI_STATUS_MASTER_PARITY_ERROR = 0x0100;
export const PCI_STATUS_SIG_TARGET_ABORT = 0x0800;
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
export const PCI_STATUS_DETECTED_PARITY = 0x8000;
/** The error bits software clears by writing 1 (6.2.3: "bits ... can only be reset, never set"). */
export const PCI_STATUS_RW1C =
  PCI_STATUS_MASTER_PARITY_ERROR | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY;

// ---- Base Address Registers (6.2.5.1) ----
export const PCI_BAR_SPACE_IO = 0x01;
/** Memory BAR type bits 2:1 = 00: 32-bit. */
export const PCI_BAR_MEM_TYPE_32 = 0x00;
export const PCI_BAR_MEM_PREFETCH = 0x08;
export const PCI_BAR_IO_MASK = 0xfffffffc;
export const PCI_BAR_MEM_MASK = 0xfffffff0;

// ---- Capability IDs (PCI Code and ID Assignment, appendix H of PCI 3.0) ----
export const PCI_CAP_ID_PM = 0x01;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_VENDOR = 0x09;
export const PCI_CAP_ID_PCIE = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;
