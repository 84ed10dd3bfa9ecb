// Guest physical memory: one ArrayBuffer of RAM plus MMIO windows.
//
// The CPU reads RAM through `ram`/`view` directly on its fast path (after its TLB has
// resolved a physical address). Everything else — device DMA, loaders, hypervisor
// personalities reading guest structures — goes through the checked accessors here
// (readBytes/writeBytes/read32/...), which never throw a host exception for a bad guest
// address: they return false / null so the caller can give the architectural answer.

/** A memory-mapped device window. Offsets are relative to the window base. */
export interface MmioHandler {
  /** size is 1, 2, 4 or 8 (8 as two 4-byte calls is acceptable for devices that say so). */
  mmioRead(offset: number, size: number): number;
  mmioWrite(offset: number, size: number, value: number): void;
}

export interface MmioRegion {
  base: number;
  length: number;
  handler: MmioHandler;
  name: string;
}

/** What each vCPU installs so the others' stores reach its decoded-instruction cache. */
export interface CodeCacheHooks {
  /** Page `physPage`, decoded by this vCPU, was written: drop what was decoded from it. */
  invalidate(physPage: number): void;
  /** Page `physPage` became a code page (of any vCPU): drop write fast-path entries to it. */
  dropWrites(physPage: number): void;
}

export class GuestMemory {
  readonly ram: Uint8Array;
  readonly view: DataView;
  /** Size of RAM in bytes (RAM occupies guest physical [0, size)). */
  readonly size: number;
  /** Per 4 KiB RAM page: bit i set while vCPU i has decoded code from it (vCPUs set, writes clear). */
  readonly codePages: Uint16Array;
  /** Sorted by base, non-overlapping. Iterated in order (deterministic). */
  readonly mmio: MmioRegion[] = [];
  /** Per vCPU: its decoded-code cache hooks (see attachCodeCache). */
  private readonly codeCaches: CodeCacheHooks[] = [];
  /** Called before any MMIO access, so the machine can bring the clock to the exact icount. */
  mmioHook: (() => void) | null = null;
  /** Sees every MMIO access (the machine's recorder): for a read, returns the value the guest gets. */
  mmioTap: ((write: boolean, pa: number, size: number, value: number) => number) | null = null;

  constructor(size: number) {
    if (!Number.isInteger(size) || size <= 0 || size % 4096 !== 0) {
      throw new RangeError(`guest RAM size must be a positive multiple of 4 KiB, got ${size}`);
    }
    if (size > 0xe000_0000) {
      throw new RangeError('guest RAM above 3.5 GiB is not supported (the PCI/APIC hole starts there)');
    }
    this.size = size;
    this.ram = new Uint8Array(size);
    this.view = new DataView(this.ram.buffer);
    this.codePages = new Uint16Array(size >>> 12);
  }

  /** Map an MMIO window. Windows may not overlap each other; they take precedence over RAM. */
  addMmio(base: number, length: number, handler: MmioHandler, name: string): void {
    const end = base + length;
    for (const r of this.mmio) {
      if (base < r.base + r.length && r.base < end) {
        throw new Error(`MMIO window ${name} overlaps ${r.name}`);
      }
    }
    this.mmio.push({ base, length, handler, name });
    this.mmio.sort((a, b) => a.base - b.base);
    this.mmioFloor = this.mmio[0].base;
  }

  /**
   * The lowest MMIO base (+Infinity without windows). The platform's windows (APICs, HPET,
   * PCI BARs) all lie above RAM, so an address below this is RAM or nothing without a search:
   * the CPU's slow paths and page walks ask on every TLB miss.
   */
  mmioFloor = Infinity;

  /** Unmap the MMIO window that starts at `base`; false if there is none. */
  removeMmio(base: number): boolean {
    const idx = this.mmio.findIndex((r) => r.base === base);
    if (idx < 0) return false;
    this.mmio.splice(idx, 1);
    this.mmioFloor = this.mmio.length === 0 ? Infinity : this.mmio[0].base;
    return true;
  }

  findMmio(pa: number): MmioRegion | null {
    if (pa < this.mmioFloor) return null;
    const list = this.mmio;
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      if (pa >= r.base && pa < r.base + r.length) return r;
    }
    return null;
  }

  /** True if [pa, pa+len) lies wholly in RAM. */
  isRam(pa: number, len: number): boolean {
    return Number.isInteger(pa) && Number.isInteger(len) && pa >= 0 && len >= 0 && pa + len <= this.size && this.findMmioOverlap(pa, len) === null;
  }

  private findMmioOverlap(pa: number, len: number): MmioRegion | null {
    if (pa + len <= this.mmioFloor) return null;
    for (const r of this.mmio) if (pa < r.base + r.length && r.base < pa + len) return r;
    return null;
  }

  /** vCPU `id` (0-15) joins: its cache hears about writes to pages it decoded. */
  attachCodeCache(id: number, hooks: CodeCacheHooks): void {
    this.codeCaches[id] = hooks;
  }

  /** vCPU `id` decoded code from `page`: writes to it must reach that vCPU, and no vCPU may keep
   *  a write fast path to it (stores from any vCPU must be seen, SDM vol. 3, 8.1.3). */
  markCodePage(page: number, id: number): void {
    const before = this.codePages[page];
    this.codePages[page] = before | (1 << id);
    if (before === 0) for (const c of this.codeCaches) c?.dropWrites(page);
  }

  /** vCPU `id` no longer has code decoded from `page`. */
  unmarkCodePage(page: number, id: number): void {
    this.codePages[page] &= ~(1 << id);
  }

  /** Notify the decoded-instruction caches that [pa, pa+len) changed. */
  noteWrite(pa: number, len: number): void {
    const first = pa >>> 12;
    const last = (pa + len - 1) >>> 12;
    for (let p = first; p <= last; p++) {
      const owners = this.codePages[p];
      if (owners === 0) continue;
      for (let id = 0; id < this.codeCaches.length; id++) if ((owners >>> id) & 1) this.codeCaches[id].invalidate(p);
    }
  }

  // ---- Physical accesses used by the CPU slow path (RAM or MMIO, unmapped reads as all-ones) ----

  physRead(pa: number, size: number): number {
    if (pa < 0) return size === 4 ? -1 : size === 2 ? 0xffff : 0xff; // never a valid address
    if (pa + size <= this.size && pa + size <= this.mmioFloor) return this.ramRead(pa, size);
    const r = this.findMmio(pa);
    if (r !== null) {
      this.mmioHook?.();
      const v = r.handler.mmioRead(pa - r.base, size);
      return this.mmioTap === null ? v : this.mmioTap(false, pa, size, v);
    }
    if (pa + size <= this.size) return this.ramRead(pa, size);
    // Unbacked physical memory reads as all ones, writes are dropped (PC behaviour).
    return size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
  }

  physWrite(pa: number, size: number, value: number): void {
    if (pa < 0) return;
    const r = this.mmio.length === 0 ? null : this.findMmio(pa);
    if (r !== null) {
      this.mmioHook?.();
      this.mmioTap?.(true, pa, size, value);
      r.handler.mmioWrite(pa - r.base, size, value);
      return;
    }
    if (pa + size > this.size) return;
    if (size === 1) this.ram[pa] = value;
    else if (size === 2) this.view.setUint16(pa, value & 0xffff, true);
    else this.view.setInt32(pa, value | 0, true);
    if (this.codePages[pa >>> 12] !== 0 || this.codePages[(pa + size - 1) >>> 12] !== 0) this.noteWrite(pa, size);
  }

  private ramRead(pa: number, size: number): number {
    if (size === 1) return this.ram[pa];
    if (size === 2) return this.view.getUint16(pa, true);
    return this.view.getInt32(pa, true);
  }

  // ---- Checked accessors for DMA, loaders and hypervisor structures (RAM only) ----

  /** A copy of guest RAM [gpa, gpa+len), or null if any byte is outside RAM. */
  readBytes(gpa: number, len: number): Uint8Array | null {
    if (!this.isRam(gpa, len)) return null;
    return this.ram.slice(gpa, gpa + len);
  }

  /** Write bytes into guest RAM; false (and nothing written) if any byte is outside RAM. */
  writeBytes(gpa: number, data: Uint8Array): boolean {
    if (!this.isRam(gpa, data.length)) return false;
    this.ram.set(data, gpa);
    this.noteWrite(gpa, data.length);
    return true;
  }

  read8(gpa: number): number | null {
    return this.isRam(gpa, 1) ? this.ram[gpa] : null;
  }
  read16(gpa: number): number | null {
    return this.isRam(gpa, 2) ? this.view.getUint16(gpa, true) : null;
  }
  /** Unsigned 32-bit value, or null. */
  read32(gpa: number): number | null {
    return this.isRam(gpa, 4) ? this.view.getUint32(gpa, true) : null;
  }
  write8(gpa: number, v: number): boolean {
    if (!this.isRam(gpa, 1)) return false;
    this.ram[gpa] = v;
    this.noteWrite(gpa, 1);
    return true;
  }
  write16(gpa: number, v: number): boolean {
    if (!this.isRam(gpa, 2)) return false;
    this.view.setUint16(gpa, v & 0xffff, true);
    this.noteWrite(gpa, 2);
    return true;
  }
  write32(gpa: number, v: number): boolean {
    if (!this.isRam(gpa, 4)) return false;
    this.view.setUint32(gpa, v >>> 0, true);
    this.noteWrite(gpa, 4);
    return true;
  }
  /** Write a 64-bit value given as two 32-bit halves. */
  write64(gpa: number, lo: number, hi: number): boolean {
    if (!this.isRam(gpa, 8)) return false;
    this.view.setUint32(gpa, lo >>> 0, true);
    this.view.setUint32(gpa + 4, hi >>> 0, true);
    this.noteWrite(gpa, 8);
    return true;
  }
}
