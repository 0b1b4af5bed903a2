import initSqlJs, { type SqlJsStatic } from 'sql.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { SchemaVersionError } from '../src/errors.js'
import type { EntryInfo } from '../src/types.js'
import { IndexDb, rowRecord, SCHEMA_VERSION } from './index-db.js'
import { IndexStore, JOURNAL, SNAPSHOT } from './index-store.js'
import { createMemoryBackend } from './payloads/memory.js'

let SQL: SqlJsStatic
beforeAll(async () => {
  SQL = await initSqlJs()
})

const hex = (n: number) => n.toString(16).padStart(64, '0')
function entry(n: number, extra: Partial<EntryInfo> = {}): EntryInfo {
  return {
    id: hex(n), dataType: 'Image', sizeBytes: 1000 + n, rawBytes: 2000, codec: 'zstd', checksum: '0123456789abcdef',
    createdAt: new Date(1_700_000_000_000 + n * 1000).toISOString(), lastAccessedAt: null, hits: 0, pinned: false,
    metadata: { n }, inline: false, ...extra,
  }
}
const put = (n: number, extra?: Partial<EntryInfo>) => ({ t: 'put' as const, row: rowRecord(entry(n, extra), null) })

describe('IndexDb', () => {
  it('creates the results table of DESIGN.md with its schema version', () => {
    const db = IndexDb.open(SQL)
    const fresh = new SQL.Database(db.export())
    const columns = fresh.exec('PRAGMA table_info(results)')[0]!.values.map((c) => c[1])
    expect(columns).toEqual([
      'operation_id', 'data', 'data_type', 'created_at', 'size_bytes', 'metadata',
      'raw_bytes', 'codec', 'checksum', 'last_accessed_at', 'hits', 'pinned',
    ])
    expect(fresh.exec('PRAGMA user_version')[0]!.values[0]![0]).toBe(SCHEMA_VERSION)
  })

  it("migrates VoxLogicA-2's table (v1) in place, keeping its rows", () => {
    const old = new SQL.Database()
    old.run(`CREATE TABLE results (operation_id TEXT PRIMARY KEY, data BLOB, data_type TEXT NOT NULL,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, size_bytes INTEGER, metadata TEXT)`)
    old.run("INSERT INTO results (operation_id, data, data_type, size_bytes, metadata) VALUES (?, NULL, 'json', 7, '{}')", [hex(1)])
    const db = IndexDb.open(SQL, old.export())
    const info = db.info(hex(1))!
    expect(info.sizeBytes).toBe(7)
    expect(info.pinned).toBe(false)
    expect(info.hits).toBe(0)
    db.apply({ t: 'touch', id: hex(1), at: '2026-01-01T00:00:00.000Z', hits: 2 })
    expect(db.info(hex(1))!.hits).toBe(2)
  })

  it('refuses a newer schema instead of dropping it', () => {
    const newer = new SQL.Database()
    newer.run('PRAGMA user_version = 99')
    expect(() => IndexDb.open(SQL, newer.export())).toThrow(SchemaVersionError)
  })

  it('lists with limit, offset, order and type, and ignores option values that are not numbers or orders', () => {
    const db = IndexDb.open(SQL)
    for (let n = 1; n <= 5; n++) db.apply(put(n, n === 5 ? { dataType: 'json' } : {}))
    expect(db.list({ orderBy: 'id', limit: 2, offset: 1 }).map((e) => e.id)).toEqual([hex(2), hex(3)])
    expect(db.list({ orderBy: 'size', limit: 1 })[0]!.id).toBe(hex(5))
    expect(db.list({ dataType: 'json' }).map((e) => e.id)).toEqual([hex(5)])
    expect(db.list({ limit: Number.NaN, offset: Number.POSITIVE_INFINITY })).toHaveLength(5)
    expect(db.list({ orderBy: '__proto__' as never, limit: 0 })).toEqual([])
  })

  it('orders eviction candidates by last use and skips pinned entries', () => {
    const db = IndexDb.open(SQL)
    for (let n = 1; n <= 4; n++) db.apply(put(n))
    db.apply({ t: 'touch', id: hex(1), at: '2030-01-01T00:00:00.000Z', hits: 1 })
    db.apply({ t: 'pin', id: hex(2), pinned: true })
    expect(db.evictionCandidates(10).map((c) => c.id)).toEqual([hex(3), hex(4), hex(1)])
    expect(db.totals()).toMatchObject({ entries: 4, pinnedBytes: 1002 })
  })
})

describe('IndexStore (snapshot + journal)', () => {
  it('survives a reopen: what was committed is there', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1), put(2)])
    await a.commit([{ t: 'del', id: hex(1) }])
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.has(hex(1))).toBe(false)
    expect(b.db.info(hex(2))?.metadata).toEqual({ n: 2 })
    expect(b.generation).toBe(2)
  })

  it('lets a second context catch up with refresh(), including after a checkpoint', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    const b = await IndexStore.load(backend, SQL)
    await a.commit([put(1)])
    await b.refresh()
    expect(b.db.has(hex(1))).toBe(true)
    await b.commit([put(2)])
    await a.refresh()
    expect(a.db.has(hex(2))).toBe(true)
    await a.checkpoint()
    await a.commit([put(3)])
    await b.refresh()
    expect(b.db.list().map((e) => e.id).sort()).toEqual([hex(1), hex(2), hex(3)])
  })

  it('checkpoints by itself as the journal grows, and replays nothing twice', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    for (let n = 0; n < 3000; n++) await a.commit([put(n), { t: 'touch', id: hex(n), at: '2030-01-01T00:00:00.000Z', hits: 1 }])
    expect((await backend.size(SNAPSHOT)) ?? 0).toBeGreaterThan(0)
    expect((await backend.size(JOURNAL))!).toBeLessThan(2 << 20)
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.totals().entries).toBe(3000)
    expect(b.db.info(hex(2999))!.hits).toBe(1)
    expect(b.db.info(hex(0))!.hits).toBe(1)
  })

  it('drops a line torn by a crash and keeps everything before it', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1)])
    await backend.append(JOURNAL, new TextEncoder().encode('{"g":2,"t":"put","row":{"id":"'))
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.has(hex(1))).toBe(true)
    await b.commit([put(3)])
    const c = await IndexStore.load(backend, SQL)
    expect(c.db.list().map((e) => e.id).sort()).toEqual([hex(1), hex(3)])
  })

  it('replays a journal whose checkpoint was interrupted after the snapshot was written', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1)])
    await a.commit([put(2)])
    const journalBefore = (await backend.read(JOURNAL))!
    await a.checkpoint()
    // Crash between the snapshot and the journal reset: the old journal is still there.
    await backend.writeAtomic(JOURNAL, [journalBefore])
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.totals().entries).toBe(2)
    await b.commit([{ t: 'touch', id: hex(1), at: '2030-01-01T00:00:00.000Z', hits: 1 }])
    const c = await IndexStore.load(backend, SQL)
    expect(c.db.info(hex(1))!.hits).toBe(1)
  })
})

describe('IndexDb totals', () => {
  it('are kept incrementally and always equal a full scan', () => {
    const db = IndexDb.open(SQL)
    expect(db.totals()).toEqual(db.scanTotals())
    const steps = [
      put(1), put(2), put(3, { pinned: true }), put(2, { sizeBytes: 50 }), { t: 'pin' as const, id: hex(1), pinned: true },
      { t: 'del' as const, id: hex(3) }, { t: 'del' as const, id: hex(9) }, { t: 'pin' as const, id: hex(1), pinned: false },
      { t: 'touch' as const, id: hex(2), at: '2030-01-01T00:00:00.000Z', hits: 3 }, { t: 'clear' as const }, put(4),
    ]
    for (const step of steps) {
      db.apply(step)
      expect(db.totals(), JSON.stringify(step).slice(0, 40)).toEqual(db.scanTotals())
    }
  })
})

describe('IndexStore recovery', () => {
  it('sets an unreadable snapshot and journal aside and starts empty, instead of refusing to open', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1)])
    await a.checkpoint()
    await backend.writeAtomic(SNAPSHOT, [new TextEncoder().encode('definitely not sqlite, but long enough to be read')])
    await backend.writeAtomic(JOURNAL, [new TextEncoder().encode('{"garbage": true}\n')])
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.totals().entries).toBe(0)
    expect((await backend.list('quarantine')).sort()).toEqual([expect.stringMatching(/^index\.journal\./), expect.stringMatching(/^index\.sqlite\./)])
    await b.commit([put(2)])
    expect((await IndexStore.load(backend, SQL)).db.has(hex(2))).toBe(true)
  })

  it('skips a journal line that parses but is not a valid entry', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1)])
    await backend.append(JOURNAL, new TextEncoder().encode('{"g":2,"t":"put","row":null}\n'))
    await backend.append(JOURNAL, new TextEncoder().encode(JSON.stringify({ g: 3, ...put(3) }) + '\n'))
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.list().map((e) => e.id).sort()).toEqual([hex(1), hex(3)])
  })
})
