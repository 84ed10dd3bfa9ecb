// Hyper-V hypercalls (spec digest §6.3; TLFS hypercall-interface.md): the hypercall input value,
// the x64 and x86 register conventions, the common status codes, and the calls a guest issues
// before VMBus exists. Every failure is an HV_STATUS in the result, never a host exception.

import type { GuestMemory } from '../machine/memory.js';
import type { HypercallRegs } from './personality.js';

/** HV_STATUS codes (§6.3). */
export const HV_STATUS_SUCCESS = 0x0000;
export const HV_STATUS_INVALID_HYPERCALL_CODE = 0x0002;
export const HV_STATUS_INVALID_HYPERCALL_INPUT = 0x0003;
export const HV_STATUS_INVALID_ALIGNMENT = 0x0004;
export const HV_STATUS_INVALID_PARAMETER = 0x0005;
export const HV_STATUS_ACCESS_DENIED = 0x0006;
export const HV_STATUS_INVALID_PORT_ID = 0x0011;
export const HV_STATUS_INVALID_CONNECTION_ID = 0x0012;

/** Call codes (§6.3). */
export const HVCALL_NOTIFY_LONG_SPIN_WAIT = 0x0008;
export const HVCALL_POST_MESSAGE = 0x005c;
export const HVCALL_SIGNAL_EVENT = 0x005d;

/** The hypercall input value (TLFS "Hypercall Inputs"), decoded from its two 32-bit halves. */
export interface HypercallInput {
  code: number; // 15:0
  fast: boolean; // 16
  varHeaderQwords: number; // 26:17
  repCount: number; // 43:32
  repStart: number; // 59:48
  /** Any RsvdZ bit (31:27, 47:44, 63:60) set. */
  reservedSet: boolean;
}

export function decodeHypercallInput(lo: number, hi: number): HypercallInput {
  return {
    code: lo & 0xffff,
    fast: (lo & 0x10000) !== 0,
    varHeaderQwords: (lo >>> 17) & 0x3ff,
    repCount: hi & 0xfff,
    repStart: (hi >>> 16) & 0xfff,
    reservedSet: (lo >>> 27) !== 0 || ((hi >>> 12) & 0xf) !== 0 || (hi >>> 28) !== 0,
  };
}

/** The three 64-bit operands of a hypercall, as halves. */
export interface HypercallOperands {
  controlLo: number;
  controlHi: number;
  /** Input GPA, or the first fast input. */
  inputLo: number;
  inputHi: number;
  /** Output GPA, or the second fast input. */
  outputLo: number;
  outputHi: number;
}

// GPR indices in HypercallRegs.lo/hi.
const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7, R8 = 8;

/**
 * Read the operands by the caller's convention (TLFS register mapping): x64 RCX / RDX / R8;
 * x86 EDX:EAX / EBX:ECX / EDI:ESI.
 */
export function readOperands(regs: HypercallRegs): HypercallOperands {
  const { lo, hi } = regs;
  if (regs.long) {
    return { controlLo: lo[RCX], controlHi: hi[RCX], inputLo: lo[RDX], inputHi: hi[RDX], outputLo: lo[R8], outputHi: hi[R8] };
  }
  return { controlLo: lo[RAX], controlHi: lo[RDX], inputLo: lo[RCX], inputHi: lo[RBX], outputLo: lo[RSI], outputHi: lo[RDI] };
}

/** The hypercall result value: status in 15:0, reps completed in 43:32; RAX (x64) or EDX:EAX (x86). */
export function writeResult(regs: HypercallRegs, status: number, repsCompleted: number): void {
  const resultLo = status & 0xffff;
  const resultHi = repsCompleted & 0xfff;
  regs.lo[RAX] = resultLo;
  if (regs.long) regs.hi[RAX] = resultHi;
  else regs.lo[RDX] = resultHi;
}

/** What VMBus will plug in: delivery of posted messages and signalled events to a connection. */
export interface HvConnections {
  postMessage(vcpu: number, connectionId: number, messageType: number, payload: Uint8Array): number;
  signalEvent(vcpu: number, connectionId: number, flagNumber: number): number;
}

/** What a call may need from the personality. */
export interface HypercallContext {
  mem: GuestMemory;
  /** 0x40000003 EBX (PostMessages bit 4, SignalEvents bit 5). */
  privilegesHi: number;
  connections: HvConnections | null;
  vcpu: number;
}

/** Partition privilege mask, high dword (§1.4). */
const PRIV_POST_MESSAGES = 1 << 4;
const PRIV_SIGNAL_EVENTS = 1 << 5;

/** HvCallPostMessage input: ConnectionId u32, RsvdZ u32, MessageType u32, PayloadSize u32, Message[240]. */
const POST_MESSAGE_INPUT_SIZE = 256;
const POST_MESSAGE_MAX_PAYLOAD = 240;
/** HvCallSignalEvent input: ConnectionId u32, FlagNumber u16, RsvdZ u16. */
const SIGNAL_EVENT_INPUT_SIZE = 8;
/** HV_CONNECTION_ID: a 24-bit id, bits 31:24 reserved. */
const CONNECTION_ID_MASK = 0x00ffffff;

const PAGE_SIZE = 4096;

/**
 * The memory-based input block at `gpa` (halves) of `size` bytes, or the status that refuses it:
 * 8-byte aligned, not crossing a page, inside RAM (TLFS "Alignment Requirements"; INVALID_ALIGNMENT
 * also covers "not within the bounds of the GPA space").
 */
function readInputBlock(mem: GuestMemory, gpaLo: number, gpaHi: number, size: number): Uint8Array | number {
  if ((gpaLo & 7) !== 0) return HV_STATUS_INVALID_ALIGNMENT;
  if ((gpaLo & (PAGE_SIZE - 1)) + size > PAGE_SIZE) return HV_STATUS_INVALID_ALIGNMENT;
  const gpa = (gpaHi >>> 0) * 4294967296 + (gpaLo >>> 0);
  const bytes = mem.readBytes(gpa, size);
  return bytes ?? HV_STATUS_INVALID_ALIGNMENT;
}

function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

/** A call's shape (TLFS: "Simple" vs "Rep") and its handler. */
interface CallDef {
  rep: boolean;
  run(input: HypercallInput, ops: HypercallOperands, ctx: HypercallContext): number;
}

const CALLS = new Map<number, CallDef>([
  // Advisory: "only HV_STATUS_SUCCESS will be returned" (HvCallNotifyLongSpinWait.md).
  [HVCALL_NOTIFY_LONG_SPIN_WAIT, { rep: false, run: () => HV_STATUS_SUCCESS }],
  [HVCALL_POST_MESSAGE, { rep: false, run: postMessage }],
  [HVCALL_SIGNAL_EVENT, { rep: false, run: signalEvent }],
]);

/** HvCallPostMessage (0x005C, memory-based; statuses from HvCallPostMessage.md). */
function postMessage(input: HypercallInput, ops: HypercallOperands, ctx: HypercallContext): number {
  if ((ctx.privilegesHi & PRIV_POST_MESSAGES) === 0) return HV_STATUS_ACCESS_DENIED;
  if (input.fast) return HV_STATUS_INVALID_HYPERCALL_INPUT; // 256 bytes of input cannot travel in two registers
  const block = readInputBlock(ctx.mem, ops.inputLo, ops.inputHi, POST_MESSAGE_INPUT_SIZE);
  if (typeof block === 'number') return block;
  const connectionId = u32(block, 0);
  const messageType = u32(block, 8);
  const payloadSize = u32(block, 12);
  if (messageType === 0 || messageType >= 0x80000000 || payloadSize > POST_MESSAGE_MAX_PAYLOAD) return HV_STATUS_INVALID_PARAMETER;
  if ((connectionId & ~CONNECTION_ID_MASK) !== 0 || ctx.connections === null) return HV_STATUS_INVALID_CONNECTION_ID;
  return ctx.connections.postMessage(ctx.vcpu, connectionId, messageType, block.slice(16, 16 + payloadSize));
}

/** HvCallSignalEvent (0x005D, usually fast; statuses from HvCallSignalEvent.md). */
function signalEvent(input: HypercallInput, ops: HypercallOperands, ctx: HypercallContext): number {
  if ((ctx.privilegesHi & PRIV_SIGNAL_EVENTS) === 0) return HV_STATUS_ACCESS_DENIED;
  let lo = ops.inputLo;
  let hi = ops.inputHi;
  if (!input.fast) {
    const block = readInputBlock(ctx.mem, ops.inputLo, ops.inputHi, SIGNAL_EVENT_INPUT_SIZE);
    if (typeof block === 'number') return block;
    lo = u32(block, 0);
    hi = u32(block, 4);
  }
  if ((hi >>> 16) !== 0) return HV_STATUS_INVALID_HYPERCALL_INPUT; // RsvdZ
  const connectionId = lo >>> 0;
  if ((connectionId & ~CONNECTION_ID_MASK) !== 0 || ctx.connections === null) return HV_STATUS_INVALID_CONNECTION_ID;
  return ctx.connections.signalEvent(ctx.vcpu, connectionId, hi & 0xffff);
}

/**
 * Run one hypercall whose caller is allowed to make it (CPL 0, hypercall page enabled) and
 * write its result. The TLFS leaves the order of error checks open; this one (KVM's) checks the
 * reserved bits, the call code, the rep fields against the call's class, the variable header
 * size (no implemented call takes one), then the call's own checks (privilege first).
 */
export function dispatchHypercall(regs: HypercallRegs, ctx: HypercallContext): void {
  const ops = readOperands(regs);
  const input = decodeHypercallInput(ops.controlLo, ops.controlHi);
  writeResult(regs, hypercallStatus(input, ops, ctx), 0);
}

function hypercallStatus(input: HypercallInput, ops: HypercallOperands, ctx: HypercallContext): number {
  if (input.reservedSet) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  const call = CALLS.get(input.code);
  if (call === undefined) return HV_STATUS_INVALID_HYPERCALL_CODE;
  if (!call.rep && (input.repCount !== 0 || input.repStart !== 0)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  if (call.rep && (input.repCount === 0 || input.repStart >= input.repCount)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  if (input.varHeaderQwords !== 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  return call.run(input, ops, ctx);
}
