// Numbers of the virtio network device (OASIS virtio 1.2, section 5.1).

/** Feature bits (5.1.3). */
export const enum NetFeature {
  CSUM = 0,
  GUEST_CSUM = 1,
  MTU = 3,
  MAC = 5,
  MRG_RXBUF = 15,
  STATUS = 16,
  CTRL_VQ = 17,
}

/** Config space (5.1.4, struct virtio_net_config). */
export const enum NetConfig {
  MAC = 0, // u8[6]
  STATUS = 6, // le16
  MAX_VIRTQUEUE_PAIRS = 8, // le16
  MTU = 10, // le16
  SIZE = 12,
}

/** status: VIRTIO_NET_S_LINK_UP (5.1.4). */
export const VIRTIO_NET_S_LINK_UP = 1;

/** Virtqueues (5.1.2): receiveq1, transmitq1 (no control queue: CTRL_VQ is not offered). */
export const NET_RXQ = 0;
export const NET_TXQ = 1;

/** struct virtio_net_hdr (5.1.6): 12 bytes with VIRTIO_F_VERSION_1 or MRG_RXBUF (num_buffers
 *  present), 10 bytes for a legacy driver without MRG_RXBUF (5.1.6.1 legacy interface). */
export const NET_HDR_LEN = 12;
export const NET_HDR_LEN_LEGACY = 10;
/** num_buffers (le16) at byte 10 of the header. */
export const NET_HDR_NUM_BUFFERS = 10;

/** The largest frame hvsim carries: a 64 KiB IP datagram plus an Ethernet header with VLAN tag. */
export const NET_MAX_FRAME = 65535 + 18;
