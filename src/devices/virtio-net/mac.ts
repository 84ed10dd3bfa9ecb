// Ethernet MAC addresses of virtio-net: the `mac=` option and bhyve's default.
//
// bhyve (usr.sbin/bhyve/net_utils.c, read for the recipe) gives a NIC without `mac=` the OUI
// 00:a0:98 followed by the first three bytes of the MD5 digest of "<slot>-<function>-<vmname>".
// The OUI is a real, universally administered one, so the address is not marked locally
// administered; hvsim follows bhyve so a guest sees the MAC it would under bhyve.

import { createHash } from 'node:crypto';

/** The default OUI bhyve uses (IEEE-assigned, universally administered). */
export const BHYVE_OUI: readonly number[] = [0x00, 0xa0, 0x98];

/** bhyve's default MAC for the NIC at `slot`:`fn` of VM `vmname`. */
export function defaultMac(slot: number, fn: number, vmname: string): Uint8Array {
  const digest = createHash('md5').update(`${slot}-${fn}-${vmname}`, 'utf8').digest();
  return Uint8Array.of(BHYVE_OUI[0], BHYVE_OUI[1], BHYVE_OUI[2], digest[0], digest[1], digest[2]);
}

/**
 * Parse `xx:xx:xx:xx:xx:xx` (hex, one or two digits per byte, ':' or '-' separators as
 * ether_aton accepts). Null if malformed, a multicast/broadcast address (bit 0 of the first byte:
 * IEEE 802-2014 8.2.2; a NIC's own address must be unicast) or all zeros.
 */
export function parseMac(text: string): Uint8Array | null {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6) return null;
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i])) return null;
    mac[i] = parseInt(parts[i], 16);
  }
  if ((mac[0] & 1) !== 0) return null;
  if (mac.every((b) => b === 0)) return null;
  return mac;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
