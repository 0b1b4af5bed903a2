// The `results` index on sql.js: the queries and the one way to change it, apply(). Metadata only;
// payloads live beside it (the schema is in schema.ts, the change type in changes.ts).
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js'
import type { EntryInfo, ListOptions } from '../../src/types.js'
import type { JournalEntry } from './changes.js'
import { COLUMNS, openDatabase, ORDER, toInfo } from './schema.js'

/**
 * The condition of an expired row, with two parameters (see {@link Expired}): past its `expires_at`
 * (text, compared as text through the results_expiry index), or created before the maxAgeMs cutoff.
 * created_at goes through julianday(): VoxLogicA-2's rows hold 'YYYY-MM-DD HH:MM:SS', which sorts
 * as text before the same day's 'YYYY-MM-DDTHH:…Z'. An unreadable created_at never ages out.
 */
const EXPIRED = '((expires_at IS NOT NULL AND expires_at <= ?) OR COALESCE(julianday(created_at) <= julianday(?), 0))'

/** What is expired: at `now` (epoch ms), and for an opener with `maxAgeMs`, what is older than that. */
export interface Expired {
  now: number
  maxAgeMs?: number
}

function expiredParams({ now, maxAgeMs }: Expired): SqlValue[] {
  const cutoff = maxAgeMs === undefined ? NaN : now - maxAgeMs
  // A cutoff before year 0 ages nothing out (and toISOString could not write it).
  return [new Date(now).toISOString(), cutoff >= EARLIEST ? new Date(cutoff).toISOString() : null]
}

const EARLIEST = Date.parse('0000-01-01T00:00:00.000Z')
/** julianday() of the Unix epoch. */
const JULIAN_EPOCH = 2440587.5

interface Totals {
  entries: number
  bytes: number
  rawBytes: number
  pinnedBytes: number
}

/** The voxcache_meta key of the totals a checkpoint saved (see IndexDb.saveTotals). */
const TOTALS = 'totals'

export class IndexDb {
  /** Kept up to date by apply(), so a write does not scan the table to check the budget. */
  private sums: Totals | undefined

  private constructor(
    private readonly db: Database,
    /** The schema was changed in place while opening (see openDatabase): the snapshot is due to be written again. */
    readonly migrated = false,
    fresh = false,
  ) {
    this.sums = fresh ? { entries: 0, bytes: 0, rawBytes: 0, pinnedBytes: 0 } : this.savedTotals()
  }

  /**
   * Opens an index from snapshot bytes (or a new one), migrating older schemas in place.
   * @throws {SchemaVersionError} for a schema newer than this code knows; nothing is changed.
   * @throws {StorageUnavailableError} when the bytes are not a SQLite database (or, with `mustHoldResults`,
   *   hold no results table).
   * With `lend`, sql.js keeps `bytes` as its database file instead of a copy, and writes into them: the
   * caller must not read them again (see lentToSqlJs).
   */
  static open(SQL: SqlJsStatic, bytes?: Uint8Array, { mustHoldResults = false, lend = false } = {}): IndexDb {
    const { db, migrated } = openDatabase(SQL, bytes && lend ? lentToSqlJs(bytes) : bytes, mustHoldResults)
    return new IndexDb(db, migrated, bytes === undefined)
  }

  get generation(): number {
    const v = this.db.exec("SELECT value FROM voxcache_meta WHERE key = 'generation'")[0]?.values[0]?.[0]
    return v == null ? 0 : Number(v)
  }

  set generation(value: number) {
    this.db.run("INSERT OR REPLACE INTO voxcache_meta (key, value) VALUES ('generation', ?)", [String(value)])
  }

  /** A value of the voxcache_meta table (an export's data keys, for one). */
  meta(key: string): string | undefined {
    const v = this.db.exec('SELECT value FROM voxcache_meta WHERE key = ?', [key])[0]?.values[0]?.[0]
    return v == null ? undefined : String(v)
  }

  setMeta(key: string, value: string): void {
    this.db.run('INSERT OR REPLACE INTO voxcache_meta (key, value) VALUES (?, ?)', [key, value])
  }

  apply(entry: JournalEntry): void {
    const sums = this.sums
    if (sums) {
      const before = entry.t === 'clear' || entry.t === 'touch' ? undefined : this.sizes(entry.t === 'put' ? entry.row.id : entry.id)
      if (entry.t === 'clear') {
        this.sums = { entries: 0, bytes: 0, rawBytes: 0, pinnedBytes: 0 }
      } else if (before) {
        sums.entries--
        sums.bytes -= before.size
        sums.rawBytes -= before.raw
        if (before.pinned) sums.pinnedBytes -= before.size
      }
      if (entry.t === 'put') {
        sums.entries++
        sums.bytes += entry.row.sizeBytes
        sums.rawBytes += entry.row.rawBytes
        if (entry.row.pinned) sums.pinnedBytes += entry.row.sizeBytes
      } else if (entry.t === 'pin' && before) {
        sums.entries++
        sums.bytes += before.size
        sums.rawBytes += before.raw
        if (entry.pinned) sums.pinnedBytes += before.size
      }
    }
    this.write(entry)
  }

  /**
   * Statements prepared once and run again, for the ones every store, lookup and journal line asks:
   * sql.js's exec() and run() compile each anew. They live as long as the database (sql.js 1.16's
   * export() copies it through SQLite's backup API and leaves them be; close() frees them).
   */
  private readonly prepared = new Map<string, Statement>()

  private statement(sql: string): Statement {
    let s = this.prepared.get(sql)
    if (!s) {
      s = this.db.prepare(sql)
      this.prepared.set(sql, s)
    }
    return s
  }

  /** The first row `sql` selects, or undefined (through a prepared statement). */
  private row(sql: string, params: SqlValue[]): SqlValue[] | undefined {
    const s = this.statement(sql)
    try {
      s.bind(params)
      return s.step() ? s.get() : undefined
    } finally {
      s.reset()
    }
  }

  private sizes(id: string): { size: number; raw: number; pinned: boolean } | undefined {
    const r = this.row('SELECT size_bytes, raw_bytes, pinned FROM results WHERE operation_id = ?', [id])
    return r ? { size: Number(r[0] ?? 0), raw: Number(r[1] ?? 0), pinned: r[2] === 1 } : undefined
  }

  private write(entry: JournalEntry): void {
    switch (entry.t) {
      case 'put': {
        const r = entry.row
        this.statement(
          `INSERT OR REPLACE INTO results (operation_id, data, data_type, created_at, size_bytes, metadata,
             raw_bytes, codec, checksum, last_accessed_at, hits, pinned, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        ).run([r.id, r.data, r.dataType, r.createdAt, r.sizeBytes,
            JSON.stringify(r.metadata), r.rawBytes, r.codec, r.checksum, r.lastAccessedAt, r.hits, r.pinned ? 1 : 0, r.expiresAt ?? null],
        )
        return
      }
      case 'del':
        this.statement('DELETE FROM results WHERE operation_id = ?').run([entry.id])
        return
      case 'touch':
        // Hit counts add up across tabs; the time only moves forward.
        this.statement(
          `UPDATE results SET hits = COALESCE(hits, 0) + ?,
             last_accessed_at = MAX(COALESCE(last_accessed_at, ''), ?) WHERE operation_id = ?`,
        ).run([entry.hits, entry.at, entry.id])
        return
      case 'pin':
        this.db.run('UPDATE results SET pinned = ? WHERE operation_id = ?', [entry.pinned ? 1 : 0, entry.id])
        return
      case 'clear':
        this.db.run('DELETE FROM results')
        return
    }
  }

  info(id: string): EntryInfo | undefined {
    const row = this.row(`SELECT ${COLUMNS} FROM results WHERE operation_id = ?`, [id])
    return row ? toInfo(row) : undefined
  }

  /** The inline record bytes of an entry, or null when its payload lives in a file. */
  inlineData(id: string): Uint8Array | null {
    const v = this.row('SELECT data FROM results WHERE operation_id = ?', [id])?.[0]
    return v instanceof Uint8Array ? v : null
  }

  has(id: string): boolean {
    return this.row('SELECT 1 FROM results WHERE operation_id = ?', [id]) !== undefined
  }

  /** The entries, expired ones left out when `expired` says what is expired. */
  list(options: ListOptions = {}, expired?: Expired): EntryInfo[] {
    const { sql, params } = listQuery(options, expired)
    return (this.db.exec(sql, params)[0]?.values ?? []).map(toInfo)
  }

  /** SQLite's plan for `sql` (EXPLAIN QUERY PLAN), one step a line: which SQL index a query reads. */
  plan(sql: string, params: SqlValue[] = []): string {
    return (this.db.exec(`EXPLAIN QUERY PLAN ${sql}`, params)[0]?.values ?? []).map((r) => String(r[3])).join('\n')
  }

  /**
   * The ids of the entries expired by `expired`: the same rows as EXPIRED selects. This runs after
   * every open and in every stats(), so the two halves of EXPIRED's OR go apart: an OR with a term no
   * SQL index serves makes SQLite scan the table, and without maxAgeMs (the default) only the first
   * half is asked, through results_expiry. With maxAgeMs the second half scans (an SQL index on
   * created_at would cost every open of every cache its bytes, for an option few openers give).
   */
  expiredIds(expired: Expired): string[] {
    const [now, cutoff] = expiredParams(expired)
    const column = (sql: string, params: SqlValue[]) => (this.db.exec(sql, params)[0]?.values ?? []).map((r) => r[0] as string)
    const ids = column('SELECT operation_id FROM results WHERE expires_at IS NOT NULL AND expires_at <= ?', [now!])
    if (cutoff == null) return ids
    const aged = column('SELECT operation_id FROM results WHERE julianday(created_at) <= julianday(?)', [cutoff])
    return [...new Set([...ids, ...aged])]
  }

  /**
   * When the next entry expires (epoch ms; maybe already past), or undefined when none will: the
   * earliest expires_at (from the index), and with `maxAgeMs`, the oldest created_at plus it (a scan).
   */
  nextExpiry(maxAgeMs?: number): number | undefined {
    const first = this.db.exec('SELECT MIN(expires_at) FROM results')[0]?.values[0]?.[0]
    let due = typeof first === 'string' ? Date.parse(first) : NaN
    if (maxAgeMs !== undefined) {
      const oldest = this.db.exec('SELECT MIN(julianday(created_at)) FROM results')[0]?.values[0]?.[0]
      if (typeof oldest === 'number') due = Math.min(Number.isNaN(due) ? Infinity : due, Math.round((oldest - JULIAN_EPOCH) * 86_400_000) + maxAgeMs)
    }
    return Number.isFinite(due) ? due : undefined
  }

  ids(): string[] {
    return (this.db.exec('SELECT operation_id FROM results WHERE data IS NULL')[0]?.values ?? []).map((r) => r[0] as string)
  }

  totals(): Totals {
    this.sums ??= this.scanTotals()
    return { ...this.sums }
  }

  /** Whether the index holds any entry (without counting them). */
  hasEntries(): boolean {
    return this.db.exec('SELECT 1 FROM results LIMIT 1').length > 0
  }

  /**
   * Saves the totals with the generation they are true of, so that the snapshot a checkpoint writes
   * opens without a scan of the table. Call just before export().
   */
  saveTotals(): void {
    this.setMeta(TOTALS, JSON.stringify({ g: this.generation, ...this.totals() }))
  }

  /**
   * The totals saved in the snapshot, when they are of its generation. An older voxcache neither
   * reads nor writes them, but every change it makes moves the generation on, so a snapshot it wrote
   * after a change carries totals of an older generation, and the table is counted instead.
   */
  private savedTotals(): Totals | undefined {
    try {
      const saved = JSON.parse(this.meta(TOTALS) ?? 'null') as ({ g?: unknown } & Partial<Record<keyof Totals, unknown>>) | null
      if (!saved || saved.g !== this.generation) return undefined
      const { entries, bytes, rawBytes, pinnedBytes } = saved
      const all = [entries, bytes, rawBytes, pinnedBytes]
      if (!all.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) return undefined
      return { entries, bytes, rawBytes, pinnedBytes } as Totals
    } catch {
      return undefined // not JSON: counted instead
    }
  }

  /** The totals by a full scan (what totals() keeps incrementally). */
  scanTotals(): Totals {
    const r = this.db.exec(
      `SELECT COUNT(*), COALESCE(SUM(size_bytes), 0), COALESCE(SUM(raw_bytes), 0),
         COALESCE(SUM(CASE WHEN pinned = 1 THEN size_bytes ELSE 0 END), 0) FROM results`,
    )[0]!.values[0]!
    return { entries: Number(r[0]), bytes: Number(r[1]), rawBytes: Number(r[2]), pinnedBytes: Number(r[3]) }
  }

  /**
   * Bytes of the unpinned entries kept in payload files: what evicting for the browser's quota can
   * free (an inline record's bytes stay in the index until a checkpoint, and its deletion adds a line).
   */
  evictableFileBytes(): number {
    const r = this.db.exec('SELECT COALESCE(SUM(size_bytes), 0) FROM results WHERE pinned = 0 AND data IS NULL')[0]!.values[0]!
    return Number(r[0])
  }

  /** Unpinned entries, least recently used first, with their sizes. */
  evictionCandidates(limit: number): { id: string; sizeBytes: number; inline: boolean }[] {
    const rows = this.db.exec(
      `SELECT operation_id, size_bytes, data IS NOT NULL FROM results WHERE pinned = 0
       ORDER BY COALESCE(last_accessed_at, created_at) ASC, created_at ASC LIMIT ?`,
      [limit],
    )[0]?.values ?? []
    return rows.map((r) => ({ id: r[0] as string, sizeBytes: Number(r[1]), inline: r[2] === 1 }))
  }

  /** Rows with their inline data, for building an export. */
  *rows(): Generator<{ info: EntryInfo; data: Uint8Array | null }> {
    const stmt = this.db.prepare(`SELECT ${COLUMNS}, data FROM results ORDER BY operation_id`)
    try {
      while (stmt.step()) {
        const r = stmt.get()
        yield { info: toInfo(r), data: (r[13] as Uint8Array | null) ?? null }
      }
    } finally {
      stmt.free()
    }
  }

  /**
   * The rows of a database being imported, cells as stored: nothing is parsed or coerced, so that
   * one bad cell (metadata that is not JSON, an id that is a number) is judged with its row instead
   * of ending the iteration. sql.js errors from a damaged file propagate from the iteration.
   */
  *importRows(): Generator<ImportRow> {
    const stmt = this.db.prepare('SELECT operation_id, data_type, pinned, data FROM results')
    try {
      while (stmt.step()) {
        const r = stmt.get()
        yield { id: r[0] ?? null, dataType: r[1] ?? null, pinned: r[2] ?? null, data: r[3] ?? null }
      }
    } finally {
      stmt.free()
    }
  }

  /** SQLite's structural check of the whole file (pages, b-trees, free list): 'ok', or what is wrong. */
  quickCheck(): string {
    const rows = this.db.exec('PRAGMA quick_check')[0]?.values ?? []
    return rows.map((r) => String(r[0])).join('; ') || 'no answer'
  }

  export(): Uint8Array {
    return this.db.export()
  }

  /**
   * Runs `fn` as one SQLite transaction, rolled back (totals included) when it throws. Outside one,
   * every statement is a transaction of its own, and sql.js's in-memory file system makes and removes
   * a rollback journal file for each: replaying a journal of 2,000 stores took 360–455 ms (Node).
   */
  transaction<T>(fn: () => T): T {
    const sums = this.sums && { ...this.sums }
    this.db.exec('BEGIN')
    try {
      const out = fn()
      this.db.exec('COMMIT')
      return out
    } catch (error) {
      // SQLite may have rolled the transaction back itself (out of memory, say); the first error is the news.
      try {
        this.db.exec('ROLLBACK')
      } catch {
        // no transaction left to roll back
      }
      this.sums = sums
      throw error
    }
  }

  close(): void {
    this.prepared.clear() // sql.js frees them
    this.db.close()
  }
}

/** A row of a database being imported, cells as stored (see IndexDb.importRows). */
export interface ImportRow {
  id: SqlValue
  dataType: SqlValue
  pinned: SqlValue
  data: SqlValue
}

/**
 * `bytes` as sql.js takes them without copying. sql.js writes the bytes it is given into its in-memory
 * file system, which copies them with `slice()` (Emscripten's MEMFS.write, when it may not own them):
 * 138 MB at 100,000 entries, 70–90 ms of an open here and as much again in peak memory. This view's
 * `slice` is a `subarray`, so the file system keeps the bytes themselves. Only for bytes nothing else
 * reads afterwards: SQLite then writes into them.
 */
export function lentToSqlJs(bytes: Uint8Array): Uint8Array {
  const lent = bytes.subarray()
  Object.defineProperty(lent, 'slice', { value: (start?: number, end?: number) => lent.subarray(start, end) })
  return lent
}

/** list()'s query and its parameters. */
export function listQuery(options: ListOptions = {}, expired?: Expired): { sql: string; params: SqlValue[] } {
  // Only the fixed ORDER clauses reach the SQL text; everything the caller gives is a bound number.
  const key = options.orderBy && Object.hasOwn(ORDER, options.orderBy) ? options.orderBy : 'lastAccessed'
  const whole = (n: number | undefined, otherwise: number) =>
    n !== undefined && Number.isFinite(n) ? Math.max(0, Math.floor(n)) : otherwise
  const conditions: string[] = []
  const params: SqlValue[] = []
  if (options.dataType) {
    conditions.push('data_type = ?')
    params.push(options.dataType)
  }
  if (expired) {
    conditions.push(`NOT ${EXPIRED}`)
    params.push(...expiredParams(expired))
  }
  const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''
  const limit = whole(options.limit, -1)
  // A page in the default order walks results_recent from its start, and stops once it is full. The
  // planner, which has no statistics of the table, would rather scan and sort it all when another
  // condition narrows the rows (a dataType). A whole list is cheaper as a scan and a sort.
  const from = key === 'lastAccessed' && limit >= 0 ? 'results INDEXED BY results_recent' : 'results'
  params.push(limit, whole(options.offset, 0))
  return { sql: `SELECT ${COLUMNS} FROM ${from} ${where} ORDER BY ${ORDER[key]} LIMIT ? OFFSET ?`, params }
}
