#!/usr/bin/env node
// Build the initramfs of issue 7's Linux boot: a gzip-compressed newc cpio archive holding
// busybox (static) at /bin/busybox with its applet links, the virtio modules of the same
// kernel (and what they depend on) and /init, a shell script that prints markers, loads the
// modules, reads the disk, the hwrng, the clocksource and the hypervisor line, and powers off.
//
//   node scripts/linux/initramfs.mjs --busybox BUSYBOX --modules /lib/modules/VERSION -o OUT
//
// Deterministic: entries sorted by name, mtime 0, uid/gid 0, inode numbers in order, gzip
// with a zero mtime, so the same inputs give the same bytes. No dependency beyond Node.
// The newc format: the kernel's Documentation/driver-api/early-userspace/buffer-format.rst.

import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { execFileSync } from 'node:child_process';
import { gzipSync, constants } from 'node:zlib';
import { pathToFileURL } from 'node:url';

/** Marker lines the matrix runner looks for on the console. */
export const MARKERS = {
  start: 'HVSIM-INIT: start',
  modules: 'HVSIM-INIT: modules loaded',
  done: 'HVSIM-INIT: done, powering off',
};

/** The modules /init loads, in the order the issue gives (their dependencies go first). */
export const WANTED_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_rng', 'virtio_balloon'];

/** Applets /init uses: the fallback when the host cannot run busybox --list. */
const FALLBACK_APPLETS = ['sh', 'mount', 'echo', 'cat', 'dd', 'hexdump', 'grep', 'dmesg', 'insmod', 'poweroff', 'ls', 'head', 'uname', 'sleep'];

function usage(msg) {
  if (msg) process.stderr.write(`initramfs: ${msg}\n`);
  process.stderr.write('usage: node scripts/linux/initramfs.mjs --busybox FILE --modules DIR -o OUT.cpio.gz [--no-modules]\n');
  process.exit(64);
}

function parseArgs(argv) {
  const o = { busybox: null, modules: null, out: null, withModules: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--busybox') o.busybox = argv[++i];
    else if (a === '--modules') o.modules = argv[++i];
    else if (a === '-o' || a === '--out') o.out = argv[++i];
    else if (a === '--no-modules') o.withModules = false;
    else usage(`unknown argument ${a}`);
  }
  if (!o.busybox || !o.out || (o.withModules && !o.modules)) usage('missing argument');
  return o;
}

/** Every file under dir (recursive), as paths relative to dir, sorted. */
function walk(dir) {
  const out = [];
  const rec = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) rec(p);
      else out.push(relative(dir, p));
    }
  };
  rec(dir);
  return out;
}

/** The module's name (the .ko without its extension, '-' and '_' equivalent). */
const moduleName = (file) => basename(file).replace(/\.ko(\.xz|\.gz|\.zst)?$/, '').replace(/-/g, '_');

/** "depends=a,b" from the module's .modinfo strings (NUL-separated key=value pairs). */
function moduleDepends(bytes) {
  const text = Buffer.from(bytes).toString('latin1');
  const at = text.indexOf('\0depends=');
  if (at < 0) return [];
  const end = text.indexOf('\0', at + 1);
  const list = text.slice(at + '\0depends='.length, end);
  return list === '' ? [] : list.split(',').map((s) => s.replace(/-/g, '_'));
}

/** The wanted modules and their dependencies, dependencies first (a topological order). */
function resolveModules(modulesDir) {
  const files = walk(modulesDir).filter((f) => /\.ko$/.test(f));
  const compressed = walk(modulesDir).filter((f) => /\.ko\.(xz|gz|zst)$/.test(f));
  if (files.length === 0 && compressed.length > 0) {
    throw new Error(`${modulesDir} has only compressed modules; busybox insmod needs them uncompressed (decompress them first)`);
  }
  const byName = new Map(files.map((f) => [moduleName(f), f]));
  const order = [];
  const seen = new Set();
  const visit = (name, chain) => {
    if (seen.has(name)) return;
    const file = byName.get(name);
    if (file === undefined) throw new Error(`module ${name} (needed by ${chain.join(' <- ') || 'init'}) is not in ${modulesDir}`);
    seen.add(name);
    for (const dep of moduleDepends(readFileSync(join(modulesDir, file)))) visit(dep, [name, ...chain]);
    order.push({ name, file });
  };
  for (const m of WANTED_MODULES) visit(m, []);
  return order;
}

function appletList(busybox) {
  try {
    const out = execFileSync(busybox, ['--list-full'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const list = out.split('\n').map((s) => s.trim()).filter((s) => s !== '' && !s.includes('..'));
    if (list.length > 0) return list;
  } catch {
    // not runnable on this host: the fixed list below
  }
  return FALLBACK_APPLETS.map((a) => (a === 'insmod' || a === 'poweroff' ? `sbin/${a}` : `bin/${a}`));
}

/** The /init script. */
function initScript(moduleDir, modules) {
  const lines = [
    '#!/bin/sh',
    '# hvsim initramfs (scripts/linux/initramfs.mjs)',
    'export PATH=/bin:/sbin:/usr/bin:/usr/sbin',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    `echo "${MARKERS.start}"`,
  ];
  for (const m of modules) lines.push(`insmod /${moduleDir}/${m.file} || echo "HVSIM-INIT: insmod ${m.name} failed"`);
  lines.push(
    `echo "${MARKERS.modules}"`,
    'if [ -b /dev/vda ]; then',
    '  echo "HVSIM-INIT: /dev/vda sector 0:"',
    '  dd if=/dev/vda bs=512 count=1 2>/dev/null | hexdump -C',
    'else',
    '  echo "HVSIM-INIT: no /dev/vda"',
    'fi',
    'if [ -c /dev/hwrng ]; then',
    '  echo "HVSIM-INIT: hwrng $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null):"',
    '  dd if=/dev/hwrng bs=16 count=1 2>/dev/null | hexdump -C',
    'else',
    '  echo "HVSIM-INIT: no /dev/hwrng"',
    'fi',
    'echo "HVSIM-INIT: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"',
    'echo "HVSIM-INIT: hypervisor: $(dmesg | grep "Hypervisor detected")"',
    `echo "${MARKERS.done}"`,
    'poweroff -f',
    '',
  );
  return lines.join('\n');
}

// newc: "070701", then 13 eight-digit hex fields, the name with its NUL padded to 4 bytes,
// the data padded to 4 bytes; a "TRAILER!!!" entry ends the archive.
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function cpioEntry(ino, e) {
  const name = Buffer.from(e.name + '\0');
  const data = e.data ?? Buffer.alloc(0);
  const f = (n) => n.toString(16).padStart(8, '0');
  const header = '070701' + [ino, e.mode, 0, 0, e.mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, e.rmajor ?? 0, e.rminor ?? 0, name.length, 0].map(f).join('');
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  return Buffer.concat([Buffer.from(header), name, pad(110 + name.length), data, pad(data.length)]);
}

export function buildCpio(entries) {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parts = sorted.map((e, i) => cpioEntry(i + 1, e));
  parts.push(cpioEntry(0, { name: 'TRAILER!!!', mode: 0 }));
  const body = Buffer.concat(parts);
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const entries = new Map();
  const dir = (name) => entries.set(name, { name, mode: S_IFDIR | 0o755 });
  const file = (name, data, perm = 0o644) => entries.set(name, { name, mode: S_IFREG | perm, data });
  for (const d of ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'tmp', 'root', 'etc']) dir(d);
  // The kernel opens /dev/console for init's stdio before devtmpfs is mounted.
  entries.set('dev/console', { name: 'dev/console', mode: S_IFCHR | 0o600, rmajor: 5, rminor: 1 });
  file('bin/busybox', readFileSync(o.busybox), 0o755);
  for (const a of appletList(o.busybox)) {
    if (a === 'bin/busybox' || a === 'linuxrc') continue;
    const parts = a.split('/');
    for (let i = 1; i < parts.length; i++) if (!entries.has(parts.slice(0, i).join('/'))) dir(parts.slice(0, i).join('/'));
    const target = '/bin/busybox';
    entries.set(a, { name: a, mode: S_IFLNK | 0o777, data: Buffer.from(target) });
  }
  let modules = [];
  let moduleDir = '';
  if (o.withModules) {
    modules = resolveModules(o.modules);
    moduleDir = `lib/modules/${basename(o.modules)}`;
    for (const m of modules) {
      const parts = `${moduleDir}/${m.file}`.split('/');
      for (let i = 1; i < parts.length; i++) if (!entries.has(parts.slice(0, i).join('/'))) dir(parts.slice(0, i).join('/'));
      file(`${moduleDir}/${m.file}`, readFileSync(join(o.modules, m.file)));
    }
  }
  file('init', Buffer.from(initScript(moduleDir, modules)), 0o755);
  const cpio = buildCpio([...entries.values()]);
  const gz = gzipSync(cpio, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(o.out, gz);
  process.stderr.write(`initramfs: ${o.out}: ${entries.size} entries, ${cpio.length} bytes of cpio, ${gz.length} gzipped; modules: ${modules.map((m) => m.name).join(' ') || 'none'}\n`);
}

// Run as a script (the matrix runner imports MARKERS only).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
