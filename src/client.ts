// The main-thread side: one Comlink.wrap per cache, errors revived to their classes, buffers transferred.
import * as Comlink from 'comlink'
import { connect, end, type Connection, type Remote } from './connection.js'
import { installErrorChannel, fromWire } from './error-channel.js'
import { onceLock } from './locks.js'
import { CacheFullError, ClosedError, CorruptEntryError, StorageUnavailableError, UnsupportedValueError, WorkerStalledError } from './errors.js'
import { DEFAULT_WATCHDOG_MS } from './watchdog.js'
import { assertJsonValue, classify, isImage, type Classified } from './codec/values.js'
import { CHUNK_BYTES, frameLayout } from './codec/layout.js'
import { assertOperationId, operationId } from './operation-id.js'
import { rememberDigest, rememberedDigest, type DecodeWireInput } from './input-digest.js'
import type { DecodeOutcome } from '../worker/service.js'
import { expiryTime } from './expiry-time.js'
import { forTransfer, MAX_MESSAGE_BYTES, transferring } from './transfer.js'
import type {
  CacheStats,
  DecodeInput,
  DecodeOptions,
  EntryInfo,
  EvictionInfo,
  ExportFormat,
  Image,
  ImageInfo,
  ImportReport,
  ListOptions,
  RegionOptions,
  MemoizeResult,
  OpenCacheOptions,
  StorageKind,
  StoreOptions,
  Value,
} from './types.js'

// Errors from the worker arrive as their classes, with code, entryId and cause.
installErrorChannel()

/** How openCache's connections reach their cache when the watchdog ends a worker. @internal */
export interface StallHook {
  stalled?: (connection: Connection) => void
}

/** A cache opened by {@link openCache}. Every method is async and runs its work in the cache's worker. */
export class VoxCache {
  /** The worker in use; undefined once closed. */
  #connection: Connection | undefined
  /** A new worker opening the cache after the watchdog ended the last one; calls wait for it. */
  #reopening: Promise<Connection> | undefined
  #closing = false
  readonly #open: () => Promise<Connection>
  #inflight = new Map<string, Promise<MemoizeResult>>()
  /** The storage in use: `opfs`, `idb` or `memory`. */
  readonly storage: Exclude<StorageKind, 'auto'>
  readonly name: string
  /** What opening imported from a seed left by voxcache/playwright's seedCache; undefined without one. */
  readonly seeded: ImportReport | undefined

  /** @internal use openCache() */
  constructor(connection: Connection, reopen: () => Promise<Connection>, hook: StallHook, name: string, storage: Exclude<StorageKind, 'auto'>, seeded?: ImportReport) {
    this.#connection = connection
    this.#open = reopen
    hook.stalled = (stalled) => this.#stalled(stalled)
    this.name = name
    this.storage = storage
    this.seeded = seeded
    // Browsers have no memory-pressure event; a hidden page is the cue to give back what can be read again.
    globalThis.document?.addEventListener('visibilitychange', this.#onVisibility)
  }

  #onVisibility = (): void => {
    if (document.visibilityState === 'hidden') this.trimMemory().catch(() => undefined)
  }

  /**
   * The watchdog ended `stalled` (src/watchdog.ts): the cache opens again in a new worker, whose open
   * reconciles what the ended one left (a killed write's temporary files). Calls made meanwhile wait.
   */
  #stalled(stalled: Connection): void {
    if (stalled !== this.#connection || this.#closing) return
    const reopening = this.#open().then(
      (connection) => {
        this.#connection = connection
        return connection
      },
      (error: unknown) => {
        // Nothing left to call: the cache is closed, and the calls that waited learn why.
        this.#connection = undefined
        throw new WorkerStalledError(`the cache's worker was ended after it stalled, and the cache could not be opened again: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
      },
    )
    this.#reopening = reopening
    reopening.catch(() => undefined).finally(() => {
      if (this.#reopening === reopening) this.#reopening = undefined
    })
  }

  /**
   * Runs `fn` on the worker, watched. `on`: the worker an earlier call of the same store used (a
   * stream's token means nothing to another worker).
   */
  async #call<T>(fn: (remote: Remote, connection: Connection) => Promise<T>, on?: Connection): Promise<T> {
    let connection = this.#connection
    if (!connection) throw new ClosedError(`cache "${this.name}" is closed`)
    if (this.#reopening) connection = await this.#reopening
    if (on && on !== connection) throw new WorkerStalledError('the worker this store was being written in was ended after it stalled; the store was abandoned')
    try {
      return await connection.watchdog.watch(fn(connection.remote, connection))
    } catch (error) {
      // postMessage refuses a buffer of about 2 GiB and more (bench/results-large.md); nothing was sent.
      if (error instanceof RangeError && error.message.includes('postMessage')) {
        throw new UnsupportedValueError('the value is too large to send to the cache\'s worker in one buffer (the browser\'s limit is about 2 GiB); it was not sent and is still yours', { cause: error })
      }
      throw error
    }
  }

  /** The operation id of `op` applied to `args` (see {@link operationId}). @throws {InvalidKeyError} */
  operationId(op: string, args: unknown): Promise<string> {
    return operationId(op, args)
  }

  /**
   * Stores `value` under `id`. The pixel buffer is transferred to the worker, not copied: afterwards
   * the typed array you passed is detached (length 0). Keep using a value by retrieving it, or use
   * memoize, which hands the stored value back. A view on part of a larger buffer is copied instead.
   * A value past about 2 GiB (one message's limit) is sent in copies of 256 MiB instead, and stays
   * yours; the worker writes it in chunks as they come (read it back with retrieveRegion).
   * @throws {InvalidKeyError} when `id` is not an operation id.
   * @throws {UnsupportedValueError} when the value is not storable, or `options.metadata` is not plain
   *   JSON, nests past 256 levels or uses a reserved key (`__proto__`, `constructor`, `prototype`), or
   *   `options.expiresAt` is neither a valid Date nor finite epoch milliseconds (years 0 to 9999);
   *   nothing is written or detached.
   * @throws {CacheFullError} when the value cannot fit, even after eviction; nothing else is lost.
   * @throws {SchemaVersionError} when a newer voxcache's record is stored under `id`; it is kept.
   */
  store(id: string, value: Value, options?: StoreOptions): Promise<EntryInfo> {
    assertOperationId(id)
    const classified = classify(value) // refuse before the buffer is detached
    assertJsonValue(options?.metadata ?? null, 'metadata', true)
    expiryTime(options?.expiresAt)
    if (classified.dataType !== 'json' && classified.bytes.byteLength > MAX_MESSAGE_BYTES) return this.#storeInPieces(id, classified, options)
    const { value: sent, transfer } = forTransfer(value)
    return this.#call((r) => r.store(id, transferring(sent, transfer), options))
  }

  /**
   * A value past one message (about 2 GiB) goes to the worker in copies of up to 256 MiB of whole
   * frames, each transferred, while the worker writes chunks as they fill: the page holds the value and
   * one piece, the worker a chunk or two. The value stays the caller's (nothing is detached).
   */
  async #storeInPieces(id: string, classified: Exclude<Classified, { dataType: 'json' }>, options?: StoreOptions): Promise<EntryInfo> {
    const image = classified.dataType === 'Image' ? classified.image : undefined
    const bytes = classified.bytes
    const { frameBytes } = frameLayout(classified.dataType, image)
    const piece = Math.max(frameBytes, Math.floor(CHUNK_BYTES / frameBytes) * frameBytes)
    const shape = { dataType: classified.dataType, rawLength: bytes.byteLength, ...(image ? { image } : {}) }
    let on: Connection | undefined
    const token = await this.#call((r, connection) => {
      on = connection
      return r.storeBegin(id, shape, options)
    })
    try {
      for (let at = 0; at < bytes.byteLength; at += piece) {
        const part = bytes.slice(at, Math.min(bytes.byteLength, at + piece))
        await this.#call((r) => r.storePiece(token, Comlink.transfer(part, [part.buffer])), on)
      }
      return await this.#call((r) => r.storeEnd(token), on)
    } catch (error) {
      // In a worker the watchdog ended, the store went with it; the token may name another's in the new one.
      if (on === this.#connection) await this.#call((r) => r.storeAbort(token), on).catch(() => undefined)
      throw error
    }
  }

  /**
   * The value stored under `id`, or `undefined` on a miss (a stored `null` comes back as `null`).
   * Its pixel buffer is transferred to you: it is yours, nothing else holds it.
   * @throws {CorruptEntryError} when the stored record fails validation; the entry is quarantined.
   * @throws {SchemaVersionError} when a newer voxcache wrote the record; it is left as it is.
   */
  retrieve(id: string): Promise<Value | undefined> {
    return this.#call((r) => r.retrieve(id) as Promise<Value | undefined>)
  }

  /**
   * The Image stored under `id`, or `undefined` on a miss: {@link retrieve} for a viewer, typed as an
   * Image. Its buffer is transferred to you.
   * @throws {UnsupportedValueError} when what is stored under `id` is not an Image (it stays stored).
   * @throws {CorruptEntryError} as retrieve does.
   */
  async retrieveImage(id: string): Promise<Image | undefined> {
    const value = await this.retrieve(id)
    if (value === undefined || isImage(value)) return value
    throw new UnsupportedValueError(`the value stored under ${id} is not an Image`)
  }

  /**
   * A box of the Image stored under `id`, or `undefined` on a miss: `index` is its first voxel and
   * `size` its extent along each axis (x first). The result's origin is moved to the box's first voxel
   * (origin + direction · (spacing ⊙ index)); spacing and direction are kept. Only the frames the box
   * touches are read and decompressed (records of voxcache 0.x are read whole, then cropped), so a slice
   * of a large volume costs about the slice. This is how a value past about 2 GiB, which retrieve
   * refuses, is read. Its buffer is transferred to you.
   * @throws {UnsupportedValueError} when the entry is not an Image or the box does not fit inside it.
   * @throws {CorruptEntryError} when a frame it reads is damaged (the entry is quarantined).
   */
  retrieveRegion(id: string, region: RegionOptions): Promise<Image | undefined> {
    // Checked in the worker (a typed error for anything that is not a box inside the image).
    const box = { index: region?.index, size: region?.size } as { index: number[]; size: number[] }
    return this.#call((r) => r.retrieveRegion(id, box) as Promise<Image | undefined>)
  }

  /**
   * The type, geometry (size, spacing, origin, direction) and metadata of the Image stored under `id`,
   * from its record's header alone (no pixels read; no hit counted), or `undefined` on a miss: what a
   * viewer needs to choose regions before reading any.
   * @throws {UnsupportedValueError} when the entry is not an Image.
   */
  imageInfo(id: string): Promise<ImageInfo | undefined> {
    return this.#call((r) => r.imageInfo(id))
  }

  /** Whether `id` is stored. */
  has(id: string): Promise<boolean> {
    return this.#call((r) => r.has(id))
  }

  /** What the cache knows about `id`, or undefined. */
  info(id: string): Promise<EntryInfo | undefined> {
    return this.#call((r) => r.info(id))
  }

  /** Removes `id`; resolves to whether it was there. Deleting a missing id is not an error. */
  delete(id: string): Promise<boolean> {
    return this.#call((r) => r.delete(id))
  }

  /** Pins `id` (never evicted) or unpins it; resolves to whether it exists. */
  pin(id: string, pinned = true): Promise<boolean> {
    return this.#call((r) => r.pin(id, pinned))
  }

  /** Entries, most recently used first unless `orderBy` says otherwise. */
  list(options?: ListOptions): Promise<EntryInfo[]> {
    return this.#call((r) => r.list(options))
  }

  /** Totals, budget, quota and this page's hit/miss/eviction counters. */
  stats(): Promise<CacheStats> {
    return this.#call((r) => r.stats())
  }

  /**
   * The entries this page's cache evicted since it was opened, oldest first (the last 1,000): which
   * version of each (creation time, checksum, metadata), when, and whether for the byte budget or the
   * browser's quota. Evictions by other tabs are in their own logs.
   */
  evictions(): Promise<EvictionInfo[]> {
    return this.#call((r) => r.evictions())
  }

  /**
   * Empties the memory tier (see the `memoryBytes` option): later retrieves read records again. Done
   * for you when the page is hidden (`visibilitychange`); browsers have no memory-pressure event, so
   * call it when your app knows memory is short.
   * @throws {ClosedError} when the cache is closed.
   */
  trimMemory(): Promise<void> {
    return this.#call((r) => r.trimMemory())
  }

  /** Removes every entry. */
  clear(): Promise<void> {
    return this.#call((r) => r.clear())
  }

  /**
   * The result of `compute()` for `op` on `args`: from the cache when it is there (compute is not
   * called), else computed once — concurrent calls in this page and in other tabs share one compute —
   * stored, and returned. A compute that throws stores nothing and its error reaches every caller.
   * A result that cannot be stored because the cache is full is still returned. A stored result that
   * fails validation is quarantined and recomputed.
   * @throws {InvalidKeyError} when `args` is not plain JSON.
   * @throws {UnsupportedValueError} when compute returns something voxcache does not store, or
   *   `options.metadata` is not plain JSON (or nests past 256 levels, or uses a reserved key), or
   *   `options.expiresAt` is not a valid time (checked before compute runs).
   * @throws {SchemaVersionError} when a newer voxcache's record is stored under the id (it is kept).
   */
  async memoize<T extends Value>(
    op: string,
    args: unknown,
    compute: () => T | Promise<T>,
    options?: StoreOptions,
  ): Promise<T> {
    return (await this.memoizeEntry(op, args, compute, options)).value
  }

  /**
   * memoize(), with what the caller otherwise asks for next: the id the result is cached under (for
   * `ref(id)` in the next step), whether it was a hit, and the entry's info (its metadata included).
   * Concurrent calls for the same id in this page share one result object.
   * @throws as memoize().
   */
  async memoizeEntry<T extends Value>(
    op: string,
    args: unknown,
    compute: () => T | Promise<T>,
    options?: StoreOptions,
  ): Promise<MemoizeResult<T>> {
    const id = await operationId(op, args)
    assertJsonValue(options?.metadata ?? null, 'metadata', true)
    expiryTime(options?.expiresAt) // refused before compute runs
    const running = this.#inflight.get(id)
    if (running) return running as Promise<MemoizeResult<T>>
    const task = navigator.locks.request(onceLock(this.name, id), async (): Promise<MemoizeResult<T>> => {
      let hit: { value: Value; info: EntryInfo } | undefined
      try {
        hit = await this.#call((r) => r.retrieveEntry(id) as Promise<{ value: Value; info: EntryInfo } | undefined>)
      } catch (error) {
        // The worker has quarantined the corrupt record: for memoize that is a miss, so recompute.
        if (!(error instanceof CorruptEntryError)) throw error
      }
      if (hit !== undefined) return { id, value: hit.value as T, hit: true, info: hit.info }
      const value = await compute()
      const classified = classify(value)
      if (classified.dataType !== 'json' && classified.bytes.byteLength > MAX_MESSAGE_BYTES) {
        // Sent in pieces (the value stays here): a full cache still hands the value back.
        const info = await this.#storeInPieces(id, classified, options).catch((error: unknown) => {
          if (error instanceof CacheFullError) return undefined
          throw error
        })
        return { id, value, hit: false, info }
      }
      const { value: sent, transfer } = forTransfer(value)
      const result = await this.#call((r) => r.storeAndReturn(id, transferring(sent, transfer), options))
      if (result.error) {
        const error = fromWire(result.error)
        if (!(error instanceof CacheFullError)) throw error
      }
      return { id, value: result.value as T, hit: false, info: result.info ?? undefined }
    }) as unknown as Promise<MemoizeResult<T>>
    this.#inflight.set(id, task as Promise<MemoizeResult>)
    try {
      return await task
    } finally {
      this.#inflight.delete(id)
    }
  }

  /**
   * Decodes a medical image (NIfTI, NRRD, MetaImage, DICOM) into an itk-wasm Image, in the worker.
   * Give several files for multi-file images: .hdr + .img, .mhd + .raw, .nhdr + data, a DICOM series.
   * Memoized by content: the same bytes (whatever their names) decode once, and afterwards — after a
   * reload, offline, in another tab — come from the cache without running itk-wasm. The format is
   * chosen by content, not by name. Bytes you pass as a Uint8Array or ArrayBuffer are transferred to
   * the worker (detached here), like store(); Files and Blobs are read, not consumed.
   * `{ metadata: 'strip-phi' }` removes the DICOM attributes of PS3.15's basic de-identification
   * profile and every file name before anything is stored ({@link DecodeOptions}).
   * @throws {DecodeError} when a file is empty, truncated, malformed or missing a part (the message
   *   names the file and the reason); nothing is cached.
   * @throws {UnsupportedFormatError} when the content is in no format voxcache reads.
   * @throws {UnsupportedValueError} when `options` has a key other than `metadata`, or a mode other
   *   than 'keep' and 'strip-phi'.
   */
  async decode(input: DecodeInput | DecodeInput[], options?: DecodeOptions): Promise<Image> {
    return (await this.decodeEntry(input, options)).image
  }

  /**
   * decode(), with the operation id the image is cached under: name it as `ref(id)` in the arguments
   * of the steps that consume it, so a pipeline's ids chain from the decoded input's content.
   * The id depends on `options.metadata`: a 'strip-phi' decode never finds a 'keep' image, nor the reverse.
   * @throws {DecodeError} @throws {UnsupportedFormatError} @throws {UnsupportedValueError} as decode().
   */
  async decodeEntry(input: DecodeInput | DecodeInput[], options?: DecodeOptions): Promise<{ id: string; image: Image }> {
    const inputs = Array.isArray(input) ? input : [input]
    // Nothing is read or hashed on this thread: the worker reads each File or Blob (its handle crosses,
    // not its bytes) and hashes it, and finds a cached image from the digests without reading more. The
    // digests of the Blobs come back and are remembered while the page keeps them (input-digest.ts), so
    // the same Blob is not read again. Bytes given as arrays are transferred, on a hit too.
    const transfer: Transferable[] = []
    const sent: DecodeWireInput[] = inputs.map((item, i) => {
      if (item instanceof Blob) return { name: item instanceof File ? item.name : `blob-${i}`, blob: item, digest: rememberedDigest(item) }
      const moved = forTransfer(item.data instanceof ArrayBuffer ? new Uint8Array(item.data) : item.data)
      transfer.push(...moved.transfer)
      return { name: String(item.name), data: moved.value as Uint8Array }
    })
    const { id, image, digests } = await this.#call((r) => r.decode(transferring(sent, transfer), options) as Promise<DecodeOutcome>)
    for (const [i, item] of inputs.entries()) {
      const digest = digests[i]
      if (item instanceof Blob && digest) rememberDigest(item, digest)
    }
    return { id, image }
  }

  /**
   * Writes a cached image (by id) or an image as a file other tools open: `.nii.gz`, `.nrrd` (gzip),
   * `.mha` (zlib) or `.iwi.cbor`, with itk-wasm's writers, in the worker. An image you pass is copied,
   * not detached. Resolves to undefined when `id` is not stored.
   * @throws {UnsupportedValueError} when the entry is not an image or the format is unknown.
   */
  async exportImage(idOrImage: string | Image, format: ExportFormat): Promise<File | undefined> {
    if (typeof idOrImage === 'string') assertOperationId(idOrImage)
    const out = await this.#call((r) => r.exportImage(idOrImage, format))
    if (!out) return undefined
    return new File([out.data as Uint8Array<ArrayBuffer>], out.name, { type: 'application/octet-stream' })
  }

  /**
   * The whole cache as one SQLite file (results schema, records inline in `data`). A protected cache's
   * export is as sealed as the cache (records and metadata; its data keys wrapped under the app key, in
   * `voxcache_meta`), and works while the cache is locked: only the same key imports it.
   * @throws {UnsupportedValueError} when an entry is stored in several chunks (past 256 MiB stored).
   */
  async exportDatabase(): Promise<Blob> {
    const bytes = await this.#call((r) => r.exportDatabase())
    return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/vnd.sqlite3' })
  }

  /**
   * Adds the entries of a file made by exportDatabase, validating every record first; a bad record is
   * reported in `rejected` and the others are imported.
   * @throws {InvalidImportError} when the file is not a voxcache database, is damaged (checked before
   *   any row is imported) or was written by a newer voxcache.
   * @throws {CacheFullError} when the entries do not fit; those imported so far stay.
   * @throws {KeyMismatchError} when the export is protected and this cache is not opened with the same
   *   key (nothing is imported), or this cache is locked. A clear export into a protected cache is sealed
   *   on the way in.
   */
  async importDatabase(file: Blob | ArrayBuffer | Uint8Array): Promise<ImportReport> {
    const bytes =
      file instanceof Blob ? new Uint8Array(await file.arrayBuffer()) : file instanceof ArrayBuffer ? new Uint8Array(file) : file
    const { value, transfer } = forTransfer(bytes)
    return this.#call((r) => r.importDatabase(transferring(value as Uint8Array, transfer)))
  }

  /**
   * Seals every entry again under a new data key wrapped under `newKey`, which then protects the cache:
   * the old key opens nothing, other tabs that hold it find the cache locked. A key kept with
   * `encryption.persist` is replaced by `newKey`. Killed midway (a crash, a closed tab), the rekey is
   * finished by the next open with `newKey`, or rolled back by one with the old key; nothing is lost.
   * Resolves to the number of entries sealed again.
   * @throws {KeyMismatchError} when the cache is locked (opened without its key).
   * @throws {UnsupportedValueError} when the cache is not protected, or `newKey` is not an AES-GCM key.
   * @throws {CacheFullError} when the quota has no room for one more copy of an entry; the rekey stays
   *   pending (rekey again, or open with `newKey`, to finish it).
   */
  async rekey(newKey: CryptoKey): Promise<{ resealed: number }> {
    return this.#call((r) => r.rekey(newKey))
  }

  /** Flushes pending access times and stops the worker. Further calls throw ClosedError. */
  async close(): Promise<void> {
    if (!this.#connection || this.#closing) return
    this.#closing = true
    globalThis.document?.removeEventListener('visibilitychange', this.#onVisibility)
    // A worker that stalls here is ended by the watchdog all the same, and not reopened.
    await this.#call((r) => r.close()).catch(() => undefined)
    const connection = this.#connection
    this.#connection = undefined
    // Calls still pending in the worker (one stuck, say) end with it.
    if (connection) end(connection, undefined, new ClosedError(`cache "${this.name}" was closed while this call was pending; a store may or may not have landed (whole or absent)`))
  }

  /** Deletes everything this cache stored, index included, and closes it. */
  async destroy(): Promise<void> {
    await this.#call((r) => r.destroy())
    await this.close()
  }
}

/**
 * Opens the cache named `options.name` (default `"default"`) in a dedicated worker of its own.
 * @throws {StorageUnavailableError} when workers or the requested storage are not available.
 * @throws {SchemaVersionError} when the stored index (schema, snapshot or journal) comes from a newer
 *   voxcache; no file is changed. A damaged index is rebuilt instead (see the README's Reliability).
 * @throws {InvalidImportError} when a seed left by voxcache/playwright's seedCache is not a voxcache
 *   export (the seed is removed, so the next open goes ahead without it).
 * @throws {UnsupportedValueError} when maxBytes, lowWater or maxAgeMs is out of range.
 */
export async function openCache(options: OpenCacheOptions = {}): Promise<VoxCache> {
  if (typeof Worker === 'undefined') throw new StorageUnavailableError('voxcache needs Web Workers')
  const name = options.name ?? 'default'
  const watchdogMs = options.watchdogMs ?? DEFAULT_WATCHDOG_MS
  if (!(watchdogMs > 0)) throw new UnsupportedValueError('watchdogMs must be a positive number of milliseconds (Infinity turns the watchdog off)')
  // persist() is the page's to call (workers have only persisted()); a refusal is no error: the
  // browser decides, and stats().persisted reports it.
  if (options.persist) await globalThis.navigator?.storage?.persist?.().catch(() => false)
  // Resolved here, against the page: the worker's own URL says where the bundler put the worker.
  const page = globalThis.document?.baseURI ?? location.href
  const pipelinesUrl = new URL(options.pipelinesUrl ?? '/itk/', page).href
  const { sqlite, zstd } = options.wasmUrls ?? {}
  const wasmUrls = { sqlite: sqlite ? new URL(sqlite, page).href : undefined, zstd: zstd ? new URL(zstd, page).href : undefined }
  const resolved = { ...options, pipelinesUrl, wasmUrls }
  // Static options: Vite 5 refuses to build a worker whose options are not (a name of `voxcache:${name}`).
  const start = () => new Worker(new URL('../worker/cache.worker.ts', import.meta.url), { type: 'module', name: 'voxcache' })
  const hook: StallHook = {}
  const onStall = (stalled: Connection) => hook.stalled?.(stalled)
  const opened = await connect(start, resolved, watchdogMs, onStall)
  // A reopen after a stall: the same options (a seed was imported by the first open, and removed).
  const reopen = () => connect(start, resolved, watchdogMs, onStall).then((o) => o.connection)
  return new VoxCache(opened.connection, reopen, hook, name, opened.storage, opened.seeded)
}
