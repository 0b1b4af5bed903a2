// The `results` table's schema: VoxLogicA-2's table, extended, its migration, and how a row reads back.
import type { Database, SqlJsStatic, SqlValue } from 'sql.js'
import { SchemaVersionError, StorageUnavailableError } from '../../src/errors.js'
import { describeThrown } from '../../src/thrown.js'
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
  last_accessed_at TIMESTAMP, hits INTEGER DEFAULT 0, pinned INTEGER DEFAULT 0,
  expires_at TEXT
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

/**
 * `expires_at` came after v2 without a version of its own: an older voxcache still opens the index (it
 * names the columns it reads and writes, so it ignores this one; its rows never expire). ISO 8601 UTC
 * as expiryTime writes it, so times compare as text; NULL: never.
 */
const EXPIRY_COLUMN = 'ALTER TABLE results ADD COLUMN expires_at TEXT'
const EXPIRY_INDEX = 'CREATE INDEX IF NOT EXISTS results_expiry ON results (expires_at)'

/**
 * An SQL index in list()'s default order (most recently used first), so that `list({ limit })` reads
 * its first rows off it instead of sorting the whole table (a page of 50 at 100,000 entries scanned
 * and sorted every row). Its key is the time alone: with operation_id in it too, for the ties, it cost
 * 114 bytes an entry, a fifth more snapshot to read at every open with records inline, three quarters
 * more without; the time alone costs 37 (measured on sql.js with the bench's rows). Ties of the same
 * time go in the order the rows were stored (their rowid, which every entry of an SQL index holds
 * after its key), so a page reads its rows off the index and sorts nothing: with ties by id, 100,000
 * entries of one time (an import, the bench's bulk fixture) were all sorted for a page of 50
 * (110–214 ms). Added in place like results_expiry,
 * without a schema version: an older voxcache opens, reads and writes the table as before, and SQLite
 * keeps the index up to date for it.
 */
const ORDER_INDEX = 'CREATE INDEX IF NOT EXISTS results_recent ON results (COALESCE(last_accessed_at, created_at) DESC)'

export const COLUMNS =
  'operation_id, data IS NOT NULL, data_type, created_at, size_bytes, metadata, raw_bytes, codec, checksum, last_accessed_at, hits, pinned, expires_at'

export function toInfo(r: SqlValue[]): EntryInfo {
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
    expiresAt: (r[12] ?? null) as string | null,
  }
}

/** The ORDER BY clause of each list() order; only these texts reach the SQL. */
export const ORDER: Record<NonNullable<ListOptions['orderBy']>, string> = {
  lastAccessed: 'COALESCE(last_accessed_at, created_at) DESC, rowid',
  created: 'created_at DESC, operation_id',
  size: 'size_bytes DESC, operation_id',
  id: 'operation_id',
}

/**
 * Opens an index database from snapshot bytes (or a new one), migrating older schemas in place.
 * `migrated` says that the schema changed (a column or an SQL index added): the snapshot should be
 * written again, or every open builds the same SQL indexes anew.
 * @throws {SchemaVersionError} for a schema newer than this code knows; nothing is changed.
 * @throws {StorageUnavailableError} when the bytes are not a SQLite database (or, with `mustHoldResults`,
 *   hold no results table).
 */
export function openDatabase(SQL: SqlJsStatic, bytes: Uint8Array | undefined, mustHoldResults: boolean): { db: Database; migrated: boolean } {
  let db: Database
  let migrated = false
  try {
    db = bytes ? new SQL.Database(bytes) : new SQL.Database()
    const schema = () => db.exec('PRAGMA schema_version')[0]?.values[0]?.[0]
    const before = schema()
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
    const columns = db.exec('PRAGMA table_info(results)')[0]?.values.map((c) => c[1]) ?? []
    if (!columns.includes('expires_at')) db.exec(EXPIRY_COLUMN)
    db.exec(EXPIRY_INDEX)
    db.exec(ORDER_INDEX)
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
    migrated = bytes !== undefined && schema() !== before
  } catch (error) {
    if (error instanceof SchemaVersionError || error instanceof StorageUnavailableError) throw error
    throw new StorageUnavailableError(`index is not a readable SQLite database: ${describeThrown(error)}`, { cause: error })
  }
  return { db, migrated }
}
