// The conf of `-s slot,virtio-net,conf`. bhyve's backends (tap, vmnet, netgraph, slirp) need a
// host network, which a deterministic simulation cannot have; hvsim's backends are peers it
// simulates itself. Syntax, in bhyve's comma-separated style:
//   (empty) | echo | pcap=IN.pcap | switch=NAME,  then optionally  out=OUT.pcap  mac=MAC  mtu=N
// Details in docs/devices/virtio-net.md.

import { parseMac } from './mac.js';

export type NetBackendSpec =
  | { kind: 'none' }
  | { kind: 'echo' }
  | { kind: 'pcap'; path: string }
  | { kind: 'switch'; name: string };

export interface NetOptions {
  backend: NetBackendSpec;
  /** Frames the guest sends are appended to this pcap file (any backend). */
  outPcap: string | null;
  /** `mac=`; null = bhyve's default (mac.ts). */
  mac: Uint8Array | null;
  /** `mtu=`: offered through VIRTIO_NET_F_MTU (virtio 1.2, 5.1.4); null = not offered. */
  mtu: number | null;
}

export class NetConfError extends Error {}

/** The MTU range hvsim accepts: 68 (RFC 791's minimum datagram) to 65535 (5.1.4: mtu is le16). */
export const MTU_MIN = 68;
export const MTU_MAX = 65535;

const HOST_BACKENDS = /^(tap|vmnet|netgraph|slirp|netmap|vale)/;

export function parseNetConf(conf: string | null): NetOptions {
  const o: NetOptions = { backend: { kind: 'none' }, outPcap: null, mac: null, mtu: null };
  if (conf === null || conf === '') return o;
  const setBackend = (b: NetBackendSpec, text: string) => {
    if (o.backend.kind !== 'none') throw new NetConfError(`${text}: only one backend (echo, pcap=, switch=) per NIC`);
    o.backend = b;
  };
  for (const opt of conf.split(',')) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? null : opt.slice(eq + 1);
    const need = (): string => {
      if (value === null || value === '') throw new NetConfError(`option ${key} needs a value (${key}=...)`);
      return value;
    };
    switch (key) {
      case 'echo':
        if (value !== null) throw new NetConfError('option echo takes no value');
        setBackend({ kind: 'echo' }, opt);
        break;
      case 'pcap':
        setBackend({ kind: 'pcap', path: need() }, opt);
        break;
      case 'switch': {
        const name = need();
        if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new NetConfError(`${opt}: a switch name is letters, digits, '_', '.' and '-'`);
        setBackend({ kind: 'switch', name }, opt);
        break;
      }
      case 'out':
        o.outPcap = need();
        break;
      case 'mac': {
        const mac = parseMac(need());
        if (mac === null) throw new NetConfError(`${opt}: invalid MAC address (expected xx:xx:xx:xx:xx:xx, unicast, not all zeros)`);
        o.mac = mac;
        break;
      }
      case 'mtu': {
        const v = need();
        const n = /^\d+$/.test(v) ? Number(v) : NaN;
        if (!(n >= MTU_MIN && n <= MTU_MAX)) throw new NetConfError(`${opt}: the MTU must be an integer from ${MTU_MIN} to ${MTU_MAX}`);
        o.mtu = n;
        break;
      }
      default:
        if (value === null && HOST_BACKENDS.test(key)) {
          throw new NetConfError(`backend ${key} needs a host network, which hvsim does not have; use echo, pcap=FILE or switch=NAME`);
        }
        throw new NetConfError(`unknown option ${opt}`);
    }
  }
  return o;
}
