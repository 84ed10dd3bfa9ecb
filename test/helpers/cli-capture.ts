// Running an hvsim command in-process with its stdout and stderr captured as text (colours
// stripped), for the CLI tests.

import { Writable } from 'node:stream';

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

export class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

// eslint-disable-next-line no-control-regex
export const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `command(args, io)` with captured streams. */
export async function capture(command: (args: string[], io: Io) => Promise<number>, args: string[]): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const status = await command(args, { stdout, stderr });
  return { status, stdout: plain(stdout.text), stderr: plain(stderr.text) };
}
