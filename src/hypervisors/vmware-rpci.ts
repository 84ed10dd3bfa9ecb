// The host end of VMware's GuestRPC protocols (spec digest §4.4, §4.5): RPCI commands the guest
// sends (guestinfo reads and writes backed by the KV store, tools registration, log lines) and
// the TCLO command queue the guest polls. Messages are C strings of UTF-8 text: a request ends
// at its first NUL (OpenBSD's vmt sends a NUL-padded 4096-byte buffer), replies carry none.

import type { KvStore } from './kv-store.js';
import type { Channel, MessageSink } from './vmware-guestrpc.js';

/** §4.4 reply texts (first character 1 = success, 0 = failure, then a space). */
export const RPCI_OK = '1 ';
export const RPCI_NO_VALUE = '0 No value found';
export const RPCI_UNKNOWN = '0 Unknown command';
/** info-set without a value (the text QEMU's vmport_rpc and VMware Tools users report). */
export const RPCI_TWO_ARGS = '0 Two and exactly two arguments expected';
/** info-set of a read-only key or one outside guestinfo.*: hvsim's text (VMware has no per-key refusal to copy). */
export const RPCI_PERMISSION_DENIED = '0 Permission denied';

/** The guest's own namespace in the VM configuration (§4.4). */
export const GUESTINFO_PREFIX = 'guestinfo.';

/** RPCI commands that only inform the host: accepted with "1 " (§4.4). */
const ACCEPTED_COMMANDS = new Set(['tools.set.version', 'SetGuestInfo', 'tools.os.statechange.status', 'log']);
const ACCEPTED_PREFIXES = ['tools.capability.', 'vmx.capability.'];

/** What a TCLO channel's guest answered to a host command (§4.5). */
export interface TcloAnswer {
  command: string;
  answer: string;
}

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** A guest message as text: up to its first NUL, UTF-8 (invalid bytes become U+FFFD). */
export function messageText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return utf8Decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

export class VmwareToolsHost implements MessageSink {
  /** Host commands waiting for the guest's TCLO loop (sendTclo). */
  private readonly tcloQueue: string[] = [];
  /** TCLO channels that still owe "reset" (§4.5: the first thing a new TCLO channel hears). */
  private readonly resetPending = new Set<number>();
  /** The command each TCLO channel was last given and has not answered yet. */
  private readonly awaiting = new Map<number, string>();
  /** Every answer the guest's TCLO loop gave, in order. */
  readonly tcloAnswers: TcloAnswer[] = [];
  /** Text of the guest's `log` RPCI commands, in order. */
  readonly guestLog: string[] = [];

  constructor(private readonly kv: KvStore) {}

  /** Queue a host command (e.g. "OS_Halt") for the guest's TCLO loop. */
  sendTclo(command: string): void {
    this.tcloQueue.push(command);
  }

  /** The reply to one RPCI request (§4.4). */
  command(text: string): string {
    const space = text.indexOf(' ');
    const name = space < 0 ? text : text.slice(0, space);
    const args = space < 0 ? '' : text.slice(space + 1);
    switch (name) {
      case 'info-get':
        return this.infoGet(args);
      case 'info-set':
        return this.infoSet(args);
      case 'log':
        this.guestLog.push(args);
        return RPCI_OK;
    }
    if (ACCEPTED_COMMANDS.has(name) || ACCEPTED_PREFIXES.some((p) => name.startsWith(p))) return RPCI_OK;
    return RPCI_UNKNOWN;
  }

  private infoGet(key: string): string {
    const value = key.startsWith(GUESTINFO_PREFIX) ? this.kv.get(key) : undefined;
    // The full value goes back whatever its length: the guest compares it with its buffer (ERANGE, §2.2).
    return value === undefined ? RPCI_NO_VALUE : RPCI_OK + value;
  }

  private infoSet(args: string): string {
    const space = args.indexOf(' ');
    if (space < 0) return RPCI_TWO_ARGS;
    const key = args.slice(0, space);
    if (!key.startsWith(GUESTINFO_PREFIX)) return RPCI_PERMISSION_DENIED;
    return this.kv.set(key, args.slice(space + 1)) === 'ok' ? RPCI_OK : RPCI_PERMISSION_DENIED;
  }

  // --- MessageSink ---

  rpci(message: Uint8Array): Uint8Array {
    return utf8Encoder.encode(this.command(messageText(message)));
  }

  tcloOpened(channel: Channel): void {
    this.resetPending.add(channel.id);
    this.awaiting.delete(channel.id);
  }

  tcloNext(channel: Channel): Uint8Array | null {
    if (this.awaiting.has(channel.id)) return null; // one command at a time: wait for the answer
    let command: string | undefined;
    if (this.resetPending.delete(channel.id)) command = 'reset';
    else command = this.tcloQueue.shift();
    if (command === undefined) return null;
    this.awaiting.set(channel.id, command);
    return utf8Encoder.encode(command);
  }

  tcloMessage(channel: Channel, message: Uint8Array): void {
    const answer = messageText(message);
    const command = this.awaiting.get(channel.id);
    // An empty message is the guest's poll; anything else answers the outstanding command.
    if (answer.length === 0 || command === undefined) return;
    this.awaiting.delete(channel.id);
    this.tcloAnswers.push({ command, answer });
  }
}
