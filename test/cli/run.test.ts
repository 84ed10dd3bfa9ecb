// `hvsim run` end to end: in-process through runCommand (src/cli/run.ts) with captured
// streams, plus real processes of bin/hvsim.js for the exit status the shell sees.
//
// Exit statuses are those of src/api/exit-status.ts; the bench fixtures' expectations come
// from their reference model, fixtures/guests/model.mjs (checked against QEMU, see
// fixtures/guests/README.md).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runCommand } from '../../src/cli/run.js';
import { STATUS } from '../../src/api/exit-status.js';
import { capture, type CliResult } from '../helpers/cli-capture.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guest = (name: string): string => `fixtures/guests/${name}/${name}.elf`;
const HELLO = guest('hello');

interface Model {
  expected(name: string, iters: number): { checksum: string; exitValue: number; qemuStatus: number; tscDeltaIcount: number; serial: string };
}



const cli = (args: string[]): Promise<CliResult> => capture(runCommand, args);

/** An error run: exactly one line on stderr, in hvsim's form, no stack trace, nothing on stdout. */
function expectOneLineError(r: { stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^hvsim run: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+/);
}

let tmp: string;
let model: Model;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hvsim-cli-'));
  // A plain .mjs without type declarations: import it by URL so tsc does not resolve it.
  const url: string = pathToFileURL(join(ROOT, 'fixtures/guests/model.mjs')).href;
  model = (await import(url)) as Model;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------

describe('guests', () => {
  it('hello prints its report on COM1 (stdout) and exits through isa-debug-exit with status 1', async () => {
    const r = await cli(['-m', '16M', '--kernel', HELLO, 'demo']);
    expect(r.stdout).toBe(
      [
        'hvsim hello: long mode OK',
        'cpu vendor: GenuineIntel',
        'hypervisor: none',
        `cmdline: ${HELLO} `,
        'tsc: increased',
        'hvsim hello: done',
        '',
      ].join('\n'),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^hvsim: debug-exit with value 0x0 after \d+ instructions \(\d+ virtual ns\); status 1\n$/);
  });

  it('hello under --hypervisor kvm with --append sees the KVM leaves and its command line; --quiet drops the summary', async () => {
    const r = await cli(['-m', '16M', '--hypervisor', 'kvm', '--append', 'demo x', '--quiet', '--kernel', HELLO, 'demo']);
    expect(r.stdout).toContain('hypervisor: KVMKVMKVM max leaf 0x40000001\n');
    expect(r.stdout).toContain(`cmdline: ${HELLO} demo x\n`);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
  });

  // Iteration counts small enough to keep the suite fast; each ends with the model's status.
  for (const [name, iters] of [['bench-alu', 1000], ['bench-memcpy', 1], ['bench-branchy', 1]] as const) {
    it(`${name} iters=${iters} prints the model's checksum and exits with its status`, async () => {
      const e = model.expected(name, iters);
      const r = await cli(['-m', '16M', '--append', `iters=${iters}`, '--quiet', '--kernel', guest(name), name]);
      const lines = r.stdout.split('\n');
      expect(lines.slice(0, 2).join('\n')).toBe(e.serial.split('\n').slice(0, 2).join('\n'));
      // TSC = 2 GHz (the default tscKHz) x 1 virtual ns per instruction: exactly twice the
      // window QEMU -icount shift=0 reports.
      expect(lines[2]).toBe(`${name}: tsc delta ${2 * e.tscDeltaIcount}`);
      expect(r.status).toBe(e.qemuStatus);
    });
  }

  it('--max-insns stops the guest with status 8 after exactly that many instructions', async () => {
    const r = await cli(['-m', '16M', '--max-insns', '1000', '--kernel', guest('bench-alu'), 'x']);
    expect(r.status).toBe(STATUS.INSN_LIMIT);
    expect(r.status).toBe(8);
    expect(r.stderr).toBe('hvsim: instruction limit reached after 1000 instructions (1000 virtual ns); status 8\n');
  });

  it('-l com1,FILE writes the serial output to the file and nothing to stdout', async () => {
    const file = join(tmp, 'com1.txt');
    const r = await cli(['-m', '16M', '-l', `com1,${file}`, '--quiet', '--kernel', HELLO, 'demo']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const out = readFileSync(file, 'utf8');
    expect(out.startsWith('hvsim hello: long mode OK\n')).toBe(true);
    expect(out.endsWith('hvsim hello: done\n')).toBe(true);
    // The file is closed and complete when runCommand returns: a second run truncates it.
    await cli(['-m', '16M', '-l', `com1,${file}`, '--quiet', '--max-insns', '10', '--kernel', HELLO, 'demo']);
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('-l com2,FILE leaves COM1 unconnected: the guest writes to COM1, so the file stays empty', async () => {
    const file = join(tmp, 'com2.txt');
    const r = await cli(['-m', '16M', '-l', `com2,${file}`, '--quiet', '--kernel', HELLO, 'demo']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------

describe('bad input: one line on stderr and status 65', () => {
  it('a kernel file that does not exist', async () => {
    const r = await cli(['--kernel', join(tmp, 'no-such.elf'), 'x']);
    expect(r.status).toBe(STATUS.BAD_INPUT);
    expectOneLineError(r, /no-such\.elf: no such file\n$/);
  });

  it('a directory as the kernel (names the directory)', async () => {
    const r = await cli(['--kernel', tmp, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, new RegExp(`^hvsim run: ${tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is a directory\n$`));
  });

  it('a truncated ELF (headers and multiboot header intact, segment data cut off)', async () => {
    const file = join(tmp, 'truncated.elf');
    writeFileSync(file, readFileSync(join(ROOT, HELLO)).subarray(0, 0x1200));
    const r = await cli(['--kernel', file, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, /truncated/);
  });

  it('an ELF cut inside its first page (no multiboot header left)', async () => {
    const file = join(tmp, 'stub.elf');
    writeFileSync(file, readFileSync(join(ROOT, HELLO)).subarray(0, 52));
    const r = await cli(['--kernel', file, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, /multiboot/i);
  });

  it('a file that is not a multiboot kernel, and an empty file', async () => {
    const file = join(tmp, 'not-a-kernel');
    writeFileSync(file, Buffer.from('#!/bin/sh\necho this is not a kernel\n'.repeat(300)));
    let r = await cli(['--kernel', file, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, /multiboot/i);
    const empty = join(tmp, 'empty');
    writeFileSync(empty, '');
    r = await cli(['--kernel', empty, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, /multiboot/i);
  });

  it('a kernel that does not fit in guest RAM', async () => {
    const r = await cli(['-m', '1M', '--kernel', HELLO, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, /outside guest RAM/);
  });

  it('a missing initrd, and a serial file that cannot be created', async () => {
    let r = await cli(['--initrd', join(tmp, 'nope.img'), '--kernel', HELLO, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, /nope\.img: no such file\n$/);
    r = await cli(['-l', `com1,${join(tmp, 'no-dir', 'f')}`, '--kernel', HELLO, 'x']);
    expect(r.status).toBe(65);
    expectOneLineError(r, /cannot open \(ENOENT\)/);
  });
});

describe('usage errors: one line on stderr and status 64', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown option', ['--bogus', '--kernel', HELLO, 'x'], /--bogus: unknown option/],
    ['an unknown short option', ['-q', '--kernel', HELLO, 'x'], /-q: unknown option/],
    ['a bad -m', ['-m', '3Q', '--kernel', HELLO, 'x'], /-m 3Q: /],
    ['-m 0', ['-m', '0', '--kernel', HELLO, 'x'], /-m 0: /],
    ['-m not a multiple of 4 KiB', ['-m', '1000001', '--kernel', HELLO, 'x'], /^hvsim run: -m 1000001: /],
    ['a bad --max-insns', ['--max-insns', '0', '--kernel', HELLO, 'x'], /--max-insns 0: must be at least 1/],
    ['no --kernel', ['x'], /--kernel FILE is required/],
    ['no vmname', ['--kernel', HELLO], /missing vmname/],
    ['a serial port the machine lacks', ['-l', 'com3,stdio', '--kernel', HELLO, 'x'], /only com1 and com2/],
  ];
  for (const [what, args, pattern] of cases) {
    it(what, async () => {
      const r = await cli(args);
      expect(r.status).toBe(STATUS.USAGE);
      expectOneLineError(r, pattern);
    });
  }
});

// ---------------------------------------------------------------------------------------------

/**
 * The real launcher, bin/hvsim.js, run as a process. It imports ../dist/cli/main.js, which
 * `npm run build` makes; so as not to depend on a fresh build (nor write dist/ under other
 * engineers), the CLI is bundled from src/ with rolldown (vitest's own bundler) into a
 * temporary tree next to a copy of the launcher.
 */
describe('bin/hvsim.js as a process', () => {
  let bin: string | null = null;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvsim-bin-'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(ROOT, 'bin/hvsim.js'), join(dir, 'bin/hvsim.js'));
    const { build } = await import('rolldown');
    await build({
      input: join(ROOT, 'src/cli/main.ts'),
      platform: 'node',
      cwd: ROOT,
      logLevel: 'silent',
      output: { file: join(dir, 'dist/cli/main.js'), format: 'esm' },
    });
    bin = join(dir, 'bin/hvsim.js');
  }, 30_000);
  afterAll(() => {
    if (bin !== null) rmSync(dirname(dirname(bin)), { recursive: true, force: true });
  });

  const hvsim = (args: string[]) => spawnSync(process.execPath, [bin!, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });

  it('exits with the guest status (hello: 1) and prints its serial output', () => {
    const p = hvsim(['run', '-m', '16M', '--kernel', HELLO, 'demo']);
    expect(p.stdout).toContain('hvsim hello: done\n');
    expect(p.status).toBe(1);
  });

  it('exits with 64 on a usage error and 65 on a bad kernel, one line on stderr each', () => {
    let p = hvsim(['run', '--bogus', 'x']);
    expect(p.status).toBe(64);
    expect(p.stderr).toMatch(/^hvsim run: --bogus: unknown option[^\n]*\n$/);
    p = hvsim(['run', '--kernel', ROOT, 'x']);
    expect(p.status).toBe(65);
    expect(p.stderr).toMatch(/^hvsim run: [^\n]*: is a directory\n$/);
    p = hvsim(['frobnicate']);
    expect(p.status).toBe(64);
    expect(p.stderr).toMatch(/^hvsim: unknown command 'frobnicate'[^\n]*\n$/);
  });
});
