// virtio-net against OASIS virtio 1.2 section 5.1 (features 5.1.3, config 5.1.4, header 5.1.6,
// transmit 5.1.6.2, receive 5.1.6.3) with the echo, switch and pcap backends, bhyve's MAC
// recipe (net_utils.c) and the conf syntax.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../fake-clock.js';
import { DeviceStatus } from '../virtio/virtio-spec.js';
import { TestDriver } from '../virtio-blk/test-driver.js';
import { defaultMac, formatMac, parseMac } from './mac.js';
import { createVirtioNet } from './net-config.js';
import { NetConfError, parseNetConf } from './net-options.js';
import { parsePcap, pcapGlobalHeader, pcapRecord } from './pcap.js';
import type { VirtioNet } from './virtio-net.js';

const dir = mkdtempSync(join(tmpdir(), 'hvsim-net-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const F_MTU = 1 << 3, F_MAC = 1 << 5, F_MRG_RXBUF = 1 << 15, F_STATUS = 1 << 16;
const RXQ = 0, TXQ = 1;
const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

function frame(dst: number[], src: Uint8Array | number[], payload: string): Uint8Array {
  const p = Buffer.from(payload);
  const f = new Uint8Array(14 + p.length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // IEEE 802 local experimental EtherType
  f.set(p, 14);
  return f;
}

interface Nic {
  nic: VirtioNet;
  d: TestDriver;
  outputs: Uint8Array[];
  inputs: Uint8Array[];
  hdr: number;
  /** Post `n` receive buffers of `len` bytes; returns their addresses. */
  postRx(n: number, len?: number): number[];
  send(f: Uint8Array): void;
  /** Frames received since the last call (header stripped), from used elements. */
  received(): Uint8Array[];
}

function makeNic(conf: string | null, opts: { slot?: number; vmname?: string; run?: object; clock?: FakeClock; legacy?: boolean; features?: number } = {}): Nic {
  const clock = opts.clock ?? new FakeClock();
  const outputs: Uint8Array[] = [];
  const inputs: Uint8Array[] = [];
  const nic = createVirtioNet({
    bus: 0,
    slot: opts.slot ?? 3,
    function: 0,
    conf,
    vmname: opts.vmname ?? 'vm0',
    run: opts.run ?? {},
    clock,
    hostInput: (_dev, data) => (inputs.push(data), data),
    hostOutput: (_dev, data) => void outputs.push(data),
  });
  const d = new TestDriver(nic);
  d.init(opts.features ?? 0xffff_ffff, opts.legacy ? 0 : 1);
  const hdr = opts.legacy ? 10 : 12;
  const rxBufs = new Map<number, number>(); // head -> addr
  let nextHead = 0;
  const n: Nic = {
    nic, d, outputs, inputs, hdr,
    postRx(count, len = 1526) {
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const [a] = d.post(RXQ, [{ len, write: true }]);
        rxBufs.set(nextHead, a);
        nextHead = (nextHead + 1) % 256;
        out.push(a);
      }
      d.notify(RXQ);
      return out;
    },
    send(f) {
      const h = new Uint8Array(hdr);
      d.submit(TXQ, [{ len: hdr, write: false, data: h }, { len: f.length, write: false, data: f }]);
    },
    received() {
      return d.takeUsed(RXQ).map((u) => d.bytes(rxBufs.get(u.id)!, u.len).slice(hdr));
    },
  };
  return n;
}

describe('MAC addresses (bhyve net_utils.c recipe)', () => {
  it('defaults to 00:a0:98 and the first 3 bytes of MD5("slot-function-vmname")', () => {
    const md5 = createHash('md5').update('3-0-vm0').digest();
    expect(Array.from(defaultMac(3, 0, 'vm0'))).toEqual([0x00, 0xa0, 0x98, md5[0], md5[1], md5[2]]);
  });

  it('is stable, universally administered unicast (bhyve does not set the local bit), and differs per slot and VM', () => {
    const m = defaultMac(4, 1, 'guest');
    expect(defaultMac(4, 1, 'guest')).toEqual(m);
    expect(m[0] & 1).toBe(0); // unicast (IEEE 802-2014 8.2.2, I/G bit)
    expect(m[0] & 2).toBe(0); // universally administered: the NetApp OUI is IEEE-assigned
    expect(formatMac(defaultMac(5, 1, 'guest'))).not.toBe(formatMac(m));
    expect(formatMac(defaultMac(4, 1, 'other'))).not.toBe(formatMac(m));
    expect(formatMac(m)).toMatch(/^00:a0:98(:[0-9a-f]{2}){3}$/);
  });

  it('parses mac= and refuses malformed, multicast and all-zero addresses', () => {
    expect(Array.from(parseMac('02:00:5e:10:00:01')!)).toEqual([2, 0, 0x5e, 0x10, 0, 1]);
    expect(parseMac('2:0:5e:10:0:1')).not.toBeNull();
    for (const bad of ['', '02:00:5e:10:00', '02:00:5e:10:00:01:02', '02:00:5e:10:00:zz', '01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '002:00:5e:10:00:01']) {
      expect(parseMac(bad)).toBeNull();
    }
  });
});

describe('virtio-net conf', () => {
  it('backends echo, pcap=, switch= with out=, mac=, mtu=', () => {
    expect(parseNetConf(null).backend).toEqual({ kind: 'none' });
    expect(parseNetConf('echo').backend).toEqual({ kind: 'echo' });
    expect(parseNetConf('pcap=in.pcap,out=o.pcap')).toMatchObject({ backend: { kind: 'pcap', path: 'in.pcap' }, outPcap: 'o.pcap' });
    expect(parseNetConf('switch=lan0,mac=02:00:00:00:00:01,mtu=9000')).toMatchObject({ backend: { kind: 'switch', name: 'lan0' }, mtu: 9000 });
  });

  it('errors name the offending option', () => {
    expect(() => parseNetConf('echo,mac=01:02:03:04:05:06')).toThrow('mac=01:02:03:04:05:06: invalid MAC address');
    expect(() => parseNetConf('echo,mac=zz')).toThrow(NetConfError);
    expect(() => parseNetConf('echo,bogus')).toThrow('unknown option bogus');
    expect(() => parseNetConf('tap0')).toThrow(/backend tap0 needs a host network/);
    expect(() => parseNetConf('echo,switch=a')).toThrow(/only one backend/);
    expect(() => parseNetConf('mtu=67')).toThrow(/mtu=67/);
    expect(() => parseNetConf('mtu=65536')).toThrow(/mtu=65536/);
    expect(() => parseNetConf('pcap=')).toThrow(/needs a value/);
  });

  it('an unreadable or truncated pcap is an error at creation', () => {
    expect(() => makeNic(`pcap=${join(dir, 'missing.pcap')}`)).toThrow(/cannot read/);
    const p = join(dir, 'trunc.pcap');
    writeFileSync(p, Buffer.concat([pcapGlobalHeader(), pcapRecord(0, new Uint8Array(60)).subarray(0, 40)]));
    expect(() => makeNic(`pcap=${p}`)).toThrow(/packet 1 is truncated/);
  });
});

describe('virtio-net device (5.1.3, 5.1.4)', () => {
  it('is device type 1 with receiveq1 and transmitq1, offering MAC and STATUS (and MTU when given), no offloads', () => {
    const { nic } = makeNic('echo');
    expect(nic.deviceType).toBe(1);
    expect(nic.queueMaxSizes).toHaveLength(2);
    expect(nic.deviceFeaturesLo & (F_MAC | F_STATUS)).toBe(F_MAC | F_STATUS);
    expect(nic.deviceFeaturesLo & (F_MTU | F_MRG_RXBUF | 0b11)).toBe(0);
    expect(makeNic('echo,mtu=1400').nic.deviceFeaturesLo & F_MTU).toBe(F_MTU);
  });

  it('config: mac at 0, status LINK_UP at 6, mtu at 10', () => {
    const { nic } = makeNic('echo,mac=02:11:22:33:44:55,mtu=1400');
    expect([0, 1, 2, 3, 4, 5].map((i) => nic.configRead(i, 1))).toEqual([2, 0x11, 0x22, 0x33, 0x44, 0x55]);
    expect(nic.configRead(6, 2)).toBe(1);
    expect(nic.configRead(10, 2)).toBe(1400);
    expect(Array.from(makeNic(null, { slot: 7, vmname: 'x' }).nic.mac)).toEqual(Array.from(defaultMac(7, 0, 'x')));
  });

  it('transmit: the frame after the 12-byte header goes to hostOutput; used len 0 (5.1.6.2)', () => {
    const n = makeNic(null);
    const f = frame(BROADCAST, n.nic.mac, 'hello');
    n.send(f);
    expect(n.outputs).toEqual([f]);
    expect(n.d.takeUsed(TXQ)).toEqual([{ id: 0, len: 0 }]);
  });

  it('a legacy driver without MRG_RXBUF uses the 10-byte header (5.1.6.1)', () => {
    const n = makeNic('echo', { legacy: true });
    const f = frame(BROADCAST, n.nic.mac, 'legacy');
    n.postRx(1);
    n.send(f);
    expect(n.outputs).toEqual([f]);
    const [got] = n.received();
    expect(Array.from(got.subarray(0, 6))).toEqual(Array.from(n.nic.mac));
  });

  it('echo: the frame comes back with the MACs swapped, a zero header with num_buffers 1, through hostInput', () => {
    const n = makeNic('echo');
    const [buf] = n.postRx(1);
    const peer = [0x02, 0, 0, 0, 0, 0x99];
    n.send(frame(peer, n.nic.mac, 'ping'));
    const got = n.received();
    expect(got).toEqual([frame(Array.from(n.nic.mac), peer, 'ping')]);
    const hdr = n.d.bytes(buf, 12);
    expect(Array.from(hdr)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]); // flags 0, GSO_NONE, num_buffers 1
    expect(n.inputs).toEqual(got);
  });

  it('a frame waits for a receive buffer, then arrives when the driver posts one', () => {
    const n = makeNic('echo');
    n.send(frame(BROADCAST, n.nic.mac, 'a'));
    n.send(frame(BROADCAST, n.nic.mac, 'b'));
    expect(n.received()).toEqual([]);
    n.postRx(1);
    expect(n.received().map((f) => Buffer.from(f.subarray(14)).toString())).toEqual(['a']);
    n.postRx(4);
    expect(n.received().map((f) => Buffer.from(f.subarray(14)).toString())).toEqual(['b']);
  });

  it('a frame larger than the receive buffer is dropped and the buffer returned empty', () => {
    const n = makeNic('echo');
    n.postRx(1, 20);
    n.send(frame(BROADCAST, n.nic.mac, 'x'.repeat(100)));
    expect(n.d.takeUsed(RXQ)).toEqual([{ id: 0, len: 0 }]);
  });

  it('hostile transmit chains (shorter than the header, empty, outside RAM) never throw; bad rings set NEEDS_RESET', () => {
    const n = makeNic('echo');
    expect(() => n.d.submit(TXQ, [{ len: 4, write: false, data: new Uint8Array(4) }])).not.toThrow();
    expect(n.outputs).toEqual([]);
    expect(n.d.takeUsed(TXQ)).toHaveLength(1);
    expect(() => n.d.submit(TXQ, [{ len: 12, write: false }, { addr: 0xffff_f000, len: 100, write: false }])).not.toThrow();
    expect(n.d.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
  });

  it('reset drops frames waiting for the guest', () => {
    const n = makeNic('echo');
    n.send(frame(BROADCAST, n.nic.mac, 'a'));
    n.d.transport.writeStatus(0);
    n.d.init(0xffff_ffff);
    n.postRx(1);
    expect(n.received()).toEqual([]);
  });
});

describe('virtual switch', () => {
  it('floods broadcasts to the other NICs of the run, then forwards learnt unicast to one port only', () => {
    const run = {};
    const a = makeNic('switch=lan', { slot: 3, run });
    const b = makeNic('switch=lan', { slot: 4, run });
    const c = makeNic('switch=lan', { slot: 5, run });
    const other = makeNic('switch=lan', { slot: 3, run: {} }); // another run: not connected
    for (const n of [a, b, c, other]) n.postRx(4);
    const hello = frame(BROADCAST, a.nic.mac, 'who');
    a.send(hello);
    expect(b.received()).toEqual([hello]);
    expect(c.received()).toEqual([hello]);
    expect(a.received()).toEqual([]); // never back to the sender
    expect(other.received()).toEqual([]);
    const reply = frame(Array.from(a.nic.mac), b.nic.mac, 'me');
    b.send(reply);
    expect(a.received()).toEqual([reply]);
    expect(c.received()).toEqual([]); // a's address was learnt
    const toUnknown = frame([0x02, 9, 9, 9, 9, 9], a.nic.mac, '?');
    a.send(toUnknown);
    expect(b.received()).toEqual([toUnknown]);
    expect(c.received()).toEqual([toUnknown]);
  });

  it('NICs on differently named switches do not see each other', () => {
    const run = {};
    const a = makeNic('switch=x', { slot: 3, run });
    const b = makeNic('switch=y', { slot: 4, run });
    b.postRx(1);
    a.send(frame(BROADCAST, a.nic.mac, 'hi'));
    expect(b.received()).toEqual([]);
  });
});

describe('pcap backend and capture', () => {
  it('offers the capture\'s frames at their spacing from DRIVER_OK, in virtual time, waiting for buffers', () => {
    const p = join(dir, 'in.pcap');
    const f1 = frame(BROADCAST, [2, 0, 0, 0, 0, 1], 'one');
    const f2 = frame(BROADCAST, [2, 0, 0, 0, 0, 1], 'two');
    const f3 = frame(BROADCAST, [2, 0, 0, 0, 0, 1], 'three');
    const base = 1_700_000_000 * 1e9; // a real capture's epoch time: only differences matter
    writeFileSync(p, Buffer.concat([pcapGlobalHeader(), pcapRecord(base, f1), pcapRecord(base + 5000, f2), pcapRecord(base + 1_000_000, f3)]));
    const clock = new FakeClock(777);
    const n = makeNic(`pcap=${p}`, { clock });
    n.postRx(1);
    clock.advanceBy(0);
    expect(n.received()).toEqual([f1]); // due at DRIVER_OK
    clock.advanceBy(4999);
    expect(n.received()).toEqual([]);
    clock.advanceBy(1); // 5000 ns after the first; no buffer yet
    expect(n.received()).toEqual([]);
    clock.advanceBy(2_000_000); // f3 due too: both wait
    n.postRx(4);
    expect(n.received()).toEqual([f2, f3]);
  });

  it('out= records the frames the guest sends with virtual-time stamps, readable by the pcap reader', () => {
    const out = join(dir, 'out.pcap');
    const clock = new FakeClock();
    const n = makeNic(`echo,out=${out}`, { clock });
    const f1 = frame(BROADCAST, n.nic.mac, 'x');
    const f2 = frame(BROADCAST, n.nic.mac, 'yy');
    clock.advanceBy(1_500_000_123);
    n.send(f1);
    clock.advanceBy(10);
    n.send(f2);
    n.nic.close();
    const bytes = new Uint8Array(readFileSync(out));
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(0xa1b23c4d); // nanosecond pcap
    const pk = parsePcap(bytes);
    expect(pk.map((x) => x.data)).toEqual([f1, f2]);
    expect(pk.map((x) => [x.sec, x.nsec])).toEqual([[1, 500_000_123], [1, 500_000_133]]);
  });
});

describe('pcap file format', () => {
  it('round-trips: global header magic, version 2.4, linktype 1; records', () => {
    const h = pcapGlobalHeader();
    const dv = new DataView(h.buffer);
    expect(dv.getUint16(4, true)).toBe(2);
    expect(dv.getUint16(6, true)).toBe(4);
    expect(dv.getUint32(20, true)).toBe(1);
    const data = Uint8Array.of(1, 2, 3);
    const parsed = parsePcap(new Uint8Array(Buffer.concat([h, pcapRecord(3e9 + 7, data)])));
    expect(parsed).toEqual([{ sec: 3, nsec: 7, data }]);
  });

  it('reads classic microsecond files (0xa1b2c3d4), big-endian too', () => {
    const le = new Uint8Array(24 + 16 + 2);
    const dv = new DataView(le.buffer);
    dv.setUint32(0, 0xa1b2c3d4, false); // written big-endian: a big-endian file
    dv.setUint16(4, 2, false);
    dv.setUint16(6, 4, false);
    dv.setUint32(16, 65535, false);
    dv.setUint32(20, 1, false);
    dv.setUint32(24, 10, false);
    dv.setUint32(28, 250, false); // µs
    dv.setUint32(32, 2, false);
    dv.setUint32(36, 2, false);
    le.set([0xab, 0xcd], 40);
    expect(parsePcap(le)).toEqual([{ sec: 10, nsec: 250_000, data: Uint8Array.of(0xab, 0xcd) }]);
  });

  it('refuses what it cannot deliver, with a clear message', () => {
    const h = pcapGlobalHeader();
    expect(() => parsePcap(h.subarray(0, 10))).toThrow(/truncated pcap global header/);
    const bad = h.slice();
    bad[0] = 0;
    expect(() => parsePcap(bad)).toThrow(/not a pcap file/);
    const wifi = h.slice();
    new DataView(wifi.buffer).setUint32(20, 105, true);
    expect(() => parsePcap(wifi)).toThrow(/linktype 105 is not Ethernet/);
    const v1 = h.slice();
    new DataView(v1.buffer).setUint16(4, 1, true);
    expect(() => parsePcap(v1)).toThrow(/version 1/);
    const rec = pcapRecord(0, new Uint8Array(10));
    expect(() => parsePcap(new Uint8Array(Buffer.concat([h, rec.subarray(0, 8)])))).toThrow(/packet 1 has a truncated record header/);
    expect(() => parsePcap(new Uint8Array(Buffer.concat([h, rec.subarray(0, 20)])))).toThrow(/packet 1 is truncated \(4 of 10 bytes\)/);
  });
});
