// Determinism of the Hyper-V personality end to end: fixtures/guests/hyperv-clock (hypercall page,
// hypercalls, reference TSC page, TIME_REF_COUNT) recorded through `hvsim run --record` replays
// identically, event for event and instruction for instruction.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../src/cli/run.js';
import { replayCommand } from '../../src/cli/replay.js';
import { loadTraceCodec } from '../../src/trace/index.js';
import { REPLAY_STATUS } from '../../src/api/exit-status.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ELF = join(ROOT, 'fixtures/guests/hyperv-clock/hyperv-clock.elf');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hvsim-hyperv-'));
  await loadTraceCodec();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('hyperv-clock record → replay', () => {
  it('replays identically', async () => {
    const trace = join(tmp, 'hyperv-clock.zst');
    const err = new Capture();
    const status = await runCommand(['--hypervisor', 'hyperv', '--kernel', ELF, '--record', trace, '--quiet', '-l', 'com1,/dev/null', 'vm'], { stdout: new Capture(), stderr: err });
    expect(err.text).toBe('');
    expect(status).toBe(1); // isa-debug-exit 0: every check of the guest passed
    const out = new Capture();
    const r = await replayCommand([trace], { stdout: out, stderr: new Capture() });
    // eslint-disable-next-line no-control-regex
    expect(out.text.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/^identical: .* \d+ events, \d+ instructions \(verify\)\n$/);
    expect(r).toBe(REPLAY_STATUS.IDENTICAL);
  });
});
