/**
 * A tiny file system that the cache keeps its index and payload records in. Names are paths such as
 * `payloads/<id>.vxc`. Every implementation keeps the same promises: writeAtomic leaves either the
 * old file or the new one, never a mix; deleting a missing file is not an error; a missing file reads
 * as undefined.
 */
export interface Backend {
  readonly kind: 'opfs' | 'idb' | 'memory'
  /** Writes the parts, one after another, to `name`, replacing it atomically. */
  writeAtomic(name: string, parts: readonly Uint8Array[], durability?: Durability): Promise<void>
  /**
   * Writes the parts to `name`, a file that nothing reads yet (no index row names it): in place, without
   * a temporary file and a rename. Its first 8 bytes are written last, so a file cut short by a crash
   * starts with zeros and no row names it: reconcile removes it (unfinished). A file left there by such
   * a crash is overwritten. Backends without it use writeAtomic.
   */
  writeNew?(name: string, parts: readonly Uint8Array[], durability?: Durability): Promise<void>
  /** Bytes [at, at + length) of `name` in a buffer of their own; undefined when it does not exist. */
  read(name: string, at?: number, length?: number): Promise<Uint8Array | undefined>
  /** The file as a Blob to read from, or undefined when it does not exist. */
  file(name: string): Promise<Blob | undefined>
  /**
   * Opens `name` for reads that do not pass through the browser process (OPFS: a read-only sync access
   * handle), or undefined when it does not exist or cannot be opened so (then read it as a Blob). While
   * the handle is open nobody can move or remove the file, so callers hold the cache's shared lock, which
   * every mutation's exclusive lock waits for, and close the handle before they let go of it.
   */
  openRead?(name: string): Promise<ReadHandle | undefined>
  /** Size in bytes, or undefined when it does not exist. */
  size(name: string): Promise<number | undefined>
  /** Appends bytes (flushed before the promise settles unless `durability` is 'relaxed'). */
  append(name: string, bytes: Uint8Array, durability?: Durability): Promise<void>
  /**
   * Opens `name` (never created: undefined when missing) for reads and writes that do not go to the browser process
   * (OPFS: a sync access handle), for the length of one hold of the cache's exclusive lock: nothing
   * else may open, read, move or remove the file until it is closed. Undefined when this backend has no
   * such handles, or the file cannot be opened so (then use the other calls).
   */
  hold?(name: string): Promise<HeldFile | undefined>
  /** Shortens `name` to `size` bytes. */
  truncate(name: string, size: number): Promise<void>
  delete(name: string): Promise<void>
  /** Moves `from` to `to`, replacing `to`. */
  move(from: string, to: string): Promise<void>
  /** The names of the files directly in `dir` (not their paths). */
  list(dir: string): Promise<string[]>
  /** Removes everything this backend holds. */
  destroy(): Promise<void>
}

/**
 * When a write counts as done. 'strict': flushed to the disk (it survives the machine losing power).
 * 'relaxed': handed to the operating system (it survives a crash of the page, the worker or the
 * browser, not of the machine) — what IndexedDB's spec suggests for caches. Writes default to 'strict'.
 */
export type Durability = 'strict' | 'relaxed'

/** A file held open: see Backend.hold. Every call is synchronous. */
export interface HeldFile {
  size(): number
  /** Bytes [at, at + length) (fewer at the end of the file), in a buffer of their own. */
  read(at: number, length: number): Uint8Array
  /** Appends `bytes` (flushed unless `durability` is 'relaxed'); out of quota, leaves the file as it was and throws quotaError. */
  append(bytes: Uint8Array, durability?: Durability): void
  truncate(size: number): void
  close(): void
}

/** A file open for reading: see Backend.openRead. */
export interface ReadHandle {
  readonly size: number
  /**
   * Bytes [at, at + length) (fewer at the end of the file), in a buffer of their own, or at the start
   * of `into` when it is given and long enough.
   */
  read(at: number, length: number, into?: Uint8Array): Uint8Array
  close(): void
}

export const TMP_SUFFIX = '.tmp'

/** True for the errors browsers throw when a write exceeds the origin's quota. */
export function isQuotaError(error: unknown): boolean {
  return error instanceof DOMException && (error.name === 'QuotaExceededError' || error.code === 22)
}

/**
 * The error for a write the quota cut short. Chromium's OPFS sync access handles do not throw there:
 * write() returns fewer bytes than asked (seen here), so the backend turns that into this error and
 * says how many bytes did fit, which tells the evict-and-retry how much room there really is.
 */
export function quotaError(written: number, wanted: number): DOMException & { written: number } {
  const error = new DOMException(`storage quota exceeded: ${written} of ${wanted} bytes written`, 'QuotaExceededError')
  return Object.assign(error, { written })
}

export function splitPath(name: string): { dir: string; base: string } {
  const at = name.lastIndexOf('/')
  return at < 0 ? { dir: '', base: name } : { dir: name.slice(0, at), base: name.slice(at + 1) }
}
