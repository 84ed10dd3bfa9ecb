// The one error type a trace reader throws for a bad file. Every way a file can be wrong
// (empty, not zstd, not a trace, another format version, truncated, corrupt) maps to one
// `code` and a one-line message meant to be shown to the user as is.

export type TraceFormatErrorCode =
  | 'empty'
  | 'not-zstd'
  | 'bad-magic'
  | 'bad-version'
  | 'truncated'
  | 'corrupt';

export class TraceFormatError extends Error {
  override readonly name = 'TraceFormatError';
  constructor(
    readonly code: TraceFormatErrorCode,
    message: string,
  ) {
    super(message);
  }
}
