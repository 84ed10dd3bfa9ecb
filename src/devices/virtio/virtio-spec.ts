// Numbers of the virtio 1.2 specification (OASIS, virtio-v1.2-cs01) shared by the core, the
// transports and the devices. Section numbers are the spec's.

/** Device status bits (2.1). */
export const enum DeviceStatus {
  ACKNOWLEDGE = 1,
  DRIVER = 2,
  DRIVER_OK = 4,
  FEATURES_OK = 8,
  DEVICE_NEEDS_RESET = 64,
  FAILED = 128,
}

/** Reserved feature bits (6). Bits >= 32 are given as (bit - 32) of the high word. */
export const enum FeatureBit {
  /** Legacy only (6.3): notify even with NO_INTERRUPT when the avail ring runs empty. Not offered. */
  NOTIFY_ON_EMPTY = 24,
  ANY_LAYOUT = 27,
  RING_INDIRECT_DESC = 28,
  RING_EVENT_IDX = 29,
  /** VIRTIO_F_VERSION_1 is bit 32: bit 0 of the high word. */
  VERSION_1_HI = 0,
}

/** Split virtqueue descriptor flags (2.7.5). */
export const enum DescFlag {
  NEXT = 1,
  WRITE = 2,
  INDIRECT = 4,
}

/** Avail ring flags (2.7.6) and used ring flags (2.7.8). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Size of one split-ring descriptor {le64 addr; le32 len; le16 flags; le16 next} (2.7.5). */
export const DESC_SIZE = 16;
/** The largest queue size of a split virtqueue (2.7: "The maximum Queue Size value is 32768"). */
export const MAX_QUEUE_SIZE = 32768;
/** Legacy ring alignment (4.1.4.8 / 2.7.2 legacy interface: QUEUE_PFN is in 4096-byte units). */
export const LEGACY_VRING_ALIGN = 4096;
export const LEGACY_PFN_SHIFT = 12;

/** ISR status bits (4.1.4.5). */
export const ISR_QUEUE = 1;
export const ISR_CONFIG = 2;

/** "No vector" for config_msix_vector / queue_msix_vector (4.1.4.3 / 4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** Virtio device types (5). */
export const enum VirtioDeviceType {
  NET = 1,
  BLOCK = 2,
  CONSOLE = 3,
  ENTROPY = 4,
  BALLOON = 5,
}

/** PCI identity (4.1.2): vendor 0x1AF4; transitional device IDs 0x1000-0x103f by type (4.1.2.3). */
export const VIRTIO_PCI_VENDOR = 0x1af4;
export function transitionalPciDeviceId(type: number): number {
  switch (type) {
    case VirtioDeviceType.NET: return 0x1000;
    case VirtioDeviceType.BLOCK: return 0x1001;
    case VirtioDeviceType.BALLOON: return 0x1002;
    case VirtioDeviceType.CONSOLE: return 0x1003;
    case VirtioDeviceType.ENTROPY: return 0x1005;
    default: return 0x1040 + type; // no transitional ID: the modern one (4.1.2.1)
  }
}

/** vring_need_event (2.7.7.2 / 2.7.10): must the other side be told that idx went old -> new? */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
