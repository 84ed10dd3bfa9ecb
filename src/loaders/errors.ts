// The one error type every loader throws for a bad image or an impossible placement.
//
// A loader never lets a host exception (RangeError from a DataView, TypeError from a
// missing field) escape for bad input: it checks first and throws a LoaderError whose
// message is one sentence naming the problem, and whose `code` lets callers branch.

export type LoaderErrorCode =
  /** The image ends before a structure or a segment's data that it declares. */
  | 'truncated'
  /** Not the expected format at all (ELF magic, multiboot header not found). */
  | 'bad-magic'
  /** A checksum does not add up (multiboot header). */
  | 'bad-checksum'
  /** Well-formed, but asks for something this loader does not do (big-endian, ELF64 for multiboot, ...). */
  | 'unsupported'
  /** Internally inconsistent fields (filesz > memsz, load_addr above header_addr, ...). */
  | 'invalid'
  /** A guest address range lies outside guest RAM or overlaps an MMIO window. */
  | 'outside-ram'
  /** Two things the loader must place overlap (segments, kernel and the boot information area). */
  | 'overlap'
  /** Nowhere left to put something (modules, boot information). */
  | 'no-space';

export class LoaderError extends Error {
  override readonly name = 'LoaderError';
  constructor(
    readonly code: LoaderErrorCode,
    message: string,
  ) {
    super(message);
  }
}
