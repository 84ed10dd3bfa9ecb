// Decoded-instruction store: struct-of-arrays in typed arrays, indexed by slot number,
// so the hot loop allocates nothing. Slots are reused after a full flush.

export const enum Info {
  OSIZE_MASK = 3, // Size code: 0=8, 1=16, 2=32, 3=64
  ASIZE_SHIFT = 2, // address size code: 1=16, 2=32, 3=64
  SEG_SHIFT = 4, // effective segment for the memory operand (0-5)
  MEM = 1 << 7, // ModRM names a memory operand
  REP_SHIFT = 8, // 1 = F3 (REP/REPE), 2 = F2 (REPNE)
  LOCK = 1 << 10,
  REX = 1 << 11,
  LEN_SHIFT = 12, // instruction length, 4 bits
  REG_SHIFT = 16, // ModRM.reg (+REX.R), or 16-19 for AH/CH/DH/BH; 5 bits
  RM_SHIFT = 21, // ModRM.rm register (+REX.B) or the opcode's register; 5 bits
  SEGOVR = 1 << 26, // an explicit segment prefix was given
  OPSIZE_PREFIX = 1 << 27, // 66 was present (SSE mandatory prefix)
  REXW = 1 << 28,
}

export const enum Ea {
  NONE = 16,
  RIP = 17,
  INDEX_SHIFT = 5,
  SCALE_SHIFT = 10,
}

/** Most decoded instructions kept before the cache is flushed (about 1 MiB of guest code). */
export const SLOT_CAPACITY = 1 << 19;
const INITIAL_SLOTS = 1 << 12;

export class DecodedStore {
  op = new Int32Array(INITIAL_SLOTS);
  info = new Int32Array(INITIAL_SLOTS);
  ea = new Int32Array(INITIAL_SLOTS);
  disp = new Int32Array(INITIAL_SLOTS);
  imm = new Int32Array(INITIAL_SLOTS);
  imm2 = new Int32Array(INITIAL_SLOTS);
  /** Instructions left in the straight-line block from this slot on, this one included (>= 1):
   *  slots d..d+rem[d]-1 are consecutive instructions with no control transfer before the last. */
  rem = new Int32Array(INITIAL_SLOTS);
  /** Next free slot; slot 0 is the scratch slot for instructions that are not cached. */
  next = 1;

  /** True when no slot is left even after growing: the caller flushes the cache. */
  get full(): boolean {
    return this.next >= SLOT_CAPACITY;
  }

  /** Make room for one more slot (doubling the arrays up to SLOT_CAPACITY). */
  reserve(): void {
    if (this.next < this.op.length || this.op.length >= SLOT_CAPACITY) return;
    const n = Math.min(this.op.length * 2, SLOT_CAPACITY);
    const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.op = grow(this.op);
    this.info = grow(this.info);
    this.ea = grow(this.ea);
    this.disp = grow(this.disp);
    this.imm = grow(this.imm);
    this.imm2 = grow(this.imm2);
    this.rem = grow(this.rem);
  }
}
