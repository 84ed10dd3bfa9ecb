#!/usr/bin/env node
// `npm run linux`: boot Debian's cloud kernel with the busybox initramfs under each hypervisor
// personality and print a table: personality, the kernel's "Hypervisor detected" line, the
// clocksource /init saw, the guest instructions, the wall time and the result. A boot that
// does not get somewhere says so ("not reached"), with the last console line.
//
//   node scripts/linux/matrix.mjs [--only kvm,none] [--max-insns 6G] [--acpi-off]
//                                 [--append "extra args"] [--hvsim bin/hvsim.js] [--logs DIR]
//
// Fetches the guest (scripts/linux/fetch.sh) and builds the initramfs
// (scripts/linux/initramfs.mjs) into the cache when they are missing. Every console log is
// kept in the log directory (default: <cache>/logs). Runs the boots one after the other.

import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MARKERS } from './initramfs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const PERSONALITIES = ['none', 'kvm', 'hyperv', 'vmware', 'xen', 'vmm'];

function parseArgs(argv) {
  const o = { only: PERSONALITIES, maxInsns: '6G', acpiOff: false, append: '', hvsim: join(repo, 'bin/hvsim.js'), logs: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') o.only = argv[++i].split(',');
    else if (a === '--max-insns') o.maxInsns = argv[++i];
    else if (a === '--acpi-off') o.acpiOff = true;
    else if (a === '--append') o.append = argv[++i];
    else if (a === '--hvsim') o.hvsim = resolve(argv[++i]);
    else if (a === '--logs') o.logs = resolve(argv[++i]);
    else {
      process.stderr.write(`matrix: unknown argument ${a}\n`);
      process.exit(64);
    }
  }
  for (const p of o.only) if (!PERSONALITIES.includes(p)) {
    process.stderr.write(`matrix: unknown personality ${p} (one of ${PERSONALITIES.join(', ')})\n`);
    process.exit(64);
  }
  return o;
}

/** The guest files: fetch.sh's KEY=path lines, then the initramfs and a small disk image. */
function prepareGuest() {
  const out = execFileSync('sh', [join(here, 'fetch.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const paths = Object.fromEntries(out.trim().split('\n').map((l) => l.split('=', 2)));
  const cache = process.env.HVSIM_CACHE ?? join(homedir(), '.cache/hvsim/debian');
  const initrd = join(cache, `initramfs-${paths.MODULES.split('/').pop()}.cpio.gz`);
  if (!existsSync(initrd)) {
    execFileSync(process.execPath, [join(here, 'initramfs.mjs'), '--busybox', paths.BUSYBOX, '--modules', paths.MODULES, '-o', initrd], { stdio: 'inherit' });
  }
  // 1 MiB disk: sector 0 holds a text /init prints through hexdump.
  const disk = join(cache, 'disk-1m.img');
  if (!existsSync(disk)) {
    const d = Buffer.alloc(1 << 20);
    d.write('HVSIM-DISK sector 0: read through virtio-blk\n', 0, 'latin1');
    d[510] = 0x55;
    d[511] = 0xaa;
    writeFileSync(disk, d);
  }
  return { kernel: paths.KERNEL, initrd, disk, cache };
}

/** One boot: the hvsim run command line for a personality. */
function runArgs(o, g, personality) {
  const acpi = o.acpiOff ? ['acpi=off'] : [];
  const append = ['console=ttyS0', 'earlyprintk=ttyS0', ...acpi, o.append].filter((s) => s !== '').join(' ');
  return [
    o.hvsim, 'run', '-m', '256M',
    ...(o.acpiOff ? [] : ['-A']),
    '-s', '0,hostbridge', '-s', `1,virtio-blk,${g.disk},ro`, '-s', '2,virtio-net', '-s', '3,virtio-rnd', '-s', '4,virtio-balloon',
    '--hypervisor', personality, '--max-insns', o.maxInsns,
    '--kernel', g.kernel, '--initrd', g.initrd, '--append', append, `linux-${personality}`,
  ];
}

/** What a console log and hvsim's last line say. */
export function summarize(consoleText, stderrText) {
  const lines = consoleText.split('\n').map((l) => l.replace(/\r$/, ''));
  const detected = lines.find((l) => /Hypervisor detected:/.test(l) && !l.includes('HVSIM-INIT'))?.replace(/^.*Hypervisor detected: */, '') ?? '-';
  // What /init read from sysfs, else the kernel's last "Switched to clocksource" line.
  const switched = lines.filter((l) => /clocksource: Switched to clocksource /.test(l)).pop();
  const cs = lines.find((l) => l.startsWith('HVSIM-INIT: clocksource '))?.slice('HVSIM-INIT: clocksource '.length) ??
    (switched === undefined ? '-' : `${switched.replace(/^.*Switched to clocksource /, '')} (kernel)`);
  const m = /hvsim: (.*) after (\d+) instructions/.exec(stderrText);
  const end = m === null ? 'no exit line' : m[1];
  const insns = m === null ? NaN : Number(m[2]);
  let result;
  if (lines.includes(MARKERS.done)) result = end === 'power-off' || end.startsWith('halted') ? `ok (${end})` : `marker, then ${end}`;
  else if (lines.includes(MARKERS.start)) result = `/init ran, then ${end}`;
  else {
    // The first sign of trouble if there is one (a BUG before the panic says why), else the last line.
    const trouble = lines.find((l) => /kernel BUG|Kernel panic|BUG:|Oops|general protection/.test(l));
    const last = trouble ?? lines.filter((l) => l.trim() !== '').pop() ?? '(no console output)';
    result = `not reached (${end}); ${trouble === undefined ? 'last' : 'first error'}: ${last.replace(/^\[[ .0-9]*\] */, '').slice(0, 80)}`;
  }
  return { detected, clocksource: cs, insns, result };
}

function table(rows) {
  const head = ['personality', 'detected', 'clocksource', 'instructions', 'wall s', 'result'];
  const cells = [head, ...rows.map((r) => [r.personality, r.detected, r.clocksource, Number.isNaN(r.insns) ? '-' : r.insns.toLocaleString('en-US'), r.wall.toFixed(1), r.result])];
  const w = head.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c, k) => {
    const line = '| ' + c.map((s, i) => s.padEnd(w[i])).join(' | ') + ' |';
    return k === 0 ? line + '\n|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|' : line;
  }).join('\n');
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const g = prepareGuest();
  const logs = o.logs ?? join(g.cache, 'logs');
  mkdirSync(logs, { recursive: true });
  const rows = [];
  for (const p of o.only) {
    const args = runArgs(o, g, p);
    process.stderr.write(`matrix: ${p}: node ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
    // Wall time of a host process, for the table only (this script is not part of the simulation).
    const t0 = process.hrtime.bigint();
    // The console goes straight to the log file, so a long boot can be followed with tail -f.
    const consolePath = join(logs, `${p}.console.log`);
    const hvsimPath = join(logs, `${p}.hvsim.log`);
    const out = openSync(consolePath, 'w');
    const err = openSync(hvsimPath, 'w');
    spawnSync(process.execPath, args, { stdio: ['ignore', out, err] });
    closeSync(out);
    closeSync(err);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const s = summarize(readFileSync(consolePath, 'utf8'), readFileSync(hvsimPath, 'utf8'));
    rows.push({ personality: p, ...s, wall });
    process.stderr.write(`matrix: ${p}: ${s.result} (${wall.toFixed(1)} s; logs in ${logs})\n`);
  }
  process.stdout.write(table(rows) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === `file://${resolve(process.argv[1])}`) main();
