// The conf of `-s slot,virtio-blk,conf`: bhyve's `path[,nocache][,direct][,sync][,ro]
// [,nodelete][,sectorsize=logical[/physical]][,ser=ID]` (bhyve(8), "Block storage device
// backends"). What each option means under hvsim is in docs/devices/virtio-blk.md.

import { createHash } from 'node:crypto';

export interface BlkOptions {
  path: string;
  readOnly: boolean;
  /** bhyve: O_DIRECT. hvsim: accepted, no effect (the host page cache is invisible to the guest). */
  nocache: boolean;
  /** bhyve `direct`/`sync`: O_SYNC, every write durable when it completes. */
  sync: boolean;
  /** bhyve: no TRIM. hvsim never offers DISCARD, so accepted with no effect. */
  nodelete: boolean;
  /** Logical block size (VIRTIO_BLK_F_BLK_SIZE), a power of two >= 512. */
  logicalSectorSize: number;
  /** Physical block size (VIRTIO_BLK_F_TOPOLOGY), a power of two >= logical. */
  physicalSectorSize: number;
  /** GET_ID answer (at most 20 bytes, virtio 1.2 5.2.6). */
  serial: string;
}

/** A conf that cannot be used; the message names the offending part (the caller prefixes the -s option). */
export class BlkConfError extends Error {}

/** The serial number bhyve gives a disk without `ser=`: "BHYVE-" and the first six bytes of the
 *  MD5 of the path, as XXXX-XXXX-XXXX (upper-case hex), 20 characters. */
export function defaultSerial(path: string): string {
  const d = createHash('md5').update(path, 'utf8').digest();
  const h = (i: number) => d[i].toString(16).toUpperCase().padStart(2, '0');
  return `BHYVE-${h(0)}${h(1)}-${h(2)}${h(3)}-${h(4)}${h(5)}`;
}

export const VIRTIO_BLK_ID_BYTES = 20;

export function parseBlkConf(conf: string | null): BlkOptions {
  if (conf === null || conf === '') throw new BlkConfError('missing disk image path (virtio-blk,path[,options])');
  const parts = conf.split(',');
  let path = parts[0];
  if (path.startsWith('path=')) path = path.slice(5);
  if (path === '') throw new BlkConfError('missing disk image path (virtio-blk,path[,options])');
  const o: BlkOptions = {
    path,
    readOnly: false,
    nocache: false,
    sync: false,
    nodelete: false,
    logicalSectorSize: 512,
    physicalSectorSize: 512,
    serial: '',
  };
  let serial: string | null = null;
  for (const opt of parts.slice(1)) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? null : opt.slice(eq + 1);
    const flag = (): true => {
      if (value !== null) throw new BlkConfError(`option ${key} takes no value`);
      return true;
    };
    switch (key) {
      case 'ro':
        o.readOnly = flag();
        break;
      case 'nocache':
        o.nocache = flag();
        break;
      case 'direct':
      case 'sync':
        o.sync = flag();
        break;
      case 'nodelete':
        o.nodelete = flag();
        break;
      case 'sectorsize': {
        const m = value === null ? null : /^(\d+)(?:\/(\d+))?$/.exec(value);
        if (m === null) throw new BlkConfError(`sectorsize=${value ?? ''}: expected logical[/physical]`);
        const logical = Number(m[1]);
        const physical = m[2] === undefined ? logical : Number(m[2]);
        if (!isSectorSize(logical)) throw new BlkConfError(`sectorsize=${value}: logical size ${m[1]} is not a power of two from 512 to 65536`);
        if (!isSectorSize(physical) || physical < logical) {
          throw new BlkConfError(`sectorsize=${value}: physical size ${m[2]} is not a power of two from the logical size to 65536`);
        }
        o.logicalSectorSize = logical;
        o.physicalSectorSize = physical;
        break;
      }
      case 'ser':
      case 'serial':
        if (value === null) throw new BlkConfError(`option ${key} needs a value (${key}=ID)`);
        if (!/^[\x20-\x7e]*$/.test(value)) throw new BlkConfError(`${key}=${value}: the serial must be printable ASCII`);
        if (value.length > VIRTIO_BLK_ID_BYTES) throw new BlkConfError(`${key}=${value}: the serial is longer than ${VIRTIO_BLK_ID_BYTES} characters`);
        serial = value;
        break;
      default:
        throw new BlkConfError(`unknown option ${opt}`);
    }
  }
  o.serial = serial ?? defaultSerial(path);
  return o;
}

function isSectorSize(n: number): boolean {
  return Number.isInteger(n) && n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
}
