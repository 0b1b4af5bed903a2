/**
 * Error classes with stable `code`s. Every failure voxcache reports is one of these, on both sides of
 * the worker boundary: the client rethrows worker errors through {@link reviveError}, so `instanceof`
 * works on the main thread.
 */

/** Base class of every voxcache error. `code` is stable across versions; match on it or on the class. */
export class VoxCacheError extends Error {
  readonly code: string = 'VOXCACHE_ERROR'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** An input file could not be decoded into an image (malformed, truncated, missing a part). */
export class DecodeError extends VoxCacheError {
  override readonly code = 'DECODE_FAILED'
}
/** The input is in no format voxcache reads. */
export class UnsupportedFormatError extends VoxCacheError {
  override readonly code = 'UNSUPPORTED_FORMAT'
}
/** A stored record failed validation (bad magic, header, lengths or checksum). It is quarantined. */
export class CorruptEntryError extends VoxCacheError {
  override readonly code = 'CORRUPT_ENTRY'
  constructor(
    readonly entryId: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`entry ${entryId} is corrupt: ${reason}`, options)
  }
}
/** The value does not fit in the byte budget or the browser's quota, even after eviction. */
export class CacheFullError extends VoxCacheError {
  override readonly code = 'CACHE_FULL'
}
/** The requested storage (OPFS, IndexedDB, Web Locks, workers) is not available in this context. */
export class StorageUnavailableError extends VoxCacheError {
  override readonly code = 'STORAGE_UNAVAILABLE'
}
/** An operation id, or the arguments an id is made from, is not valid. */
export class InvalidKeyError extends VoxCacheError {
  override readonly code = 'INVALID_KEY'
}
/** A value of a kind voxcache does not store (functions, class instances, undefined, NaN, …). */
export class UnsupportedValueError extends VoxCacheError {
  override readonly code = 'UNSUPPORTED_VALUE'
}
/** The index was written by a newer or unknown version of voxcache. Nothing was changed. */
export class SchemaVersionError extends VoxCacheError {
  override readonly code = 'SCHEMA_VERSION'
}
/** A database given to importDatabase is not a voxcache export. */
export class InvalidImportError extends VoxCacheError {
  override readonly code = 'INVALID_IMPORT'
}
/** The cache was closed; open a new one. */
export class ClosedError extends VoxCacheError {
  override readonly code = 'CLOSED'
}

const classes = {
  VoxCacheError,
  DecodeError,
  UnsupportedFormatError,
  CorruptEntryError,
  CacheFullError,
  StorageUnavailableError,
  InvalidKeyError,
  UnsupportedValueError,
  SchemaVersionError,
  InvalidImportError,
  ClosedError,
} as const

/** Every error code voxcache uses. */
export type ErrorCode = InstanceType<(typeof classes)[keyof typeof classes]>['code']

/**
 * Turns an error that crossed the worker boundary (Comlink keeps only name, message and stack) back
 * into its class. Errors that are not voxcache's are returned unchanged.
 */
export function reviveError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof VoxCacheError) return error
  const Class = (classes as Record<string, new (...args: never[]) => VoxCacheError>)[error.name]
  if (!Class) return error
  let revived: VoxCacheError
  if (Class === CorruptEntryError) {
    const match = /^entry (\S+) is corrupt: ([\s\S]*)$/.exec(error.message)
    revived = new CorruptEntryError(match?.[1] ?? 'unknown', match?.[2] ?? error.message)
  } else {
    revived = new (Class as unknown as new (m: string) => VoxCacheError)(error.message)
  }
  if (error.stack) revived.stack = error.stack
  return revived
}

/** The message of anything thrown, including the strings sql.js throws and the numbers itk-wasm throws. */
export function describe(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message
  if (typeof thrown === 'number') return `native error code ${thrown}`
  return String(thrown)
}
