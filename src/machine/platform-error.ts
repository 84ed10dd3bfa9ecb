// A configuration the platform cannot build (a bad `-s`, a conflicting option, an unreadable
// image): found before the guest starts, reported as one line that names the option.

export class PlatformError extends Error {
  override name = 'PlatformError';
}
