// Assembling test snippets with the machine's GNU as (Intel syntax) and objcopy -O binary.
//
// A snippet is position-independent code for one mode; `hlt` is appended so it stops as the
// snippet contract (src/machine/snippet.ts) wants. Results are cached on disk under .cache/asm/
// (git-ignored), keyed by a hash of the assembler input, so repeated runs do not spawn `as`.
// Many snippets are assembled in one `as` run (assembleAll): each gets start/end labels, and
// `nm` gives their offsets in the one .text section.
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
const WRAP_VERSION = 'v1';

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

const memo = new Map<string, Uint8Array>();

function keyOf(mode: AsmMode, src: string): string {
  return createHash('sha256').update(`${WRAP_VERSION}\n${mode}\n${src}`).digest('hex').slice(0, 32);
}

function cachePath(key: string): string {
  return join(CACHE_DIR, key.slice(0, 2), key + '.bin');
}

function lookup(key: string): Uint8Array | undefined {
  const m = memo.get(key);
  if (m !== undefined) return m;
  const p = cachePath(key);
  if (existsSync(p)) {
    const b = new Uint8Array(readFileSync(p));
    memo.set(key, b);
    return b;
  }
  return undefined;
}

function store(key: string, bytes: Uint8Array): void {
  memo.set(key, bytes);
  const p = cachePath(key);
  mkdirSync(dirname(p), { recursive: true });
  // Write then rename: test workers may race on the same key.
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, p);
}

/** Assemble the given snippets (those not cached) in one `as` run. */
export function assembleAll(items: ReadonlyArray<{ mode: AsmMode; src: string }>): void {
  const todo = new Map<string, { mode: AsmMode; src: string }>();
  for (const it of items) {
    const k = keyOf(it.mode, it.src);
    if (!todo.has(k) && lookup(k) === undefined) todo.set(k, it);
  }
  if (todo.size === 0) return;
  if (!HAVE_AS) throw new Error(ASM_SKIP_REASON);
  const keys = [...todo.keys()];
  const lines = ['.intel_syntax noprefix', '.text'];
  keys.forEach((k, i) => {
    const it = todo.get(k)!;
    lines.push(`.code${it.mode}`, `__s${i}:`, it.src, 'hlt', `__e${i}:`);
  });
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
    for (const line of execFileSync('nm', [o]).toString().split('\n')) {
      const m = /^([0-9a-f]+) \w (__[se]\d+)$/.exec(line.trim());
      if (m) addr.set(m[2], parseInt(m[1], 16));
    }
    keys.forEach((k, i) => {
      const a = addr.get(`__s${i}`);
      const b = addr.get(`__e${i}`);
      if (a === undefined || b === undefined) throw new Error(`nm lost snippet ${i}`);
      store(k, all.slice(a, b));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Machine code of `src` (Intel syntax, one instruction per line or `;`-separated) + HLT. */
export function assemble(mode: AsmMode, src: string): Uint8Array {
  const fast = bySource.get(`${mode}\n${src}`);
  if (fast !== undefined) return fast;
  const bytes = assembleUncached(mode, src);
  bySource.set(`${mode}\n${src}`, bytes);
  return bytes;
}

/** In-process memo by source text (avoids hashing on every call). */
const bySource = new Map<string, Uint8Array>();

function assembleUncached(mode: AsmMode, src: string): Uint8Array {
  const k = keyOf(mode, src);
  const hit = lookup(k);
  if (hit !== undefined) return hit;
  assembleAll([{ mode, src }]);
  return lookup(k)!;
}
