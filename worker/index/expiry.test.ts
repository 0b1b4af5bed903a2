// The index's side of expiry: the expires_at column (added in place to a v2 index that lacks it, which
// an older voxcache keeps opening), the rows it carries through the journal and an export, and the
// queries the sweep and list() rely on.
import initSqlJs, { type SqlJsStatic } from 'sql.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { initChecksum } from '../../src/codec/checksum.js'
import type { EntryInfo } from '../../src/types.js'
import { rowRecord, type JournalEntry } from './changes.js'
import { IndexDb } from './db.js'
import { journalLines, parseJournalLine } from './format.js'
import { SCHEMA_VERSION } from './schema.js'

let SQL: SqlJsStatic
beforeAll(async () => {
  SQL = await initSqlJs()
  await initChecksum()
})

const hex = (n: number) => n.toString(16).padStart(64, '0')
const T0 = Date.parse('2026-03-01T12:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()
function entry(n: number, extra: Partial<EntryInfo> = {}): EntryInfo {
  return {
    id: hex(n), dataType: 'json', sizeBytes: 10, rawBytes: 10, codec: 'none', checksum: '0123456789abcdef',
    createdAt: iso(T0), lastAccessedAt: null, hits: 0, pinned: false, metadata: null, inline: false, expiresAt: null, ...extra,
  }
}
const put = (n: number, extra?: Partial<EntryInfo>, data: Uint8Array | null = null): JournalEntry => ({ t: 'put', row: rowRecord(entry(n, extra), data) })

/** The v2 table as it was before expires_at, with one row. */
function v2WithoutExpiry(): Uint8Array {
  const old = new SQL.Database()
  old.run(`CREATE TABLE results (operation_id TEXT PRIMARY KEY, data BLOB, data_type TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, size_bytes INTEGER, metadata TEXT,
    raw_bytes INTEGER, codec TEXT, checksum TEXT, last_accessed_at TIMESTAMP, hits INTEGER DEFAULT 0, pinned INTEGER DEFAULT 0)`)
  old.run('CREATE TABLE voxcache_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
  old.run(`INSERT INTO results (operation_id, data_type, created_at, size_bytes, metadata, raw_bytes, codec, checksum, hits, pinned)
    VALUES (?, 'json', ?, 5, 'null', 5, 'none', '0123456789abcdef', 3, 1)`, [hex(1), iso(T0)])
  old.run('PRAGMA user_version = 2')
  const bytes = old.export()
  old.close()
  return bytes
}

describe('the expires_at column', () => {
  it('is added in place to a v2 index without it, with its SQL index, keeping the rows and the schema version', () => {
    const db = IndexDb.open(SQL, v2WithoutExpiry())
    expect(db.info(hex(1))).toMatchObject({ hits: 3, pinned: true, expiresAt: null })
    db.apply(put(2, { expiresAt: iso(T0 + 5000) }))
    const reopened = new SQL.Database(db.export())
    const columns = reopened.exec('PRAGMA table_info(results)')[0]!.values.map((c) => c[1])
    expect(columns.at(-1)).toBe('expires_at')
    expect(reopened.exec("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'results_expiry'")).toHaveLength(1)
    expect(reopened.exec('PRAGMA user_version')[0]!.values[0]![0]).toBe(SCHEMA_VERSION)
    // What an older voxcache does with it: select and insert named columns, leaving expires_at NULL.
    reopened.run(`INSERT OR REPLACE INTO results (operation_id, data_type, created_at, size_bytes, metadata, raw_bytes, codec, checksum)
      VALUES (?, 'json', ?, 5, 'null', 5, 'none', '0123456789abcdef')`, [hex(3), iso(T0)])
    const again = IndexDb.open(SQL, reopened.export())
    expect(again.info(hex(2))!.expiresAt).toBe(iso(T0 + 5000))
    expect(again.info(hex(3))!.expiresAt).toBeNull()
  })

  it('comes back from a put, a journal line, and rows() beside the inline data', () => {
    const db = IndexDb.open(SQL)
    const data = new Uint8Array([1, 2, 3])
    const lines = new TextDecoder().decode(journalLines([put(1, { expiresAt: iso(T0 + 1) }, data)], 7)).trim()
    const replayed = parseJournalLine(lines)!
    db.apply(replayed)
    expect(db.info(hex(1))!.expiresAt).toBe(iso(T0 + 1))
    const [row] = [...db.rows()]
    expect(row!.info.expiresAt).toBe(iso(T0 + 1))
    expect(row!.data).toEqual(data)
    // A journal line written before expiry has no expiresAt: it replays as "never".
    const old = JSON.parse(new TextDecoder().decode(journalLines([put(2)], 8)).trim()) as { row: Record<string, unknown> }
    delete old.row.expiresAt
    db.apply(parseJournalLine(JSON.stringify(old))!)
    expect(db.info(hex(2))!.expiresAt).toBeNull()
  })
})

describe('expiry queries', () => {
  function populated(): IndexDb {
    const db = IndexDb.open(SQL)
    db.apply(put(1, { expiresAt: iso(T0 + 1000) }))
    db.apply(put(2, { expiresAt: iso(T0 + 2000), pinned: true }))
    db.apply(put(3))
    db.apply(put(4, { createdAt: iso(T0 - 60_000) }))
    db.apply(put(5, { dataType: 'Uint8Array', expiresAt: iso(T0 + 500) }))
    return db
  }

  it('expiredIds: past expires_at (the boundary included, pinned or not), older than maxAgeMs', () => {
    const db = populated()
    expect(db.expiredIds({ now: T0 }).sort()).toEqual([])
    expect(db.expiredIds({ now: T0 + 999 }).sort()).toEqual([hex(5)])
    expect(db.expiredIds({ now: T0 + 1000 }).sort()).toEqual([hex(1), hex(5)])
    expect(db.expiredIds({ now: T0 + 2000 }).sort()).toEqual([hex(1), hex(2), hex(5)])
    expect(db.expiredIds({ now: T0, maxAgeMs: 60_001 })).toEqual([])
    expect(db.expiredIds({ now: T0, maxAgeMs: 60_000 })).toEqual([hex(4)])
    expect(db.expiredIds({ now: T0 + 1, maxAgeMs: 1 }).sort()).toEqual([hex(1), hex(2), hex(3), hex(4), hex(5)])
    // A maxAgeMs reaching before year 0 ages nothing out.
    expect(db.expiredIds({ now: T0, maxAgeMs: Number.MAX_SAFE_INTEGER })).toEqual([])
  })

  it("ages VoxLogicA-2's 'YYYY-MM-DD HH:MM:SS' times as UTC, not as text", () => {
    const db = IndexDb.open(SQL)
    db.apply(put(1, { createdAt: '2026-03-01 12:00:00' }))
    // As text, '2026-03-01 12:00:00' sorts before '2026-03-01T11:…': it would look older than it is.
    expect(db.expiredIds({ now: T0 + 1000, maxAgeMs: 1001 })).toEqual([])
    expect(db.expiredIds({ now: T0 + 1000, maxAgeMs: 1000 })).toEqual([hex(1)])
    expect(db.nextExpiry(1000)).toBe(T0 + 1000)
  })

  it('list() leaves expired entries out, with the other filters', () => {
    const db = populated()
    expect(db.list({ orderBy: 'id' }, { now: T0 + 1000 }).map((e) => e.id)).toEqual([hex(2), hex(3), hex(4)])
    expect(db.list({ orderBy: 'id', dataType: 'json', limit: 1, offset: 1 }, { now: T0 + 1000 }).map((e) => e.id)).toEqual([hex(3)])
    expect(db.list({ orderBy: 'id' }, { now: T0 + 1000, maxAgeMs: 30_000 }).map((e) => e.id)).toEqual([hex(2), hex(3)])
    expect(db.list({ dataType: 'Uint8Array' }, { now: T0 })).toHaveLength(1)
    expect(db.list({ orderBy: 'id' })).toHaveLength(5)
  })

  it('nextExpiry: the earliest expires_at, or the oldest creation plus maxAgeMs; undefined when nothing expires', () => {
    const db = populated()
    expect(db.nextExpiry()).toBe(T0 + 500)
    expect(db.nextExpiry(60_100)).toBe(T0 + 100)
    expect(db.nextExpiry(1e9)).toBe(T0 + 500)
    const none = IndexDb.open(SQL)
    expect(none.nextExpiry(1000)).toBeUndefined()
    none.apply(put(1))
    expect(none.nextExpiry()).toBeUndefined()
    expect(none.nextExpiry(1000)).toBe(T0 + 1000)
  })
})
