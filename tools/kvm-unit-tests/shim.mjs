#!/usr/bin/env node
// Diagnostic runner for kvm-unit-tests: boots a test like `hvsim run` does, through hvsim's
// library API (dist/), but first adds test-only stand-ins for what the PC machine does not
// have yet, so a test gets past its start-up code and exercises the CPU:
//
//   --lapic   a 4 KiB xAPIC register page at 0xfee00000: registers read back what was
//             written, APIC ID 0, version 0x50014, ICR never busy; nothing is ever
//             delivered (no timer, no IPIs). Every x86_64 test's start-up (x86/cstart64.S:
//             reset_apic, enable_apic, bringup_aps) polls the ICR busy bit and hangs without.
//   --iomem   pc-testdev's 64 KiB scratch MMIO at 0xff000000 (hvsim's own PcTestDevIomem,
//             which src/machine/pc.ts does not map yet); x86/emulator.c needs it.
//   --bios    the state SeaBIOS leaves before QEMU's multiboot option ROM jumps to the
//             kernel: 8259 pair initialised (vectors 0x08/0x70, IRQ0 and the cascade
//             unmasked) and an IVT whose entries point at IRET stubs, the IRQ ones
//             acknowledging the PIC. x86/realmode.c runs with interrupts on (STI, HLT) and
//             relies on the BIOS's IRQ0 handler.
//   --info-low  if the kernel covers hvsim's multiboot information block at 0x9000 (the
//             loader refuses: realmode.flat loads at 0x8000-0xd9ff), put the block at 0x1000.
//
// None of this is hvsim behaviour: results with these stand-ins show how far the CPU gets,
// not that the machine passes. The plain `hvsim run` results are the ones that count.
//
// Usage: node shim.mjs --hvsim DIR --kernel F [--append S] [--initrd F] [--max-insns N]
//                      [--hypervisor NAME] [-m MiB] [--lapic] [--iomem] [--bios] [--info-low]
// Exit status: the same as `hvsim run` (src/api/exit-status.ts).

import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const opts = { hvsim: null, kernel: null, append: '', initrd: null, maxInsns: Infinity, hypervisor: [], mib: 128, lapic: false, iomem: false, bios: false, infoLow: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--hvsim') opts.hvsim = val();
  else if (a === '--kernel') opts.kernel = val();
  else if (a === '--append') opts.append = val();
  else if (a === '--initrd') opts.initrd = val();
  else if (a === '--max-insns') opts.maxInsns = Number(val());
  else if (a === '--hypervisor') opts.hypervisor = val().split(',').filter((s) => s !== '' && s !== 'none');
  else if (a === '-m') opts.mib = Number(val());
  else if (a === '--lapic') opts.lapic = true;
  else if (a === '--iomem') opts.iomem = true;
  else if (a === '--bios') opts.bios = true;
  else if (a === '--info-low') opts.infoLow = true;
  else usage(`unknown option ${a}`);
}
if (opts.hvsim === null || opts.kernel === null) usage('--hvsim and --kernel are required');

function usage(msg) {
  process.stderr.write(`shim.mjs: ${msg}\n`);
  process.exit(64);
}

const dist = resolve(opts.hvsim, 'dist');
const load = (p) => import(pathToFileURL(resolve(dist, p)).href);
const { Vmm } = await load('api/vmm.js');
const { loadMultiboot, findMultibootHeader, qemuStyleCmdline, defaultE820, LoaderError } = await load('loaders/index.js');
const { applyEntryState } = await load('machine/cpu/register-state.js');
const { STATUS, debugExitStatus } = await load('api/exit-status.js');

let line = [];
const com1 = (b) => {
  line.push(b);
  if (b === 10) flush();
};
const flush = () => {
  if (line.length > 0) process.stdout.write(Buffer.from(line));
  line = [];
};

const vmm = new Vmm();
const id = vmm.create({
  name: 'kut', vcpus: 1, memoryBytes: opts.mib * 1024 * 1024, hypervisors: opts.hypervisor,
  unhandledIo: 'ignore', pc: { com1, cmdline: opts.append },
});
const m = vmm.machine(id);

if (opts.lapic) {
  // xAPIC registers (SDM vol. 3, 11.4.1, table 11-1): ID 0x20, version 0x30, ICR 0x300.
  const regs = new Uint32Array(1024);
  regs[0x30 >> 2] = 0x00050014;
  regs[0xf0 >> 2] = 0xff;
  m.mem.addMmio(0xfee00000, 0x1000, {
    mmioRead: (off) => regs[off >> 2] | 0,
    mmioWrite: (off, _size, v) => {
      regs[off >> 2] = off === 0x300 ? v & ~0x1000 : v; // ICR delivery status: idle
    },
  }, 'kut-lapic-stand-in');
}
if (opts.iomem) {
  const { PcTestDevIomem } = await load('devices/pc-testdev/pc-testdev.js');
  const dev = new PcTestDevIomem();
  m.mem.addMmio(dev.base, dev.length, dev, dev.name);
}
if (opts.bios) {
  // ICW1-4 and OCW1 as SeaBIOS's pic_setup()/enable_hwirq(0) leave them.
  const pic = vmm.devices(id).pic;
  for (const [port, v] of [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01], [0xa0, 0x11], [0xa1, 0x70], [0xa1, 0x02], [0xa1, 0x01], [0x21, 0xfa], [0xa1, 0xff]]) {
    pic.ioWrite(port, 1, v);
  }
  const ivt = new DataView(new ArrayBuffer(1024));
  for (let v = 0; v < 256; v++) ivt.setUint32(v * 4, (0xf000 << 16) | 0xff53, true); // F000:FF53 IRET
  for (let v = 0x08; v < 0x10; v++) ivt.setUint32(v * 4, (0xf000 << 16) | 0xfea5, true); // master IRQs
  for (let v = 0x70; v < 0x78; v++) ivt.setUint32(v * 4, (0xf000 << 16) | 0xfe90, true); // slave IRQs
  m.mem.writeBytes(0, new Uint8Array(ivt.buffer));
  m.mem.writeBytes(0xfff53, Uint8Array.of(0xcf)); // iret
  m.mem.writeBytes(0xffea5, Uint8Array.of(0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf)); // push ax; mov al,20h; out 20h,al; pop ax; iret
  m.mem.writeBytes(0xffe90, Uint8Array.of(0x50, 0xb0, 0x20, 0xe6, 0xa0, 0xe6, 0x20, 0x58, 0xcf)); // ... out 0a0h,al; out 20h,al ...
}

let kernel;
const modules = [];
try {
  kernel = new Uint8Array(readFileSync(opts.kernel));
  if (opts.initrd !== null) modules.push({ data: new Uint8Array(readFileSync(opts.initrd)), string: basename(opts.initrd) });
} catch (e) {
  process.stderr.write(`shim.mjs: ${e.message}\n`);
  process.exit(STATUS.BAD_INPUT);
}
if (findMultibootHeader(kernel) === null) {
  process.stderr.write(`shim.mjs: ${opts.kernel}: not a multiboot kernel\n`);
  process.exit(STATUS.BAD_INPUT);
}
const mbOpts = { cmdline: qemuStyleCmdline(opts.kernel, opts.append), modules, e820: defaultE820(m.mem.size) };
let res;
try {
  res = loadMultiboot(m.mem, kernel, mbOpts);
} catch (e) {
  if (!(e instanceof LoaderError) || !opts.infoLow || !/overlaps the boot information/.test(e.message)) {
    process.stderr.write(`shim.mjs: ${opts.kernel}: ${e.message}\n`);
    process.exit(STATUS.BAD_INPUT);
  }
  res = loadMultiboot(m.mem, kernel, { ...mbOpts, infoAddress: 0x1000 });
}
applyEntryState(m.cpus[0], res.state);

const cpu = m.cpus[0];
let exit;
try {
  for (;;) {
    const left = opts.maxInsns - cpu.insns;
    exit = vmm.run(id, 0, { maxInsns: Math.max(1, Math.min(50_000_000, left)) });
    if (exit.kind === 'limit' && cpu.insns < opts.maxInsns) continue;
    break;
  }
} catch (e) {
  flush();
  process.stderr.write(`shim.mjs: internal error at rip 0x${(cpu.ripLo >>> 0).toString(16)}: ${e.stack ?? e}\n`);
  process.exit(STATUS.INTERNAL_ERROR);
}
flush();
const status = (() => {
  switch (exit.kind) {
    case 'debug-exit': return debugExitStatus(exit.code);
    case 'poweroff': return STATUS.POWER_OFF;
    case 'reset': return STATUS.REBOOT;
    case 'shutdown': return exit.reason === 'triple-fault' ? STATUS.TRIPLE_FAULT : STATUS.HALTED;
    case 'limit': return STATUS.INSN_LIMIT;
    case 'io': return STATUS.UNHANDLED_IO;
    case 'hlt': return STATUS.IDLE_FOREVER;
    case 'pause': return STATUS.PAUSE;
    default: return STATUS.INTERNAL_ERROR;
  }
})();
process.stderr.write(`shim: ${exit.kind}${exit.kind === 'debug-exit' ? ` 0x${exit.code.toString(16)}` : ''} after ${cpu.insns} instructions; status ${status}\n`);
process.exit(status);
