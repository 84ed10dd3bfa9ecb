// Record → replay, end to end through the CLI commands (in-process): every fixture guest and
// every hypervisor personality replays identically; a perturbed trace (one value flipped, one
// event dropped, one digest changed) is reported at exactly the event that was changed; a
// truncated trace is refused in one line, and replayed up to its last frame on request;
// recording the same run twice gives byte-identical files; replay does not depend on host
// load.
//
// The oracle for "identical" is the run itself: the recorded events are what the machine did,
// and the perturbation tests prove the comparison can fail at the right place.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../src/cli/run.js';
import { replayCommand } from '../../src/cli/replay.js';
import { loadTraceCodec, TraceReader, TraceWriter, type TraceEvent } from '../../src/trace/index.js';
import { replayTrace } from '../../src/trace/replay.js';
import { REPLAY_STATUS } from '../../src/api/exit-status.js';
import { capture, type CliResult } from '../helpers/cli-capture.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guest = (name: string): string => join(ROOT, `fixtures/guests/${name}/${name}.elf`);


const run = (args: string[]): Promise<CliResult> => capture(runCommand, args);
const replay = (args: string[]): Promise<CliResult> => capture(replayCommand, args);

let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hvsim-replay-'));
  await loadTraceCodec();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Record a run; returns the trace path and the run's status. */
async function record(name: string, args: string[]): Promise<{ trace: string; status: number }> {
  const trace = join(tmp, `${name}.zst`);
  // 32 MiB of RAM keeps each digest cheap (a digest hashes all of RAM).
  const r = await run(['-m', '32M', ...args, '--record', trace, '--quiet', '-l', 'com1,/dev/null', 'vm']);
  expect(r.stderr).toBe('');
  return { trace, status: r.status };
}

async function readAll(path: string): Promise<{ reader: TraceReader; events: TraceEvent[] }> {
  const reader = await TraceReader.open(path);
  return { reader, events: [...reader.events()] };
}

/** Write a copy of a trace with its events changed by `edit` (same header and images). */
async function rewrite(src: string, dst: string, edit: (events: TraceEvent[]) => TraceEvent[]): Promise<void> {
  const { reader, events } = await readAll(src);
  const images = reader.header.images.map((info, i) => ({ name: info.name, role: info.role, bytes: reader.image(i) }));
  const w = await TraceWriter.create(dst, reader.header, images);
  const edited = edit(events);
  for (const e of edited.slice(0, -1)) w.append(e);
  const end = edited[edited.length - 1];
  if (end.kind !== 'end') throw new Error('the edit must keep the end event last');
  w.close(end);
  reader.close();
}

const HYPERVISOR_STACKS = ['none', 'kvm', 'hyperv', 'vmware', 'xen', 'vmm', 'hyperv,kvm'];

describe('record then replay is identical', () => {
  for (const hv of HYPERVISOR_STACKS) {
    it(`hello under --hypervisor ${hv}`, async () => {
      const { trace, status } = await record(`hello-${hv}`, ['--hypervisor', hv, '--kernel', guest('hello'), '--append', 'replay test']);
      expect(status).toBe(1); // isa-debug-exit 0
      const r = await replay([trace]);
      expect(r.stdout).toMatch(/^identical: .* \d+ events, \d+ instructions \(verify\)\n$/);
      expect(r.status).toBe(REPLAY_STATUS.IDENTICAL);
    });
  }

  const FIXTURES: Array<[string, string[]]> = [
    ['bench-alu', ['--append', 'iters=2000']],
    ['bench-memcpy', ['--append', 'iters=1']],
    ['bench-branchy', ['--append', 'iters=1']],
    ['sys-exceptions', []],
    ['sys-privilege', []],
    ['sys-paging32', []],
    ['sys-realmode', []],
    ['sys-interrupts', []],
    ['sys-segments', []],
    ['sys-triplefault', []],
  ];
  for (const [name, extra] of FIXTURES) {
    it(`${name}`, async () => {
      // A small digest interval, so the replay also checks mid-run digests.
      const { trace } = await record(name, ['--kernel', guest(name), '--digest-every', '2M', ...extra]);
      const { events } = await readAll(trace);
      // One hlt event per HLT executed (a halted vCPU is met again after each idle skip).
      const hlts = events.filter((e) => e.kind === 'hlt').map((e) => e.icount);
      expect(new Set(hlts).size).toBe(hlts.length);
      const r = await replayTrace(trace);
      expect(r.divergence).toBeNull();
      expect(r.identical).toBe(true);
      expect(r.events).toBe(events.length);
    });
  }

  // The hypervisor fixtures, each under its personality: clock structures written into guest
  // memory, hypercalls, the VMware backdoor, XenStore over MMIO and the information store.
  const PERSONALITY_FIXTURES: Array<[string, string[]]> = [
    ['pvbus-scan', ['--hypervisor', 'hyperv,kvm']],
    ['kvmclock', ['--hypervisor', 'kvm']],
    ['kvmclock', ['--hypervisor', 'vmm']],
    ['hyperv-clock', ['--hypervisor', 'hyperv']],
    ['xen-guest', ['--hypervisor', 'xen', '--kv', 'vm-data/foo=bar', '--kv-ro', 'vm-data/ro=fixed']],
    ['vmware-guestinfo', ['--hypervisor', 'vmware', '--kv', 'guestinfo.seeded=hello from the host', '--kv-ro', 'guestinfo.locked=set by the host', '--kv', `guestinfo.long=${'x'.repeat(300)}`]],
  ];
  for (const [name, extra] of PERSONALITY_FIXTURES) {
    it(`${name} under ${extra[1]}`, async () => {
      const { trace, status } = await record(`${name}-${extra[1]}`, ['--kernel', guest(name), '--digest-every', '200k', ...extra]);
      expect(status).toBe(1); // every check of the fixture passed
      const { reader, events } = await readAll(trace);
      reader.close();
      const r = await replayTrace(trace);
      expect(r.divergence).toBeNull();
      expect(r.events).toBe(events.length);
      if (name === 'xen-guest') expect(events.some((e) => e.kind === 'mmio')).toBe(true); // the XenStore window
      if (name !== 'pvbus-scan') expect(events.some((e) => e.kind === 'wrmsr' || e.kind === 'hypercall' || e.kind === 'io')).toBe(true);
    });
  }

  it('a run with simulated migrations (kvmclock guest) replays identically: the plan is in the header', async () => {
    const { trace, status } = await record('migrate', ['--hypervisor', 'kvm', '--kernel', guest('kvmclock'), '--migrate', '300k,tsc=2400000,pause=5000000', '--migrate', '600k,pause=1G']);
    expect(status).toBe(1); // the guest saw its clock stay monotonic through both
    const { reader, events } = await readAll(trace);
    expect((reader.header.config as { migrations: unknown[] }).migrations).toEqual([
      { atInsn: 300_000, tscKHz: 2_400_000, pauseNs: 5_000_000 },
      { atInsn: 600_000, pauseNs: 1_000_000_000 },
    ]);
    reader.close();
    const r = await replayTrace(trace);
    expect(r.identical).toBe(true);
    expect(r.events).toBe(events.length);
  });

  it('information-store writes (VMware guestinfo) are trace events and reported at the end of the run', async () => {
    const kv = ['--kv', 'guestinfo.seeded=hello from the host', '--kv-ro', 'guestinfo.locked=set by the host', '--kv', `guestinfo.long=${'x'.repeat(300)}`];
    const trace = join(tmp, 'kv.zst');
    const r = await run(['-m', '32M', '--hypervisor', 'vmware', ...kv, '--kernel', guest('vmware-guestinfo'), '--record', trace, '-l', 'com1,/dev/null', 'vm']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('hvsim: the guest set guestinfo.written="written by the guest"\n');
    expect(r.stderr).not.toContain('guestinfo.locked=');
    const { reader, events } = await readAll(trace);
    reader.close();
    const writes = events.filter((e) => e.kind === 'kv-write');
    expect(writes.map((e) => (e.kind === 'kv-write' ? [e.key, e.value] : []))).toEqual([['guestinfo.written', 'written by the guest']]);
    expect((await replayTrace(trace)).identical).toBe(true);
  });

  it('standalone mode answers port reads from the trace and is identical too', async () => {
    const { trace } = await record('interrupts-standalone', ['--kernel', guest('sys-interrupts')]);
    const r = await replay(['--mode', 'standalone', trace]);
    expect(r.stdout).toMatch(/^identical: .*\(standalone\)\n$/);
    expect(r.status).toBe(0);
  });

  it('recording the same run twice gives byte-identical files', async () => {
    const a = await record('twice-a', ['--hypervisor', 'kvm', '--kernel', guest('sys-interrupts'), '--digest-every', '5M']);
    const b = await record('twice-b', ['--hypervisor', 'kvm', '--kernel', guest('sys-interrupts'), '--digest-every', '5M']);
    // The header holds the command line, which names the trace file: compare event streams
    // and everything else, then the bytes with the file names made equal.
    const ea = (await readAll(a.trace)).events;
    const eb = (await readAll(b.trace)).events;
    expect(eb).toEqual(ea);
    const c = await run(['-m', '32M', '--hypervisor', 'kvm', '--kernel', guest('sys-interrupts'), '--digest-every', '5M', '--record', a.trace, '--quiet', '-l', 'com1,/dev/null', 'vm']);
    expect(c.status).toBe(a.status);
    const first = readFileSync(a.trace);
    await run(['-m', '32M', '--hypervisor', 'kvm', '--kernel', guest('sys-interrupts'), '--digest-every', '5M', '--record', a.trace, '--quiet', '-l', 'com1,/dev/null', 'vm']);
    expect(Buffer.compare(readFileSync(a.trace), first)).toBe(0);
  });
});

describe('a perturbed trace diverges at the perturbed event', () => {
  let base: string;
  let events: TraceEvent[];
  beforeAll(async () => {
    base = (await record('perturb-base', ['--hypervisor', 'kvm', '--kernel', guest('hello'), '--digest-every', '1k'])).trace;
    events = (await readAll(base)).events;
  });

  it('one flipped I/O value', async () => {
    const n = events.findIndex((e, i) => i > 20 && e.kind === 'io' && e.write && e.port === 0x3f8);
    expect(n).toBeGreaterThan(0);
    const dst = join(tmp, 'flip.zst');
    await rewrite(base, dst, (ev) => ev.map((e, i) => (i === n && e.kind === 'io' ? { ...e, value: e.value ^ 0x20 } : e)));
    const r = await replay([dst]);
    expect(r.status).toBe(REPLAY_STATUS.DIVERGED);
    expect(r.stdout).toContain(`DIVERGED at event ${n}:`);
    expect(r.stdout).toMatch(/\n \*value /);
    expect(r.stdout).toMatch(/guest: rip 0x[0-9a-f]+ \(after the instruction\), 64-bit long mode, CPL 0/);
    expect(r.stdout).toContain('last instructions before the divergence:');
    const j = JSON.parse((await replay(['--json', dst])).stdout);
    expect(j.identical).toBe(false);
    expect(j.divergence.event).toBe(n);
    expect(j.divergence.fields).toEqual(['value']);
    expect(j.divergence.lastInstructions.length).toBeGreaterThan(0);
  });

  it('one CPUID result changed', async () => {
    const n = events.findIndex((e) => e.kind === 'cpuid' && e.leaf === 0x40000000);
    expect(n).toBeGreaterThanOrEqual(0);
    const dst = join(tmp, 'cpuid.zst');
    await rewrite(base, dst, (ev) => ev.map((e, i) => (i === n && e.kind === 'cpuid' ? { ...e, result: [e.result[0], e.result[1] ^ 1, e.result[2], e.result[3]] } : e)));
    const j = JSON.parse((await replay(['--json', dst])).stdout);
    expect(j.divergence.event).toBe(n);
    expect(j.divergence.fields).toEqual(['ebx']);
  });

  it('one event dropped', async () => {
    const n = Math.floor(events.length / 2);
    const dst = join(tmp, 'drop.zst');
    await rewrite(base, dst, (ev) => ev.filter((_, i) => i !== n));
    const j = JSON.parse((await replay(['--json', dst])).stdout);
    expect(j.identical).toBe(false);
    expect(j.divergence.event).toBe(n);
  });

  it('one digest changed: reported at the digest, naming the part', async () => {
    const n = events.findIndex((e) => e.kind === 'digest');
    expect(n).toBeGreaterThan(0);
    const dst = join(tmp, 'digest.zst');
    await rewrite(base, dst, (ev) =>
      ev.map((e, i) => {
        if (i !== n || e.kind !== 'digest') return e;
        const parts = e.parts.map((p) => (p.name === 'ram' ? { name: p.name, hash: p.hash.map((b, k) => (k === 0 ? b ^ 1 : b)) } : p));
        return { ...e, parts };
      }),
    );
    const j = JSON.parse((await replay(['--json', dst])).stdout);
    expect(j.divergence.event).toBe(n);
    expect(j.divergence.fields).toEqual(['part.ram']);
  });

  it('the end status changed', async () => {
    const dst = join(tmp, 'end.zst');
    await rewrite(base, dst, (ev) => ev.map((e) => (e.kind === 'end' ? { ...e, exitStatus: e.exitStatus + 2 } : e)));
    const j = JSON.parse((await replay(['--json', dst])).stdout);
    expect(j.divergence.event).toBe(events.length - 1);
    expect(j.divergence.fields).toEqual(['status']);
  });
});

describe('bad and incomplete traces', () => {
  it('a truncated file: one line, status 65; with --allow-incomplete of a killed run: identical up to its end', async () => {
    const { trace } = await record('trunc', ['--kernel', guest('sys-interrupts')]);
    const bytes = readFileSync(trace);
    const cut = join(tmp, 'cut.zst');
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    const r = await replay([cut]);
    expect(r.status).toBe(REPLAY_STATUS.BAD_INPUT);
    expect(r.stderr).toMatch(/^hvsim replay: [^\n]+\n$/);
    expect(r.stdout).toBe('');

    // A killed run: the writer abandoned mid-way leaves <file>.tmp with complete frames.
    const { reader, events } = await readAll(trace);
    const images = reader.header.images.map((info, i) => ({ name: info.name, role: info.role, bytes: reader.image(i) }));
    const partial = join(tmp, 'killed.zst');
    const w = await TraceWriter.create(partial, reader.header, images, { frameBytes: 256 });
    for (const e of events.slice(0, Math.floor(events.length / 2))) w.append(e);
    w.abandon();
    reader.close();
    expect(statSync(`${partial}.tmp`).size).toBeGreaterThan(0);
    const refused = await replay([`${partial}.tmp`]);
    expect(refused.status).toBe(REPLAY_STATUS.BAD_INPUT);
    const ok = await replay(['--allow-incomplete', `${partial}.tmp`]);
    expect(ok.stdout).toMatch(/^identical up to the end of the incomplete trace: /);
    expect(ok.status).toBe(0);
  });

  it('a header whose machine cannot be built (too many vCPUs, a kernel that is not one): one line, status 65', async () => {
    const { trace } = await record('header-base', ['--kernel', guest('hello')]);
    const { reader, events } = await readAll(trace);
    const images = reader.header.images.map((info, i) => ({ name: info.name, role: info.role, bytes: reader.image(i) }));
    const write = async (name: string, config: unknown, imgs = images): Promise<string> => {
      const dst = join(tmp, name);
      const w = await TraceWriter.create(dst, { ...reader.header, config }, imgs);
      for (const e of events.slice(0, -1)) w.append(e);
      w.close(events[events.length - 1] as Extract<TraceEvent, { kind: 'end' }>);
      return dst;
    };
    const cfg = reader.header.config as Record<string, unknown>;
    const bad = [
      await write('vcpus.zst', { ...cfg, vcpus: 99 }),
      await write('notkernel.zst', cfg, images.map((im) => ({ ...im, bytes: new TextEncoder().encode('not a kernel') }))),
      await write('noconfig.zst', { vmname: 'x' }),
    ];
    reader.close();
    for (const f of bad) {
      const r = await replay([f]);
      expect(r.status).toBe(REPLAY_STATUS.BAD_INPUT);
      expect(r.stderr).toMatch(/^hvsim replay: [^\n]+\n$/);
      expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+/);
    }
  });

  it('not a trace, a missing file, a hash-only image without the file', async () => {
    const junk = join(tmp, 'junk.zst');
    writeFileSync(junk, 'this is not a trace\n');
    for (const f of [junk, join(tmp, 'missing.zst')]) {
      const r = await replay([f]);
      expect(r.status).toBe(REPLAY_STATUS.BAD_INPUT);
      expect(r.stderr).toMatch(/^hvsim replay: [^\n]+\n$/);
    }
    const { trace } = await record('hashonly', ['--kernel', guest('hello'), '--record-images', 'hash']);
    const r = await replay([trace]);
    expect(r.status).toBe(REPLAY_STATUS.BAD_INPUT);
    expect(r.stderr).toMatch(/--image kernel=PATH/);
    const wrong = await replay(['--image', `kernel=${guest('sys-realmode')}`, trace]);
    expect(wrong.status).toBe(REPLAY_STATUS.BAD_INPUT);
    expect(wrong.stderr).toMatch(/not the recorded one/);
    const given = await replay(['--image', `kernel=${guest('hello')}`, trace]);
    expect(given.status).toBe(0);
  });
});

describe('replay does not depend on host load', () => {
  it('replays identically while another process keeps a core busy', async () => {
    const { trace } = await record('load', ['--kernel', guest('sys-interrupts'), '--digest-every', '5M']);
    const quiet = await replayTrace(trace);
    const burner = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
    try {
      const loaded = await replayTrace(trace);
      expect(loaded.identical).toBe(true);
      expect(loaded.events).toBe(quiet.events);
      expect(loaded.instructions).toBe(quiet.instructions);
    } finally {
      burner.kill('SIGKILL');
    }
  });
});
