// Builds a VirtioNet from its `-s` conf: options, MAC, backend, capture file. Host-side problems
// (an unreadable pcap, an unwritable capture) are errors here, before the guest starts.

import type { DeviceClock } from '../device.js';
import { pciAddressName } from '../pci/pci-host.js';
import { defaultMac } from './mac.js';
import { EchoBackend, NullBackend, RxQueue, type NetBackend } from './net-backend.js';
import { parseNetConf, type NetOptions } from './net-options.js';
import { PcapInputBackend } from './pcap-backend.js';
import { PcapWriter, readPcapFile } from './pcap.js';
import { SwitchBackend, switchFor } from './virtual-switch.js';
import { VirtioNet } from './virtio-net.js';

export interface VirtioNetSetup {
  bus: number;
  slot: number;
  function: number;
  conf: string | null;
  vmname: string;
  /** An object shared by every device of the run (switches are per run): the guest memory. */
  run: object;
  clock: DeviceClock;
  hostInput(device: string, data: Uint8Array): Uint8Array;
  hostOutput(device: string, data: Uint8Array): void;
  /** A replay: `out=` is not opened (a replay must not write host files). */
  replay?: boolean;
}

/** "virtio-net@00:03.0": the device name in traces (hostInput/hostOutput) and messages. */
export function netDeviceName(bus: number, slot: number, fn: number): string {
  return `virtio-net@${pciAddressName(bus, slot, fn)}`;
}

/** Throws NetConfError / PcapError with a one-line message (the caller prefixes the -s option). */
export function createVirtioNet(s: VirtioNetSetup): VirtioNet {
  const o: NetOptions = parseNetConf(s.conf);
  const rx = new RxQueue();
  let backend: NetBackend;
  switch (o.backend.kind) {
    case 'echo':
      backend = new EchoBackend(rx);
      break;
    case 'pcap':
      backend = new PcapInputBackend(o.backend.path, readPcapFile(o.backend.path), rx, s.clock);
      break;
    case 'switch':
      backend = new SwitchBackend(switchFor(s.run, o.backend.name), rx);
      break;
    default:
      backend = new NullBackend();
  }
  const capture = o.outPcap === null || s.replay === true ? null : new PcapWriter(o.outPcap);
  return new VirtioNet({
    name: netDeviceName(s.bus, s.slot, s.function),
    mac: o.mac ?? defaultMac(s.slot, s.function, s.vmname),
    mtu: o.mtu,
    rx,
    backend,
    capture,
    clock: s.clock,
    hostInput: s.hostInput,
    hostOutput: s.hostOutput,
  });
}
