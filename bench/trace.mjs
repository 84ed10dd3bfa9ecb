// `npm run bench:trace`: what recording and replaying a trace costs (issue 3's figures).
// Bench code: host time is what it measures.
//
//   node bench/trace.mjs [--quick] [--reps N] [--no-memory] [--no-time] [bench-alu bench-io ...]
//
// For bench-alu, bench-memcpy, bench-branchy (bench/run.js's iteration counts) and the
// exit-heavy bench-io, in this process, each repetition running every mode once in turn:
//   plain        `hvsim run` without --record: no observer, no digests;
//   record       `hvsim run --record`: TraceRecorder, digests every DEFAULT_DIGEST_EVERY
//                instructions of a 256 MiB (DEFAULT_MEMORY_BYTES) machine, the end digest;
//   record-nodig the same with --digest-every 0 (only the end digest);
//   replay       `hvsim replay` (verify mode) of the `record` trace, opening included.
// Best and median of wall and process CPU time (user + system) over the repetitions;
// overhead = mode time / plain time (targets: record <= 1.10, replay <= 1.00).
// Trace size: file bytes and raw (decompressed record stream) bytes, per million guest
// instructions and per event.
// Memory: bench-io recorded then replayed for N and 4N iterations, each in a fresh child
// process; RSS (process.memoryUsage.rss()) sampled every SAMPLE_EVENTS events (observer calls
// while recording, events read while replaying; the counting costs a little, so these runs'
// times are not the overhead figures), reported at 10%, 50% and 100% of the run, plus the
// kernel's peak (resourceUsage().maxRSS).
//
// Results go to stdout as tables and to JSON at $HVSIM_BENCH_OUT (default
// /tmp/hvsim-trace-bench-<UTC date>.json). `npm run build` first: this imports dist/.

import { readFileSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { parseRunArgs, DEFAULT_DIGEST_EVERY, DEFAULT_MEMORY_BYTES } from '../dist/cli/args.js';
import { readRunImages, traceHeader } from '../dist/cli/run.js';
import { createSession, driveSession, sessionDigest } from '../dist/api/session.js';
import { statusOf, endReason } from '../dist/api/exit-status.js';
import { loadTraceCodec, TraceWriter, TraceReader } from '../dist/trace/index.js';
import { TraceRecorder } from '../dist/trace/recorder.js';
import { replayReader } from '../dist/trace/replay.js';
import { expected as benchExpected } from '../fixtures/guests/model.mjs';
import { expected as ioExpected } from '../fixtures/guests/bench-io/model.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TMP = process.env.TMPDIR ?? '/tmp';
const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const optValue = (f, dflt) => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = flag('--quick');

// Iteration counts: bench/run.js's (about 100-250 M instructions each); bench-io 4 M
// iterations = 172 M instructions, 28 M events.
const ITERS = quick
  ? { 'bench-alu': 2_000_000, 'bench-memcpy': 200, 'bench-branchy': 20, 'bench-io': 200_000 }
  : { 'bench-alu': 50_000_000, 'bench-memcpy': 4_000, 'bench-branchy': 400, 'bench-io': 4_000_000 };
// The memory runs: bench-io for N and 4N iterations (4N = 12 M iterations = 516 M instructions).
const MEMORY_ITERS = quick ? 300_000 : 3_000_000;
const SAMPLE_EVENTS = 1 << 18;

const expectedOf = (name, iters) => (name === 'bench-io' ? ioExpected(iters) : benchExpected(name, iters));
const elfOf = (name) => join('fixtures/guests', name, `${name}.elf`);

/** The RunConfig `hvsim run` would build for this fixture (so the trace header is the CLI's). */
function config(name, iters, extra = []) {
  const argv = ['--kernel', elfOf(name), '--append', `iters=${iters}`, '--quiet', ...extra, name];
  return { cfg: parseRunArgs(argv), argv };
}

function timed(fn) {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const out = fn();
  const cpu = process.cpuUsage(c0);
  return { out, wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (cpu.user + cpu.system) / 1e6 };
}

/**
 * The observer with every call counted (all MachineObserver methods take vCPU, icount first),
 * for the memory runs' RSS sampling; whatever path the recorder takes to the writer.
 */
function counted(observer, onEvent) {
  let n = 0;
  const wrapped = new Map();
  return new Proxy(observer, {
    get(target, key) {
      const v = target[key];
      if (typeof v !== 'function') return v;
      let w = wrapped.get(key);
      if (w === undefined) {
        w = (...a) => {
          const r = v.apply(target, a);
          onEvent(++n, a[1]);
          return r;
        };
        wrapped.set(key, w);
      }
      return w;
    },
  });
}

/** One run as `hvsim run [--record PATH]` does it (src/cli/run.ts), serial captured. */
function runOnce(name, iters, { record = null, digestEvery = DEFAULT_DIGEST_EVERY, onEvent = null } = {}) {
  const extra = record === null ? [] : ['--record', record, '--digest-every', String(digestEvery)];
  const { cfg, argv } = config(name, iters, extra);
  const images = readRunImages(cfg);
  if (typeof images === 'string') throw new Error(images);
  const serial = [];
  const session = createSession(cfg, images.session, { com1: (b) => serial.push(b) });
  let writer = null;
  if (record !== null) {
    writer = TraceWriter.createSync(record, traceHeader(cfg, argv), images.trace);
    const recorder = new TraceRecorder(writer);
    session.machine.observer = onEvent === null ? recorder : counted(recorder, onEvent);
  }
  const exit = driveSession(session, {
    maxInsns: cfg.maxInsns,
    digestEvery: writer === null ? 0 : cfg.digestEvery,
    onDigest: (icount, d) => writer.append({ vcpu: 0, icount, kind: 'digest', hash: d.hash, parts: d.parts }),
  });
  const insns = session.machine.cpus[0].insns;
  if (writer !== null) {
    writer.close({ vcpu: 0, icount: insns, kind: 'end', reason: endReason(exit), exitStatus: statusOf(exit), digest: sessionDigest(session).hash });
  }
  return { exit, insns, serial: Buffer.from(serial).toString('latin1'), events: writer?.eventCount ?? 0 };
}

/** `hvsim replay PATH` in verify mode (src/cli/replay.ts calls the same replayReader). */
function replayOnce(path, onEvent = null) {
  const reader = TraceReader.openSync(path);
  try {
    if (onEvent !== null) {
      const events = reader.events.bind(reader);
      reader.events = function* (o) {
        let n = 0;
        for (const e of events(o)) {
          yield e;
          onEvent(++n, e.icount);
        }
      };
    }
    const r = replayReader(reader, { mode: 'verify' });
    if (!r.identical) throw new Error(`${path}: replay diverged at event ${r.divergence?.event} (${r.divergence?.fields.join(', ')})`);
    return r;
  } finally {
    reader.close();
  }
}

/** Raw (decompressed) bytes of a trace and of its event frames. */
function traceSizes(path) {
  const reader = TraceReader.openSync(path);
  try {
    let raw = 0;
    let eventRaw = 0;
    let eventFile = 0;
    for (const f of reader.frames) {
      raw += f.contentSize;
      if (f.eventCount > 0) {
        eventRaw += f.contentSize;
        eventFile += f.compressedSize;
      }
    }
    return { file: statSync(path).size, raw, eventRaw, eventFile, events: reader.eventCount };
  } finally {
    reader.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (runs) => ({
  wallBest: Math.min(...runs.map((r) => r.wall)),
  wallMedian: median(runs.map((r) => r.wall)),
  cpuBest: Math.min(...runs.map((r) => r.cpu)),
  cpuMedian: median(runs.map((r) => r.cpu)),
  runs: runs.map((r) => ({ wall: r.wall, cpu: r.cpu })),
});

function checkOutput(name, iters, r) {
  const e = expectedOf(name, iters);
  const ok = r.exit.kind === 'debug-exit' && r.exit.code === e.exitValue && r.serial.includes(e.checksum);
  if (!ok) throw new Error(`${name} iters=${iters}: wrong result (${JSON.stringify(r.exit)}, serial ${JSON.stringify(r.serial)})`);
}

function timeFixture(name, iters, reps) {
  const trace = join(TMP, `hvsim-bench-${process.pid}-${name}.zst`);
  const traceNoDigest = join(TMP, `hvsim-bench-${process.pid}-${name}-nodig.zst`);
  // Warm-up (JIT) on a short run of every mode.
  const warm = Math.max(1, Math.floor(iters / 50));
  checkOutput(name, warm, runOnce(name, warm));
  runOnce(name, warm, { record: trace });
  replayOnce(trace);
  const modes = { plain: [], record: [], 'record-nodig': [], replay: [] };
  let insns = 0;
  let events = 0;
  for (let rep = 0; rep < reps; rep++) {
    const p = timed(() => runOnce(name, iters));
    checkOutput(name, iters, p.out);
    insns = p.out.insns;
    modes.plain.push(p);
    const r = timed(() => runOnce(name, iters, { record: trace }));
    checkOutput(name, iters, r.out);
    events = r.out.events;
    modes.record.push(r);
    const n = timed(() => runOnce(name, iters, { record: traceNoDigest, digestEvery: 0 }));
    checkOutput(name, iters, n.out);
    modes['record-nodig'].push(n);
    const y = timed(() => replayOnce(trace));
    if (y.out.instructions !== insns) throw new Error(`${name}: replay retired ${y.out.instructions} instructions, the run ${insns}`);
    modes.replay.push(y);
    process.stderr.write(`  ${name} rep ${rep + 1}/${reps}: plain ${p.wall.toFixed(2)} s, record ${r.wall.toFixed(2)} s, record-nodig ${n.wall.toFixed(2)} s, replay ${y.wall.toFixed(2)} s\n`);
  }
  const sizes = traceSizes(trace);
  const sizesNoDigest = traceSizes(traceNoDigest);
  rmSync(trace, { force: true });
  rmSync(traceNoDigest, { force: true });
  const out = { fixture: name, iters, instructions: insns, events, modes: {}, size: sizes, sizeNoDigest: sizesNoDigest };
  for (const [k, v] of Object.entries(modes)) out.modes[k] = stats(v);
  return out;
}

/** Child process: one memory run, RSS sampled every SAMPLE_EVENTS events. Prints JSON. */
async function memoryChild(kind, iters, path) {
  await loadTraceCodec();
  const samples = [];
  const sample = (n, icount) => {
    if ((n & (SAMPLE_EVENTS - 1)) === 0) samples.push([icount, process.memoryUsage.rss()]);
  };
  const startRss = process.memoryUsage.rss();
  let insns;
  const t = timed(() => {
    if (kind === 'record') {
      const r = runOnce('bench-io', iters, { record: path, onEvent: sample });
      checkOutput('bench-io', iters, r);
      insns = r.insns;
    } else {
      insns = replayOnce(path, sample).instructions;
    }
  });
  samples.push([insns, process.memoryUsage.rss()]);
  const at = (frac) => {
    let best = samples[0];
    for (const s of samples) if (Math.abs(s[0] - frac * insns) < Math.abs(best[0] - frac * insns)) best = s;
    return { icount: best[0], rss: best[1] };
  };
  const result = {
    kind, iters, instructions: insns, wall: t.wall, cpu: t.cpu, startRss,
    rss10: at(0.1), rss50: at(0.5), rss100: at(1.0),
    maxSampledRss: Math.max(...samples.map((s) => s[1])),
    peakRss: process.resourceUsage().maxRSS * 1024,
    samples: samples.length,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function memoryRuns() {
  const out = [];
  for (const iters of [MEMORY_ITERS, 4 * MEMORY_ITERS]) {
    const path = join(TMP, `hvsim-bench-${process.pid}-mem-${iters}.zst`);
    for (const kind of ['record', 'replay']) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--memory-child', kind, String(iters), path], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`memory child ${kind} ${iters}: status ${r.status}\n${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').pop());
      if (kind === 'record') res.traceBytes = statSync(path).size;
      out.push(res);
      process.stderr.write(`  memory ${kind} bench-io iters=${iters}: ${(res.instructions / 1e6).toFixed(0)} M instructions, ${res.wall.toFixed(1)} s, peak RSS ${(res.peakRss / 2 ** 20).toFixed(0)} MiB\n`);
    }
    rmSync(path, { force: true });
  }
  return out;
}

const MiB = 2 ** 20;
const f2 = (x) => x.toFixed(2);

function printTables(results, memory) {
  if (results.length > 0) {
    console.log('\nTime (s; best / median of the repetitions; ratio = best / plain best, wall and CPU)');
    console.table(results.map((r) => {
      const p = r.modes.plain;
      const row = { fixture: r.fixture, 'M insns': (r.instructions / 1e6).toFixed(0), 'M events': (r.events / 1e6).toFixed(2) };
      for (const m of ['plain', 'record', 'record-nodig', 'replay']) {
        const s = r.modes[m];
        row[`${m} wall`] = `${f2(s.wallBest)} / ${f2(s.wallMedian)}`;
        if (m !== 'plain') row[`${m} ratio`] = `${f2(s.wallBest / p.wallBest)} (cpu ${f2(s.cpuBest / p.cpuBest)})`;
      }
      row['plain MIPS'] = (r.instructions / p.wallBest / 1e6).toFixed(1);
      return row;
    }));
    console.log('Trace size (default digests; raw = decompressed record stream; event frames only for per-event figures)');
    console.table(results.map((r) => {
      const s = r.size;
      return {
        fixture: r.fixture,
        events: s.events,
        'file bytes': s.file,
        'raw bytes': s.raw,
        'file B/M insn': Math.round((s.file / r.instructions) * 1e6),
        'raw B/M insn': Math.round((s.raw / r.instructions) * 1e6),
        'file B/event': f2(s.eventFile / s.events),
        'raw B/event': f2(s.eventRaw / s.events),
        'events/M insn': Math.round((s.events / r.instructions) * 1e6),
      };
    }));
  }
  if (memory.length > 0) {
    console.log('Memory, bench-io in a fresh process per run (RSS MiB at 10% / 50% / 100% of the run; peak = kernel maxRSS)');
    console.table(memory.map((m) => ({
      run: m.kind,
      iters: m.iters,
      'M insns': (m.instructions / 1e6).toFixed(0),
      's wall': m.wall.toFixed(1),
      'start RSS': (m.startRss / MiB).toFixed(0),
      'RSS 10%': (m.rss10.rss / MiB).toFixed(0),
      'RSS 50%': (m.rss50.rss / MiB).toFixed(0),
      'RSS 100%': (m.rss100.rss / MiB).toFixed(0),
      'peak RSS': (m.peakRss / MiB).toFixed(0),
    })));
  }
}

async function main() {
  if (flag('--memory-child')) {
    const i = args.indexOf('--memory-child');
    return memoryChild(args[i + 1], Number(args[i + 2]), args[i + 3]);
  }
  await loadTraceCodec();
  const reps = Number(optValue('--reps', quick ? '2' : '3'));
  const names = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--reps');
  const selected = names.length > 0 ? names : ['bench-alu', 'bench-memcpy', 'bench-branchy', 'bench-io'];
  process.stderr.write(`trace bench: ${reps} repetitions, ${DEFAULT_MEMORY_BYTES / MiB} MiB guest, digest every ${DEFAULT_DIGEST_EVERY / 1e6} M instructions\n`);
  const results = [];
  if (!flag('--no-time')) for (const name of selected) results.push(timeFixture(name, ITERS[name], reps));
  const memory = flag('--no-memory') ? [] : memoryRuns();
  printTables(results, memory);
  const outPath = process.env.HVSIM_BENCH_OUT ?? join(TMP, `hvsim-trace-bench-${new Date().toISOString().slice(0, 10)}.json`);
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    commandLine: process.argv.slice(2),
    memoryBytes: DEFAULT_MEMORY_BYTES,
    digestEvery: DEFAULT_DIGEST_EVERY,
    reps,
    results,
    memory,
  };
  writeFileSync(outPath, JSON.stringify(json, null, 1) + '\n');
  console.log(`results: ${outPath}`);
}

await main();
