/**
 * Error classes with stable `code`s. Every failure voxcache reports is one of these, on both sides of
 * the worker boundary: they travel with their code, entryId and cause (src/error-channel.ts), so
 * `instanceof` works on the main thread.
 */

/** Base class of every voxcache error. `code` is stable across versions; match on it or on the class. */
export class VoxCacheError extends Error {
  readonly code: string = 'VOXCACHE_ERROR'
  // Names are spelled out, not taken from the constructor: minified builds rename classes, and the
  // name is what carries the class across the worker boundary.
  override name = 'VoxCacheError'
}

/** An input file could not be decoded into an image (malformed, truncated, missing a part). */
export class DecodeError extends VoxCacheError {
  override name = 'DecodeError'
  override readonly code = 'DECODE_FAILED'
}
/** The input is in no format voxcache reads. */
export class UnsupportedFormatError extends VoxCacheError {
  override name = 'UnsupportedFormatError'
  override readonly code = 'UNSUPPORTED_FORMAT'
}
/** A stored record failed validation (bad magic, header, lengths or checksum). It is quarantined. */
export class CorruptEntryError extends VoxCacheError {
  override name = 'CorruptEntryError'
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
  override name = 'CacheFullError'
  override readonly code = 'CACHE_FULL'
}
/** The requested storage (OPFS, IndexedDB, Web Locks, workers) is not available in this context. */
export class StorageUnavailableError extends VoxCacheError {
  override name = 'StorageUnavailableError'
  override readonly code = 'STORAGE_UNAVAILABLE'
}
/** An operation id, or the arguments an id is made from, is not valid. */
export class InvalidKeyError extends VoxCacheError {
  override name = 'InvalidKeyError'
  override readonly code = 'INVALID_KEY'
}
/** A value of a kind voxcache does not store (functions, class instances, undefined, NaN, …). */
export class UnsupportedValueError extends VoxCacheError {
  override name = 'UnsupportedValueError'
  override readonly code = 'UNSUPPORTED_VALUE'
}
/**
 * The index, its journal or one record was written by a newer version of voxcache. Nothing was changed:
 * the files are left as they are for the newer version. For a record, `entryId` names the entry.
 */
export class SchemaVersionError extends VoxCacheError {
  override name = 'SchemaVersionError'
  override readonly code = 'SCHEMA_VERSION'
  /** The entry whose record is newer; undefined when the index or the journal is. */
  readonly entryId: string | undefined
  constructor(message: string, options?: { cause?: unknown; entryId?: string }) {
    super(options?.entryId ? `entry ${options.entryId} ${message}` : message, options && 'cause' in options ? { cause: options.cause } : undefined)
    this.entryId = options?.entryId
  }
}
/**
 * The key does not open what it was given: a protected cache opened with another key (at open, nothing
 * deleted or overwritten), or without one (the cache opens locked: reads and writes of values throw
 * this), or a record sealed under another key. `entryId` names the record when one is concerned.
 */
export class KeyMismatchError extends VoxCacheError {
  override name = 'KeyMismatchError'
  override readonly code = 'KEY_MISMATCH'
  readonly entryId: string | undefined
  constructor(message: string, options?: { cause?: unknown; entryId?: string }) {
    super(options?.entryId ? `entry ${options.entryId} ${message}` : message, options && 'cause' in options ? { cause: options.cause } : undefined)
    this.entryId = options?.entryId
  }
}
/** A database given to importDatabase is not a voxcache export. */
export class InvalidImportError extends VoxCacheError {
  override name = 'InvalidImportError'
  override readonly code = 'INVALID_IMPORT'
}
/** The cache was closed; open a new one. */
export class ClosedError extends VoxCacheError {
  override name = 'ClosedError'
  override readonly code = 'CLOSED'
}

/**
 * The cache's worker made no progress for `watchdogMs` while calls were pending (see openCache's
 * `watchdogMs`): it was ended, every pending call rejects with this error, and the cache reopens in a
 * new worker, which later calls use. A store that rejects so may or may not have landed: a record is
 * whole or absent, never partial (the reopen's reconcile removes what a killed write left), so ask
 * `has()` or store again.
 */
export class WorkerStalledError extends VoxCacheError {
  override name = 'WorkerStalledError'
  override readonly code = 'WORKER_STALLED'
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
  KeyMismatchError,
  InvalidImportError,
  ClosedError,
  WorkerStalledError,
} as const

/** Every error code voxcache uses. */
export type ErrorCode = InstanceType<(typeof classes)[keyof typeof classes]>['code']
