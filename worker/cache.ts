// The Cache: one open cache in this worker. Its collaborators are fields — the index (IndexStore), the
// payload records (Records), space (budget, quota, eviction), access-time touches, and the tabs
// coordinator — and every change to the index goes through one path, mutate().
import initSqlJs, { type SqlJsStatic } from 'sql.js'
import sqlWasmUrl from 'sql.js/dist/sql-wasm.wasm?url'
import zstdWasmUrl from 'zstd-wasm:zstd.wasm?url'
import { CHUNK_BYTES, classify, concatParts, encodeRecord, initCodec, type EncodedChunk, type Keyring, type RecordHeader, type Region } from '../src/codec/index.js'
import { encodeRecord2, RecordWriter, type ValueShape } from '../src/codec/record2.js'
import { CacheFullError, CorruptEntryError, StorageUnavailableError, UnsupportedValueError } from '../src/errors.js'
import { describeThrown } from '../src/thrown.js'
import type { CacheStats, Codec, EntryInfo, EvictionInfo, Image, ImageInfo, JsonValue, ListOptions, OpenCacheOptions, Value } from '../src/types.js'
import { Batch } from './batch.js'
import { decodeCounters } from './decode/counters.js'
import { headerInfo } from './index/changes.js'
import { IndexStore } from './index/store.js'
import { isQuotaError, type Backend, type Durability } from './payloads/backend.js'
import { chooseBackend } from './payloads/choose.js'
import { excused, progress } from './progress.js'
import { chunkPath, PAYLOADS, payloadPath } from './paths.js'
import { MISSING, Records } from './records.js'
import { Space } from './space.js'
import { createCoordinator, type Coordinator } from './tabs.js'
import { Keys } from './keys.js'
import { settleRekey } from './rekey.js'
import { MAX_MESSAGE_BYTES } from '../src/transfer.js'
import { Touches } from './touches.js'
import { Expiry } from './expiry.js'
import { MemoryTier, memoryBudget } from './memory-tier.js'

const DEFAULT_BUDGET = 1 << 30

/**
 * Stored bytes per chunk of a sealed record. A chunk's parts are held until it is written, and sealed
 * frames are new buffers (WebCrypto returns one per call) where clear 'none' frames are views of the
 * value: with 256 MiB chunks a sealed store held a second copy of the value. Written in 16 MiB chunks,
 * it holds one chunk.
 */
const SEALED_CHUNK_BYTES = 16 << 20

export function quotaTypedError(error: unknown): unknown {
  return isQuotaError(error) ? new CacheFullError('the browser storage quota is exhausted', { cause: error }) : error
}

/** StoreOptions as the facade hands them on: `expiresAt` checked and written as expiryTime's text. */
export type StoreSettings = { codec?: Codec; metadata?: JsonValue; pin?: boolean; expiresAt?: string }

/** A store in progress (Cache.storeStream): the value's raw bytes in order, then finish or abort. */
export interface StoreStream {
  push(bytes: Uint8Array): Promise<void>
  finish(): Promise<EntryInfo>
  abort(): Promise<void>
}

/**
 * A wasm file the worker runs, fetched and compiled here rather than by sql.js or zstd themselves: a
 * file missing or wrong where openCache's `wasmUrls` (or the bundler) put it is then a clear error.
 * zstd's own loader would wait forever: its promise settles only when the runtime starts, and an
 * aborted load never rejects it (read in @bokuweb/zstd-wasm's dist/web/module.js, not tried). The
 * compiled module goes to each runtime's `instantiateWasm` hook (wasmHook), so nothing compiles it
 * twice; a `WebAssembly.validate` pass before cost 8–11 ms of every open here for the two files.
 * @throws {StorageUnavailableError} naming the URL.
 */
async function wasmModule(what: string, url: string): Promise<WebAssembly.Module> {
  let response: Response
  try {
    response = await fetch(url)
  } catch (error) {
    throw new StorageUnavailableError(`could not load ${what} from ${url}: ${describeThrown(error)}`, { cause: error })
  }
  if (!response.ok) throw new StorageUnavailableError(`could not load ${what} from ${url}: HTTP ${response.status}`)
  const bytes = await response.arrayBuffer()
  try {
    return await WebAssembly.compile(bytes)
  } catch (error) {
    throw new StorageUnavailableError(`${url} is not ${what}: ${describeThrown(error)}`, { cause: error })
  }
}

/**
 * An Emscripten `instantiateWasm` hook that instantiates `module` with the runtime's imports, and
 * `failed`, which rejects (naming the URL) when that instantiation fails, or when the runtime cannot
 * take the instance (another wasm whose imports happened to link: zstd's given as sql.js's threw in
 * sql.js's setup): the runtime itself would wait forever. Race the runtime's start against it.
 */
function wasmHook(module: WebAssembly.Module, what: string, url: string) {
  let fail: (error: unknown) => void = () => undefined
  const failed = new Promise<never>((_, reject) => (fail = reject))
  const instantiateWasm = (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => {
    WebAssembly.instantiate(module, imports)
      .then((instance) => receive(instance, module))
      .catch((error: unknown) => fail(new StorageUnavailableError(`${url} is not ${what}: ${describeThrown(error)}`, { cause: error })))
    return {}
  }
  return { instantiateWasm, failed }
}

let sqlPromise: Promise<SqlJsStatic> | undefined
function loadSql(url: string): Promise<SqlJsStatic> {
  const what = "sql.js's wasm"
  sqlPromise ??= wasmModule(what, url).then((module) => {
    const { instantiateWasm, failed } = wasmHook(module, what, url)
    return Promise.race([initSqlJs({ instantiateWasm } as Parameters<typeof initSqlJs>[0]), failed])
  })
  return sqlPromise
}

/** zstd's runtime from `url` (see wasmModule). */
async function loadZstd(url: string): Promise<void> {
  const what = "zstd's wasm"
  const module = await wasmModule(what, url)
  const { instantiateWasm, failed } = wasmHook(module, what, url)
  await Promise.race([initCodec({ instantiateWasm }), failed])
}

/** Half the origin's quota, or 1 GiB when the browser does not say. */
async function defaultBudget(): Promise<number> {
  try {
    const { quota } = await navigator.storage.estimate()
    if (quota) return Math.floor(quota / 2)
  } catch {
    // estimate() is missing in some contexts; fall back below
  }
  return DEFAULT_BUDGET
}

export class Cache {
  readonly records: Records
  readonly space: Space
  readonly touches: Touches
  readonly counters = { hits: 0, misses: 0 }
  /** The cache's key: clear, keyed or locked (keys.ts). */
  keys!: Keys
  /** maxAgeMs and the sweep's timer (expiry.ts). */
  expiry!: Expiry
  /** Another context changed the index since this one last read it. */
  private stale = false
  /**
   * This context's index and keys are current, and stay so while it holds its lease of the exclusive
   * lock (tabs.ts): a mutation then skips the catch-up read, and a memory hit the journal check.
   */
  private synced = false
  /** This context's index is current, and stays so while it holds a lease (either mode): reads know it. */
  private indexSynced = false
  /**
   * The files have not been reconciled with the index since open (Records.reconcile): the next
   * mutation does it first. Open starts one at once, in the background (see open()).
   */
  private unreconciled = true
  /** The mutation open() started and did not wait for: close() waits for it. */
  private settling: Promise<void> = Promise.resolve()
  /** Values read lately, kept in RAM (memory-tier.ts). */
  readonly memory: MemoryTier

  private constructor(
    readonly name: string,
    readonly backend: Backend,
    readonly index: IndexStore,
    readonly tabs: Coordinator,
    readonly SQL: SqlJsStatic,
    space: { maxBytes: number; lowWater: number },
    readonly codec: Codec,
    readonly inlineBytes: number,
    memoryBytes: number,
    durability: Durability,
  ) {
    this.memory = new MemoryTier(memoryBytes)
    this.records = new Records(backend, index)
    index.durability = durability
    this.space = new Space(
      index,
      backend,
      { maxBytes: space.maxBytes, lowWaterBytes: Math.floor(space.maxBytes * space.lowWater) },
      (id) => this.records.removeFiles(id),
      durability,
    )
    this.touches = new Touches(() => this.mutate(async () => undefined))
  }

  /**
   * Opens (or creates) the cache named in the options, and reconciles its files with its index.
   * @throws {StorageUnavailableError} when the chosen storage cannot be used.
   * @throws {SchemaVersionError} when the index was written by a newer voxcache.
   */
  static async open(options: OpenCacheOptions): Promise<Cache> {
    const name = options.name ?? 'default'
    const wasm = { sqlite: options.wasmUrls?.sqlite ?? sqlWasmUrl, zstd: options.wasmUrls?.zstd ?? zstdWasmUrl }
    // Fetching wasm is the network's time, not a stall of this worker's storage (progress.ts).
    const [SQL, backend] = await Promise.all([
      excused(() => loadSql(wasm.sqlite)),
      chooseBackend(name, options.storage ?? 'auto'),
      excused(() => loadZstd(wasm.zstd)),
    ])
    const maxBytes = options.maxBytes ?? (await defaultBudget())
    const lowWater = options.lowWater ?? 0.9
    if (!(maxBytes > 0) || !(lowWater > 0 && lowWater <= 1)) {
      throw new UnsupportedValueError('maxBytes must be positive and lowWater in (0, 1]')
    }
    const durability = options.durability ?? 'relaxed'
    if (durability !== 'relaxed' && durability !== 'strict') throw new UnsupportedValueError(`durability must be 'relaxed' or 'strict', not ${String(durability)}`)
    const memoryBytes = options.memoryBytes ?? memoryBudget()
    if (!(memoryBytes >= 0 && Number.isFinite(memoryBytes))) throw new UnsupportedValueError('memoryBytes must be a finite number of bytes, 0 or more')
    let cache: Cache | undefined
    const expiry = new Expiry(options.maxAgeMs, () => cache!.sweep())
    const tabs = createCoordinator(
      name,
      () => {
        if (cache) cache.stale = true
      },
      () => cache?.desync(),
    )
    // The key is checked in the same hold of the lock that reads the index: an entry another tab stores
    // meanwhile cannot slip under a key given to a clear, empty cache.
    const { index, keys } = await tabs.exclusive(async () => {
      const index = await IndexStore.load(backend, SQL)
      try {
        return { index, keys: await Keys.open(backend, options.encryption?.key, options.encryption && index.db.hasEntries() ? index.db.totals().entries : 0) }
      } catch (error) {
        index.close()
        throw error
      }
    })
    cache = new Cache(name, backend, index, tabs, SQL, { maxBytes, lowWater }, options.codec ?? 'zstd', options.inlineBytes ?? 4096, memoryBytes, durability)
    cache.setKeys(keys)
    cache.expiry = expiry
    // An index that is new, or was rebuilt from what of it verified, may lack every entry the records
    // hold: reconcile, which indexes them from their headers, is waited for, so that list() and stats()
    // show them at once. (An empty payloads/ lists at once; a lost index of many records is recovery.)
    if (keys.pending || index.recovery || !index.db.hasEntries()) {
      // A rekey killed midway: finished with the new key, rolled back with the old (rekey.ts), on files
      // reconciled first (the first mutation reconciles); then what expired meanwhile goes.
      await cache.mutate(async () => undefined)
      if (keys.pending) await settleRekey(cache, keys.pending)
      await cache.sweep()
      return cache
    }
    // Reconcile lists payloads/, a second or more at 100,000 record files, and what expired while the
    // cache was closed must go: both run in the first mutation, which is started here and not waited
    // for. Its request for the lock is made now, before open resolves, so every later mutation of this
    // context (and every other context's) waits for it. Reads do not need it: a row whose file a crash
    // removed reads as a miss (and is dropped), a record a crash left without a row is a miss until
    // reconcile indexes it, and an expired entry is a miss (see unexpired()).
    cache.settling = cache.sweep().catch((error: unknown) => {
      // Tried again by the next mutation, which fails with the error if it persists.
      console.warn(`voxcache: reconciling ${name} after open failed: ${describeThrown(error)}`)
    })
    return cache
  }

  /** Uses `keys` from now on (at open, after a rekey, or when another tab changed key.json). */
  setKeys(keys: Keys): void {
    this.keys = keys
    this.records.setKeys(keys)
  }

  /** Brings this context's index up to date if another tab changed it. */
  async freshen(): Promise<void> {
    if (!this.stale) return
    this.stale = false
    await this.tabs.shared(async () => {
      await this.index.refresh()
      // Another context may have rekeyed the cache or imported data keys into it: its rows then name
      // data keys these keys lack.
      const keys = await this.keys.refresh(this.backend)
      if (keys !== this.keys) this.setKeys(keys)
    })
    // Another context may have stored something that expires before the timer's time.
    this.expiry.plan(this.index.db)
    // Values another context replaced or deleted would never be served (their versions are checked);
    // dropped now, they stop taking room.
    this.memory.prune((id) => this.index.db.info(id))
  }

  /** Removes every expired entry (expiry.ts), then sets the timer for the next one. */
  async sweep(): Promise<void> {
    const now = Date.now()
    try {
      await this.mutate((batch) => this.expiry.sweep(this.index.db, batch, (id) => this.records.removeFiles(id), now))
    } finally {
      this.expiry.plan(this.index.db, now)
    }
  }

  /** `info`, or undefined when it has expired — then it is deleted (with whatever else has) before this resolves. */
  private async unexpired(info: EntryInfo | undefined): Promise<EntryInfo | undefined> {
    if (!info || !this.expiry.isExpired(info)) return info
    await this.sweep()
    return undefined
  }

  /**
   * The entry's info; on a local miss, looks again after catching up with other tabs, because their
   * announcement may still be in flight (memoize across tabs relies on a miss being a real miss).
   */
  async lookup(id: string): Promise<EntryInfo | undefined> {
    await this.freshen()
    const info = this.index.db.info(id)
    if (info) return this.unexpired(info)
    await this.tabs.shared(() => this.index.refresh())
    return this.unexpired(this.index.db.info(id))
  }

  /**
   * The one path of every change: under the exclusive lock, on a current index (pending touches
   * committed first, so that eviction sees them), `fn` works on the files and records its changes in
   * the batch, which is committed — and announced to other tabs — even when `fn` then fails, since
   * what it did on disk (evictions included) must be in the index.
   */
  async mutate<T>(fn: (batch: Batch) => Promise<T>): Promise<T> {
    return this.tabs.exclusive(async () => {
      try {
        return await this.mutateHeld(fn)
      } catch (error) {
        // The next mutation looks at the files again, whatever this one left of the journal.
        this.desync()
        throw error
      }
    })
  }

  /**
   * Forgets that the index is current and lets go of the journal: at the end of a lease (tabs.ts), or
   * after a failed mutation. The next mutation catches up from the files, the next memory hit checks.
   */
  desync(): void {
    this.synced = false
    this.indexSynced = false
    this.index.release()
  }

  private async mutateHeld<T>(fn: (batch: Batch) => Promise<T>): Promise<T> {
    if (!this.synced) {
      // The journal held open for this lease, and key.json's stamp, both looked at in one round trip.
      // Another tab may have rekeyed the cache, or protected it while this context had it open clear:
      // nothing is written under keys that are no longer the cache's.
      const [keys] = await Promise.all([this.keys.refresh(this.backend), this.index.hold()])
      this.stale = false
      if (keys !== this.keys) this.setKeys(keys)
      this.synced = this.indexSynced = true
    } else {
      // A checkpoint earlier in the lease replaced the journal and let go of the old one.
      await this.index.keepHeld()
    }
    if (this.unreconciled) {
      // Committed even when reconcile fails midway, as any mutation's batch: what it did on disk is in it.
      const reconciled = new Batch()
      try {
        await this.records.reconcile(reconciled)
        this.unreconciled = false
      } finally {
        if (reconciled.size) {
          this.tabs.announce(await this.space.commit(reconciled))
          this.expiry.note(reconciled.changes)
        }
      }
    }
    const touched = new Batch()
    touched.changes.push(...this.touches.take())
    if (touched.size) await this.space.commit(touched)
    const batch = new Batch()
    try {
      return await fn(batch)
    } finally {
      // Whatever this change touched is read from disk next time, even if the change failed midway.
      for (const change of batch.changes) {
        if (change.t === 'clear') this.memory.clear()
        else if (change.t === 'put' || change.t === 'del') this.memory.drop(change.t === 'put' ? change.row.id : change.id)
      }
      if (batch.size) {
        this.tabs.announce(await this.space.commit(batch))
        this.expiry.note(batch.changes)
      }
    }
  }

  /**
   * Encodes and stores `value` under `id`. A value that fits one chunk is encoded before the lock is
   * taken; a larger one is encoded under it, each chunk written as it fills (never two copies in memory).
   * @throws {UnsupportedValueError} @throws {CacheFullError}
   */
  async store(id: string, value: Value, options: StoreSettings): Promise<EntryInfo> {
    const classified = classify(value)
    if (classified.dataType === 'json' || classified.bytes.byteLength <= (this.keys.current ? SEALED_CHUNK_BYTES : CHUNK_BYTES)) {
      // Encoded before the lock is taken, so under the keys of that moment: if another tab changed the
      // cache's key meanwhile (put() finds out under the lock), it is encoded again under the new ones.
      for (;;) {
        const seal = this.keys.sealing()
        const record = await encodeRecord(value, { operationId: id, codec: options.codec ?? this.codec, metadata: options.metadata, expiresAt: options.expiresAt, seal, onFrame: progress, quiet: excused })
        const info = await this.put(record.header, record.parts, record.byteLength, options.pin, { with: seal })
        if (info) return info
      }
    }
    const shape: ValueShape = { dataType: classified.dataType, rawLength: classified.bytes.byteLength, ...(classified.dataType === 'Image' ? { image: classified.image } : {}) }
    const stream = await this.storeStream(id, shape, options)
    try {
      await stream.push(classified.bytes)
    } catch (error) {
      await stream.abort()
      throw error
    }
    return stream.finish()
  }

  /**
   * A store whose raw bytes come in pieces, for a value larger than one message (or one chunk): the
   * cache's lock is held from here until finish() or abort(), each chunk is written as it fills, and
   * the record last. Resolves once the lock is held and the budget has room.
   * @throws {UnsupportedValueError} @throws {CacheFullError}
   */
  async storeStream(id: string, shape: ValueShape, options: StoreSettings): Promise<StoreStream> {
    let opened: (writer: RecordWriter) => void = () => undefined
    let end: (how: 'finish' | 'abort') => void = () => undefined
    const ready = new Promise<RecordWriter>((resolve) => (opened = resolve))
    const ending = new Promise<'finish' | 'abort'>((resolve) => (end = resolve))
    const result = this.quotaTyped(() =>
      this.mutate(async (batch) => {
        const existing = this.index.db.info(id)
        // Stored bytes are not known before encoding; they are at most the raw bytes and the table.
        await this.space.fitBudget(batch, id, shape.rawLength + (shape.rawLength >> 16) + (1 << 20))
        // Chunks the old record's key is not here to name stay, and go at an open with the key.
        const old = (existing && !existing.inline ? await this.records.chunkPaths(id, existing.sizeBytes) : []) ?? []
        const written: string[] = []
        let chunkBytes = 0
        const sink = async (chunk: EncodedChunk) => {
          const path = chunkPath(id, chunk.sha256)
          await this.space.writeFile(batch, id, chunk.parts, chunk.byteLength, path)
          written.push(path)
          chunkBytes += chunk.byteLength
        }
        try {
          const seal = this.keys.sealing()
          const writer = new RecordWriter(shape, { operationId: id, codec: options.codec ?? this.codec, metadata: options.metadata, expiresAt: options.expiresAt, seal, onFrame: progress, quiet: excused, ...(seal ? { chunkBytes: SEALED_CHUNK_BYTES } : {}) }, sink)
          opened(writer)
          if ((await ending) === 'abort') throw new UnsupportedValueError(`the store of ${id} was abandoned`)
          const record = await writer.finish()
          await this.space.writeFile(batch, id, record.parts, record.byteLength)
          for (const path of old) if (!written.includes(path)) await this.backend.delete(path)
          const info = this.entryInfo(record.header, record.byteLength + chunkBytes, false, existing, options.pin)
          batch.put(await this.keys.sealInfo(info), null)
          return info
        } catch (error) {
          // Chunks of a value whose record was not written name nothing; the old version keeps its own.
          for (const path of written) if (!old.includes(path)) await this.backend.delete(path).catch(() => undefined)
          throw error
        }
      }),
    )
    // A refusal before the writer exists (budget, metadata) ends the stream at once.
    const writer = await Promise.race([ready, result.then(() => undefined)])
    if (!writer) throw new Error('the store ended before it began')
    return {
      push: (bytes) => writer.push(bytes).catch((error: unknown) => Promise.reject(quotaTypedError(error))),
      finish: () => {
        end('finish')
        return result
      },
      abort: async () => {
        end('abort')
        await result.catch(() => undefined)
      },
    }
  }

  /**
   * Writes an encoded record and its row: the payload file first, then the index (DESIGN's protocol).
   * @throws {CacheFullError} when it fits neither the budget nor the quota, even after eviction.
   */
  async put(header: RecordHeader, parts: Uint8Array[], byteLength: number, pin: boolean | undefined): Promise<EntryInfo>
  /** With `sealed`: undefined, writing nothing, when the cache's sealing key is no longer `sealed.with`. */
  async put(header: RecordHeader, parts: Uint8Array[], byteLength: number, pin: boolean | undefined, sealed: { with: Keyring | undefined }): Promise<EntryInfo | undefined>
  async put(header: RecordHeader, parts: Uint8Array[], byteLength: number, pin: boolean | undefined, sealed?: { with: Keyring | undefined }): Promise<EntryInfo | undefined> {
    const id = header.operationId
    const inline = byteLength <= this.inlineBytes
    return this.quotaTyped(() =>
      this.mutate(async (batch) => {
        // Throws KeyMismatchError when the refreshed keys left this context locked.
        if (sealed && this.keys.sealing() !== sealed.with) return undefined
        const existing = this.index.db.info(id)
        await this.space.fitBudget(batch, id, byteLength)
        // A replaced value of several chunks: its chunks go once the new record is in place.
        const old = (existing && !existing.inline ? await this.records.chunkPaths(id, existing.sizeBytes) : []) ?? []
        let data: Uint8Array | null = null
        if (inline) {
          data = concatParts(parts, byteLength)
          if (existing && !existing.inline) await this.backend.delete(payloadPath(id))
        } else {
          await this.space.writeFile(batch, id, parts, byteLength)
        }
        for (const path of old) await this.backend.delete(path)
        const info = this.entryInfo(header, byteLength, inline, existing, pin)
        batch.put(await this.keys.sealInfo(info), data)
        return info
      }),
    )
  }

  /**
   * Writes `value` again under the current data key, as it was (creation and access times, hits, pin):
   * a rekey's step. Its stored size stays within a few bytes, so no budget is checked. Call inside mutate().
   * @throws {CacheFullError} when the quota refuses the new copy.
   */
  async rewrite(batch: Batch, info: EntryInfo, value: Value, metadata: JsonValue): Promise<void> {
    const id = info.id
    const old = (!info.inline ? await this.records.chunkPaths(id, info.sizeBytes) : []) ?? []
    const written: string[] = []
    let chunkBytes = 0
    try {
      const record = await encodeRecord2(
        value,
        { operationId: id, codec: info.codec, metadata, createdAt: info.createdAt, ...(info.expiresAt ? { expiresAt: info.expiresAt } : {}), seal: this.keys.sealing(), chunkBytes: SEALED_CHUNK_BYTES, onFrame: progress, quiet: excused },
        async (chunk) => {
          const path = chunkPath(id, chunk.sha256)
          await this.space.writeFile(batch, id, chunk.parts, chunk.byteLength, path)
          written.push(path)
          chunkBytes += chunk.byteLength
        },
      )
      const inline = !written.length && record.byteLength <= this.inlineBytes
      let data: Uint8Array | null = null
      if (inline) {
        data = concatParts(record.parts, record.byteLength)
        if (!info.inline) await this.backend.delete(payloadPath(id))
      } else {
        await this.space.writeFile(batch, id, record.parts, record.byteLength)
      }
      for (const path of old) if (!written.includes(path)) await this.backend.delete(path)
      const next = { ...this.entryInfo(record.header, record.byteLength + chunkBytes, inline, info, info.pinned), lastAccessedAt: info.lastAccessedAt }
      batch.put(await this.keys.sealInfo(next), data)
    } catch (error) {
      for (const path of written) if (!old.includes(path)) await this.backend.delete(path).catch(() => undefined)
      throw error
    }
  }

  private entryInfo(header: RecordHeader, byteLength: number, inline: boolean, existing: EntryInfo | undefined, pin: boolean | undefined): EntryInfo {
    return {
      ...headerInfo(header, byteLength, inline),
      lastAccessedAt: header.createdAt,
      hits: existing?.hits ?? 0,
      pinned: pin ?? existing?.pinned ?? false,
    }
  }

  /** The browser's quota error, wherever it surfaced, as the typed error callers handle. */
  private async quotaTyped<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      throw quotaTypedError(error)
    }
  }

  /**
   * The value stored under `id` and its info (this hit counted), or undefined on a miss.
   * @throws {UnsupportedValueError} for a value past MAX_MESSAGE_BYTES: it is read with retrieveRegion.
   * @throws {CorruptEntryError} when the record fails validation; the entry is quarantined.
   * @throws {SchemaVersionError} when a newer voxcache wrote the record; it is left as it is.
   */
  async retrieveEntry(id: string): Promise<{ value: Value; info: EntryInfo } | undefined> {
    const read = (info: EntryInfo, held: boolean) => {
      if (info.rawBytes > MAX_MESSAGE_BYTES) {
        throw new UnsupportedValueError(
          `entry ${id} holds ${info.rawBytes} bytes, more than one buffer can carry out of the worker (about 2 GiB); read it in boxes with retrieveRegion`,
        )
      }
      return this.records.read(info, held)
    }
    return this.reading(id, 'whole', read, (now) => this.memory.serve(now))
  }

  /**
   * A box of the image stored under `id` (this hit counted), or undefined on a miss.
   * @throws {UnsupportedValueError} when the entry is not an image or the box does not fit it.
   * @throws {CorruptEntryError} when a frame it reads fails validation; the entry is quarantined.
   * @throws {SchemaVersionError} when a newer voxcache wrote the record; it is left as it is.
   */
  async retrieveRegion(id: string, region: Region): Promise<{ value: Image; info: EntryInfo } | undefined> {
    return this.reading(id, 'region', (info, held) => this.records.readRegion(info, region, held), (now) => this.memory.cut(now, region))
  }

  /**
   * The description of the image stored under `id` (no pixels read, no hit counted), or undefined.
   * @throws {UnsupportedValueError} when the entry is not an image.
   */
  async imageInfo(id: string): Promise<ImageInfo | undefined> {
    this.keys.sealing()
    this.records.refuseNewer(id)
    const info = await this.lookup(id)
    if (!info) {
      this.records.refuseNewer(id) // reconcile, which a miss waits for, may have found it newer
      return undefined
    }
    try {
      const out = await this.tabs.sharedIfFree((held) => this.records.readImageInfo(info, held))
      return out === MISSING ? undefined : out
    } catch (error) {
      if (!(error instanceof CorruptEntryError)) throw error
      const again = await this.confirmDamage(id, (now) => this.records.readImageInfo(now, false))
      return again === MISSING ? undefined : again.value
    }
  }

  /**
   * A read outside the exclusive lock failed validation, but it may have met a file another tab was
   * replacing at that moment (seen once in the two-tab region spec, under load: a Blob read of the
   * header gave bytes that were no record's). So the entry is read again under the exclusive lock,
   * where nothing changes, before it is called damage and quarantined.
   * @throws {CorruptEntryError} when the second read fails too (the entry is then quarantined).
   */
  private async confirmDamage<T>(id: string, read: (info: EntryInfo) => Promise<T | typeof MISSING>): Promise<{ value: T; info: EntryInfo } | typeof MISSING> {
    return this.mutate(async (batch) => {
      const now = this.index.db.info(id)
      if (!now) return MISSING
      try {
        const value = await read(now)
        return value === MISSING ? MISSING : { value, info: now }
      } catch (error) {
        if (error instanceof CorruptEntryError) await this.records.quarantine(batch, id)
        throw error
      }
    })
  }

  /**
   * A hit's value through `read`, with the miss, the quarantine and the counters every read shares.
   * `read` runs under the shared lock when it is free (`held`), so that it may read through read handles,
   * which no mutation may meet; when a mutation holds or awaits the lock it reads Blobs, without waiting.
   * In a browser profile on disk a read handle reads a file straight from the renderer: 134 MB in 76 ms
   * against 97 ms through a Blob, 7 MB in 6 ms against 13 ms (bench/results.md). (An incognito profile
   * keeps OPFS in the browser process behind IPC, where whole reads of 128 MiB were faster as Blobs.)
   * A whole value read may be kept by the memory tier; a region read leaves the tier as it was.
   */
  private async reading<T extends Value>(
    id: string,
    kind: 'whole' | 'region',
    read: (info: EntryInfo, held: boolean) => Promise<T | typeof MISSING>,
    fromMemory: (info: EntryInfo) => T | undefined,
  ): Promise<{ value: T; info: EntryInfo } | undefined> {
    this.keys.sealing() // a locked cache reads nothing
    this.records.refuseNewer(id)
    let info = await this.lookup(id)
    // A record without a row that a newer voxcache wrote is found by reconcile, which runs after open
    // and which a miss waits for: refused then, as it was when reconcile ran before open resolved.
    if (!info) this.records.refuseNewer(id)
    if (info) {
      const held = await this.fromMemory(info, fromMemory)
      if ('value' in held) {
        this.counters.hits++
        this.touches.note(id)
        return { value: held.value, info: await this.keys.openInfo(this.touches.apply(held.info)) }
      }
      info = held.info
    }
    if (!info) {
      this.counters.misses++
      return undefined
    }
    let value: T | typeof MISSING
    try {
      value = await this.tabs.sharedIfFree((held) => read(info!, held))
    } catch (error) {
      if (!(error instanceof CorruptEntryError)) throw error
      const again = await this.confirmDamage(id, (now) => read(now, false))
      if (again === MISSING) value = MISSING
      else ({ value, info } = again)
    }
    if (value === MISSING) {
      await this.mutate(async (batch) => {
        if (this.index.db.has(id) && !(await this.backend.size(payloadPath(id)))) batch.remove(id)
      })
      this.counters.misses++
      return undefined
    }
    this.counters.hits++
    this.touches.note(id)
    if (kind === 'whole') this.memory.keep(info, value)
    return { value, info: await this.keys.openInfo(this.touches.apply(info)) }
  }

  /**
   * What `take` makes of the value the memory tier holds for the entry's current version (a copy, or a
   * box cut from it), or the entry's current info to read it from disk (undefined: it is gone). The
   * journal is read first: another tab's replace or
   * delete that has resolved is in it, while its announcement may still be on its way — and a held
   * value, unlike a record file, outlives the change. Under the shared lock when it is free; while a
   * mutation holds or awaits it, the value is read from disk, without waiting (as a region read does).
   */
  private async fromMemory<T>(info: EntryInfo, take: (info: EntryInfo) => T | undefined): Promise<{ value: T; info: EntryInfo } | { info: EntryInfo | undefined }> {
    if (!this.memory.has(info)) return { info }
    const now = await this.tabs.sharedIfFree(async (held, sole) => {
      // Under this context's lease no other context can have changed anything since it caught up,
      // not even while a mutation of this context runs: that one drops what it changes from the
      // tier before its rows change.
      if (sole && this.indexSynced) return this.index.db.info(info.id)
      if (!held) return info
      await this.index.refresh()
      // The first hit under a lease checks; the next ones need not.
      if (sole) this.indexSynced = true
      return this.index.db.info(info.id)
    })
    if (now === info) return { info }
    const current = await this.unexpired(now)
    const value = current && take(current)
    return value === undefined || !current ? { info: current } : { value, info: current }
  }

  async info(id: string): Promise<EntryInfo | undefined> {
    // A miss asks again under the lock, as has() does: after reconcile (which open leaves running) has
    // indexed what a crash or a lost index left without a row.
    const info = await this.lookup(id)
    return info && this.keys.openInfo(this.touches.apply(info))
  }

  /** Removes an entry; true when there was one. */
  async delete(id: string): Promise<boolean> {
    return this.mutate(async (batch) => {
      if (!this.index.db.has(id)) return false
      await this.records.removeFiles(id)
      batch.remove(id)
      return true
    })
  }

  /** Pins or unpins an entry; false when there is no such entry. */
  async pin(id: string, pinned: boolean): Promise<boolean> {
    return this.mutate(async (batch) => {
      if (!this.index.db.has(id)) return false
      batch.pin(id, pinned)
      return true
    })
  }

  async list(options: ListOptions): Promise<EntryInfo[]> {
    await this.freshen()
    return this.keys.openInfos(this.index.db.list(options, this.expiry.at()).map((info) => this.touches.apply(info)))
  }

  async stats(): Promise<CacheStats> {
    await this.freshen()
    // Totals count no expired entry: what is due goes first.
    if (this.index.db.expiredIds(this.expiry.at()).length) await this.sweep()
    let quota: CacheStats['quota'] = null
    try {
      const e = await navigator.storage.estimate()
      quota = { usage: e.usage ?? 0, quota: e.quota ?? 0 }
    } catch {
      quota = null
    }
    let persisted: boolean | null = null
    try {
      persisted = typeof navigator.storage?.persisted === 'function' ? await navigator.storage.persisted() : null
    } catch {
      persisted = null
    }
    const totals = this.index.db.totals()
    return {
      name: this.name,
      storage: this.backend.kind,
      ...totals,
      maxBytes: this.space.budget.maxBytes,
      lowWaterBytes: this.space.budget.lowWaterBytes,
      ...this.counters,
      evictions: this.space.evictions,
      memoryHits: this.memory.hits,
      memoryBytes: this.memory.bytes,
      memoryEntries: this.memory.entries,
      memoryMaxBytes: this.memory.maxBytes,
      quotaRetries: this.space.quotaRetries,
      quarantined: this.records.quarantined,
      persisted,
      protection: this.keys.protectedBy === undefined ? null : { keyId: this.keys.protectedBy, locked: this.keys.locked },
      ...decodeCounters,
      quota,
      indexRecovery: this.index.recovery ?? null,
    }
  }

  async evictions(): Promise<EvictionInfo[]> {
    // Evicted entries' metadata is kept as the index had it: sealed under a key.
    if (this.keys.protectedBy === undefined) return [...this.space.log]
    return Promise.all(
      this.space.log.map(async (e) => ({ ...e, metadata: (await this.keys.openInfo({ id: e.id, metadata: e.metadata } as EntryInfo)).metadata })),
    )
  }

  /** Removes every entry. */
  async clear(): Promise<void> {
    await this.mutate(async (batch) => {
      // Every file of the folder: records, their chunks, and anything a killed write left.
      for (const name of await this.backend.list(PAYLOADS)) await this.backend.delete(`${PAYLOADS}/${name}`)
      batch.clear()
    })
  }

  /** Writes pending access times and lets go of the index. */
  async close(): Promise<void> {
    await this.settling
    this.memory.clear()
    await this.expiry.stop()
    if (this.touches.size) await this.mutate(async () => undefined).catch(() => undefined)
    this.touches.stop()
    this.tabs.close()
    this.index.close()
  }

  /**
   * Lets go of the cache without writing anything (pending access times dropped), once any mutation in
   * progress has finished: wipeAll() is about to remove its files.
   */
  async discard(): Promise<void> {
    await this.letGo(async () => undefined)
  }

  /** Deletes every file of this cache, index included. */
  async destroy(): Promise<void> {
    // One call to the browser, which reports nothing while it removes every file: at 100,000 record
    // files it ran past the watchdog's 30 s under load (bench/results-open.md), so it does not count,
    // as a wasm fetch does not.
    await this.letGo(() => excused(() => this.backend.destroy()))
  }

  /** Stops everything without writing, then runs `last` under the exclusive lock once the index is closed. */
  private async letGo(last: () => Promise<void>): Promise<void> {
    await this.settling
    this.memory.clear()
    this.expiry.stop().catch(() => undefined) // a sweep waiting for this lock fails once the index is closed
    await this.tabs.exclusive(async () => {
      this.touches.stop()
      this.tabs.close()
      this.index.close()
      await last()
    })
  }
}
