// Traditional virtio memory balloon (virtio 1.2, 5.5).
//
// Queues (5.5.2): 0 inflateq, 1 deflateq, 2 statsq (used only with VIRTIO_BALLOON_F_STATS_VQ).
// Config (5.5.4): le32 num_pages @0 (the host's target, read-only to the driver), le32 actual
// @4 (written by the driver). Features offered: MUST_TELL_HOST (0), STATS_VQ (1),
// DEFLATE_ON_OOM (2).
//
// - Inflate/deflate buffers are arrays of le32 page frame numbers in 4096-byte units (5.5.6,
//   "regardless of the guest page size"). The ballooned set is a bitmap over guest RAM pages
//   (ordered, JSON-plain as a list of runs). A PFN outside RAM is ignored; a trailing partial
//   PFN (buffer length not a multiple of 4) is ignored; at most MAX_PFNS_PER_BUFFER are taken
//   from one buffer (hvsim's bound on the work one buffer costs; Linux sends at most 256).
// - Inflated pages keep their contents: hvsim's RAM is one host buffer, nothing is given
//   back to the host, so there is nothing to gain by zeroing (and 5.5.6.1 lets the driver
//   read the page only after deflating; PAGE_POISON is not offered).
// - Statistics (5.5.6.3): the device keeps the driver's stats buffer, parses its
//   {le16 tag; le64 val} entries (5.5.6.3: packed, 10 bytes), and gives it back when the host
//   asks for fresh statistics (requestStats), so the driver refills and re-posts it.
// - Host side: setTargetPages(n) sets num_pages and sends the configuration change
//   notification (5.5.6.2: the driver then inflates/deflates and updates actual).

import type { DeviceState } from '../device.js';
import { stateNum, stateNums } from '../state.js';
import type { DescriptorChain } from '../virtio/descriptor-chain.js';
import { readLe, type VirtioDeviceContext, type VirtioDeviceModel } from '../virtio/virtio-device.js';
import { VirtioDeviceType } from '../virtio/virtio-spec.js';
import type { Virtqueue } from '../virtio/virtqueue.js';

export const VIRTIO_BALLOON_F_MUST_TELL_HOST = 0;
export const VIRTIO_BALLOON_F_STATS_VQ = 1;
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2;
export const INFLATE_QUEUE = 0;
export const DEFLATE_QUEUE = 1;
export const STATS_QUEUE = 2;
export const BALLOON_QUEUE_SIZE = 128;
export const BALLOON_PAGE_SHIFT = 12;
export const MAX_PFNS_PER_BUFFER = 65536;
/** Config offsets (5.5.4). */
export const CFG_NUM_PAGES = 0;
export const CFG_ACTUAL = 4;
export const BALLOON_CONFIG_SIZE = 8;
/** Size of one packed stats entry {le16 tag; le64 val} (5.5.6.3). */
export const STAT_ENTRY_SIZE = 10;
/** Tags 0..15 are kept (5.5.6.3 defines 0-9 plus later ones); others are ignored. */
export const STAT_TAGS = 16;

/** Bytes of PFNs read from a buffer at a time (no allocation proportional to the buffer). */
const CHUNK = 4096;

export class VirtioBalloon implements VirtioDeviceModel {
  readonly deviceType = VirtioDeviceType.BALLOON;
  readonly deviceFeaturesLo = (1 << VIRTIO_BALLOON_F_MUST_TELL_HOST) | (1 << VIRTIO_BALLOON_F_STATS_VQ) | (1 << VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
  readonly deviceFeaturesHi = 0;
  readonly queueMaxSizes = [BALLOON_QUEUE_SIZE, BALLOON_QUEUE_SIZE, BALLOON_QUEUE_SIZE];
  readonly configSize = BALLOON_CONFIG_SIZE;
  /** One byte per 4 KiB guest RAM page: 1 = in the balloon. */
  readonly ballooned: Uint8Array;
  private balloonCount = 0;
  /** Host's target (config num_pages). */
  numPages = 0;
  /** Driver-reported balloon size (config actual). */
  actual = 0;
  /** Head of the stats buffer the device holds, or -1. */
  private statsHead = -1;
  /** Last statistics the driver reported: value per tag (lo/hi 32 bits), -1 lo when never reported. */
  private readonly statLo = new Array<number>(STAT_TAGS).fill(-1);
  private readonly statHi = new Array<number>(STAT_TAGS).fill(0);
  private ctx: VirtioDeviceContext | null = null;

  constructor(readonly name: string, ramBytes: number) {
    this.ballooned = new Uint8Array(Math.floor(ramBytes / (1 << BALLOON_PAGE_SHIFT)));
  }

  attach(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
  }

  // ---- Host side ----

  /** Set the balloon target in 4 KiB pages and tell the driver (config change interrupt). */
  setTargetPages(pages: number): void {
    const n = Number.isFinite(pages) && pages > 0 ? Math.min(Math.floor(pages), 0xffff_ffff) : 0;
    this.numPages = n;
    this.ctx?.configChanged();
  }

  /** Pages the guest has given to the balloon (per the inflate/deflate queues). */
  get balloonedPages(): number {
    return this.balloonCount;
  }

  isBallooned(pfn: number): boolean {
    return pfn >= 0 && pfn < this.ballooned.length && this.ballooned[pfn] !== 0;
  }

  /** The last value the driver reported for stats `tag`, or null (2^53 precision). */
  stat(tag: number): number | null {
    if (!(tag >= 0 && tag < STAT_TAGS) || this.statLo[tag] < 0) return null;
    return this.statHi[tag] * 0x1_0000_0000 + this.statLo[tag];
  }

  /** Ask the driver for fresh statistics: give back the stats buffer (5.5.6.3). */
  requestStats(): boolean {
    const ctx = this.ctx;
    if (ctx === null || this.statsHead < 0) return false;
    const q = ctx.queue(STATS_QUEUE);
    q.pushUsedHead(this.statsHead, 0);
    this.statsHead = -1;
    q.notifyDriver();
    return true;
  }

  // ---- Config space (5.5.4) ----

  configRead(offset: number, size: number): number {
    const v = offset < 4 ? this.numPages : this.actual;
    const shift = (offset & 3) * 8;
    if (shift + size * 8 > 32) return 0;
    return size === 4 ? v >>> 0 : (v >>> shift) & (size === 2 ? 0xffff : 0xff);
  }

  configWrite(offset: number, size: number, value: number): void {
    if (offset < CFG_ACTUAL) return; // num_pages is the device's
    const shift = (offset - CFG_ACTUAL) * 8;
    if (shift + size * 8 > 32) return;
    const mask = size === 4 ? 0xffff_ffff : ((size === 2 ? 0xffff : 0xff) << shift) >>> 0;
    this.actual = ((this.actual & ~mask) | ((value << shift) & mask)) >>> 0;
  }

  // ---- Queues ----

  queueNotify(queue: Virtqueue): void {
    if (queue.index === STATS_QUEUE) { this.statsNotify(queue); return; }
    const inflate = queue.index === INFLATE_QUEUE;
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      this.takePfns(chain, inflate);
      queue.pushUsed(chain, 0);
    }
    queue.notifyDriver();
  }

  private takePfns(chain: DescriptorChain, inflate: boolean): void {
    const total = Math.min(Math.floor(chain.readableLength / 4), MAX_PFNS_PER_BUFFER) * 4;
    const map = this.ballooned;
    for (let off = 0; off < total; off += CHUNK) {
      const bytes = chain.read(off, Math.min(CHUNK, total - off));
      if (bytes === null) return;
      for (let i = 0; i + 4 <= bytes.length; i += 4) {
        const pfn = (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0;
        if (pfn >= map.length) continue;
        const was = map[pfn];
        if (inflate && was === 0) { map[pfn] = 1; this.balloonCount++; }
        else if (!inflate && was !== 0) { map[pfn] = 0; this.balloonCount--; }
      }
    }
  }

  private statsNotify(queue: Virtqueue): void {
    if (this.ctx === null || !this.ctx.hasFeature(VIRTIO_BALLOON_F_STATS_VQ)) return;
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      // A driver posting a second buffer while we hold one: return the older one unused.
      if (this.statsHead >= 0) queue.pushUsedHead(this.statsHead, 0);
      this.parseStats(chain);
      this.statsHead = chain.head;
    }
    queue.notifyDriver();
  }

  private parseStats(chain: DescriptorChain): void {
    const n = Math.min(Math.floor(chain.readableLength / STAT_ENTRY_SIZE), 256);
    const bytes = chain.read(0, n * STAT_ENTRY_SIZE);
    if (bytes === null) return;
    for (let i = 0; i < n; i++) {
      const at = i * STAT_ENTRY_SIZE;
      const tag = readLe(bytes, at, 2);
      if (tag >= STAT_TAGS) continue;
      this.statLo[tag] = readLe(bytes, at + 2, 4);
      this.statHi[tag] = readLe(bytes, at + 6, 4);
    }
  }

  reset(): void {
    // The host's target survives a driver reset; the balloon contents and `actual` do not.
    this.ballooned.fill(0);
    this.balloonCount = 0;
    this.actual = 0;
    this.statsHead = -1;
    this.statLo.fill(-1);
    this.statHi.fill(0);
  }

  saveState(): DeviceState {
    // Ballooned pages as [start, length] runs in page order.
    const runs: number[] = [];
    const map = this.ballooned;
    for (let p = 0; p < map.length; p++) {
      if (map[p] === 0) continue;
      let end = p;
      while (end < map.length && map[end] !== 0) end++;
      runs.push(p, end - p);
      p = end;
    }
    return { numPages: this.numPages, actual: this.actual, statsHead: this.statsHead, statLo: this.statLo.slice(), statHi: this.statHi.slice(), runs };
  }

  loadState(s: DeviceState): void {
    this.numPages = stateNum(s, 'numPages');
    this.actual = stateNum(s, 'actual');
    this.statsHead = stateNum(s, 'statsHead');
    const lo = stateNums(s, 'statLo', STAT_TAGS);
    const hi = stateNums(s, 'statHi', STAT_TAGS);
    for (let i = 0; i < STAT_TAGS; i++) { this.statLo[i] = lo[i]; this.statHi[i] = hi[i]; }
    const runs = stateNums(s, 'runs');
    this.ballooned.fill(0);
    this.balloonCount = 0;
    for (let i = 0; i + 1 < runs.length; i += 2) {
      const end = Math.min(runs[i] + runs[i + 1], this.ballooned.length);
      for (let p = Math.max(0, Math.floor(runs[i])); p < end; p++) {
        if (this.ballooned[p] === 0) { this.ballooned[p] = 1; this.balloonCount++; }
      }
    }
  }
}
