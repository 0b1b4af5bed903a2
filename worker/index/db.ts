// The `results` index on sql.js: VoxLogicA-2's table, extended. Metadata only; payloads live beside it.
import type { Database, SqlJsStatic, SqlValue } from 'sql.js'
import { SchemaVersionError, StorageUnavailableError } from '../../src/errors.js'
import { describeThrown } from '../../src/thrown.js'
import type { RecordHeader } from '../../src/codec/index.js'
import type { Codec, EntryInfo, JsonValue, ListOptions } from '../../src/types.js'

/** v1 is VoxLogicA-2's results table; v2 adds the columns below `metadata`. */
export const SCHEMA_VERSION = 2

const CREATE_V2 = `
CREATE TABLE IF NOT EXISTS results (
  operation_id TEXT PRIMARY KEY,
  data BLOB,
  data_type TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  size_bytes INTEGER,
  metadata TEXT,
  raw_bytes INTEGER, codec TEXT, checksum TEXT,
  last_accessed_at TIMESTAMP, hits INTEGER DEFAULT 0, pinned INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS results_lru ON results (pinned, last_accessed_at);
CREATE TABLE IF NOT EXISTS voxcache_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`

const V1_TO_V2 = `
ALTER TABLE results ADD COLUMN raw_bytes INTEGER;
ALTER TABLE results ADD COLUMN codec TEXT;
ALTER TABLE results ADD COLUMN checksum TEXT;
ALTER TABLE results ADD COLUMN last_accessed_at TIMESTAMP;
ALTER TABLE results ADD COLUMN hits INTEGER DEFAULT 0;
ALTER TABLE results ADD COLUMN pinned INTEGER DEFAULT 0;`

/** A row of the index as a change carries it: inline data as bytes (the journal writes them as base64). */
export interface RowRecord {
  id: string
  data: Uint8Array | null
  dataType: string
  createdAt: string
  sizeBytes: number
  rawBytes: number
  codec: Codec
  checksum: string
  metadata: JsonValue
  lastAccessedAt: string | null
  hits: number
  pinned: boolean
}

/** One change to the index. Applying an entry twice gives the same index (replay is idempotent). */
export type JournalEntry =
  | { t: 'put'; row: RowRecord }
  | { t: 'del'; id: string }
  | { t: 'touch'; id: string; at: string; hits: number }
  | { t: 'pin'; id: string; pinned: boolean }
  | { t: 'clear' }

const COLUMNS =
  'operation_id, data IS NOT NULL, data_type, created_at, size_bytes, metadata, raw_bytes, codec, checksum, last_accessed_at, hits, pinned'

function toInfo(r: SqlValue[]): EntryInfo {
  return {
    id: r[0] as string,
    inline: r[1] === 1,
    dataType: r[2] as string,
    createdAt: r[3] as string,
    sizeBytes: Number(r[4] ?? 0),
    metadata: r[5] == null ? null : (JSON.parse(r[5] as string) as JsonValue),
    rawBytes: Number(r[6] ?? 0),
    codec: (r[7] ?? 'none') as Codec,
    checksum: (r[8] ?? '') as string,
    lastAccessedAt: (r[9] ?? null) as string | null,
    hits: Number(r[10] ?? 0),
    pinned: r[11] === 1,
  }
}

export function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}
export function fromBase64(text: string): Uint8Array {
  const s = atob(text)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

const ORDER: Record<NonNullable<ListOptions['orderBy']>, string> = {
  lastAccessed: 'COALESCE(last_accessed_at, created_at) DESC, operation_id',
  created: 'created_at DESC, operation_id',
  size: 'size_bytes DESC, operation_id',
  id: 'operation_id',
}

interface Totals {
  entries: number
  bytes: number
  rawBytes: number
  pinnedBytes: number
}

export class IndexDb {
  /** Kept up to date by apply(), so a write does not scan the table to check the budget. */
  private sums: Totals | undefined

  private constructor(private readonly db: Database) {}

  /**
   * Opens an index from snapshot bytes (or a new one), migrating older schemas in place.
   * @throws {SchemaVersionError} for a schema newer than this code knows; nothing is changed.
   * @throws {StorageUnavailableError} when the bytes are not a SQLite database (or, with `mustHoldResults`,
   *   hold no results table).
   */
  static open(SQL: SqlJsStatic, bytes?: Uint8Array, { mustHoldResults = false } = {}): IndexDb {
    let db: Database
    try {
      db = bytes ? new SQL.Database(bytes) : new SQL.Database()
      const version = Number(db.exec('PRAGMA user_version')[0]?.values[0]?.[0] ?? 0)
      if (version > SCHEMA_VERSION) {
        db.close()
        throw new SchemaVersionError(`index schema ${version} is newer than this voxcache (${SCHEMA_VERSION}); upgrade voxcache`)
      }
      const hasResults = db.exec("SELECT 1 FROM sqlite_master WHERE type='table' AND name='results'").length > 0
      if (mustHoldResults && !hasResults) {
        db.close()
        throw new StorageUnavailableError('the database has no results table')
      }
      if (hasResults && version < 2) {
        const columns = db.exec('PRAGMA table_info(results)')[0]?.values.map((c) => c[1]) ?? []
        if (!columns.includes('pinned')) db.exec(V1_TO_V2)
      }
      db.exec(CREATE_V2)
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
    } catch (error) {
      if (error instanceof SchemaVersionError || error instanceof StorageUnavailableError) throw error
      throw new StorageUnavailableError(`index is not a readable SQLite database: ${describeThrown(error)}`, { cause: error })
    }
    return new IndexDb(db)
  }

  get generation(): number {
    const v = this.db.exec("SELECT value FROM voxcache_meta WHERE key = 'generation'")[0]?.values[0]?.[0]
    return v == null ? 0 : Number(v)
  }

  set generation(value: number) {
    this.db.run("INSERT OR REPLACE INTO voxcache_meta (key, value) VALUES ('generation', ?)", [String(value)])
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

  private sizes(id: string): { size: number; raw: number; pinned: boolean } | undefined {
    const r = this.db.exec('SELECT size_bytes, raw_bytes, pinned FROM results WHERE operation_id = ?', [id])[0]?.values[0]
    return r ? { size: Number(r[0] ?? 0), raw: Number(r[1] ?? 0), pinned: r[2] === 1 } : undefined
  }

  private write(entry: JournalEntry): void {
    switch (entry.t) {
      case 'put': {
        const r = entry.row
        this.db.run(
          `INSERT OR REPLACE INTO results (operation_id, data, data_type, created_at, size_bytes, metadata,
             raw_bytes, codec, checksum, last_accessed_at, hits, pinned) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
          [r.id, r.data, r.dataType, r.createdAt, r.sizeBytes,
            JSON.stringify(r.metadata), r.rawBytes, r.codec, r.checksum, r.lastAccessedAt, r.hits, r.pinned ? 1 : 0],
        )
        return
      }
      case 'del':
        this.db.run('DELETE FROM results WHERE operation_id = ?', [entry.id])
        return
      case 'touch':
        // Hit counts add up across tabs; the time only moves forward.
        this.db.run(
          `UPDATE results SET hits = COALESCE(hits, 0) + ?,
             last_accessed_at = MAX(COALESCE(last_accessed_at, ''), ?) WHERE operation_id = ?`,
          [entry.hits, entry.at, entry.id],
        )
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
    const row = this.db.exec(`SELECT ${COLUMNS} FROM results WHERE operation_id = ?`, [id])[0]?.values[0]
    return row ? toInfo(row) : undefined
  }

  /** The inline record bytes of an entry, or null when its payload lives in a file. */
  inlineData(id: string): Uint8Array | null {
    const v = this.db.exec('SELECT data FROM results WHERE operation_id = ?', [id])[0]?.values[0]?.[0]
    return v instanceof Uint8Array ? v : null
  }

  has(id: string): boolean {
    return this.db.exec('SELECT 1 FROM results WHERE operation_id = ?', [id]).length > 0
  }

  list(options: ListOptions = {}): EntryInfo[] {
    // Only the fixed ORDER clauses reach the SQL text; everything the caller gives is a bound number.
    const key = options.orderBy && Object.hasOwn(ORDER, options.orderBy) ? options.orderBy : 'lastAccessed'
    const whole = (n: number | undefined, otherwise: number) =>
      n !== undefined && Number.isFinite(n) ? Math.max(0, Math.floor(n)) : otherwise
    const where = options.dataType ? 'WHERE data_type = ?' : ''
    const params: SqlValue[] = options.dataType ? [options.dataType] : []
    params.push(whole(options.limit, -1), whole(options.offset, 0))
    const sql = `SELECT ${COLUMNS} FROM results ${where} ORDER BY ${ORDER[key]} LIMIT ? OFFSET ?`
    return (this.db.exec(sql, params)[0]?.values ?? []).map(toInfo)
  }

  ids(): string[] {
    return (this.db.exec('SELECT operation_id FROM results WHERE data IS NULL')[0]?.values ?? []).map((r) => r[0] as string)
  }

  totals(): Totals {
    this.sums ??= this.scanTotals()
    return { ...this.sums }
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
        yield { info: toInfo(r), data: (r[12] as Uint8Array | null) ?? null }
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

  close(): void {
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

/** The journal row of an entry. */
export function rowRecord(info: EntryInfo, data: Uint8Array | null): RowRecord {
  return {
    id: info.id,
    data,
    dataType: info.dataType,
    createdAt: info.createdAt,
    sizeBytes: info.sizeBytes,
    rawBytes: info.rawBytes,
    codec: info.codec,
    checksum: info.checksum,
    metadata: info.metadata,
    lastAccessedAt: info.lastAccessedAt,
    hits: info.hits,
    pinned: info.pinned,
  }
}

/** What a record's own header says of its entry: how an index is rebuilt from records alone. */
export function headerInfo(header: RecordHeader, sizeBytes: number, inline: boolean): EntryInfo {
  return {
    id: header.operationId,
    dataType: header.dataType,
    sizeBytes,
    rawBytes: header.rawLength,
    codec: header.codec,
    checksum: header.checksum,
    createdAt: header.createdAt,
    lastAccessedAt: null,
    hits: 0,
    pinned: false,
    metadata: header.metadata,
    inline,
  }
}
