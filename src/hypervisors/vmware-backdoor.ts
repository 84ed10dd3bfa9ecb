// The VMware backdoor's register ABI (spec digest §4.1-§4.3; open-vm-tools backdoor_def.h,
// message.c; OpenBSD vmt.c): a 32-bit IN from port 0x5658 with EAX = 'VMXh' runs the command
// in CX, and REP OUTSB / REP INSB on port 0x5659 move GuestRPC payloads in one instruction.
//
// The machine calls us once per byte of a string instruction, with RCX still counting the byte
// in flight, so a high-bandwidth transfer is tracked per vCPU from its first byte (RCX = the
// whole count, checked then) to its last; a REP restarted after a fault continues it.

import type { GuestRegs, HypervisorHost } from './personality.js';
import { GuestRpc, MessageStatus, MessageType, type Channel } from './vmware-guestrpc.js';
import { VmwareToolsHost } from './vmware-rpci.js';

/** §4.1 */
export const BDOOR_MAGIC = 0x564d5868;
export const BDOOR_PORT = 0x5658;
export const BDOOR_HB_PORT = 0x5659;

/** Commands in CX (§4.2; backdoor_def.h). */
export const BackdoorCommand = {
  GETMHZ: 1,
  GETVERSION: 10,
  GETMEMSIZE: 20,
  MESSAGE: 30,
  GETHZ: 45,
  GETTIMEFULL: 46,
  GET_VCPU_INFO: 68,
} as const;

/** High-bandwidth command in EBX low 16 (backdoor_def.h BDOORHB_CMD_MESSAGE). */
export const HB_CMD_MESSAGE = 0;
/** EBX after a good high-bandwidth transfer: status SUCCESS in the high half, command 0 (§4.3). */
export const HB_DONE = MessageStatus.SUCCESS << 16;
/** EAX of a command the backdoor does not implement (QEMU's answer, §4.1). */
export const UNSUPPORTED = 0xffffffff;
/** GETVERSION ECX product types (§4.2). */
export const VMX_TYPE_ESX = 2;
export const VMX_TYPE_WORKSTATION = 4;
/** GET_VCPU_INFO bit (backdoor_def.h BDOOR_CMD_VCPU_SYNC_VTSCS): every vCPU's TSC is in sync. */
export const VCPU_INFO_SYNC_VTSCS = 1 << 1;

// Register indices in GuestRegs.lo/hi.
const RAX = 0;
const RCX = 1;
const RDX = 2;
const RBX = 3;
const RBP = 5;
const RSI = 6;
const RDI = 7;

const TWO_32 = 4294967296;

export interface BackdoorOptions {
  /** GETVERSION EAX (QEMU and VMware answer 6). */
  version?: number;
  /** GETVERSION ECX (§4.2): VMX_TYPE_ESX (default, as QEMU) or VMX_TYPE_WORKSTATION. */
  productType?: number;
  /** Local-APIC bus frequency in kHz (GETHZ ECX is it in Hz). */
  apicKHz: number;
  /**
   * VMware's monitor_control.restrict_backdoor: refuse the backdoor outside CPL 0. Off by
   * default, as on VMware, where user-mode tools use it.
   */
  restrictToCpl0?: boolean;
}

/** A high-bandwidth transfer in flight on one vCPU. */
interface HbTransfer {
  write: boolean;
  channel: Channel | null;
  /** Bytes still to come, the one being moved included (RCX at the next call). */
  remaining: number;
  /** The transfer was accepted at its first byte. */
  ok: boolean;
  /** Next byte of the offered message an INSB returns. */
  pos: number;
}

function set32(regs: GuestRegs, r: number, v: number): void {
  regs.lo[r] = v | 0;
  regs.hi[r] = 0;
}

function u32(regs: GuestRegs, r: number): number {
  return regs.lo[r] >>> 0;
}

/** What an IN reads from a port nobody answers: all ones at the access size. */
function unclaimed(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
}

export class VmwareBackdoor {
  readonly tools: VmwareToolsHost;
  readonly rpc: GuestRpc;
  private readonly hb = new Map<number, HbTransfer>();
  private readonly version: number;
  private readonly productType: number;

  constructor(
    private readonly host: HypervisorHost,
    private readonly opts: BackdoorOptions,
  ) {
    this.tools = new VmwareToolsHost(host.kv);
    this.rpc = new GuestRpc(this.tools);
    this.version = opts.version ?? 6;
    this.productType = opts.productType ?? VMX_TYPE_ESX;
  }

  /**
   * Whether this access is a backdoor call VMware serves whatever the I/O privilege: VMware
   * takes the #GP an IN/OUT raises at CPL > IOPL and runs the call when EAX holds the magic
   * (user-mode tools rely on it, §4.1), unless restricted to CPL 0. Anything else keeps its #GP.
   */
  bypassesIoPermission(regs: GuestRegs, port: number): boolean {
    if (port !== BDOOR_PORT && port !== BDOOR_HB_PORT) return false;
    return u32(regs, RAX) === BDOOR_MAGIC && this.opts.restrictToCpl0 !== true;
  }

  /** An access to 0x5658 or 0x5659 (HypervisorPersonality.portIo). */
  portIo(regs: GuestRegs, port: number, size: number, write: boolean, value: number): number {
    // Without the magic (or from user mode when restricted) the port is an ordinary empty one.
    if (u32(regs, RAX) !== BDOOR_MAGIC || (this.opts.restrictToCpl0 === true && regs.cpl !== 0)) return unclaimed(size);
    if (port === BDOOR_PORT) {
      // Commands are 32-bit INs (every guest issues `in eax, dx`); other accesses do nothing.
      if (write || size !== 4) return unclaimed(size);
      return this.command(regs);
    }
    if (port === BDOOR_HB_PORT && size === 1) return this.highBandwidth(regs, write, value);
    return unclaimed(size);
  }

  /** One low-bandwidth command; returns the new EAX. */
  private command(regs: GuestRegs): number {
    const eax = u32(regs, RAX);
    switch (u32(regs, RCX) & 0xffff) {
      case BackdoorCommand.GETMHZ:
        return Math.floor(this.host.tscKHz() / 1000);
      case BackdoorCommand.GETVERSION:
        set32(regs, RBX, BDOOR_MAGIC);
        set32(regs, RCX, this.productType);
        return this.version;
      case BackdoorCommand.GETMEMSIZE:
        return Math.floor(this.host.mem.size / (1024 * 1024));
      case BackdoorCommand.MESSAGE:
        this.message(regs);
        return eax;
      case BackdoorCommand.GETHZ: {
        // §4.2: TSC Hz in EBX:EAX, APIC bus Hz in ECX (exact: kHz * 1000 < 2^53).
        const hz = this.host.tscKHz() * 1000;
        set32(regs, RBX, Math.floor(hz / TWO_32));
        set32(regs, RCX, Math.min(this.opts.apicKHz * 1000, 0xffffffff));
        return hz % TWO_32;
      }
      case BackdoorCommand.GETTIMEFULL: {
        // §4.2: seconds in ESI:EDX, microseconds in EBX, max error in ECX; EAX untouched.
        const ns = this.host.nowNs();
        const secs = this.host.bootTime + Math.floor(ns / 1e9);
        set32(regs, RSI, Math.floor(secs / TWO_32));
        set32(regs, RDX, secs % TWO_32);
        set32(regs, RBX, Math.floor((ns % 1e9) / 1000));
        set32(regs, RCX, 0); // the virtual clock is the host's clock: no error
        return eax;
      }
      case BackdoorCommand.GET_VCPU_INFO:
        return VCPU_INFO_SYNC_VTSCS; // one virtual clock for every vCPU; reserved bit 31 clear
      default:
        return UNSUPPORTED;
    }
  }

  /** MESSAGE (§4.3): sub-command in ECX high, channel in EDX high, cookies in ESI/EDI. */
  private message(regs: GuestRegs): void {
    const sub = u32(regs, RCX) >>> 16;
    const ebx = u32(regs, RBX);
    const edx = u32(regs, RDX);
    const status = (s: number): void => set32(regs, RCX, s << 16); // ECX low 16 = 0 (§4.3)
    if (sub === MessageType.OPEN) {
      const r = this.rpc.open(ebx);
      status(r.status);
      if (r.channel !== null) {
        set32(regs, RDX, r.channel.id << 16); // OpenBSD checks EDX low = 0
        set32(regs, RSI, r.channel.cookie1);
        set32(regs, RDI, r.channel.cookie2);
      }
      return;
    }
    const c = this.rpc.find(edx >>> 16, u32(regs, RSI), u32(regs, RDI));
    if (c === null) return status(0);
    switch (sub) {
      case MessageType.SENDSIZE:
        return status(this.rpc.sendSize(c, ebx));
      case MessageType.SENDPAYLOAD:
        return status(this.rpc.sendPayload(c, ebx));
      case MessageType.RECVSIZE: {
        const r = this.rpc.recvSize(c);
        status(r.status);
        if ((r.status & MessageStatus.DORECV) !== 0) {
          set32(regs, RBX, r.length);
          set32(regs, RDX, (MessageType.SENDSIZE << 16) | (edx & 0xffff)); // the "data id" guests check
        }
        return;
      }
      case MessageType.RECVPAYLOAD: {
        const r = this.rpc.recvPayload(c);
        status(r.status);
        if (r.status !== 0) {
          set32(regs, RBX, r.word);
          set32(regs, RDX, (MessageType.SENDPAYLOAD << 16) | (edx & 0xffff));
        }
        return;
      }
      case MessageType.RECVSTATUS:
        return status(this.rpc.recvStatus(c));
      case MessageType.CLOSE:
        return status(this.rpc.close(c));
      default:
        return status(0);
    }
  }

  /** One byte of REP OUTSB (guest → host) or REP INSB (host → guest) on 0x5659 (§4.3). */
  private highBandwidth(regs: GuestRegs, write: boolean, value: number): number {
    const t = this.transfer(regs, write);
    let byte = 0;
    if (t.ok) {
      if (write) t.ok = this.rpc.sendByte(t.channel!, value & 0xff);
      else byte = this.rpc.offeredMessage(t.channel!)?.[t.pos++] ?? 0;
    }
    t.remaining--;
    set32(regs, RBX, t.ok ? HB_DONE : 0);
    // A refused INSB still stores a byte (the CPU writes what IN returns): zero.
    return byte;
  }

  /** The transfer this byte belongs to: the one in flight on this vCPU, or a new one. */
  private transfer(regs: GuestRegs, write: boolean): HbTransfer {
    const count = regs.long && regs.hi[RCX] !== 0 ? Number.MAX_SAFE_INTEGER : u32(regs, RCX);
    const channelId = u32(regs, RDX) >>> 16;
    const cur = this.hb.get(regs.vcpu);
    if (cur !== undefined && cur.remaining > 0 && cur.write === write && cur.remaining === count && cur.channel?.id === channelId) return cur;
    // Cookies sit where the string pointer is not (§4.3): OUTSB EBP/EDI, INSB ESI/EBP.
    const channel = write
      ? this.rpc.find(channelId, u32(regs, RBP), u32(regs, RDI))
      : this.rpc.find(channelId, u32(regs, RSI), u32(regs, RBP));
    let ok = (u32(regs, RBX) & 0xffff) === HB_CMD_MESSAGE && channel !== null;
    if (ok && write) ok = count <= this.rpc.sendRemaining(channel!);
    if (ok && !write) ok = count <= (this.rpc.offeredMessage(channel!)?.length ?? 0);
    const t: HbTransfer = { write, channel, remaining: count, ok, pos: 0 };
    this.hb.set(regs.vcpu, t);
    return t;
  }
}
