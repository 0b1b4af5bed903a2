// CacheService: the API the client sees through Comlink. Orchestration only: the record format is in
// src/codec, SQL in index-db.ts, persistence in index-store.ts, files in payloads/, tabs in tabs.ts.
import initSqlJs, { type SqlJsStatic } from 'sql.js'
import sqlWasmUrl from 'sql.js/dist/sql-wasm.wasm?url'
import zstdWasmUrl from 'zstd-wasm:zstd.wasm?url'
import {
  concatParts,
  decodeBodyInFrames,
  decodeRecord,
  encodeRecord,
  headerExtent,
  initCodec,
  parseHeader,
  type RecordHeader,
} from '../src/codec/index.js'
import {
  CacheFullError,
  ClosedError,
  CorruptEntryError,
  InvalidImportError,
  SchemaVersionError,
  StorageUnavailableError,
  UnsupportedValueError,
  describeThrown,
} from '../src/errors.js'
import { toWire, type WireThrown } from '../src/error-channel.js'
import { onceLock } from '../src/locks.js'
import { assertOperationId } from '../src/operation-id.js'
import { forTransfer, transferring } from '../src/transfer.js'
import type {
  CacheStats,
  Codec,
  EntryInfo,
  EvictionInfo,
  ImportReport,
  ListOptions,
  OpenCacheOptions,
  StoreOptions,
  Value,
} from '../src/types.js'
import { headerInfo, IndexDb, rowRecord, type ImportRow, type JournalEntry } from './index-db.js'
import { IndexStore } from './index-store.js'
import { isQuotaError, TMP_SUFFIX, type Backend } from './payloads/backend.js'
import { createIdbBackend } from './payloads/idb.js'
import { createMemoryBackend } from './payloads/memory.js'
import { createOpfsBackend } from './payloads/opfs.js'
import { planEviction, pickLru, usageDropsTo, usageNow, writeWithQuotaRetry, type Budget } from './space.js'
import { createCoordinator, type Coordinator } from './tabs.js'
import {
  decodeCounters,
  decodeMetadata,
  decodeRoles,
  exportValue,
  planDecode,
  type DecodeFile,
  type ExportFormat,
} from './decode/decode.js'
import type { Image } from '../src/types.js'

const PAYLOADS = 'payloads'
const QUARANTINE = 'quarantine'
/** Written and removed at once, under the lock, to learn whether the quota has room. */
const QUOTA_PROBE = 'quota-probe'
const payloadPath = (id: string) => `${PAYLOADS}/${id}.vxc`
const TOUCH_FLUSH_MS = 1000
const DEFAULT_BUDGET = 1 << 30
const EVICTION_LOG = 1000

interface State {
  name: string
  backend: Backend
  index: IndexStore
  coord: Coordinator
  SQL: SqlJsStatic
  budget: Budget
  codec: Codec
  inlineBytes: number
  /** Another context changed the index since we last read it. */
  stale: boolean
  touches: Map<string, { at: string; hits: number }>
  /**
   * Entries whose record a newer voxcache wrote, by id, with the error that says so: they are left as
   * they are (not indexed, moved or overwritten) and every access to them is refused.
   */
  newer: Map<string, SchemaVersionError>
  touchTimer: ReturnType<typeof setTimeout> | undefined
  counters: { hits: number; misses: number; evictions: number; quarantined: number; quotaRetries: number }
  /** The last EVICTION_LOG entries this worker evicted, oldest first. */
  evictionLog: EvictionInfo[]
}

let sqlPromise: Promise<SqlJsStatic> | undefined
function loadSql(): Promise<SqlJsStatic> {
  sqlPromise ??= initSqlJs({ locateFile: () => sqlWasmUrl })
  return sqlPromise
}

async function chooseBackend(name: string, kind: OpenCacheOptions['storage']): Promise<Backend> {
  if (kind === 'memory') return createMemoryBackend()
  const hasOpfs =
    typeof navigator !== 'undefined' &&
    typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' &&
    'createSyncAccessHandle' in FileSystemFileHandle.prototype
  if (kind === 'opfs' || (kind !== 'idb' && hasOpfs)) {
    if (!hasOpfs) throw new StorageUnavailableError('OPFS sync access handles are not available here')
    try {
      return await createOpfsBackend(name)
    } catch (error) {
      if (kind === 'opfs') throw new StorageUnavailableError(`OPFS is not usable: ${describeThrown(error)}`, { cause: error })
    }
  }
  if (typeof indexedDB === 'undefined') throw new StorageUnavailableError('neither OPFS nor IndexedDB is available')
  return createIdbBackend(name)
}

async function defaultBudget(): Promise<number> {
  try {
    const { quota } = await navigator.storage.estimate()
    if (quota) return Math.floor(quota / 2)
  } catch {
    // estimate() is missing in some contexts; fall back below
  }
  return DEFAULT_BUDGET
}

/**
 * The rows of a database being imported. A failure of SQLite itself mid-way (damage quick_check did
 * not see) ends the import as an InvalidImportError that says how far it got.
 */
function* importRows(source: IndexDb, report: ImportReport): Generator<ImportRow> {
  const rows = source.importRows()
  for (;;) {
    let next: IteratorResult<ImportRow>
    try {
      next = rows.next()
    } catch (error) {
      throw new InvalidImportError(
        `the database is damaged (after ${report.imported} imported, ${report.rejected.length} rejected): ${describeThrown(error)}`,
        { cause: error },
      )
    }
    if (next.done) return
    yield next.value
  }
}

/** Maps the browser's quota error, wherever it surfaces, to the typed error callers handle. */
function mapStorageError(error: unknown): unknown {
  if (isQuotaError(error)) return new CacheFullError('the browser storage quota is exhausted', { cause: error })
  return error
}

export function createService() {
  let state: State | undefined

  function ready(): State {
    if (!state) throw new ClosedError('the cache is not open (or was closed)')
    return state
  }

  /** Brings this context's index up to date if another tab changed it. */
  async function freshen(s: State): Promise<void> {
    if (!s.stale) return
    s.stale = false
    await s.coord.shared(() => s.index.refresh())
  }

  /**
   * The entry's info; on a local miss, looks again after catching up with other tabs, because their
   * announcement may still be in flight (memoize across tabs relies on a miss being a real miss).
   */
  async function lookup(s: State, id: string): Promise<EntryInfo | undefined> {
    await freshen(s)
    const info = s.index.db.info(id)
    if (info) return info
    await s.coord.shared(() => s.index.refresh())
    return s.index.db.info(id)
  }

  function withPending(s: State, info: EntryInfo): EntryInfo {
    const t = s.touches.get(info.id)
    if (!t) return info
    const last = info.lastAccessedAt && info.lastAccessedAt > t.at ? info.lastAccessedAt : t.at
    return { ...info, hits: info.hits + t.hits, lastAccessedAt: last }
  }

  function takeTouches(s: State): JournalEntry[] {
    const entries: JournalEntry[] = [...s.touches].map(([id, t]) => ({ t: 'touch', id, at: t.at, hits: t.hits }))
    s.touches.clear()
    if (s.touchTimer) clearTimeout(s.touchTimer)
    s.touchTimer = undefined
    return entries
  }

  /** Runs a mutation under the exclusive lock, on a current index, with pending touches committed first. */
  async function mutate<T>(s: State, fn: (entries: JournalEntry[]) => Promise<T>): Promise<T> {
    return s.coord.exclusive(async () => {
      await s.index.refresh()
      s.stale = false
      const touches = takeTouches(s)
      if (touches.length) await s.index.commit(touches)
      const entries: JournalEntry[] = []
      try {
        return await fn(entries)
      } finally {
        // Whatever fn managed to do on disk (evictions included) is recorded, even when it then failed.
        if (entries.length) s.coord.announce(await commit(s, entries))
      }
    })
  }

  async function evict(s: State, ids: string[], entries: JournalEntry[], reason: EvictionInfo['reason']): Promise<void> {
    for (const id of ids) {
      // The row is still in the index (entries are applied at commit): it says which version goes.
      const info = s.index.db.info(id)
      await s.backend.delete(payloadPath(id))
      entries.push({ t: 'del', id })
      s.counters.evictions++
      if (!info) continue
      const { sizeBytes, createdAt, checksum, metadata } = info
      s.evictionLog.push({ id, reason, evictedAt: new Date().toISOString(), sizeBytes, createdAt, checksum, metadata })
      if (s.evictionLog.length > EVICTION_LOG) s.evictionLog.splice(0, s.evictionLog.length - EVICTION_LOG)
    }
  }

  /** Writes an encoded record and its row: payload file first, then the index (DESIGN's protocol). */
  async function putRecord(
    s: State,
    header: RecordHeader,
    parts: Uint8Array[],
    byteLength: number,
    pin: boolean | undefined,
  ): Promise<EntryInfo> {
    const id = header.operationId
    const inline = byteLength <= s.inlineBytes
    return mutate(s, async (entries) => {
      const db = s.index.db
      const existing = db.info(id)
      const evicted = planEviction(db, s.budget, byteLength, existing?.sizeBytes ?? 0, id)
      await evict(s, evicted, entries, 'budget')
      let data: Uint8Array | null = null
      if (inline) {
        data = concatParts(parts, byteLength)
        if (existing && !existing.inline) await s.backend.delete(payloadPath(id))
      } else {
        await writeWithQuotaRetry(
          () => s.backend.writeAtomic(payloadPath(id), parts),
          (refusal) => makeRoom(s, byteLength, id, evicted, refusal, entries),
        )
      }
      const info: EntryInfo = {
        id,
        dataType: header.dataType,
        sizeBytes: byteLength,
        rawBytes: header.rawLength,
        codec: header.codec,
        checksum: header.checksum,
        createdAt: header.createdAt,
        lastAccessedAt: header.createdAt,
        hits: existing?.hits ?? 0,
        pinned: pin ?? existing?.pinned ?? false,
        metadata: header.metadata,
        inline,
      }
      entries.push({ t: 'put', row: rowRecord(info, data) })
      return info
    }).catch((error: unknown) => {
      throw mapStorageError(error)
    })
  }

  /**
   * Commits a batch to the index journal. When the browser's quota refuses the append (an inline
   * record, a row, a deletion), it evicts for room and tries once more, as for payload files.
   */
  async function commit(s: State, entries: JournalEntry[]): Promise<number> {
    let generation = s.index.generation
    await writeWithQuotaRetry(
      async () => {
        generation = await s.index.commit(entries)
      },
      (refusal) => {
        const put = entries.find((e) => e.t === 'put')
        const deleted = entries.flatMap((e) => (e.t === 'del' ? [e.id] : []))
        return makeRoom(s, s.index.commitBytes(entries), put?.t === 'put' ? put.row.id : undefined, deleted, refusal, entries)
      },
    )
    return generation
  }

  /**
   * After the browser refused a write of about `byteLength` bytes: evicts for the quota (adding the
   * deletions to `entries`), so that the caller's one retry can fit. `keep` is the entry being written.
   */
  async function makeRoom(
    s: State,
    byteLength: number,
    keep: string | undefined,
    already: string[],
    refusal: unknown,
    entries: JournalEntry[],
  ): Promise<void> {
    const ids = await planQuotaEviction(s, byteLength, keep, already, refusal)
    const freed = ids.reduce((n, x) => n + (s.index.db.info(x)?.sizeBytes ?? 0), 0)
    await reclaiming(s, freed, () => evict(s, ids, entries, 'quota'))
    s.counters.quotaRetries++
  }

  /**
   * After the browser refused a write: the entries to evict so that it fits the quota. Evicts nothing
   * when even an empty cache could not hold the value — eviction would lose entries for no gain.
   * Free space counts only when proven: estimate() cannot be trusted here (under DevTools' quota
   * override Chromium reports 10 GiB; IndexedDB then evicted entries and still failed, seen here).
   */
  async function planQuotaEviction(
    s: State,
    byteLength: number,
    id: string | undefined,
    already: string[],
    refusal: unknown,
  ): Promise<string[]> {
    const db = s.index.db
    // What evicting every unpinned payload file would free: not the value's own old version, nor the
    // entries already evicted (their deletions are not in the index yet, and the refusal saw them).
    let evictable = db.evictableFileBytes()
    for (const x of id === undefined ? already : [...already, id]) {
      const info = db.info(x)
      if (info && !info.pinned && !info.inline) evictable -= info.sizeBytes
    }
    // OPFS says how much of the refused write fitted; otherwise, when even evicting every unpinned
    // entry would leave the value short of room, a probe write of the shortfall tells whether the
    // quota has that much free, before anything is evicted.
    let free = (refusal as { written?: number }).written
    if (free === undefined) {
      const shortfall = byteLength - evictable
      free = shortfall > 0 ? await probeFree(s, shortfall) : 0
    }
    if (byteLength > free + evictable) {
      throw new CacheFullError(`a value of ${byteLength} bytes does not fit the browser's storage quota`)
    }
    const need = byteLength - free + byteLength / 4
    return pickLru(db, need, id === undefined ? already : [...already, id], true)
  }

  /** `bytes` when a file of that size fits the quota now (it is written, then removed), else 0. */
  async function probeFree(s: State, bytes: number): Promise<number> {
    try {
      await s.backend.writeAtomic(QUOTA_PROBE, [new Uint8Array(bytes)])
    } catch (error) {
      await s.backend.delete(QUOTA_PROBE)
      if (isQuotaError(error)) return 0
      throw error
    }
    await reclaiming(s, bytes, () => s.backend.delete(QUOTA_PROBE))
    return bytes
  }

  /**
   * Runs deletions that free about `bytes` and, on IndexedDB, waits (≤ 1 s) until the browser counts
   * them: it frees a deleted Blob's space a moment after the delete commits, and a retry that evicted
   * just enough was refused again (seen here). Since eviction without a proven free size takes 1.25×
   * the value, the quota spec passes without this wait too; it stays for the browser's lag. OPFS frees
   * at once.
   */
  async function reclaiming(s: State, bytes: number, remove: () => Promise<void>): Promise<void> {
    const usage = s.backend.kind === 'idb' && bytes > 0 ? await usageNow() : undefined
    await remove()
    if (usage !== undefined) await usageDropsTo(usage - bytes)
  }

  async function quarantine(s: State, id: string): Promise<void> {
    await mutate(s, async (entries) => {
      const info = s.index.db.info(id)
      const target = `${QUARANTINE}/${id}.${Date.now()}.vxc`
      if (info?.inline) {
        // A copy for inspection; when the quota has no room for it, the damaged record goes without one.
        await s.backend.writeAtomic(target, [s.index.db.inlineData(id) ?? new Uint8Array(0)]).catch((error: unknown) => {
          if (!isQuotaError(error)) throw error
        })
      } else {
        await s.backend.move(payloadPath(id), target).catch(() => undefined)
      }
      if (info) entries.push({ t: 'del', id })
      s.counters.quarantined++
    })
  }

  const MISSING = Symbol('missing')

  /** Reads and validates one record. Reads the header first, then the body into a buffer of its own. */
  async function readValue(s: State, info: EntryInfo): Promise<Value | typeof MISSING> {
    const id = info.id
    if (info.inline) {
      const data = s.index.db.inlineData(id)
      if (!data) throw new CorruptEntryError(id, 'inline row without data')
      return decodeRecord(id, data).value
    }
    try {
      const file = await s.backend.file(payloadPath(id))
      if (!file) return MISSING
      const bytes = async (from: number, to: number) => new Uint8Array(await file.slice(from, to).arrayBuffer())
      let head = await bytes(0, Math.min(file.size, 4096))
      const extent = headerExtent(id, head)
      if (extent > head.byteLength) head = await bytes(0, extent)
      const { header, bodyOffset } = parseHeader(id, head, file.size)
      // The record's own checksums decide integrity. Its checksum may differ from the index's when
      // another tab replaced the entry since this tab last looked: a newer value, not corruption.
      return await decodeBodyInFrames(header, (at, length) => bytes(bodyOffset + at, bodyOffset + at + length))
    } catch (error) {
      // The file went away (another tab evicted or replaced it) between the index lookup and the read.
      if (error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'NotReadableError')) {
        return MISSING
      }
      throw error
    }
  }

  function scheduleTouchFlush(s: State): void {
    if (s.touchTimer) return
    s.touchTimer = setTimeout(() => {
      s.touchTimer = undefined
      if (state === s && s.touches.size) void mutate(s, async () => undefined).catch(() => undefined)
    }, TOUCH_FLUSH_MS)
  }

  /** On open: drop temporary files, rows whose payload is gone, and index payloads that have no row. */
  async function reconcile(s: State): Promise<void> {
    await mutate(s, async (entries) => {
      // A write killed mid-way leaves its temporary file: of a payload, of an index checkpoint (in the
      // cache's folder), of an inline record being quarantined, or a quota probe. Only a lock holder
      // writes them.
      for (const dir of ['', QUARANTINE]) {
        for (const name of await s.backend.list(dir)) {
          if (name.endsWith(TMP_SUFFIX) || (!dir && name === QUOTA_PROBE)) await s.backend.delete(dir ? `${dir}/${name}` : name)
        }
      }
      const names = await s.backend.list(PAYLOADS)
      const files = new Set<string>()
      for (const name of names) {
        if (name.endsWith(TMP_SUFFIX)) await s.backend.delete(`${PAYLOADS}/${name}`)
        else if (name.endsWith('.vxc')) files.add(name.slice(0, -4))
      }
      const db = s.index.db
      for (const id of db.ids()) {
        if (!files.delete(id)) entries.push({ t: 'del', id })
      }
      for (const id of files) {
        const file = await s.backend.file(payloadPath(id))
        if (!file) continue
        try {
          const head = new Uint8Array(await file.slice(0, Math.min(file.size, 1 << 20)).arrayBuffer())
          const { header } = parseHeader(id, head, file.size)
          const info = headerInfo(header, file.size, false)
          entries.push({ t: 'put', row: rowRecord(info, null) })
        } catch (error) {
          if (error instanceof SchemaVersionError) {
            s.newer.set(id, error)
            continue
          }
          if (!(error instanceof CorruptEntryError)) throw error
          await s.backend.move(payloadPath(id), `${QUARANTINE}/${id}.${Date.now()}.vxc`)
          s.counters.quarantined++
        }
      }
    })
  }

  const api = {
    /**
     * Opens (or creates) the cache named in the options. Called once by the client.
     * @throws {StorageUnavailableError} when the chosen storage cannot be used.
     * @throws {SchemaVersionError} when the index was written by a newer voxcache.
     */
    async open(options: OpenCacheOptions = {}): Promise<{ storage: Backend['kind'] }> {
      if (state) throw new StorageUnavailableError('this worker already serves a cache')
      const name = options.name ?? 'default'
      const [SQL, backend] = await Promise.all([
        loadSql(),
        chooseBackend(name, options.storage ?? 'auto'),
        initCodec(zstdWasmUrl),
      ])
      const maxBytes = options.maxBytes ?? (await defaultBudget())
      const lowWater = options.lowWater ?? 0.9
      if (!(maxBytes > 0) || !(lowWater > 0 && lowWater <= 1)) {
        throw new UnsupportedValueError('maxBytes must be positive and lowWater in (0, 1]')
      }
      let s!: State
      const coord = createCoordinator(name, () => {
        if (s) s.stale = true
      })
      const index = await coord.exclusive(() => IndexStore.load(backend, SQL))
      s = {
        name,
        backend,
        index,
        coord,
        SQL,
        budget: { maxBytes, lowWaterBytes: Math.floor(maxBytes * lowWater) },
        codec: options.codec ?? 'zstd',
        inlineBytes: options.inlineBytes ?? 4096,
        stale: false,
        touches: new Map(),
        newer: new Map(),
        touchTimer: undefined,
        counters: { hits: 0, misses: 0, evictions: 0, quarantined: 0, quotaRetries: 0 },
        evictionLog: [],
      }
      await reconcile(s)
      state = s
      return { storage: backend.kind }
    },

    /**
     * Stores `value` under `id`, replacing what was there.
     * @throws {InvalidKeyError} @throws {UnsupportedValueError} @throws {CacheFullError}
     * @throws {SchemaVersionError} when a newer voxcache's record is stored under `id` (it is kept).
     */
    async store(id: string, value: Value, options: StoreOptions = {}): Promise<EntryInfo> {
      const s = ready()
      assertOperationId(id)
      const newer = s.newer.get(id)
      if (newer) throw newer
      const record = encodeRecord(value, { operationId: id, codec: options.codec ?? s.codec, metadata: options.metadata })
      return putRecord(s, record.header, record.parts, record.byteLength, options.pin)
    },

    /**
     * For memoize: stores `value` and hands it back (its buffer transferred back, not copied). A failure
     * to store is reported beside the value instead of losing it.
     */
    async storeAndReturn(
      id: string,
      value: Value,
      options: StoreOptions = {},
    ): Promise<{ info: EntryInfo | null; error: WireThrown | null; value: Value }> {
      let info: EntryInfo | null = null
      let error: WireThrown | null = null
      try {
        info = await api.store(id, value, options)
      } catch (e) {
        // Returned beside the value, not thrown: in the error channel's form, revived by the client.
        error = toWire(e)
      }
      const back = forTransfer(value)
      return transferring({ info, error, value: back.value }, back.transfer)
    },

    /**
     * The value stored under `id`, or undefined on a miss. Its pixel buffer is transferred to the caller.
     * @throws {CorruptEntryError} when the record fails validation; the entry is quarantined.
     * @throws {SchemaVersionError} when a newer voxcache wrote the record; it is left as it is.
     */
    async retrieve(id: string): Promise<Value | undefined> {
      return (await api.retrieveEntry(id))?.value
    },

    /**
     * retrieve(), with the entry's info (its hit counted): for memoizeEntry.
     * @throws {CorruptEntryError} @throws {SchemaVersionError} as retrieve().
     */
    async retrieveEntry(id: string): Promise<{ value: Value; info: EntryInfo } | undefined> {
      const s = ready()
      assertOperationId(id)
      const newer = s.newer.get(id)
      if (newer) throw newer
      const info = await lookup(s, id)
      if (!info) {
        s.counters.misses++
        return undefined
      }
      let value: Value | typeof MISSING
      try {
        value = await readValue(s, info)
      } catch (error) {
        if (error instanceof CorruptEntryError) await quarantine(s, id)
        if (error instanceof SchemaVersionError) s.newer.set(id, error)
        throw error
      }
      if (value === MISSING) {
        await mutate(s, async (entries) => {
          if (s.index.db.has(id) && !(await s.backend.size(payloadPath(id)))) entries.push({ t: 'del', id })
        })
        s.counters.misses++
        return undefined
      }
      s.counters.hits++
      const t = s.touches.get(id)
      s.touches.set(id, { at: new Date().toISOString(), hits: (t?.hits ?? 0) + 1 })
      scheduleTouchFlush(s)
      const out = forTransfer(value)
      return transferring({ value: out.value, info: withPending(s, info) }, out.transfer)
    },

    async has(id: string): Promise<boolean> {
      const s = ready()
      assertOperationId(id)
      return (await lookup(s, id)) !== undefined
    },

    async info(id: string): Promise<EntryInfo | undefined> {
      const s = ready()
      assertOperationId(id)
      await freshen(s)
      const info = s.index.db.info(id)
      return info && withPending(s, info)
    },

    /** Removes an entry; true when there was one. Deleting a missing entry is not an error. */
    async delete(id: string): Promise<boolean> {
      const s = ready()
      assertOperationId(id)
      return mutate(s, async (entries) => {
        if (!s.index.db.has(id)) return false
        await s.backend.delete(payloadPath(id))
        entries.push({ t: 'del', id })
        return true
      })
    },

    /** Pins (exempts from eviction) or unpins an entry; false when there is no such entry. */
    async pin(id: string, pinned = true): Promise<boolean> {
      const s = ready()
      assertOperationId(id)
      return mutate(s, async (entries) => {
        if (!s.index.db.has(id)) return false
        entries.push({ t: 'pin', id, pinned })
        return true
      })
    },

    async list(options: ListOptions = {}): Promise<EntryInfo[]> {
      const s = ready()
      await freshen(s)
      return s.index.db.list(options).map((info) => withPending(s, info))
    },

    async stats(): Promise<CacheStats> {
      const s = ready()
      await freshen(s)
      let quota: CacheStats['quota'] = null
      try {
        const e = await navigator.storage.estimate()
        quota = { usage: e.usage ?? 0, quota: e.quota ?? 0 }
      } catch {
        quota = null
      }
      return {
        name: s.name,
        storage: s.backend.kind,
        ...s.index.db.totals(),
        maxBytes: s.budget.maxBytes,
        lowWaterBytes: s.budget.lowWaterBytes,
        ...s.counters,
        ...decodeCounters,
        quota,
        indexRecovery: s.index.recovery ?? null,
      }
    },

    /** The entries this worker evicted since it opened the cache (the last 1,000), oldest first. */
    async evictions(): Promise<EvictionInfo[]> {
      return [...ready().evictionLog]
    },

    /** Removes every entry of this cache. */
    async clear(): Promise<void> {
      const s = ready()
      await mutate(s, async (entries) => {
        for (const id of s.index.db.ids()) await s.backend.delete(payloadPath(id))
        entries.push({ t: 'clear' })
      })
    },

    /** One SQLite file with the results schema and every record inline in `data`. */
    async exportDatabase(): Promise<Uint8Array> {
      const s = ready()
      await freshen(s)
      const out = await s.coord.shared(async () => {
        const target = IndexDb.open(s.SQL)
        for (const { info, data } of s.index.db.rows()) {
          const bytes = data ?? (await s.backend.read(payloadPath(info.id)))
          if (!bytes) continue
          target.apply({ t: 'put', row: rowRecord(info, bytes) })
        }
        target.generation = 0
        const bytes = target.export()
        target.close()
        return bytes
      })
      return transferring(out, [out.buffer])
    },

    /**
     * Adds the entries of an exported database, validating every record first.
     * @throws {InvalidImportError} when the bytes are not a voxcache export, are damaged, or come from a
     *   newer voxcache. @throws {CacheFullError} when the entries do not fit.
     */
    async importDatabase(bytes: Uint8Array): Promise<ImportReport> {
      const s = ready()
      let source: IndexDb
      try {
        source = IndexDb.open(s.SQL, bytes, { mustHoldResults: true })
      } catch (error) {
        // A newer voxcache's export says which version to upgrade to (its cause is the SchemaVersionError);
        // it stays an InvalidImportError because a damaged header can read as a huge schema number too.
        if (error instanceof SchemaVersionError) {
          throw new InvalidImportError(`written by a newer voxcache, or damaged: ${error.message}`, { cause: error })
        }
        throw new InvalidImportError(`not a voxcache database: ${describeThrown(error)}`, { cause: error })
      }
      const report: ImportReport = { imported: 0, skipped: 0, rejected: [] }
      try {
        // SQLite reads pages lazily, so a damaged file opens fine and fails halfway through the rows.
        // Checking its structure first refuses it whole, before anything is imported.
        let check: string
        try {
          check = source.quickCheck()
        } catch (error) {
          throw new InvalidImportError(`the database is damaged: ${describeThrown(error)}`, { cause: error })
        }
        if (check !== 'ok') throw new InvalidImportError(`the database is damaged: ${check.slice(0, 200)}`)
        for (const row of importRows(source, report)) {
          const id = row.id
          try {
            assertOperationId(id)
            // Only the record is trusted: the row's other cells are derived from it on the way in.
            if (!(row.data instanceof Uint8Array)) throw new CorruptEntryError(id, 'no record in data')
            const { header } = decodeRecord(id, row.data)
            if (header.dataType !== row.dataType) throw new CorruptEntryError(id, 'data_type differs from the record')
            await freshen(s)
            if (s.index.db.info(id)?.checksum === header.checksum) {
              report.skipped++
              continue
            }
            await putRecord(s, header, [row.data], row.data.byteLength, row.pinned === 1)
            report.imported++
          } catch (error) {
            if (error instanceof CacheFullError) throw error
            report.rejected.push({ id: String(id), reason: describeThrown(error) })
          }
        }
      } finally {
        source.close()
      }
      return report
    },

    /**
     * Decodes medical image files into an itk-wasm Image, memoized: the id hashes the files' bytes, so
     * the same content decodes once (across reloads and tabs) and is read back after. The image's buffer
     * is transferred to the caller. Nothing is stored when decoding fails.
     * @throws {DecodeError} for malformed, truncated or incomplete input, naming the file and the reason.
     * @throws {UnsupportedFormatError} when the content is in no format voxcache reads.
     */
    async decode(files: DecodeFile[]): Promise<{ id: string; image: Image }> {
      const s = ready()
      const { id, roles } = await planDecode(files)
      const handOver = (image: Image) => {
        const out = forTransfer(image)
        return transferring({ id, image: out.value as Image }, out.transfer)
      }
      // Compute once, under the lock memoize uses too: a caller in this worker or another tab that
      // decodes the same bytes meanwhile waits, then reads the stored image back.
      return navigator.locks.request(onceLock(s.name, id), async () => {
        const hit = await api.retrieve(id)
        if (hit !== undefined) {
          decodeCounters.decodeHits++
          return handOver(hit as Image)
        }
        const image = await decodeRoles(roles)
        decodeCounters.decodeMisses++
        try {
          await api.store(id, image, { metadata: decodeMetadata(roles) })
        } catch (error) {
          // A full cache still hands the decoded image back; it is decoded again next time (and a
          // caller that waited on this decode finds nothing stored and decodes for itself).
          if (!(error instanceof CacheFullError)) throw error
        }
        return handOver(image)
      }) as unknown as Promise<{ id: string; image: Image }>
    },

    /**
     * The image stored under `id` (or the image given) written as .nii.gz, .nrrd, .mha or .iwi.cbor by
     * itk-wasm's writers; undefined when `id` is not stored. Its bytes are transferred to the caller.
     * @throws {UnsupportedValueError} when the entry is not an image or the format is unknown.
     */
    async exportImage(source: string | Image, format: ExportFormat): Promise<{ name: string; data: Uint8Array } | undefined> {
      ready()
      const value = typeof source === 'string' ? await api.retrieve(source) : source
      if (value === undefined) return undefined
      const file = await exportValue(value, format, typeof source === 'string' ? `entry ${source}` : 'the value')
      const out = forTransfer(file.data)
      return transferring({ name: file.name, data: out.value as Uint8Array }, out.transfer)
    },

    /** Flushes access times and closes the index. The client terminates the worker afterwards. */
    async close(): Promise<void> {
      const s = state
      if (!s) return
      if (s.touches.size) await mutate(s, async () => undefined).catch(() => undefined)
      state = undefined
      if (s.touchTimer) clearTimeout(s.touchTimer)
      s.coord.close()
      s.index.close()
    },

    /** Deletes every file of this cache (index included) and closes it. */
    async destroy(): Promise<void> {
      const s = ready()
      await s.coord.exclusive(async () => {
        state = undefined
        s.coord.close()
        s.index.close()
        await s.backend.destroy()
      })
    },
  }
  return api
}

export type CacheApi = ReturnType<typeof createService>
