// What an open, a stats() and a list({ limit }) ask of the index must not cost a pass over the whole
// table (issue 14: an open at 100,000 entries in at most 250 ms): list()'s default order reads an SQL
// index, the sweep's query without maxAgeMs reads results_expiry, and the totals come saved in the
// snapshot. Each answer must still be what the full scans it replaces would give.
import initSqlJs, { type SqlJsStatic } from 'sql.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { initChecksum } from '../../src/codec/checksum.js'
import type { EntryInfo, ListOptions } from '../../src/types.js'
import { rowRecord, type JournalEntry } from './changes.js'
import { IndexDb, listQuery, type Expired } from './db.js'
import { readSnapshot, snapshotEnvelope } from './format.js'
import { IndexStore, SNAPSHOT } from './store.js'
import { createMemoryBackend } from '../payloads/memory.js'

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
    id: hex(n), dataType: 'json', sizeBytes: 10 + n, rawBytes: 20 + n, codec: 'none', checksum: '0123456789abcdef',
    createdAt: iso(T0), lastAccessedAt: null, hits: 0, pinned: false, metadata: null, inline: false, expiresAt: null, ...extra,
  }
}
const put = (n: number, extra?: Partial<EntryInfo>): JournalEntry => ({ t: 'put', row: rowRecord(entry(n, extra), null) })

describe('list({ limit }) reads a SQL index in its default order', () => {
  const db = () => {
    const d = IndexDb.open(SQL)
    for (let i = 0; i < 50; i++) d.apply(put(i, { createdAt: iso(T0 + (i % 25) * 1000), lastAccessedAt: i % 3 ? iso(T0 + (i % 10) * 7000) : null }))
    return d
  }
  const cases: [ListOptions, Expired | undefined][] = [
    [{ limit: 50 }, undefined],
    [{ limit: 50, orderBy: 'lastAccessed' }, { now: T0 }],
    [{ limit: 10, offset: 5, dataType: 'json' }, { now: T0, maxAgeMs: 1000 }],
  ]
  it.each(cases)('%j (expired: %j) reads results_recent, sorting nothing', (options, expired) => {
    const d = db()
    const { sql, params } = listQuery(options, expired)
    const plan = d.plan(sql, params)
    expect(plan).toMatch(/USING (COVERING )?INDEX results_recent\b/)
    expect(plan).not.toMatch(/TEMP B-TREE/)
  })

  it('most recently used first (created when never used), ties in the order they were stored', () => {
    const d = db()
    // Stored in the order of their ids (db() puts 0, 1, 2, …).
    const all = d.list({ orderBy: 'id' })
    const key = (e: EntryInfo) => e.lastAccessedAt ?? e.createdAt
    const byRecent = [...all].sort((a, b) => (key(a) === key(b) ? (a.id < b.id ? -1 : 1) : key(a) < key(b) ? 1 : -1))
    expect(d.list({ limit: 7 }).map((e) => e.id)).toEqual(byRecent.slice(0, 7).map((e) => e.id))
    expect(d.list({ limit: 12, offset: 20 }).map((e) => e.id)).toEqual(byRecent.slice(20, 32).map((e) => e.id))
  })

  it('ties in the order they were stored, a replaced entry as stored last; pages do not overlap', () => {
    const d = IndexDb.open(SQL)
    for (const n of [2, 0, 1, 3]) d.apply(put(n))
    const page = (limit: number, offset = 0) => d.list({ limit, offset }).map((e) => e.id)
    expect(page(4)).toEqual([2, 0, 1, 3].map(hex))
    d.apply(put(0))
    expect(page(4)).toEqual([2, 1, 3, 0].map(hex))
    expect([...page(2), ...page(2, 2)]).toEqual(page(4))
  })
})

describe('expiredIds in two queries', () => {
  it('selects exactly the rows list() leaves out as expired, around day boundaries and in both time formats', () => {
    const db = IndexDb.open(SQL)
    const day = 86_400_000
    const midnight = Date.parse('2026-03-02T00:00:00.000Z')
    // Creation times on both sides of the cutoffs below, in this code's ISO format and in VoxLogicA-2's.
    const times = [-day - 1, -day, -1000, -1, 0, 1, 1000, day - 1, day, day + 1].map((d) => midnight + d)
    let n = 0
    for (const t of times) {
      db.apply(put(n++, { createdAt: iso(t) }))
      db.apply(put(n++, { createdAt: iso(t).replace('T', ' ').slice(0, 19) }))
      db.apply(put(n++, { createdAt: iso(t + 5 * day), expiresAt: iso(t) }))
    }
    db.apply(put(n++, { createdAt: 'not a time' }))
    const all = db.list({ orderBy: 'id' }).map((e) => e.id)
    let checked = 0
    for (const now of times) {
      for (const maxAgeMs of [undefined, 1, 999, 1000, 1001, day - 1, day, day + 1, 3 * day]) {
        const expired: Expired = maxAgeMs === undefined ? { now } : { now, maxAgeMs }
        const kept = new Set(db.list({ orderBy: 'id' }, expired).map((e) => e.id))
        const want = all.filter((id) => !kept.has(id))
        expect(db.expiredIds(expired).sort(), JSON.stringify(expired)).toEqual(want)
        if (want.length) checked++
      }
    }
    // The comparison was not only of empty sets.
    expect(checked).toBeGreaterThan(40)
  })

  it('nextExpiry(maxAgeMs) finds the oldest creation among both time formats', () => {
    const db = IndexDb.open(SQL)
    db.apply(put(1, { createdAt: '2026-03-01T12:00:00.500Z' }))
    db.apply(put(2, { createdAt: '2026-03-01 12:00:00' })) // half a second older, though it sorts first as text
    db.apply(put(3, { createdAt: '2026-03-01T11:59:59.900Z' })) // older than both, sorts last of the day as text
    db.apply(put(4, { createdAt: '2026-03-02T00:00:00.000Z' }))
    expect(db.nextExpiry(1000)).toBe(Date.parse('2026-03-01T11:59:59.900Z') + 1000)
  })
})

describe('totals saved by a checkpoint', () => {
  it('open a snapshot without counting its rows', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1), put(2, { pinned: true }), put(3)])
    await a.checkpoint()
    // The saved totals, made wrong on purpose, without changing the generation: the opener takes them
    // as they are, which shows that it read them instead of counting.
    const file = readSnapshot((await backend.read(SNAPSHOT))!)
    if (file.kind !== 'envelope') throw new Error(`snapshot ${file.kind}`)
    const raw = new SQL.Database(file.sqlite)
    const saved = JSON.parse(String(raw.exec("SELECT value FROM voxcache_meta WHERE key = 'totals'")[0]!.values[0]![0])) as Record<string, number>
    expect(saved).toMatchObject({ entries: 3, bytes: 11 + 12 + 13, pinnedBytes: 12 })
    raw.run("UPDATE voxcache_meta SET value = ? WHERE key = 'totals'", [JSON.stringify({ ...saved, entries: 999 })])
    const bytes = raw.export()
    await backend.writeAtomic(SNAPSHOT, [snapshotEnvelope(bytes), bytes])
    expect((await IndexStore.load(backend, SQL)).db.totals().entries).toBe(999)
  })

  it('are counted again when the snapshot is of another generation (an older voxcache changed it)', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1), put(2)])
    await a.checkpoint()
    const file = readSnapshot((await backend.read(SNAPSHOT))!)
    if (file.kind !== 'envelope') throw new Error(`snapshot ${file.kind}`)
    // What an older voxcache does: rows changed, the generation moved on, the totals row left as it was.
    const raw = new SQL.Database(file.sqlite)
    raw.run(`INSERT INTO results (operation_id, data_type, created_at, size_bytes, metadata, raw_bytes, codec, checksum, pinned)
      VALUES (?, 'json', ?, 500, 'null', 5, 'none', '0123456789abcdef', 1)`, [hex(9), iso(T0)])
    raw.run("DELETE FROM results WHERE operation_id = ?", [hex(1)])
    raw.run("UPDATE voxcache_meta SET value = CAST(value + 1 AS TEXT) WHERE key = 'generation'")
    const bytes = raw.export()
    await backend.writeAtomic(SNAPSHOT, [snapshotEnvelope(bytes), bytes])
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.totals()).toEqual(b.db.scanTotals())
    expect(b.db.totals()).toMatchObject({ entries: 2, pinnedBytes: 500 })
    // And after a journal replay on top of saved totals.
    await b.checkpoint()
    await b.commit([put(4), { t: 'del', id: hex(2) }])
    const c = await IndexStore.load(backend, SQL)
    expect(c.db.totals()).toEqual(c.db.scanTotals())
  })
})

describe('an index without results_recent', () => {
  it('gets it in place, and load() writes the snapshot again so that the next open need not build it', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1), put(2)])
    await a.checkpoint()
    const file = readSnapshot((await backend.read(SNAPSHOT))!)
    if (file.kind !== 'envelope') throw new Error(`snapshot ${file.kind}`)
    const raw = new SQL.Database(file.sqlite)
    raw.run('DROP INDEX results_recent')
    const bytes = raw.export()
    await backend.writeAtomic(SNAPSHOT, [snapshotEnvelope(bytes), bytes])
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.list({ limit: 1, orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1)])
    const after = readSnapshot((await backend.read(SNAPSHOT))!)
    if (after.kind !== 'envelope') throw new Error(`snapshot ${after.kind}`)
    const names = new SQL.Database(after.sqlite).exec("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")[0]!.values.map((r) => r[0])
    expect(names).toContain('results_recent')
    // An index already in the current shape is not written again at open.
    const before = await backend.read(SNAPSHOT)
    await IndexStore.load(backend, SQL)
    expect(await backend.read(SNAPSHOT)).toEqual(before)
  })
})
