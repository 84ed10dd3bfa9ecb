// Output plumbing shared by `hvsim trace show|stats|diff`: a buffered line writer that
// respects back-pressure and stops quietly when the reader of a pipe goes away (`| head`),
// colours only for a terminal, and aligned text tables.

import chalk, { Chalk, type ChalkInstance } from 'chalk';

export interface TraceIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const FLUSH_AT = 64 << 10;

/** Streams that failed (EPIPE: `hvsim trace show big.zst | head`), one listener per stream. */
const failed = new WeakSet<NodeJS.WritableStream>();
const watched = new WeakSet<NodeJS.WritableStream>();

function watch(stream: NodeJS.WritableStream): void {
  if (watched.has(stream)) return;
  watched.add(stream);
  // Stays attached: a write still pending on a closed pipe fails after the command returned.
  stream.on('error', () => failed.add(stream));
}

export class LineOut {
  /** Colours for io.stdout: chalk's own level (NO_COLOR, FORCE_COLOR) when it is a terminal, none otherwise. */
  readonly c: ChalkInstance;
  private buf: string[] = [];
  private size = 0;

  constructor(private readonly stream: NodeJS.WritableStream) {
    const tty = (stream as { isTTY?: boolean }).isTTY === true;
    this.c = new Chalk({ level: tty ? chalk.level : 0 });
    watch(stream);
  }

  /** True once stdout failed (its reader went away); output then stops. */
  get closed(): boolean {
    return failed.has(this.stream);
  }

  line(s = ''): void {
    this.buf.push(s, '\n');
    this.size += s.length + 1;
  }

  /** Writes out what is buffered once there is enough of it; waits if the stream asks to. */
  async maybeFlush(): Promise<void> {
    if (this.size >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const text = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (this.closed) return;
    const ok = this.stream.write(text);
    if (!ok && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.removeListener('drain', done);
          this.stream.removeListener('error', done);
          this.stream.removeListener('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('error', done);
        this.stream.on('close', done);
      });
    }
  }

  async end(): Promise<void> {
    await this.flush();
  }
}

export type Align = 'l' | 'r';

/**
 * Rows of cells as aligned lines: each column as wide as its widest cell, two spaces
 * between columns, no trailing blanks. `align` gives each column's side (default left).
 */
export function table(rows: readonly (readonly string[])[], align: readonly Align[] = [], indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => {
    const cells = row.map((cell, i) => (align[i] === 'r' ? cell.padStart(widths[i]) : i === row.length - 1 ? cell : cell.padEnd(widths[i])));
    return (indent + cells.join('  ')).trimEnd();
  });
}

/** A non-negative integer with thousands separators (1,234,567): stable, locale-free. */
export function grouped(n: number): string {
  const s = String(n);
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A non-negative number with `decimals` decimals and a grouped integer part (12,345.6). */
export function decimal(x: number, decimals: number): string {
  const [int, frac] = x.toFixed(decimals).split('.');
  return grouped(Number(int)) + (frac === undefined ? '' : '.' + frac);
}

/** A ratio with a fixed number of decimals, or '-' when the divisor is 0. */
export function ratio(a: number, b: number, decimals = 2): string {
  return b === 0 ? '-' : (a / b).toFixed(decimals);
}
