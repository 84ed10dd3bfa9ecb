// Debian's Linux boot under hvsim (KVM personality) next to Debian's QEMU with TCG (issue 7's
// figure): the same kernel, initramfs and disk image, ACPI, the virtio devices, one vCPU,
// 256 MiB, from power-on to the busybox init's power-off. Bench code: host time is what it
// measures. Prints guest instructions (hvsim's exact count), wall and CPU seconds, hvsim's peak
// RSS, and the ratio hvsim / QEMU of wall and CPU time.
//
//   node bench/linux-qemu.mjs [--append "extra kernel args"] [--no-qemu]
//
// Needs the guest in the cache (scripts/linux/fetch.sh, then `npm run linux` builds the
// initramfs and the disk) and `npm run build`. QEMU's run has no instruction count of its own
// (TCG without -icount); the boot is the same code path, so the ratio of times is the figure.

import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const extra = args.includes('--append') ? args[args.indexOf('--append') + 1] : '';
const noQemu = args.includes('--no-qemu');
const cache = process.env.HVSIM_CACHE ?? join(homedir(), '.cache/hvsim/debian');
const paths = Object.fromEntries(
  execFileSync('sh', [join(repo, 'scripts/linux/fetch.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').map((l) => l.split('=', 2)),
);
const initrd = join(cache, `initramfs-${paths.MODULES.split('/').pop()}.cpio.gz`);
const disk = join(cache, 'disk-1m.img');
if (!existsSync(initrd) || !existsSync(disk)) {
  console.error(`bench/linux-qemu: run npm run linux once first (it builds ${initrd} and ${disk})`);
  process.exit(1);
}
const append = `console=ttyS0 earlyprintk=ttyS0 ${extra}`.trim();

/** Run a command under GNU time -v: wall seconds, CPU seconds, peak RSS (kB), its output. */
function timed(cmd, argv) {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const field = (name) => {
    const m = new RegExp(`${name}: ([^\\n]+)`).exec(r.stderr);
    return m === null ? null : m[1].trim();
  };
  const wall = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')
    .split(':')
    .reduce((a, x) => a * 60 + Number(x), 0);
  const cpu = Number(field('User time \\(seconds\\)')) + Number(field('System time \\(seconds\\)'));
  return { wall, cpu, rssKb: Number(field('Maximum resident set size \\(kbytes\\)')), stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const hv = timed(process.execPath, [
  join(repo, 'bin/hvsim.js'), 'run', '-m', '256M', '-A', '-s', '0,hostbridge', '-s', `1,virtio-blk,${disk},ro`, '-s', '2,virtio-net,echo',
  '-s', '3,virtio-rnd', '-s', '4,virtio-balloon', '--hypervisor', 'kvm', '--kernel', paths.KERNEL, '--initrd', initrd, '--append', append, 'linux',
]);
const insns = /after (\d+) instructions/.exec(hv.stderr)?.[1] ?? '?';
const hvOk = hv.status === 0 && hv.stdout.includes('HVSIM-INIT: done');
const rows = [{ run: 'hvsim --hypervisor kvm', instructions: insns, wall: hv.wall.toFixed(1), cpu: hv.cpu.toFixed(1), 'peak RSS MB': (hv.rssKb / 1024).toFixed(0), result: hvOk ? 'power-off, status 0' : `status ${hv.status}` }];
if (!noQemu) {
  const q = timed('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '256M', '-nographic', '-no-reboot', '-monitor', 'none', '-serial', 'stdio',
    '-kernel', paths.KERNEL, '-initrd', initrd, '-append', append,
    '-drive', `file=${disk},if=none,id=d0,format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=d0',
    '-device', 'virtio-rng-pci', '-device', 'virtio-balloon-pci', '-nic', 'none',
  ]);
  const qOk = q.stdout.includes('HVSIM-INIT: done');
  rows.push({ run: 'qemu-system-x86_64 -accel tcg', instructions: '-', wall: q.wall.toFixed(1), cpu: q.cpu.toFixed(1), 'peak RSS MB': (q.rssKb / 1024).toFixed(0), result: qOk ? 'power-off' : `status ${q.status}` });
  rows.push({ run: 'ratio hvsim / QEMU', instructions: '', wall: (hv.wall / q.wall).toFixed(1), cpu: (hv.cpu / q.cpu).toFixed(1), 'peak RSS MB': '', result: '' });
}
console.log(`Debian ${paths.KERNEL.split('/').pop()}, busybox initramfs, -m 256M, ACPI, virtio; append "${append}"`);
console.table(rows);
