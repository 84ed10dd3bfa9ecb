// Assembling test snippets with the machine's GNU as (Intel syntax) and objcopy -O binary.
//
// A snippet is position-independent code for one mode; `hlt` is appended so it stops as the
// snippet contract (src/machine/snippet.ts) wants. Many snippets are assembled in one `as` run
// (assembleAll): each gets start/end labels, and `nm` gives their offsets in the one .text
// section. Results are cached on disk under .cache/asm/ (git-ignored): one JSON file per batch,
// named by a hash of the batch's sources, so a repeated run reads one file per test file and
// spawns nothing.
//
// If `as` is not installed, HAVE_AS is false and the CPU tests skip with ASM_SKIP_REASON.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type AsmMode = 16 | 32 | 64;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE_DIR = join(ROOT, '.cache', 'asm');
/** Bump when the way sources are wrapped changes (invalidates the disk cache). */
const WRAP_VERSION = 'v2';

function probe(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const HAVE_AS = probe('as') && probe('objcopy') && probe('nm');
export const ASM_SKIP_REASON = 'GNU binutils (as, objcopy, nm) not found: the CPU instruction tests need them to assemble snippets';

/** Machine code by source text (`${mode}\n${src}`), for this process. */
const memo = new Map<string, Uint8Array>();
const textKey = (mode: AsmMode, src: string): string => `${mode}\n${src}`;

function batchPath(items: ReadonlyArray<{ mode: AsmMode; src: string }>): string {
  const h = createHash('sha256').update(WRAP_VERSION);
  for (const it of items) h.update(`\0${it.mode}\0${it.src}`);
  return join(CACHE_DIR, h.digest('hex').slice(0, 32) + '.json');
}

/** Run `as` once over the snippets; returns their bytes in order. */
function runAs(items: ReadonlyArray<{ mode: AsmMode; src: string }>): Uint8Array[] {
  if (!HAVE_AS) throw new Error(ASM_SKIP_REASON);
  const lines = ['.intel_syntax noprefix', '.text'];
  items.forEach((it, i) => lines.push(`.code${it.mode}`, `__s${i}:`, it.src, 'hlt', `__e${i}:`));
  const dir = mkdtempSync(join(tmpdir(), 'hvsim-asm-'));
  try {
    const s = join(dir, 'a.s');
    const o = join(dir, 'a.o');
    const bin = join(dir, 'a.bin');
    writeFileSync(s, lines.join('\n') + '\n');
    try {
      execFileSync('as', ['--64', '-o', o, s], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      const err = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
      throw new Error(`as failed:\n${err}\nsource:\n${lines.join('\n')}`);
    }
    const relocs = execFileSync('objdump', ['-r', o]).toString();
    if (/R_X86_64/.test(relocs)) throw new Error(`snippets must be position-independent:\n${relocs}`);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', o, bin]);
    const all = new Uint8Array(readFileSync(bin));
    const addr = new Map<string, number>();
    for (const line of execFileSync('nm', [o], { maxBuffer: 64 << 20 }).toString().split('\n')) {
      const m = /^([0-9a-f]+) \w (__[se]\d+)$/.exec(line.trim());
      if (m) addr.set(m[2], parseInt(m[1], 16));
    }
    return items.map((_, i) => {
      const a = addr.get(`__s${i}`);
      const b = addr.get(`__e${i}`);
      if (a === undefined || b === undefined) throw new Error(`nm lost snippet ${i}`);
      return all.slice(a, b);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Assemble the given snippets in one `as` run, or load the batch from the disk cache. */
export function assembleAll(items: ReadonlyArray<{ mode: AsmMode; src: string }>): void {
  const seen = new Set<string>();
  const uniq = items.filter((it) => {
    const k = textKey(it.mode, it.src);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  if (uniq.every((it) => memo.has(textKey(it.mode, it.src)))) return;
  const path = batchPath(uniq);
  if (existsSync(path)) {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as string[];
    if (stored.length === uniq.length) {
      uniq.forEach((it, i) => memo.set(textKey(it.mode, it.src), new Uint8Array(Buffer.from(stored[i], 'base64'))));
      return;
    }
  }
  const bytes = runAs(uniq);
  uniq.forEach((it, i) => memo.set(textKey(it.mode, it.src), bytes[i]));
  mkdirSync(CACHE_DIR, { recursive: true });
  // Write then rename: test workers may race on the same batch.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(bytes.map((b) => Buffer.from(b).toString('base64'))));
  renameSync(tmp, path);
}

/** Machine code of `src` (Intel syntax, one instruction per line or `;`-separated) + HLT. */
export function assemble(mode: AsmMode, src: string): Uint8Array {
  const k = textKey(mode, src);
  let b = memo.get(k);
  if (b === undefined) {
    assembleAll([{ mode, src }]);
    b = memo.get(k)!;
  }
  return b;
}
