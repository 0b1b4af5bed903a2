import initSqlJs, { type SqlJsStatic } from 'sql.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { initChecksum } from '../../src/codec/checksum.js'
import { concatParts, encodeRecord } from '../../src/codec/record.js'
import { SchemaVersionError } from '../../src/errors.js'
import type { EntryInfo } from '../../src/types.js'
import { rowRecord } from './changes.js'
import { IndexDb } from './db.js'
import { SCHEMA_VERSION } from './schema.js'
import { IndexStore, JOURNAL, SNAPSHOT } from './store.js'
import { ENVELOPE_BYTES, readSnapshot, snapshotEnvelope } from './format.js'
import { salvageSnapshot } from './salvage.js'
import type { Backend } from '../payloads/backend.js'
import { createMemoryBackend } from '../payloads/memory.js'

let SQL: SqlJsStatic
beforeAll(async () => {
  SQL = await initSqlJs()
})

const hex = (n: number) => n.toString(16).padStart(64, '0')
function entry(n: number, extra: Partial<EntryInfo> = {}): EntryInfo {
  return {
    id: hex(n), dataType: 'Image', sizeBytes: 1000 + n, rawBytes: 2000, codec: 'zstd', checksum: '0123456789abcdef',
    createdAt: new Date(1_700_000_000_000 + n * 1000).toISOString(), lastAccessedAt: null, hits: 0, pinned: false,
    metadata: { n }, inline: false, expiresAt: null, ...extra,
  }
}
const put = (n: number, extra?: Partial<EntryInfo>) => ({ t: 'put' as const, row: rowRecord(entry(n, extra), null) })
const MIB = 1 << 20

/**
 * The checkpoint rule of store.ts: after a commit has appended its lines, the snapshot is rewritten
 * (and the journal reset to its header line) when the journal, header line included, is larger than
 * 1 MiB or half the snapshot file, whichever is larger; with no snapshot yet, 1 MiB.
 */
const checkpointDue = (journalBytes: number, snapshotBytes: number) => journalBytes > Math.max(MIB, snapshotBytes / 2)

/** `inner`, with a count of the snapshot writes (checkpoints) and the journal's size after each append. */
function watchedBackend(inner: Backend) {
  let snapshotWrites = 0
  let journalAfterAppend = 0
  const backend: Backend = {
    ...inner,
    async append(name, bytes) {
      await inner.append(name, bytes)
      if (name === JOURNAL) journalAfterAppend = (await inner.size(JOURNAL))!
    },
    async writeAtomic(name, parts) {
      if (name === SNAPSHOT) snapshotWrites++
      await inner.writeAtomic(name, parts)
    },
  }
  return { backend, snapshotWrites: () => snapshotWrites, journalAfterAppend: () => journalAfterAppend }
}

interface CommitStep {
  /** Bytes this commit appended to the journal. */
  appended: number
  /** The journal's size once the lines were appended, before any checkpoint. */
  journal: number
  /** The snapshot's size before the commit (0: none). */
  snapshot: number
  checkpointed: boolean
  /** The journal's size after the commit returned. */
  journalAfter: number
}

/** A store whose every commit is checked against checkpointDue(), in both directions, and recorded. */
async function observedStore() {
  const inner = createMemoryBackend()
  const watched = watchedBackend(inner)
  const store = await IndexStore.load(watched.backend, SQL)
  const steps: CommitStep[] = []
  return {
    backend: inner,
    steps,
    async commit(entries: Parameters<IndexStore['commit']>[0]) {
      const snapshot = (await inner.size(SNAPSHOT)) ?? 0
      const before = (await inner.size(JOURNAL)) ?? 0
      const writes = watched.snapshotWrites()
      await store.commit(entries)
      const journal = watched.journalAfterAppend()
      const checkpointed = watched.snapshotWrites() > writes
      const journalAfter = (await inner.size(JOURNAL))!
      const headerLine = text(await inner.read(JOURNAL)).indexOf('\n') + 1
      // The first commit writes the journal's header line before appending.
      const appended = journal - (before || headerLine)
      steps.push({ appended, journal, snapshot, checkpointed, journalAfter })
      const label = `commit ${steps.length}: journal ${journal} B after the append, snapshot ${snapshot} B`
      expect(checkpointed, label).toBe(checkpointDue(journal, snapshot))
      // A checkpoint leaves the journal its header line alone; without one the journal keeps the lines.
      expect(journalAfter, label).toBe(checkpointed ? headerLine : journal)
    },
  }
}

describe('IndexDb', () => {
  it('creates the results table of DESIGN.md with its schema version', () => {
    const db = IndexDb.open(SQL)
    const fresh = new SQL.Database(db.export())
    const columns = fresh.exec('PRAGMA table_info(results)')[0]!.values.map((c) => c[1])
    expect(columns).toEqual([
      'operation_id', 'data', 'data_type', 'created_at', 'size_bytes', 'metadata',
      'raw_bytes', 'codec', 'checksum', 'last_accessed_at', 'hits', 'pinned', 'expires_at',
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

  it('checkpoints when the journal passes 1 MiB while the snapshot is under 2 MiB, and replays nothing twice', async () => {
    const o = await observedStore()
    for (let n = 0; n < 3000; n++) await o.commit([put(n), { t: 'touch', id: hex(n), at: '2030-01-01T00:00:00.000Z', hits: 1 }])
    // 1.4 MB of journal lines were written: without a checkpoint at the floor the journal would hold them all.
    expect(o.steps.reduce((n, s) => n + s.appended, 0)).toBeGreaterThan(1.25 * MIB)
    expect(o.steps.every((s) => s.snapshot < 2 * MIB)).toBe(true) // half the snapshot never passed the floor
    expect(o.steps.filter((s) => s.checkpointed)).toHaveLength(1)
    expect(Math.max(...o.steps.map((s) => s.journalAfter))).toBeLessThanOrEqual(MIB)
    const b = await IndexStore.load(o.backend, SQL)
    expect(b.db.totals().entries).toBe(3000)
    expect(b.db.info(hex(2999))!.hits).toBe(1)
    expect(b.db.info(hex(0))!.hits).toBe(1)
  })

  it('past a 2 MiB snapshot, checkpoints when, and only when, the journal passes half of it', async () => {
    const o = await observedStore()
    const big = (n: number, kib: number) => put(n, { metadata: { n, text: 'x'.repeat(kib * 1024) } })
    // 3 MiB of rows in one commit: past the floor with no snapshot yet, so a checkpoint writes one of 3 MiB.
    await o.commit(Array.from({ length: 12 }, (_, i) => big(i, 256)))
    expect(o.steps[0]!.checkpointed).toBe(true)
    expect((await o.backend.size(SNAPSHOT))!).toBeGreaterThan(2.5 * MIB)
    // Then 16 KiB rows, one commit each, through two more checkpoints (the second against a larger snapshot).
    for (let n = 100; o.steps.filter((s) => s.checkpointed).length < 3; n++) {
      expect(n, 'no checkpoint came').toBeLessThan(600)
      await o.commit([big(n, 16)])
    }
    const later = o.steps.slice(1)
    // observedStore checked every commit against the rule; here, that the ratio and not the floor decided:
    // commits past 1 MiB of journal did not checkpoint, and each checkpoint came past half of a snapshot
    // whose half is past the floor.
    expect(later.filter((s) => !s.checkpointed && s.journalAfter > 1.2 * MIB).length).toBeGreaterThan(10)
    for (const s of later.filter((s) => s.checkpointed)) {
      expect(s.snapshot / 2).toBeGreaterThan(1.2 * MIB)
      expect(s.appended).toBeLessThan(20 * 1024) // the line that crossed, not a jump past the floor
    }
    const b = await IndexStore.load(o.backend, SQL)
    expect(b.db.totals().entries).toBe(12 + later.length)
  })

  it('rewrites the index on open when its snapshot alone or its journal alone is in the older format, and only then', async () => {
    // Current format: opening writes nothing.
    const current = createMemoryBackend()
    const a = await IndexStore.load(current, SQL)
    await a.commit([put(1)])
    await a.checkpoint()
    await a.commit([put(2)])
    const files = [await current.read(SNAPSHOT), await current.read(JOURNAL)]
    const reopened = watchedBackend(current)
    expect((await IndexStore.load(reopened.backend, SQL)).db.totals().entries).toBe(2)
    expect(reopened.snapshotWrites()).toBe(0)
    expect([await current.read(SNAPSHOT), await current.read(JOURNAL)]).toEqual(files)

    // The previous release's bare snapshot beside a current journal.
    const snapshot = readSnapshot(files[0]!)
    expect(snapshot.kind).toBe('envelope')
    await current.writeAtomic(SNAPSHOT, [(snapshot as { sqlite: Uint8Array }).sqlite])
    const bare = watchedBackend(current)
    expect((await IndexStore.load(bare.backend, SQL)).db.totals().entries).toBe(2)
    expect(bare.snapshotWrites()).toBe(1)
    expect(text((await current.read(SNAPSHOT))!.subarray(0, 4))).toBe('VXIX')

    // A current snapshot beside the previous release's journal (version 1: no line checksums).
    const g = (await IndexStore.load(current, SQL)).generation
    const v1 = [{ voxcacheJournal: 1, base: g }, { g: g + 1, ...put(3) }]
    await current.writeAtomic(JOURNAL, [new TextEncoder().encode(v1.map((l) => JSON.stringify(l)).join('\n') + '\n')])
    const oldJournal = watchedBackend(current)
    const b = await IndexStore.load(oldJournal.backend, SQL)
    expect(b.db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1), hex(2), hex(3)])
    expect(oldJournal.snapshotWrites()).toBe(1)
    expect(text(await current.read(JOURNAL))).toMatch(/^\{"voxcacheJournal":2,/)
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

  it('takes a well-formed line without its checksum for damage: set aside, the rest kept', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([put(1)])
    await backend.append(JOURNAL, new TextEncoder().encode('{"g":2,"t":"clear"}\n'))
    const b = await IndexStore.load(backend, SQL)
    expect(b.db.list().map((e) => e.id)).toEqual([hex(1)])
    expect(b.recovery?.journal).toMatch(/checksum/)
    expect(await backend.list('quarantine')).toEqual([expect.stringMatching(/^index\.journal\./)])
  })
})

/** Records as the service stores them inline (codec none needs no zstd), made once (encoding is async). */
const inlineRecords = new Map<number, { info: EntryInfo; data: Uint8Array }>()
async function makeInlineRecords(): Promise<void> {
  await initChecksum()
  for (let n = 0; n < 10; n++) {
    const { header, parts, byteLength } = await encodeRecord({ n, text: `value ${n}` }, { operationId: hex(n), codec: 'none', createdAt: entry(n).createdAt })
    inlineRecords.set(n, {
      data: concatParts(parts, byteLength),
      info: entry(n, { dataType: 'json', sizeBytes: byteLength, rawBytes: header.rawLength, codec: 'none', checksum: header.checksum, inline: true }),
    })
  }
}
function inlineRecord(n: number): { info: EntryInfo; data: Uint8Array } {
  const record = inlineRecords.get(n)
  if (!record) throw new Error(`no inline record ${n}: call makeInlineRecords() first`)
  return { info: { ...record.info }, data: record.data.slice() }
}
const putInline = (n: number) => {
  const { info, data } = inlineRecord(n)
  return { t: 'put' as const, row: rowRecord(info, data) }
}
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes)

describe('index files: damage is detected, inline records salvaged', () => {
  beforeAll(makeInlineRecords)

  /** A store with a snapshot (1, 2 inline, 3 a file) and a journal (4 inline, 5 a file, a touch of 3). */
  async function populated() {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([putInline(1), putInline(2), put(3)])
    await a.checkpoint()
    await a.commit([putInline(4), put(5)])
    await a.commit([{ t: 'touch', id: hex(3), at: '2030-01-01T00:00:00.000Z', hits: 7 }])
    return backend
  }

  it('every flipped bit, truncation and extension of the snapshot is caught by its envelope', async () => {
    const backend = await populated()
    const bytes = (await backend.read(SNAPSHOT))!
    expect(text(bytes.subarray(0, 4))).toBe('VXIX')
    expect(readSnapshot(bytes).kind).toBe('envelope')
    for (let at = 0; at < bytes.byteLength; at += 7) {
      for (const bit of [0x01, 0x80]) {
        const flipped = bytes.slice()
        flipped[at]! ^= bit
        expect(readSnapshot(flipped).kind, `bit ${bit} of byte ${at}`).toBe('damaged')
      }
    }
    for (const length of [0, 1, 16, ENVELOPE_BYTES, ENVELOPE_BYTES + 100, bytes.byteLength >> 1, bytes.byteLength - 1]) {
      expect(readSnapshot(bytes.slice(0, length)).kind, `truncated to ${length}`).toBe('damaged')
    }
    expect(readSnapshot(concatParts([bytes, new Uint8Array(1)])).kind).toBe('damaged')
    expect(readSnapshot(concatParts([bytes, bytes.subarray(ENVELOPE_BYTES)])).kind).toBe('damaged')
  })

  it('a damaged snapshot: journal lines kept, inline records salvaged from the damaged bytes, files left to reconcile', async () => {
    const backend = await populated()
    const bytes = (await backend.read(SNAPSHOT))!
    // Damage the SQLite header and one of the two inline records; the other must come back.
    const damaged = bytes.slice()
    damaged[ENVELOPE_BYTES + 20]! ^= 0xff
    const second = inlineRecord(2).data
    const at = indexOf(damaged, second)
    expect(at).toBeGreaterThan(0)
    damaged[at + second.byteLength - 2]! ^= 0x01
    await backend.writeAtomic(SNAPSHOT, [damaged])
    const b = await IndexStore.load(backend, SQL)
    expect(b.recovery).toMatchObject({ snapshot: expect.stringContaining('checksum'), journal: undefined, salvaged: 1 })
    expect(b.db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1), hex(4), hex(5)])
    expect(b.db.inlineData(hex(1))).toEqual(inlineRecord(1).data)
    expect(await backend.list('quarantine')).toEqual([expect.stringMatching(/^index\.sqlite\./)])
    // The rebuilt index was written whole and sound: it loads again without damage.
    const c = await IndexStore.load(backend, SQL)
    expect(c.recovery).toBeUndefined()
    expect(c.db.totals().entries).toBe(3)
  })

  it('a snapshot sealed whole around bytes SQLite cannot read is damage, and its inline records are salvaged', async () => {
    const backend = await populated()
    const bytes = (await backend.read(SNAPSHOT))!
    // The SQLite header damaged, the envelope's checksum made right: the envelope holds and sql.js
    // refuses the database. (Salvage reads the file again, since sql.js was lent the bytes read and may
    // write into them; here it refuses them before writing, so the re-read is not what this shows.)
    const sqlite = bytes.slice(ENVELOPE_BYTES)
    sqlite.fill(0x55, 0, 16)
    await backend.writeAtomic(SNAPSHOT, [snapshotEnvelope(sqlite), sqlite])
    const b = await IndexStore.load(backend, SQL)
    expect(b.recovery).toMatchObject({ snapshot: expect.stringContaining('not a readable SQLite database'), journal: undefined, salvaged: 2 })
    expect(b.db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1), hex(2), hex(4), hex(5)])
    expect(b.db.inlineData(hex(2))).toEqual(inlineRecord(2).data)
  })

  it('a transaction that throws leaves rows and totals as they were; one that returns keeps its changes', () => {
    const db = IndexDb.open(SQL)
    db.apply(putInline(1))
    expect(db.totals().entries).toBe(1)
    const before = db.totals()
    expect(() =>
      db.transaction(() => {
        db.apply(putInline(2))
        db.apply(putInline(3))
        db.apply({ t: 'del', id: hex(1) })
        throw new Error('midway')
      }),
    ).toThrow('midway')
    expect(db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1)])
    expect(db.totals()).toEqual(before)
    expect(db.transaction(() => (db.apply(putInline(2)), 'kept'))).toBe('kept')
    expect(db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1), hex(2)])
    expect(db.totals().entries).toBe(2)
    db.close()
  })

  it('sql.js keeps the bytes lent to it as its database file, without a copy (they change with it); others it copies', () => {
    const source = IndexDb.open(SQL)
    source.apply(putInline(1))
    const image = source.export()
    source.close()
    const lent = image.slice()
    const copied = image.slice()
    const a = IndexDb.open(SQL, lent, { lend: true })
    const b = IndexDb.open(SQL, copied)
    for (const db of [a, b]) db.setMeta('lent', 'x'.repeat(5000))
    a.close()
    b.close()
    expect(copied).toEqual(image)
    expect(lent).not.toEqual(image)
  })

  it('a digit flipped in a journal line (still valid JSON) is damage, not applied; the record in it is salvaged', async () => {
    const backend = await populated()
    const journal = text(await backend.read(JOURNAL))
    expect(journal.split('\n')[0]).toMatch(/^\{"voxcacheJournal":2,"base":\d+,"c":"[0-9a-f]{8}"\}$/)
    // The hits of the touch line, and the sizeBytes of entry 4's put line, whose record is intact.
    const forged = journal.replace('"hits":7', '"hits":9').replace(/("id":"0+4".*?"sizeBytes":)(\d)/, (_, a: string, d: string) => a + String((+d + 1) % 10))
    expect(forged).not.toBe(journal)
    await backend.writeAtomic(JOURNAL, [new TextEncoder().encode(forged)])
    const b = await IndexStore.load(backend, SQL)
    expect(b.recovery).toMatchObject({ journal: expect.stringContaining('checksum'), salvaged: 1 })
    expect(b.db.info(hex(3))!.hits).toBe(0) // the touch is lost, not taken as 9
    expect(b.db.info(hex(4))!.sizeBytes).toBe(inlineRecord(4).data.byteLength) // from the record itself
    expect(b.db.has(hex(5))).toBe(true)
  })

  it('a torn last line is a crash mid-append: truncated, not damage', async () => {
    const backend = await populated()
    const size = (await backend.size(JOURNAL))!
    await backend.truncate(JOURNAL, size - 5)
    const b = await IndexStore.load(backend, SQL)
    expect(b.recovery).toBeUndefined()
    expect(b.db.info(hex(3))!.hits).toBe(0)
    expect(b.db.has(hex(4))).toBe(true)
    expect(text(await backend.read(JOURNAL)).endsWith('\n')).toBe(true)
  })

  it('an empty or headerless journal beside a snapshot is damage', async () => {
    for (const cut of [0, 10]) {
      const backend = await populated()
      await backend.truncate(JOURNAL, cut)
      const b = await IndexStore.load(backend, SQL)
      expect(b.recovery?.journal, `cut to ${cut}`).toBeDefined()
      expect(b.db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1), hex(2), hex(3)])
    }
  })
})

describe('index versions', () => {
  it("reads the previous release's bare snapshot and version-1 journal, and rewrites both", async () => {
    const backend = createMemoryBackend()
    const db = IndexDb.open(SQL)
    db.apply(putInline(1))
    db.apply(put(2))
    db.generation = 1
    await backend.writeAtomic(SNAPSHOT, [db.export()])
    const lines = [{ voxcacheJournal: 1, base: 1 }, { g: 2, ...put(3) }, { g: 3, t: 'touch', id: hex(2), at: '2030-01-01T00:00:00.000Z', hits: 2 }]
    await backend.writeAtomic(JOURNAL, [new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join('\n') + '\n')])
    const b = await IndexStore.load(backend, SQL)
    expect(b.recovery).toBeUndefined()
    expect(b.db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1), hex(2), hex(3)])
    expect(b.db.info(hex(2))!.hits).toBe(2)
    expect(text((await backend.read(SNAPSHOT))!.subarray(0, 4))).toBe('VXIX')
    expect(text(await backend.read(JOURNAL))).toMatch(/^\{"voxcacheJournal":2,/)
    expect((await IndexStore.load(backend, SQL)).db.totals().entries).toBe(3)
  })

  it('refuses a newer snapshot envelope, schema or journal and leaves every file as it was', async () => {
    const newerSchema = new SQL.Database()
    newerSchema.run('PRAGMA user_version = 3')
    const newerEnvelope = (await (async () => {
      const backend = createMemoryBackend()
      await (await IndexStore.load(backend, SQL)).checkpoint()
      const bytes = (await backend.read(SNAPSHOT))!
      // A made-up version 2 layout: the version field says 2 and the rest is not version 1's.
      new DataView(bytes.buffer).setUint32(4, 2, true)
      bytes[20]! ^= 0x01
      return bytes
    })())
    const cases: [string, Uint8Array | undefined, string | undefined][] = [
      ['schema 3 in a bare SQLite file', newerSchema.export(), undefined],
      ['snapshot envelope 2', newerEnvelope, undefined],
      ['journal version 3', undefined, '{"voxcacheJournal":3,"base":0}\n{"whatever":"v3 holds"}\n'],
    ]
    for (const [name, snapshot, journal] of cases) {
      const backend = createMemoryBackend()
      if (snapshot) await backend.writeAtomic(SNAPSHOT, [snapshot])
      if (journal) await backend.writeAtomic(JOURNAL, [new TextEncoder().encode(journal)])
      await expect(IndexStore.load(backend, SQL), name).rejects.toThrow(SchemaVersionError)
      expect(await backend.read(SNAPSHOT), name).toEqual(snapshot)
      expect(text(await backend.read(JOURNAL)), name).toBe(journal === undefined ? '' : journal)
      expect(await backend.list('quarantine'), name).toEqual([])
    }
  })

  it('a version field with one flipped bit is damage, not a newer version', async () => {
    const backend = createMemoryBackend()
    const a = await IndexStore.load(backend, SQL)
    await a.commit([putInline(1)])
    await a.checkpoint()
    await a.commit([putInline(2)])
    const snapshot = (await backend.read(SNAPSHOT))!
    snapshot[4]! ^= 0x02 // version 1 reads 3
    await backend.writeAtomic(SNAPSHOT, [snapshot])
    const journal = text(await backend.read(JOURNAL)).replace('"voxcacheJournal":2', '"voxcacheJournal":3')
    await backend.writeAtomic(JOURNAL, [new TextEncoder().encode(journal)])
    const b = await IndexStore.load(backend, SQL)
    expect(b.recovery).toMatchObject({ snapshot: expect.stringContaining('version'), journal: expect.stringContaining('header') })
    expect(b.db.list({ orderBy: 'id' }).map((e) => e.id)).toEqual([hex(1), hex(2)])
  })
})

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.byteLength <= haystack.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

describe('salvage', () => {
  it('finds whole records at any offset in raw bytes, and only valid ones', async () => {
    await makeInlineRecords()
    const good = inlineRecord(1).data
    const bad = inlineRecord(2).data.slice()
    bad[bad.byteLength - 1]! ^= 0x01
    for (const offset of [0, 1, 3, 7, 13]) {
      const bytes = concatParts([new Uint8Array(offset).fill(0x56), good, new Uint8Array(5), bad, new Uint8Array(9)])
      const found = new Map()
      salvageSnapshot(SQL, bytes, found) // not SQLite at all: only the raw scan can find them
      expect([...found.keys()], `offset ${offset}`).toEqual([hex(1)])
      expect(found.get(hex(1)).data).toEqual(good)
    }
  })
})
