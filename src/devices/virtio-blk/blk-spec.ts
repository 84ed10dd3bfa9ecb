// Numbers of the virtio block device (OASIS virtio 1.2, section 5.2).

/** Feature bits (5.2.3). */
export const enum BlkFeature {
  SIZE_MAX = 1,
  SEG_MAX = 2,
  GEOMETRY = 4,
  RO = 5,
  BLK_SIZE = 6,
  FLUSH = 9,
  TOPOLOGY = 10,
  CONFIG_WCE = 11,
  DISCARD = 13,
  WRITE_ZEROES = 14,
}

/** Request types (5.2.6). */
export const enum BlkRequestType {
  IN = 0,
  OUT = 1,
  FLUSH = 4,
  GET_ID = 8,
  GET_LIFETIME = 10,
  DISCARD = 11,
  WRITE_ZEROES = 13,
  SECURE_ERASE = 14,
}

/** Status byte values (5.2.6). */
export const enum BlkStatus {
  OK = 0,
  IOERR = 1,
  UNSUPP = 2,
}

/** struct virtio_blk_req header: le32 type, le32 reserved, le64 sector (5.2.6). */
export const BLK_REQ_HEADER = 16;
/** `sector` counts 512-byte units whatever blk_size says (5.2.6). */
export const BLK_SECTOR = 512;
/** GET_ID answers 20 bytes (5.2.6: VIRTIO_BLK_ID_BYTES). */
export const BLK_ID_BYTES = 20;

/** Config space offsets (5.2.4, struct virtio_blk_config). */
export const enum BlkConfig {
  CAPACITY = 0, // le64
  SIZE_MAX = 8, // le32
  SEG_MAX = 12, // le32
  GEOMETRY = 16, // le16 cylinders, u8 heads, u8 sectors
  BLK_SIZE = 20, // le32
  PHYSICAL_BLOCK_EXP = 24, // u8 (topology)
  ALIGNMENT_OFFSET = 25, // u8
  MIN_IO_SIZE = 26, // le16
  OPT_IO_SIZE = 28, // le32
  WRITEBACK = 32, // u8
  NUM_QUEUES = 34, // le16
  /** The fields up to and including num_queues: what hvsim exposes (the rest belong to
   *  DISCARD / WRITE_ZEROES / SECURE_ERASE, not offered). */
  SIZE = 36,
}
