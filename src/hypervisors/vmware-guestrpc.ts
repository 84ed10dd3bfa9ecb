// VMware GuestRPC message channels (spec digest §4.3; open-vm-tools lib/include/guest_msg_def.h):
// the state behind backdoor command MESSAGE (30), independent of registers. A channel carries
// one protocol: RPCI (the guest sends a command, the host answers it) or TCLO (the host sends
// a command, the guest answers with its next message). Payloads are bytes; the command
// interpreter above turns them into strings.
//
// Channel ids and cookies are deterministic: ids are the lowest free slot, cookies come from a
// counter through a 32-bit mixing bijection (never zero, never repeated within 2^31 opens).

/** MESSAGE sub-commands, ECX high 16 (§4.3). */
export const MessageType = {
  OPEN: 0,
  SENDSIZE: 1,
  SENDPAYLOAD: 2,
  RECVSIZE: 3,
  RECVPAYLOAD: 4,
  RECVSTATUS: 5,
  CLOSE: 6,
} as const;

/** Status bits returned in ECX high 16 (§4.3). */
export const MessageStatus = {
  SUCCESS: 0x0001,
  DORECV: 0x0002,
  CLOSED: 0x0004,
  UNSENT: 0x0008,
  CHECKPOINT: 0x0010,
  POWEROFF: 0x0020,
  TIMEOUT: 0x0040,
  HB: 0x0080,
} as const;

/** Protocol magics passed in EBX with OPEN (§4.3). */
export const PROTO_RPCI = 0x49435052; // 'RPCI'
export const PROTO_TCLO = 0x4f4c4354; // 'TCLO'
/** OPEN flag asking for cookies (guest_msg_def.h GUESTMSG_FLAG_COOKIE). */
export const FLAG_COOKIE = 0x80000000;
/** guest_msg_def.h GUESTMSG_MAX_CHANNEL. */
export const MAX_CHANNELS = 8;
/** guest_msg_def.h GUESTMSG_MAX_IN_SIZE: the longest message a guest may send. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export type Protocol = 'rpci' | 'tclo';

export interface Channel {
  readonly id: number;
  readonly protocol: Protocol;
  /** Opened with FLAG_COOKIE: every later call must present both cookies. */
  readonly checksCookies: boolean;
  readonly cookie1: number;
  readonly cookie2: number;
  /** The message the guest is sending (null when no SENDSIZE is outstanding). */
  sending: Uint8Array | null;
  sent: number;
  /** The message offered to the guest (RECVSIZE), until RECVSTATUS or a new send. */
  offered: Uint8Array | null;
  /** Next byte of `offered` the low-bandwidth RECVPAYLOAD returns. */
  received: number;
}

/** What the host does with a complete guest message: its reply (RPCI) or null (TCLO). */
export interface MessageSink {
  /** An RPCI request; returns the reply offered to the guest. */
  rpci(message: Uint8Array): Uint8Array;
  /** A TCLO message from the guest (its answer to the last command, or an empty poll). */
  tcloMessage(channel: Channel, message: Uint8Array): void;
  /** The next host command for a TCLO channel, or null when none is waiting. */
  tcloNext(channel: Channel): Uint8Array | null;
  /** A TCLO channel was opened (the host queues "reset" for it, §4.5). */
  tcloOpened(channel: Channel): void;
}

export interface OpenResult {
  status: number;
  channel: Channel | null;
}

/** murmur3's fmix32: a bijection on 32-bit values that maps only 0 to 0. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

export class GuestRpc {
  private readonly channels: (Channel | null)[] = new Array<Channel | null>(MAX_CHANNELS).fill(null);
  private opens = 0;

  constructor(private readonly sink: MessageSink) {}

  /** OPEN: EBX = protocol | optional FLAG_COOKIE. Fails (status 0) for another protocol or when all channels are busy. */
  open(ebx: number): OpenResult {
    const proto = (ebx & ~FLAG_COOKIE) >>> 0;
    const protocol: Protocol | null = proto === PROTO_RPCI ? 'rpci' : proto === PROTO_TCLO ? 'tclo' : null;
    const id = this.channels.indexOf(null);
    if (protocol === null || id < 0) return { status: 0, channel: null };
    const checksCookies = (ebx & FLAG_COOKIE) !== 0;
    this.opens++;
    const channel: Channel = {
      id,
      protocol,
      checksCookies,
      cookie1: checksCookies ? mix32(2 * this.opens - 1) : 0,
      cookie2: checksCookies ? mix32(2 * this.opens) : 0,
      sending: null,
      sent: 0,
      offered: null,
      received: 0,
    };
    this.channels[id] = channel;
    if (protocol === 'tclo') this.sink.tcloOpened(channel);
    // §4.3: OpenBSD requires exactly SUCCESS here, no other bit.
    return { status: MessageStatus.SUCCESS, channel };
  }

  /** The open channel `id` if the cookies match (any cookies for a channel opened without them). */
  find(id: number, cookie1: number, cookie2: number): Channel | null {
    const c = id >= 0 && id < MAX_CHANNELS ? this.channels[id] : null;
    if (c === null) return null;
    if (c.checksCookies && ((cookie1 >>> 0) !== c.cookie1 || (cookie2 >>> 0) !== c.cookie2)) return null;
    return c;
  }

  /** SENDSIZE: start a message of `length` bytes (a new request drops an unread reply). */
  sendSize(c: Channel, length: number): number {
    length >>>= 0;
    c.sending = null;
    c.sent = 0;
    if (length > MAX_MESSAGE_BYTES) return 0;
    if (c.protocol === 'rpci') this.dropOffer(c);
    c.sending = new Uint8Array(length);
    if (length === 0) this.complete(c);
    return MessageStatus.SUCCESS | MessageStatus.HB;
  }

  /** Bytes the outstanding message still expects (0 when none is outstanding). */
  sendRemaining(c: Channel): number {
    return c.sending === null ? 0 : c.sending.length - c.sent;
  }

  /** SENDPAYLOAD (low bandwidth): the next up to 4 bytes, little-endian in `word`. */
  sendPayload(c: Channel, word: number): number {
    const n = Math.min(4, this.sendRemaining(c));
    if (n === 0) return 0; // payload before SENDSIZE, or after the message is complete
    for (let i = 0; i < n; i++) this.sendByte(c, (word >>> (8 * i)) & 0xff);
    return MessageStatus.SUCCESS;
  }

  /** One byte of the outstanding message (the high-bandwidth port); false if none is expected. */
  sendByte(c: Channel, byte: number): boolean {
    const buf = c.sending;
    if (buf === null || c.sent >= buf.length) return false;
    buf[c.sent++] = byte;
    if (c.sent === buf.length) this.complete(c);
    return true;
  }

  /** RECVSIZE: status, and the length of the message offered (0 without DORECV). */
  recvSize(c: Channel): { status: number; length: number } {
    if (c.offered === null && c.protocol === 'tclo') this.offer(c, this.sink.tcloNext(c));
    if (c.offered === null) return { status: MessageStatus.SUCCESS, length: 0 };
    c.received = 0;
    return { status: MessageStatus.SUCCESS | MessageStatus.DORECV | MessageStatus.HB, length: c.offered.length };
  }

  /** RECVPAYLOAD (low bandwidth): the next 4 bytes of the offered message, zero-padded. */
  recvPayload(c: Channel): { status: number; word: number } {
    const msg = c.offered;
    if (msg === null || c.received >= msg.length) return { status: 0, word: 0 };
    let word = 0;
    for (let i = 0; i < 4 && c.received < msg.length; i++) word |= msg[c.received++] << (8 * i);
    return { status: MessageStatus.SUCCESS, word: word >>> 0 };
  }

  /** The offered message (the high-bandwidth receive reads it from its start), or null. */
  offeredMessage(c: Channel): Uint8Array | null {
    return c.offered;
  }

  /** RECVSTATUS: the guest is done with the offered message (whatever status it reports). */
  recvStatus(c: Channel): number {
    if (c.offered === null) return 0;
    this.dropOffer(c);
    return MessageStatus.SUCCESS;
  }

  /** CLOSE: the slot is free again; anything in flight is dropped. */
  close(c: Channel): number {
    this.channels[c.id] = null;
    return MessageStatus.SUCCESS;
  }

  /** Open channels, by id (tests and state digests). */
  openChannels(): Channel[] {
    return this.channels.filter((c): c is Channel => c !== null);
  }

  private complete(c: Channel): void {
    const msg = c.sending!;
    c.sending = null;
    c.sent = 0;
    if (c.protocol === 'rpci') this.offer(c, this.sink.rpci(msg));
    else this.sink.tcloMessage(c, msg);
  }

  private offer(c: Channel, msg: Uint8Array | null): void {
    c.offered = msg;
    c.received = 0;
  }

  private dropOffer(c: Channel): void {
    c.offered = null;
    c.received = 0;
  }
}
