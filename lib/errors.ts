/** Error codes carried by every {@link MmprefError}. */
export const ERROR_CODES = [
  'ERR_SHAPE',
  'ERR_DTYPE',
  'ERR_RANGE',
  'ERR_DEVICE',
  'ERR_OOM',
  'ERR_DETACHED',
  'ERR_ARGUMENT',
  /** A file's content is not what its format requires (safetensors header, config.json, checkpoint keys). */
  'ERR_FORMAT',
  /** A file or directory could not be opened, read or written. */
  'ERR_IO',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The one error class of mmpref, thrown by the TypeScript validation and by native code alike
 * (the addon receives this constructor at load, so native errors are real instances).
 * `code` says what kind of problem it is; `message` says what was expected and what was given.
 */
export class MmprefError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode) {
    super(message);
    this.name = 'MmprefError';
    this.code = (ERROR_CODES as readonly string[]).includes(code) ? code : 'ERR_ARGUMENT';
  }
}

/** Throws an MmprefError whose message starts with the op name. */
export function fail(code: ErrorCode, op: string, message: string): never {
  throw new MmprefError(`${op}: ${message}`, code);
}
