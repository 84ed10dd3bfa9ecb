// Opening a trace for the trace tools: every way a file can be unreadable (missing, not a
// trace, truncated, corrupt, another format version) becomes one BadTraceFile naming the
// file as the user typed it, so the command prints one line and exits with BAD_INPUT.

import { basename } from 'node:path';
import { TraceFormatError, TraceReader, type TraceEvent } from '../trace/index.js';

export class BadTraceFile extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

const SYSTEM_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a trace file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'no such file (a component of the path is not a directory)',
  ELOOP: 'too many symbolic links',
};

/** The error as one line about `file`, or null if it is not about the file (a bug). */
function describe(file: string, err: unknown): string | null {
  if (err instanceof TraceFormatError) {
    // Reader messages start with the file's base name; the user's spelling replaces it.
    const prefix = `${basename(file)}: `;
    const msg = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    // The reader's advice names its API option; here it is a command-line flag.
    return msg.replace(/\s*\n\s*/g, ' ').replace('(open with allowIncomplete to read them)', '(--allow-incomplete reads them)');
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return SYSTEM_ERRORS[code] ?? `cannot read (${code})`;
  return null;
}

/** Rethrows a file-related error as BadTraceFile; anything else unchanged. */
export function asBadFile(file: string, err: unknown): never {
  const msg = describe(file, err);
  if (msg === null) throw err;
  throw new BadTraceFile(file, msg);
}

export async function openTrace(file: string, allowIncomplete: boolean): Promise<TraceReader> {
  let r: TraceReader;
  try {
    r = await TraceReader.open(file, { allowIncomplete });
  } catch (err) {
    asBadFile(file, err);
  }
  const bad = headerProblem(r.header);
  if (bad !== null) {
    r.close();
    throw new BadTraceFile(file, `corrupt: the header's ${bad}`);
  }
  return r;
}

/**
 * What is wrong with the parts of the header the tools print, beyond what the reader checks
 * (it checks the fields exist): the header is JSON from the file, so anything can be there.
 */
function headerProblem(h: TraceReader['header']): string | null {
  const i = h.commandLine.findIndex((a) => typeof a !== 'string');
  if (i >= 0) return `commandLine[${i}] is not a string`;
  for (const [k, im] of h.images.entries()) {
    const ok =
      typeof im === 'object' &&
      im !== null &&
      typeof im.name === 'string' &&
      typeof im.role === 'string' &&
      Number.isSafeInteger(im.size) &&
      im.size >= 0 &&
      typeof im.sha256 === 'string' &&
      typeof im.embedded === 'boolean';
    if (!ok) return `images[${k}] is not {name, role, size, sha256, embedded}`;
  }
  return null;
}

/** The reader's events, numbered, with read errors turned into BadTraceFile. */
export function* numberedEvents(
  file: string,
  r: TraceReader,
  opts: { fromFrame?: number; fromEvent?: number } = {},
): Generator<[number, TraceEvent], void, void> {
  const frameStart = opts.fromFrame !== undefined ? (r.frames[opts.fromFrame]?.firstEvent ?? r.eventCount) : 0;
  let n = Math.max(opts.fromEvent ?? 0, frameStart);
  try {
    for (const e of r.events(opts)) yield [n++, e];
  } catch (err) {
    asBadFile(file, err);
  }
}
