// Command-line parsing for `hvsim run [options] vmname`.
//
// The short options are bhyve(8)'s where hvsim has the feature (FreeBSD 15 bhyve.8 and
// usr.sbin/bhyve/{bhyverun.c, amd64/bhyverun_machdep.c, pci_emul.c, amd64/pci_lpc.c}, read for
// their behaviour; no code or text copied). Long options are hvsim's own.
//
// Option syntax is POSIX getopt(3) as BSD implements it, plus GNU-style long options:
//  - short flags may be combined ("-eHP"); an option's value may be attached ("-c2") or be the
//    next argument ("-c 2"), even if that argument starts with '-';
//  - "--name value" and "--name=value" for long options;
//  - option parsing stops at "--" or at the first argument that is not an option (a lone "-"
//    is not an option); what remains must be exactly the vmname. As with bhyve, options must
//    come before the vmname.
//  - an option given twice: the last one wins (bhyve's config-variable semantics), except the
//    repeatable ones (-s, --module, --kv) and -c, whose keys merge (last value of each key wins).
//  - every value is checked where it appears; the -c topology as a whole is checked at the end,
//    as bhyve's calc_topology() does.
//
// Errors throw UsageError with a one-line message that starts with the option and its value.

import { DEFAULT_QUANTUM as DEFAULT_SCHED_QUANTUM } from '../machine/scheduler.js';
import { PCI_EMULATION_FACTORIES } from '../machine/pci-emulations.js';
import { GiB, MiB, KiB, NumberFormatError, formatBytes, parseCIntInRange, parseDecimalCount, parseMemSize } from './size.js';

/** A command-line error. The message is one line: "<option> <value>: <what is wrong>". */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What `-h`/`--help`, `-l help` or `-s help` asked to print instead of running. */
export type HelpTopic = 'usage' | 'lpc' | 'pci';

/** Hypervisor personalities `--hypervisor` can stack (in CPUID leaf order). */
export type HypervisorName = 'kvm' | 'hyperv' | 'vmware' | 'xen' | 'vmm';
export const HYPERVISOR_NAMES: readonly HypervisorName[] = ['kvm', 'hyperv', 'vmware', 'xen', 'vmm'];

export type ComPort = 'com1' | 'com2' | 'com3' | 'com4';
export const COM_PORTS: readonly ComPort[] = ['com1', 'com2', 'com3', 'com4'];

/** A TTY backend of bhyve's `-l comN[,backend]`. */
export type SerialBackend =
  | { kind: 'none' } // `-l com1`: the port exists, nothing is connected
  | { kind: 'stdio' } // `-l com1,stdio`
  | { kind: 'path'; path: string }; // `-l com1,/path`: a file or device (opened later by the machine)

export interface SerialPortConfig {
  port: ComPort;
  backend: SerialBackend;
}

/**
 * Device models bhyve's `-s` accepts (bhyve.8, "PCI EMULATION"). Parsed and kept for the
 * machine; those in PCI_UNSUPPORTED are refused here.
 */
export const PCI_EMULATIONS = [
  'hostbridge',
  'amd_hostbridge',
  'passthru',
  'virtio-net',
  'virtio-blk',
  'virtio-scsi',
  'virtio-9p',
  'virtio-rnd',
  'virtio-balloon',
  'virtio-console',
  'virtio-input',
  'ahci',
  'ahci-cd',
  'ahci-hd',
  'e1000',
  'uart',
  'lpc',
  'fbuf',
  'xhci',
  'nvme',
  'hda',
] as const;
export type PciEmulation = (typeof PCI_EMULATIONS)[number];

/** bhyve device models hvsim refuses outright, with the reason given in the error. */
export const PCI_UNSUPPORTED: Readonly<Partial<Record<PciEmulation, string>>> = {
  passthru: 'a simulated machine has no host PCI device to pass through',
  'ahci-hd': 'hvsim does not emulate AHCI; use virtio-blk',
  'ahci-cd': 'hvsim does not emulate AHCI; use virtio-blk',
};

/** One `-s [bus:]slot[:function],emulation[,conf]`. */
export interface PciSlotConfig {
  /** 0-255 */
  bus: number;
  /** 0-31 */
  slot: number;
  /** 0-7 */
  function: number;
  emulation: PciEmulation;
  /** Everything after the second comma, unparsed (device-specific); null if there was none. */
  conf: string | null;
  /** The option's argument as given, for messages. */
  arg: string;
}

/** A multiboot module: `--module FILE[,string]`. */
export interface BootModule {
  path: string;
  /** The module's string (everything after the first comma); null if none was given. */
  string: string | null;
}

export interface KeyValue {
  key: string;
  value: string;
  /** --kv-ro: the guest cannot change it. */
  readOnly?: boolean;
}

export interface MigrationConfig {
  /** Virtual time (instructions, idle included) at which it happens. */
  atInsn: number;
  /** The TSC frequency afterwards, in kHz. */
  tscKHz?: number;
  /** Virtual nanoseconds the VM stays paused. */
  pauseNs?: number;
}

export interface RunConfig {
  /** Set when help was asked for; parsing stopped there and the other fields are defaults. */
  help: HelpTopic | null;
  vmname: string;

  // -c [[cpus=]n][,sockets=n][,cores=n][,threads=n][,maxcpus=n]
  vcpus: number;
  sockets: number;
  cores: number;
  threads: number;
  /** Upper bound for vCPUs (hot-add room); defaults to vcpus. */
  maxcpus: number;

  /** -m: guest RAM in bytes (a positive multiple of 4 KiB, at most MAX_MEMORY_BYTES). */
  memoryBytes: number;
  /** -l comN[,backend]: in port order com1..com4. */
  serial: SerialPortConfig[];
  /** -U: lower-case RFC 4122 text form; null = not given (bhyve derives one from host and vmname). */
  uuid: string | null;
  /** -e: exit on an access to an I/O port no device claims. */
  strictIo: boolean;
  /** -w: unknown MSRs read as 0 and writes are dropped (instead of #GP). */
  ignoreUnknownMsrs: boolean;
  /** -H: HLT skips idle time straight to the next timer event. */
  hltSkipsIdle: boolean;
  /** -P: exit on PAUSE. */
  exitOnPause: boolean;
  /** -A: build ACPI tables. */
  acpiTables: boolean;
  /** Build an MP table; -Y turns it off. */
  mptable: boolean;
  /** -x: local APICs in x2APIC mode (-a: xAPIC, the default). */
  x2apic: boolean;
  /** -s: in command-line order. */
  pciSlots: PciSlotConfig[];

  /** --kernel FILE */
  kernel: string | null;
  /** --append CMDLINE */
  append: string;
  /** --initrd FILE */
  initrd: string | null;
  /** --module FILE[,string] (repeatable, in order) */
  modules: BootModule[];
  /** --hypervisor NAME[,NAME...]: personalities in order; [] for none. */
  hypervisors: HypervisorName[];
  /** --seed N: 0 .. 2^53-1. */
  seed: number;
  /** --sched POLICY: how vCPUs share the clock (round-robin, or random from --seed). */
  sched: 'round-robin' | 'random';
  /** --quantum N: the scheduler's base quantum in instructions. */
  quantum: number;
  /** --max-insns N: stop after N retired instructions; null = no limit. */
  maxInsns: number | null;
  /** --record FILE */
  record: string | null;
  /** --record-images embed|hash: the trace holds the guest images (default) or only their SHA-256. */
  recordImages: 'embed' | 'hash';
  /** --digest-every N: a state digest in the trace every N instructions (0: only at the end). */
  digestEvery: number;
  /** --migrate AT[,tsc=KHZ][,pause=NS] (repeatable): simulated migrations, in order given. */
  migrations: MigrationConfig[];
  /** --kv key=value (repeatable; a repeated key keeps its first position and takes the last value). */
  kv: KeyValue[];
  /** --rtc-time: the RTC's wall-clock time at power-on, in UNIX seconds (UTC). */
  rtcTime: number;
  /** --quiet */
  quiet: boolean;
}

/** bhyve's default vCPU limit before hw.vmm.maxcpu (VM_MAXCPU was 16); hvsim keeps it. */
export const MAX_VCPUS = 16;
/** bhyve's default memory size: bhyve_init_config() sets memory.size to "256M". */
export const DEFAULT_MEMORY_BYTES = 256 * MiB;
/** GuestMemory keeps RAM below the PCI/APIC hole at 0xE000_0000 (src/machine/memory.ts). */
export const MAX_MEMORY_BYTES = 0xe000_0000;
/** Guest RAM is mapped in 4 KiB pages (vmm's vm_alloc_memseg and GuestMemory both require it). */
export const MEMORY_GRANULE = 4 * KiB;
/** Default RTC time, fixed for determinism: 2000-01-01T00:00:00Z. */
export const DEFAULT_RTC_TIME = 946_684_800;
/** Largest --rtc-time: 9999-12-31T23:59:59Z. */
export const MAX_RTC_TIME = 253_402_300_799;
/** vmm(4)'s VM_MAX_NAMELEN. */
export const MAX_VMNAME_LENGTH = 128;

/** A RunConfig with every field at its default (vmname empty). */
export function defaultRunConfig(): RunConfig {
  return {
    help: null,
    vmname: '',
    vcpus: 1,
    sockets: 1,
    cores: 1,
    threads: 1,
    maxcpus: 1,
    memoryBytes: DEFAULT_MEMORY_BYTES,
    serial: [],
    uuid: null,
    strictIo: false,
    ignoreUnknownMsrs: false,
    hltSkipsIdle: false,
    exitOnPause: false,
    acpiTables: false,
    mptable: true,
    x2apic: false,
    pciSlots: [],
    kernel: null,
    append: '',
    initrd: null,
    modules: [],
    hypervisors: [],
    seed: 0,
    sched: 'round-robin',
    quantum: DEFAULT_SCHED_QUANTUM,
    maxInsns: null,
    record: null,
    recordImages: 'embed',
    migrations: [],
    digestEvery: DEFAULT_DIGEST_EVERY,
    kv: [],
    rtcTime: DEFAULT_RTC_TIME,
    quiet: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Messages

/** A value as it appears in a message: bare if plain printable ASCII, else JSON-quoted (one line). */
function show(v: string): string {
  return /^[\x21-\x7e]+$/.test(v) ? v : JSON.stringify(v);
}

function fail(option: string, value: string | null, what: string): never {
  throw new UsageError(value === null ? `${option}: ${what}` : `${option} ${show(value)}: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Short options

/** bhyve options hvsim does not have, with what they do in bhyve (for the error message). */
const BHYVE_UNSUPPORTED: Readonly<Record<string, string>> = {
  C: 'include guest memory in core files',
  D: 'destroy the VM on power-off',
  f: 'fw_cfg file',
  G: 'GDB debug server',
  I: 'ioapic (deprecated)',
  k: 'configuration file',
  K: 'keyboard layout',
  n: 'NUMA domains',
  o: 'set a configuration variable',
  p: 'pin a vCPU to a host CPU',
  r: 'resume from a snapshot',
  S: 'wire guest memory',
  u: 'RTC keeps UTC time (use --rtc-time)',
  W: 'single-vector MSI for virtio',
};

const SHORT_FLAGS: Readonly<Record<string, (cfg: RunConfig) => void>> = {
  A: (c) => void (c.acpiTables = true),
  a: (c) => void (c.x2apic = false),
  e: (c) => void (c.strictIo = true),
  H: (c) => void (c.hltSkipsIdle = true),
  P: (c) => void (c.exitOnPause = true),
  w: (c) => void (c.ignoreUnknownMsrs = true),
  x: (c) => void (c.x2apic = true),
  Y: (c) => void (c.mptable = false),
};

const SHORT_WITH_VALUE = new Set(['c', 'l', 'm', 's', 'U']);

// ---------------------------------------------------------------------------------------------
// -c: CPU topology

type TopologyKey = 'cpus' | 'sockets' | 'cores' | 'threads' | 'maxcpus';
const TOPOLOGY_KEYS: readonly TopologyKey[] = ['cpus', 'sockets', 'cores', 'threads', 'maxcpus'];

interface TopologySetting {
  value: number;
  arg: string;
}

type Topology = Partial<Record<TopologyKey, TopologySetting>> & { lastArg?: string };

/**
 * One -c argument, merged into `topo` key by key (bhyve_topology_parse()): "" means 1 of
 * everything; a token without '=' is the CPU count; unknown keys are an error. Each value is
 * strtol(, 0) in 1..65535 (bhyve's parse_int_value() limits, UINT16_MAX).
 */
function parseTopologyArg(arg: string, topo: Topology): void {
  topo.lastArg = arg;
  const set = (key: TopologyKey, text: string): void => {
    const v = parseCIntInRange(text, 1, 0xffff);
    if (v === null) fail('-c', arg, `invalid value for ${key}: ${show(text)} (expected an integer 1-65535)`);
    topo[key] = { value: v, arg };
  };
  if (arg === '') {
    for (const k of ['cpus', 'sockets', 'cores', 'threads'] as const) topo[k] = { value: 1, arg };
    return;
  }
  for (const token of arg.split(',')) {
    const eq = token.indexOf('=');
    if (eq < 0) {
      set('cpus', token);
      continue;
    }
    const key = token.slice(0, eq);
    if (!(TOPOLOGY_KEYS as readonly string[]).includes(key)) {
      fail('-c', arg, `invalid cpu topology: unknown key ${show(key)} (expected cpus, sockets, cores, threads or maxcpus)`);
    }
    set(key as TopologyKey, token.slice(eq + 1));
  }
}

/** calc_topology(): sockets default to the CPU count; sockets×cores×threads must equal it. */
function applyTopology(topo: Topology, cfg: RunConfig): void {
  const explicit = topo.cpus !== undefined;
  let vcpus = topo.cpus?.value ?? 1;
  const cores = topo.cores?.value ?? 1;
  const threads = topo.threads?.value ?? 1;
  const sockets = topo.sockets?.value ?? vcpus;
  const arg = topo.lastArg ?? '';
  const product = sockets * cores * threads;
  if (product > 0xffff) fail('-c', arg, `computed number of vCPUs too high: ${product}`);
  if (explicit && product !== vcpus) {
    fail('-c', arg, `topology (${sockets} sockets, ${cores} cores, ${threads} threads) does not match ${vcpus} vCPUs`);
  }
  vcpus = product;
  if (vcpus > MAX_VCPUS) fail('-c', arg, `${vcpus} vCPUs: hvsim supports at most ${MAX_VCPUS}`);
  const maxcpus = topo.maxcpus?.value ?? vcpus;
  if (maxcpus > MAX_VCPUS) fail('-c', topo.maxcpus!.arg, `maxcpus=${maxcpus}: hvsim supports at most ${MAX_VCPUS} vCPUs`);
  if (maxcpus < vcpus) fail('-c', topo.maxcpus!.arg, `maxcpus=${maxcpus} is below the ${vcpus} vCPUs of the topology`);
  cfg.vcpus = vcpus;
  cfg.sockets = sockets;
  cfg.cores = cores;
  cfg.threads = threads;
  cfg.maxcpus = maxcpus;
}

// ---------------------------------------------------------------------------------------------
// -m, -U, -l, -s

function parseMemoryOption(arg: string): number {
  let bytes: bigint;
  try {
    bytes = parseMemSize(arg);
  } catch (e) {
    if (e instanceof NumberFormatError) {
      fail('-m', arg, e.errno === 'ERANGE' ? 'memory size out of range' : 'invalid memory size');
    }
    throw e;
  }
  if (bytes === 0n) fail('-m', arg, 'memory size must not be zero');
  if (bytes > BigInt(MAX_MEMORY_BYTES)) {
    fail('-m', arg, `memory size ${formatBytes(bytes)} is above hvsim's limit of ${formatBytes(MAX_MEMORY_BYTES)}`);
  }
  if (bytes % BigInt(MEMORY_GRANULE) !== 0n) {
    fail('-m', arg, `memory size ${formatBytes(bytes)} is not a multiple of 4 KiB`);
  }
  return Number(bytes);
}

/**
 * RFC 4122 §3 text form, hex digits in either case. Like FreeBSD's uuid_from_string() (which
 * bhyve's SMBIOS code uses), the variant must be one RFC 4122 defines: NCS (0xx, which includes
 * the nil UUID), RFC 4122 (10x) or Microsoft (110); the reserved 111 variant is refused.
 */
function parseUuid(arg: string): string {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(arg)) {
    fail('-U', arg, 'invalid UUID (expected the RFC 4122 form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)');
  }
  const clockSeqHi = parseInt(arg.slice(19, 21), 16);
  if ((clockSeqHi & 0xe0) === 0xe0) fail('-U', arg, 'invalid UUID: variant bits 111 are reserved (RFC 4122 §4.1.1)');
  return arg.toLowerCase();
}

/** -l lpcdev[,conf] (lpc_device_parse(): the device name is case-insensitive). */
function parseLpcOption(arg: string, serial: Map<ComPort, SerialBackend>): void {
  const comma = arg.indexOf(',');
  const dev = (comma < 0 ? arg : arg.slice(0, comma)).toLowerCase();
  const conf = comma < 0 ? null : arg.slice(comma + 1);
  if (dev === 'bootrom' || dev === 'tpm' || dev === 'fwcfg' || dev === 'pc-testdev') {
    fail('-l', arg, `LPC device ${dev} is not supported by hvsim (only com1-com4)`);
  }
  if (!(COM_PORTS as readonly string[]).includes(dev)) {
    fail('-l', arg, `unknown LPC device ${show(dev)} (expected com1, com2, com3 or com4)`);
  }
  const port = dev as ComPort;
  let backend: SerialBackend;
  if (conf === null) backend = { kind: 'none' };
  else if (conf === '') fail('-l', arg, 'empty TTY backend (expected stdio or a path)');
  else if (conf === 'stdio') backend = { kind: 'stdio' };
  else if (conf.startsWith('tcp=')) fail('-l', arg, 'the tcp= TTY backend is not supported by hvsim (use stdio or a path)');
  else backend = { kind: 'path', path: conf };
  if (backend.kind === 'stdio') {
    for (const [other, b] of serial) {
      if (other !== port && b.kind === 'stdio') fail('-l', arg, `stdio is already connected to ${other}`);
    }
  }
  serial.set(port, backend);
}

/**
 * -s slot,emulation[,conf] with slot one of pcislot, pcislot:function, bus:pcislot:function
 * (pci_parse_slot(); bhyve.8: 32 slots, 8 functions, 256 buses, function and bus default to 0).
 * Numbers are plain decimal here: bhyve's sscanf("%d") would also take a sign, leading white
 * space and ignore trailing junk ("1x"), which hvsim refuses.
 */
function parsePciSlot(arg: string, slots: PciSlotConfig[]): void {
  const c1 = arg.indexOf(',');
  if (c1 < 0) fail('-s', arg, 'expected slot,emulation[,conf]');
  const where = arg.slice(0, c1);
  const rest = arg.slice(c1 + 1);
  const c2 = rest.indexOf(',');
  const emulation = c2 < 0 ? rest : rest.slice(0, c2);
  const conf = c2 < 0 ? null : rest.slice(c2 + 1);

  const parts = where.split(':');
  if (parts.length > 3 || !parts.every((p) => /^[0-9]+$/.test(p))) {
    fail('-s', arg, `invalid PCI slot ${show(where)} (expected slot, slot:function or bus:slot:function)`);
  }
  const nums = parts.map((p) => Number(p));
  const [bus, slot, fn] = nums.length === 3 ? nums : nums.length === 2 ? [0, nums[0], nums[1]] : [0, nums[0], 0];
  if (bus > 255) fail('-s', arg, `PCI bus ${bus} is out of range 0-255`);
  if (slot > 31) fail('-s', arg, `PCI slot ${slot} is out of range 0-31`);
  if (fn > 7) fail('-s', arg, `PCI function ${fn} is out of range 0-7`);

  if (emulation === '') fail('-s', arg, 'missing device emulation after the slot');
  if (!(PCI_EMULATIONS as readonly string[]).includes(emulation)) {
    fail('-s', arg, `unknown PCI device emulation ${show(emulation)} (see -s help)`);
  }
  const emu = emulation as PciEmulation;
  const unsupported = PCI_UNSUPPORTED[emu];
  if (unsupported !== undefined) fail('-s', arg, `PCI device emulation ${emu} is not supported: ${unsupported}`);

  const taken = slots.find((s) => s.bus === bus && s.slot === slot && s.function === fn);
  if (taken !== undefined) fail('-s', arg, `PCI slot ${bus}:${slot}:${fn} is already occupied by -s ${show(taken.arg)}`);
  if (emu === 'lpc') {
    if (bus !== 0) fail('-s', arg, 'the LPC bridge can only be on bus 0');
    const other = slots.find((s) => s.emulation === 'lpc');
    if (other !== undefined) fail('-s', arg, `only one LPC bridge is allowed (already -s ${show(other.arg)})`);
  }
  slots.push({ bus, slot, function: fn, emulation: emu, conf, arg });
}

// ---------------------------------------------------------------------------------------------
// Long options

type LongHandler = (cfg: RunConfig, value: string, st: ParseState) => void;

interface LongOption {
  /** null: a flag (no value); otherwise the value's name in usage(). */
  value: string | null;
  apply: LongHandler;
}

interface ParseState {
  topology: Topology;
  serial: Map<ComPort, SerialBackend>;
  kv: Map<string, { value: string; readOnly: boolean }>;
}

function nonEmpty(option: string, value: string, what: string): string {
  if (value === '') fail(option, value, `empty ${what}`);
  return value;
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

function parseSeed(value: string): number {
  const m = /^(?:0[xX]([0-9a-fA-F]+)|([0-9]+))$/.exec(value);
  if (m === null) fail('--seed', value, 'expected a non-negative integer (decimal or 0x hex)');
  const n = m[1] !== undefined ? BigInt('0x' + m[1]) : BigInt(m[2]);
  if (n > SAFE_MAX) fail('--seed', value, `seed is above 2^53-1`);
  return Number(n);
}

function parseMaxInsns(value: string): number {
  const n = parseDecimalCount(value);
  if (n === null) fail('--max-insns', value, 'expected an integer with an optional k, M or G suffix (x1000, x1000^2, x1000^3)');
  if (n === 0n) fail('--max-insns', value, 'must be at least 1');
  if (n > SAFE_MAX) fail('--max-insns', value, 'above 2^53-1');
  return Number(n);
}

function parseHypervisors(value: string): HypervisorName[] {
  const names = value.split(',');
  if (names.length === 1 && names[0] === 'none') return [];
  const out: HypervisorName[] = [];
  for (const name of names) {
    if (name === 'none') fail('--hypervisor', value, "'none' cannot be combined with other hypervisors");
    if (!(HYPERVISOR_NAMES as readonly string[]).includes(name)) {
      fail('--hypervisor', value, `unknown hypervisor ${show(name)} (expected none, ${HYPERVISOR_NAMES.join(', ')})`);
    }
    if (out.includes(name as HypervisorName)) fail('--hypervisor', value, `${name} is listed twice`);
    out.push(name as HypervisorName);
  }
  return out;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
function daysFromCivil(year: number, month: number, day: number): number {
  // Count from a March-based year so the leap day is the last day of the year.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400; // 0..399
  const monthFromMarch = (month + 9) % 12; // Mar=0 .. Feb=11
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + day - 1; // 0..365
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468; // 719468 = days from 0000-03-01 to 1970-01-01
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/**
 * --rtc-time: UNIX seconds (decimal), or an ISO 8601 / RFC 3339 UTC time:
 * YYYY-MM-DD (midnight), or YYYY-MM-DDThh:mm[:ss] followed by Z or +00:00. Range 1970..9999.
 */
export function parseRtcTime(value: string): number {
  const option = '--rtc-time';
  if (/^[0-9]+$/.test(value)) {
    const n = BigInt(value);
    if (n > BigInt(MAX_RTC_TIME)) fail(option, value, 'after 9999-12-31T23:59:59Z');
    return Number(n);
  }
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?(.*))?$/.exec(value);
  if (m === null) {
    fail(option, value, 'expected UNIX seconds or an ISO 8601 UTC time like 2024-02-29T12:00:00Z');
  }
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const hasTime = m[4] !== undefined;
  const [hour, minute, second] = hasTime ? [Number(m[4]), Number(m[5]), Number(m[6] ?? '0')] : [0, 0, 0];
  if (hasTime) {
    const zone = m[7];
    if (zone === '') fail(option, value, 'a time needs a UTC designator (Z or +00:00)');
    if (zone.startsWith('.') || zone.startsWith(',')) fail(option, value, 'fractional seconds are not supported');
    if (zone !== 'Z' && zone !== 'z' && zone !== '+00:00') fail(option, value, 'only UTC times are accepted (Z or +00:00)');
  }
  if (month < 1 || month > 12) fail(option, value, `invalid month ${m[2]}`);
  if (day < 1 || day > daysInMonth(year, month)) fail(option, value, `invalid day ${m[3]} for ${m[1]}-${m[2]}`);
  if (hour > 23) fail(option, value, `invalid hour ${m[4]}`);
  if (minute > 59) fail(option, value, `invalid minute ${m[5]}`);
  if (second > 59) fail(option, value, `invalid second ${m[6]} (leap seconds are not representable)`);
  if (year < 1970) fail(option, value, 'before 1970-01-01T00:00:00Z');
  return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
}

function parseMigration(v: string): MigrationConfig {
  const [at, ...rest] = v.split(',');
  const count = (what: string, text: string): number => {
    const n = parseDecimalCount(text);
    if (n === null || n > SAFE_MAX) fail('--migrate', v, `${what}: expected an integer with an optional k, M or G suffix`);
    return Number(n);
  };
  const m: MigrationConfig = { atInsn: count('AT', at) };
  for (const kv of rest) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    const val = eq < 0 ? '' : kv.slice(eq + 1);
    if (key === 'tsc') {
      const khz = count('tsc', val);
      if (khz < 1000 || khz > 100_000_000) fail('--migrate', v, 'tsc: a frequency in kHz, 1000-100000000');
      m.tscKHz = khz;
    } else if (key === 'pause') m.pauseNs = count('pause', val);
    else fail('--migrate', v, `unknown setting ${show(key)} (expected tsc=KHZ or pause=NS)`);
  }
  if (m.tscKHz === undefined && m.pauseNs === undefined) fail('--migrate', v, 'give tsc=KHZ, pause=NS or both');
  return m;
}

function parseKv(option: string, v: string, st: ParseState, readOnly: boolean): void {
  const eq = v.indexOf('=');
  if (eq < 0) fail(option, v, 'expected key=value');
  if (eq === 0) fail(option, v, 'empty key');
  st.kv.set(v.slice(0, eq), { value: v.slice(eq + 1), readOnly });
}

/** Instructions between state digests in a trace: about 2-5 s of guest time, a digest costs 20-100 ms. */
export const DEFAULT_DIGEST_EVERY = 200_000_000;

const LONG_OPTIONS: Readonly<Record<string, LongOption>> = {
  kernel: { value: 'FILE', apply: (c, v) => void (c.kernel = nonEmpty('--kernel', v, 'file name')) },
  append: { value: 'CMDLINE', apply: (c, v) => void (c.append = v) },
  initrd: { value: 'FILE', apply: (c, v) => void (c.initrd = nonEmpty('--initrd', v, 'file name')) },
  module: {
    value: 'FILE[,STRING]',
    apply: (c, v) => {
      const comma = v.indexOf(',');
      const path = comma < 0 ? v : v.slice(0, comma);
      if (path === '') fail('--module', v, 'empty file name');
      c.modules.push({ path, string: comma < 0 ? null : v.slice(comma + 1) });
    },
  },
  hypervisor: { value: 'NAME[,NAME...]', apply: (c, v) => void (c.hypervisors = parseHypervisors(v)) },
  seed: { value: 'N', apply: (c, v) => void (c.seed = parseSeed(v)) },
  'max-insns': { value: 'N', apply: (c, v) => void (c.maxInsns = parseMaxInsns(v)) },
  sched: {
    value: 'round-robin|random',
    apply: (c, v) => {
      if (v !== 'round-robin' && v !== 'random') fail('--sched', v, 'expected round-robin or random');
      c.sched = v;
    },
  },
  quantum: {
    value: 'N',
    apply: (c, v) => {
      const n = parseDecimalCount(v);
      if (n === null || n < 1n || n > 2n ** 31n) fail('--quantum', v, 'expected 1 to 2^31 instructions (k, M suffixes allowed)');
      c.quantum = Number(n);
    },
  },
  record: { value: 'FILE', apply: (c, v) => void (c.record = nonEmpty('--record', v, 'file name')) },
  kv: { value: 'KEY=VALUE', apply: (_c, v, st) => parseKv('--kv', v, st, false) },
  'kv-ro': { value: 'KEY=VALUE', apply: (_c, v, st) => parseKv('--kv-ro', v, st, true) },
  'record-images': {
    value: 'embed|hash',
    apply: (c, v) => {
      if (v !== 'embed' && v !== 'hash') fail('--record-images', v, 'expected embed or hash');
      c.recordImages = v;
    },
  },
  'digest-every': {
    value: 'N',
    apply: (c, v) => {
      const n = parseDecimalCount(v);
      if (n === null) fail('--digest-every', v, 'expected an integer with an optional k, M or G suffix');
      if (n > SAFE_MAX) fail('--digest-every', v, 'above 2^53-1');
      c.digestEvery = Number(n);
    },
  },
  migrate: { value: 'AT[,tsc=KHZ][,pause=NS]', apply: (c, v) => void c.migrations.push(parseMigration(v)) },
  'rtc-time': { value: 'TIME', apply: (c, v) => void (c.rtcTime = parseRtcTime(v)) },
  quiet: { value: null, apply: (c) => void (c.quiet = true) },
  help: { value: null, apply: (c) => void (c.help = 'usage') },
};

// ---------------------------------------------------------------------------------------------
// The parser

const VMNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Parse the arguments that follow `hvsim run`. Throws UsageError on any mistake. If help was
 * asked for (-h, --help, -l help, -s help) parsing stops there and the result has `help` set
 * (and no vmname): print helpText(cfg.help) and exit 0.
 */
export function parseRunArgs(argv: readonly string[]): RunConfig {
  const cfg = defaultRunConfig();
  const st: ParseState = { topology: {}, serial: new Map(), kv: new Map() };

  let i = 0;
  options: while (i < argv.length) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const opt = Object.hasOwn(LONG_OPTIONS, name) ? LONG_OPTIONS[name] : undefined;
      if (opt === undefined) fail(eq < 0 ? a : a.slice(0, eq), null, 'unknown option (see --help)');
      let value = '';
      if (opt.value === null) {
        if (eq >= 0) fail(`--${name}`, null, 'this option takes no value');
      } else if (eq >= 0) {
        value = a.slice(eq + 1);
      } else {
        if (i + 1 >= argv.length) fail(`--${name}`, null, `missing ${opt.value}`);
        value = argv[++i];
      }
      opt.apply(cfg, value, st);
      if (cfg.help !== null) return cfg;
      i++;
      continue;
    }
    if (a.length < 2 || a[0] !== '-') break; // the first operand ends the options
    for (let j = 1; j < a.length; j++) {
      const ch = a[j];
      const flag = SHORT_FLAGS[ch];
      if (flag !== undefined) {
        flag(cfg);
        continue;
      }
      if (ch === 'h') {
        cfg.help = 'usage';
        return cfg;
      }
      if (SHORT_WITH_VALUE.has(ch)) {
        let value: string;
        if (j + 1 < a.length) value = a.slice(j + 1);
        else if (i + 1 < argv.length) value = argv[++i];
        else fail(`-${ch}`, null, 'option requires an argument');
        if (shortWithValue(ch, value, cfg, st)) return cfg;
        i++;
        continue options;
      }
      if (Object.hasOwn(BHYVE_UNSUPPORTED, ch)) {
        fail(`-${ch}`, null, `bhyve's option (${BHYVE_UNSUPPORTED[ch]}) is not supported by hvsim`);
      }
      fail(`-${ch}`, null, 'unknown option (see -h)');
    }
    i++;
  }

  const operands = argv.slice(i);
  if (operands.length === 0) throw new UsageError('missing vmname (the last argument)');
  const vmname = operands[0];
  if (operands.length > 1) {
    fail(operands[1], null, `unexpected argument after the vmname ${show(vmname)} (options must come before the vmname)`);
  }
  if (!VMNAME_RE.test(vmname) || vmname.length > MAX_VMNAME_LENGTH) {
    throw new UsageError(
      `vmname ${show(vmname)}: expected 1-${MAX_VMNAME_LENGTH} letters, digits, '_', '.' or '-', starting with a letter, digit or '_'`,
    );
  }
  cfg.vmname = vmname;

  applyTopology(st.topology, cfg);
  cfg.serial = COM_PORTS.filter((p) => st.serial.has(p)).map((port) => ({ port, backend: st.serial.get(port)! }));
  cfg.kv = [...st.kv].map(([key, e]) => (e.readOnly ? { key, value: e.value, readOnly: true } : { key, value: e.value }));
  return cfg;
}

/** Apply a short option that takes a value. Returns true if it asked for help. */
function shortWithValue(ch: string, value: string, cfg: RunConfig, st: ParseState): boolean {
  switch (ch) {
    case 'c':
      parseTopologyArg(value, st.topology);
      return false;
    case 'm':
      cfg.memoryBytes = parseMemoryOption(value);
      return false;
    case 'U':
      cfg.uuid = parseUuid(value);
      return false;
    case 'l':
      if (value === 'help') {
        cfg.help = 'lpc';
        return true;
      }
      parseLpcOption(value, st.serial);
      return false;
    case 's':
      if (value === 'help') {
        cfg.help = 'pci';
        return true;
      }
      parsePciSlot(value, cfg.pciSlots);
      return false;
    default:
      throw new Error(`unhandled short option -${ch}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Help

/** The text for `hvsim run --help`. */
export function usage(): string {
  return `Usage: hvsim run [-AaeHhPwxY] [-c [[cpus=]n][,sockets=n][,cores=n][,threads=n][,maxcpus=n]]
                 [-l comN[,stdio|PATH]] [-m SIZE] [-s [bus:]slot[:func],emulation[,conf]]
                 [-U uuid] [long options] vmname

Run a virtual machine. Short options follow bhyve(8); long options are hvsim's own.
Options must come before the vmname. Flags can be combined (-eHP) and values attached (-c2).
If an option is repeated, the last one wins, except -s, --module and --kv, which add.

Machine (bhyve options):
  -c TOPOLOGY   vCPUs and/or topology, e.g. -c 4 or -c cpus=4,sockets=2,cores=2.
                sockets x cores x threads must equal cpus; sockets default to cpus,
                cores and threads to 1; maxcpus defaults to cpus. At most ${MAX_VCPUS} vCPUs.
                Default: 1.
  -m SIZE       guest memory: a number with an optional K, M, G or T suffix (any case,
                powers of 1024, optionally followed by B). A bare number below 1048576
                counts in MiB (-m 512 is 512 MiB), larger ones in bytes. A multiple of
                4 KiB, at most ${formatBytes(MAX_MEMORY_BYTES)}. Default: ${formatBytes(DEFAULT_MEMORY_BYTES)}.
  -l comN[,B]   serial port com1-com4 with backend B: stdio, or a file or device path;
                without B the port exists but is not connected. -l help lists devices.
  -s SLOT,EMU[,CONF]
                PCI device: SLOT is slot (0-31), slot:function (function 0-7) or
                bus:slot:function (bus 0-255); EMU a device model (-s help lists them).
  -U UUID       SMBIOS system UUID (RFC 4122 text form). Default: none given.
  -A            generate ACPI tables.
  -a            local APICs in xAPIC mode (the default).
  -e            exit on an access to an I/O port no device handles.
  -H            HLT skips idle time straight to the next timer event.
  -P            exit on PAUSE.
  -w            ignore unknown MSRs: reads return 0, writes are dropped.
  -x            local APICs in x2APIC mode.
  -Y            do not generate an MP table.
  -h, --help    print this help.

hvsim:
  --kernel FILE             kernel image to boot.
  --append CMDLINE          kernel command line.
  --initrd FILE             initial ramdisk.
  --module FILE[,STRING]    multiboot module with an optional string (repeatable).
  --hypervisor NAME[,NAME...]
                            hypervisor personalities the guest sees, in CPUID order:
                            none, ${HYPERVISOR_NAMES.join(', ')}. Default: none.
  --seed N                  seed of the guest-visible randomness: the random scheduler,
                            virtio-rnd bytes (0 to 2^53-1). Default: 0.
  --sched round-robin|random
                            how several vCPUs share the virtual clock: in ID order with a
                            fixed quantum, or order, quanta and interrupt delays drawn
                            from --seed. Default: round-robin.
  --quantum N               the scheduler's base quantum in instructions (k, M suffixes).
                            Default: ${DEFAULT_SCHED_QUANTUM / 1000}k.
  --max-insns N             stop after N instructions; N may end in k, M or G
                            (x1000, x1000^2, x1000^3), e.g. 500M. Default: no limit.
  --record FILE             record a trace of the run to FILE (replay: hvsim replay FILE).
  --record-images embed|hash
                            put the guest images in the trace (embed, the default: it
                            replays anywhere) or only their SHA-256 (hash).
  --digest-every N          a state digest in the trace every N instructions (0: only
                            at the end). Default: ${DEFAULT_DIGEST_EVERY / 1e6}M.
  --migrate AT[,tsc=KHZ][,pause=NS]
                            simulate a migration at virtual time AT (instructions): a
                            pause of NS virtual ns and/or a new TSC frequency; the
                            paravirtual clocks are updated by their protocols (repeatable).
  --kv KEY=VALUE            an entry for the hypervisor's information store (repeatable).
  --kv-ro KEY=VALUE         the same, read-only for the guest.
  --rtc-time TIME           RTC time at power-on: UNIX seconds, or UTC as YYYY-MM-DD or
                            YYYY-MM-DDThh:mm[:ss]Z. Default: 2000-01-01T00:00:00Z.
  --quiet                   suppress hvsim's own messages.
`;
}

/** The text for a help topic: usage(), or the lists `-l help` / `-s help` print. */
export function helpText(topic: HelpTopic): string {
  switch (topic) {
    case 'usage':
      return usage();
    case 'lpc':
      return COM_PORTS.join('\n') + '\n';
    case 'pci':
      return (
        PCI_EMULATIONS.map((e) => {
          const why = PCI_UNSUPPORTED[e];
          if (why !== undefined) return `${e} (not supported: ${why})`;
          return e in PCI_EMULATION_FACTORIES ? e : `${e} (bhyve's; not emulated by hvsim yet)`;
        }).join('\n') + '\n'
      );
  }
}
