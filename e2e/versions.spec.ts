// Versions on disk. Older: VoxLogicA-2's plain `results` table (schema 1) and the previous release's
// files (a bare SQLite snapshot, a journal without line checksums) open, migrated, every entry
// readable, and are rewritten in the current format. Newer: an index schema, snapshot envelope or
// journal version from a newer voxcache makes openCache fail with SchemaVersionError and leaves every
// file byte for byte; a newer record is refused (SchemaVersionError naming it) and left where it is,
// while the rest of the cache keeps working. Records of format 1 (what 0.x wrote; test/format1.ts is
// its encoder) are read as they are, whole and by region, beside this release's format 2.
import { createHash } from 'node:crypto'
import type { Page } from '@playwright/test'
import { createXXHash64, xxhash32 } from 'hash-wasm'
import initSqlJs, { type SqlJsStatic } from 'sql.js'
import { DIGEST_SCRIPT, readCacheFiles, removeCache, retrieveAll, writeCacheFile, type Outcome } from './cache-files.js'
import { expect, openPage, test } from './fixtures.js'

let SQL: SqlJsStatic
test.beforeAll(async () => {
  SQL = await initSqlJs()
})
test.beforeEach(async ({ page }) => {
  await page.addInitScript(DIGEST_SCRIPT)
  await openPage(page, 'cache=vx-page&storage=memory')
})

interface SourceEntry {
  id: string
  digest: string
  record: Buffer
  inline: boolean
}

/**
 * Four entries made by this voxcache (two small enough to be inline), with their records' bytes: as
 * this release writes them (format 2), or as 0.x wrote them (format 1).
 */
async function sourceEntries(page: Page, format: 1 | 2 = 2): Promise<SourceEntry[]> {
  const out = await page.evaluate(async (format) => {
    const lib = window.voxcacheLib!
    const cache = await lib.openCache({ name: 'vx-source', storage: 'memory' })
    const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
    const values: [unknown, 'none' | 'zstd'][] = [
      [{ small: 'json', list: [1, 2, 3] }, 'none'],
      [new Float32Array(800).map((_, i) => (i % 40) / 4), 'zstd'],
      [random(60_000), 'none'],
      [{
        imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 }, name: 'v',
        origin: [0, 0, 0], spacing: [1, 1, 2], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), size: [32, 32, 8],
        metadata: new Map(), data: random(32 * 32 * 8),
      }, 'none'],
    ]
    const base64 = (bytes: Uint8Array) => {
      let binary = ''
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
      return btoa(binary)
    }
    const entries: { id: string; digest: string; inline: boolean; format1?: string }[] = []
    for (const [i, [value, codec]] of values.entries()) {
      const id = await lib.operationId('versions', { i })
      const digest = await globalThis.vxDigest!(value)
      // Before store(), which takes the buffer over.
      const format1 = format === 1 ? base64(await window.voxcacheTest!.encodeRecord1(value as never, { operationId: id, codec, metadata: { i } })) : undefined
      const info = await cache.store(id, value as never, { codec, metadata: { i } })
      entries.push({ id, digest, inline: info.inline, format1 })
    }
    const bytes = new Uint8Array(await (await cache.exportDatabase()).arrayBuffer())
    await cache.close()
    return { entries, exported: base64(bytes) }
  }, format)
  const db = new SQL.Database(Buffer.from(out.exported, 'base64'))
  const records = new Map(db.exec('SELECT operation_id, data FROM results')[0]!.values.map(([id, data]) => [id as string, Buffer.from(data as Uint8Array)]))
  db.close()
  expect(out.entries.map((e) => e.inline)).toEqual([true, true, false, false])
  const result = out.entries.map(({ format1, ...e }) => ({ ...e, record: format1 ? Buffer.from(format1, 'base64') : records.get(e.id)! }))
  expect(result.map((e) => e.record.subarray(0, 4).toString('latin1'))).toEqual(new Array(4).fill(`VXC${format}`))
  return result
}

interface Header {
  dataType: string
  codec: string
  rawLength: number
  checksum: string
  createdAt: string
  metadata: unknown
}
/** A record's header: format 1 after a 16-byte prefix (length at 4), format 2 after 64 (length at 8). */
const headerOf = (record: Buffer) => {
  const two = record[3] === 0x32
  const at = two ? 64 : 16
  return JSON.parse(record.subarray(at, at + record.readUInt32LE(two ? 8 : 4)).toString('utf8')) as Header
}

/** The journal row (RowRecord) of an entry, as both releases write it. */
function row(e: SourceEntry, extra: { hits?: number; pinned?: boolean } = {}) {
  const h = headerOf(e.record)
  return {
    id: e.id, data: e.inline ? e.record.toString('base64') : null, dataType: h.dataType, createdAt: h.createdAt,
    sizeBytes: e.record.length, rawBytes: h.rawLength, codec: h.codec, checksum: h.checksum, metadata: h.metadata,
    lastAccessedAt: null, hits: extra.hits ?? 0, pinned: extra.pinned ?? false,
  }
}

/** Writes the cache's files (payloads of file entries included) into OPFS, replacing the cache. */
async function writeCache(page: Page, cache: string, files: Record<string, Uint8Array>, entries: SourceEntry[]) {
  await removeCache(page, cache)
  for (const e of entries) if (!e.inline) await writeCacheFile(page, cache, `payloads/${e.id}.vxc`, e.record)
  for (const [path, bytes] of Object.entries(files)) await writeCacheFile(page, cache, path, bytes)
}

/** The previous release's snapshot: the v2 schema in a bare SQLite file, file entries' data NULL. */
function previousSnapshot(entries: SourceEntry[], options: { userVersion?: number; generation?: number } = {}): Uint8Array {
  const db = new SQL.Database()
  db.run(`CREATE TABLE results (operation_id TEXT PRIMARY KEY, data BLOB, data_type TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, size_bytes INTEGER, metadata TEXT,
    raw_bytes INTEGER, codec TEXT, checksum TEXT, last_accessed_at TIMESTAMP, hits INTEGER DEFAULT 0, pinned INTEGER DEFAULT 0);
    CREATE INDEX results_lru ON results (pinned, last_accessed_at);
    CREATE TABLE voxcache_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`)
  for (const e of entries) {
    const r = row(e)
    db.run('INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)', [
      r.id, e.inline ? e.record : null, r.dataType, r.createdAt, r.sizeBytes, JSON.stringify(r.metadata), r.rawBytes, r.codec, r.checksum, null, 0, 0,
    ])
  }
  db.run("INSERT INTO voxcache_meta VALUES ('generation', ?)", [String(options.generation ?? 1)])
  db.run(`PRAGMA user_version = ${options.userVersion ?? 2}`)
  const bytes = db.export()
  db.close()
  return bytes
}

/** This release's snapshot envelope around SQLite bytes (see worker/index/format.ts). */
async function envelope(sqlite: Uint8Array, version = 1): Promise<Buffer> {
  const head = Buffer.alloc(32)
  head.write('VXIX', 0, 'latin1')
  head.writeUInt32LE(version, 4)
  head.writeUInt32LE(sqlite.length, 8)
  const hasher = (await createXXHash64()).init()
  hasher.update(head.subarray(0, 16))
  hasher.update(sqlite)
  head.write(hasher.digest('hex'), 16, 'latin1')
  return Buffer.concat([head, sqlite])
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
async function fingerprint(page: Page, cache: string): Promise<Record<string, string>> {
  return Object.fromEntries([...(await readCacheFiles(page, cache))].map(([path, bytes]) => [path, sha(bytes)]))
}

async function openFails(page: Page, cache: string) {
  return page.evaluate(async (cache) => {
    const lib = window.voxcacheLib!
    try {
      await (await lib.openCache({ name: cache })).close()
      return { opened: true }
    } catch (e) {
      return { opened: false, newer: e instanceof lib.SchemaVersionError, code: (e as { code?: string }).code, message: (e as Error).message }
    }
  }, cache)
}

const values = (entries: SourceEntry[]): Outcome[] => entries.map((e) => ({ kind: 'value', digest: e.digest }))

test("VoxLogicA-2's results table (schema 1, bare SQLite) opens migrated, every entry readable", async ({ page }) => {
  const entries = await sourceEntries(page, 1)
  const db = new SQL.Database()
  db.run(`CREATE TABLE results (operation_id TEXT PRIMARY KEY, data BLOB, data_type TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, size_bytes INTEGER, metadata TEXT)`)
  for (const e of entries) {
    const h = headerOf(e.record)
    db.run('INSERT INTO results VALUES (?,?,?,?,?,?)', [e.id, e.inline ? e.record : null, h.dataType, h.createdAt, e.record.length, JSON.stringify(h.metadata)])
  }
  await writeCache(page, 'vx-v1', { 'index.sqlite': db.export() }, entries)
  db.close()

  const got = await retrieveAll(page, 'vx-v1', entries.map((e) => e.id))
  expect(got.outcomes).toEqual(values(entries))
  const infos = await page.evaluate(async (ids) => {
    const cache = await window.voxcacheLib!.openCache({ name: 'vx-v1' })
    const out = await Promise.all(ids.map((id) => cache.info(id)))
    await cache.close()
    return out
  }, entries.map((e) => e.id))
  expect(infos.map((i) => [i?.pinned, i?.inline, i?.metadata])).toEqual(entries.map((e, i) => [false, e.inline, { i }]))

  // Rewritten at open: this release's envelope around the schema-2 table.
  const files = await readCacheFiles(page, 'vx-v1')
  const snapshot = files.get('index.sqlite')!
  expect(snapshot.subarray(0, 4).toString('latin1')).toBe('VXIX')
  const migrated = new SQL.Database(snapshot.subarray(32))
  expect(migrated.exec('PRAGMA user_version')[0]!.values[0]![0]).toBe(2)
  expect(migrated.exec('PRAGMA table_info(results)')[0]!.values.map((c) => c[1])).toContain('pinned')
  migrated.close()
  expect([...files.keys()].filter((p) => p.startsWith('quarantine/'))).toEqual([])
})

test("the previous release's files (bare SQLite snapshot, journal version 1, format-1 records) open with every change, and are rewritten", async ({ page }) => {
  const entries = await sourceEntries(page, 1)
  const [a, b, c, d] = entries as [SourceEntry, SourceEntry, SourceEntry, SourceEntry]
  // The snapshot holds a and c; the journal adds b (inline) and d, then a touch and a pin.
  const journal = [
    { voxcacheJournal: 1, base: 1 },
    { g: 2, t: 'put', row: row(b) },
    { g: 2, t: 'put', row: row(d) },
    { g: 3, t: 'touch', id: c.id, at: '2030-01-01T00:00:00.000Z', hits: 3 },
    { g: 4, t: 'pin', id: c.id, pinned: true },
  ].map((line) => JSON.stringify(line) + '\n').join('')
  await writeCache(page, 'vx-prev', { 'index.sqlite': previousSnapshot([a, c]), 'index.journal': Buffer.from(journal) }, entries)

  const got = await retrieveAll(page, 'vx-prev', entries.map((e) => e.id))
  expect(got.outcomes).toEqual(values(entries))
  expect(got.entries).toBe(4)
  const info = await page.evaluate(async (id) => {
    const cache = await window.voxcacheLib!.openCache({ name: 'vx-prev' })
    const out = await cache.info(id)
    await cache.close()
    return out
  }, c.id)
  expect(info).toMatchObject({ pinned: true, lastAccessedAt: expect.any(String) })
  expect(info!.hits).toBeGreaterThanOrEqual(3) // 3 from the old journal, plus the reads above
  // A box of the format-1 image (d: 32 × 32 × 8 uint8), read by region, is the crop of the whole.
  const region = await page.evaluate(async (id) => {
    const cache = await window.voxcacheLib!.openCache({ name: 'vx-prev' })
    const whole = (await cache.retrieveImage(id))!
    const box = (await cache.retrieveRegion(id, { index: [3, 4, 2], size: [20, 9, 5] }))!
    await cache.close()
    const data = whole.data as Uint8Array
    const crop: number[] = []
    for (let z = 2; z < 7; z++) for (let y = 4; y < 13; y++) for (let x = 3; x < 23; x++) crop.push(data[(z * 32 + y) * 32 + x]!)
    return { same: crop.every((v, i) => (box.data as Uint8Array)[i] === v) && crop.length === (box.data as Uint8Array).length, origin: box.origin, size: box.size }
  }, d.id)
  expect(region).toEqual({ same: true, origin: [3, 4, 4], size: [20, 9, 5] }) // spacing [1, 1, 2]

  const files = await readCacheFiles(page, 'vx-prev')
  expect(files.get('index.sqlite')!.subarray(0, 4).toString('latin1')).toBe('VXIX')
  expect(files.get('index.journal')!.toString('utf8')).toMatch(/^\{"voxcacheJournal":2,"base":\d+,"c":"[0-9a-f]{8}"\}\n/)
  expect([...files.keys()].filter((p) => p.startsWith('quarantine/'))).toEqual([])
})

test.describe('an index from a newer voxcache is refused and left byte for byte', () => {
  const newer: [string, (entries: SourceEntry[]) => Promise<Record<string, Uint8Array>>][] = [
    ['schema 3 in a bare SQLite snapshot', async (e) => ({ 'index.sqlite': previousSnapshot(e, { userVersion: 3 }) })],
    ['schema 3 inside a valid envelope', async (e) => ({ 'index.sqlite': await envelope(previousSnapshot(e, { userVersion: 3 })) })],
    ['snapshot envelope version 2', async (e) => ({ 'index.sqlite': await envelope(previousSnapshot(e), 2) })],
    [
      'journal version 3 beside a current snapshot',
      async (e) => ({
        'index.sqlite': await envelope(previousSnapshot(e)),
        'index.journal': Buffer.from('{"voxcacheJournal":3,"base":1}\n{"g":2,"op":"something new"}\n'),
      }),
    ],
  ]
  for (const [what, files] of newer) {
    test(what, async ({ page }) => {
      const entries = await sourceEntries(page)
      await writeCache(page, 'vx-newer', await files(entries), entries)
      const before = await fingerprint(page, 'vx-newer')
      const result = await openFails(page, 'vx-newer')
      expect(result).toMatchObject({ opened: false, newer: true, code: 'SCHEMA_VERSION', message: expect.stringMatching(/newer/) })
      expect(await fingerprint(page, 'vx-newer')).toEqual(before)
    })
  }
})

test.describe('a record from a newer voxcache is refused, left where it is, and the rest keeps working', () => {
  /** A format-2 record edited and signed again, as a newer writer would: prefix hash over the new prefix and header. */
  async function resigned(record: Buffer, edit: (out: Buffer) => void): Promise<Buffer> {
    const out = Buffer.from(record)
    edit(out)
    const length = out.readUInt32LE(8)
    const prefix = Buffer.from(out.subarray(0, 64))
    prefix.fill(0, 12, 16)
    out.writeUInt32LE(Number.parseInt(await xxhash32(Buffer.concat([prefix, out.subarray(64, 64 + length)])), 16), 12)
    return out
  }
  // A sealed record in a cache without its key is left as it is too, refused as KeyMismatchError.
  const cases: [string, boolean, (record: Buffer) => Promise<Buffer>, ('SchemaVersionError' | 'KeyMismatchError')?][] = [
    ['magic VXC3, a layout of its own, not in the index', false, async () => Buffer.concat([Buffer.from('VXC3'), Buffer.alloc(12, 0xff), Buffer.from('tomorrow')])],
    ['format 3 under magic VXC3 in format 2\'s layout, indexed', true, (record) => resigned(record, (out) => {
      out.write('VXC3', 0, 'latin1')
      out[out.indexOf('"format":2', 64) + '"format":'.length] = 0x33
    })],
    ['a sealed (encrypted) record, indexed', true, (record) => resigned(record, (out) => out.writeUInt32LE(1, 4)), 'KeyMismatchError'],
  ]
  for (const [what, indexed, make, refusal = 'SchemaVersionError'] of cases) {
    test(what, async ({ page }) => {
      const entries = await sourceEntries(page)
      const victim = entries[2]! // a file entry
      const others = entries.filter((e) => e !== victim)
      const newerRecord = await make(victim.record)
      await writeCache(page, 'vx-record', { 'index.sqlite': await envelope(previousSnapshot(indexed ? entries : others)) }, entries)
      await writeCacheFile(page, 'vx-record', `payloads/${victim.id}.vxc`, newerRecord)
      const before = (await readCacheFiles(page, 'vx-record')).get(`payloads/${victim.id}.vxc`)!

      const got = await retrieveAll(page, 'vx-record', [victim.id, ...others.map((e) => e.id)])
      expect(got.outcomes[0]).toMatchObject({
        kind: 'error', name: refusal, newer: refusal === 'SchemaVersionError', corrupt: false,
        code: refusal === 'SchemaVersionError' ? 'SCHEMA_VERSION' : 'KEY_MISMATCH', entryId: victim.id,
      })
      expect(got.outcomes.slice(1)).toEqual(values(others))
      expect(got.stillListed[0]).toBe(indexed)
      const refusedStore = await page.evaluate(async (id) => {
        const lib = window.voxcacheLib!
        const cache = await lib.openCache({ name: 'vx-record' })
        try {
          await cache.retrieve(id).catch(() => undefined)
          await cache.store(id, new Uint8Array(10))
          return 'stored'
        } catch (e) {
          return e instanceof lib.SchemaVersionError ? 'SchemaVersionError' : e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : String(e)
        } finally {
          await cache.close()
        }
      }, victim.id)
      expect(refusedStore).toBe(refusal)

      const files = await readCacheFiles(page, 'vx-record')
      expect(files.get(`payloads/${victim.id}.vxc`)!.equals(before), 'the newer record is byte for byte as it was').toBe(true)
      expect([...files.keys()].filter((p) => p.startsWith('quarantine/'))).toEqual([])
    })
  }
})

test('importDatabase refuses an export from a newer voxcache, saying so, and SQLite without a results table', async ({ page }) => {
  const entries = await sourceEntries(page)
  const other = new SQL.Database()
  other.run('CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES (\'not a cache\')')
  const files = { newer: [...previousSnapshot(entries, { userVersion: 3 })], foreign: [...other.export()] }
  other.close()
  const outcome = await page.evaluate(async (files) => {
    const lib = window.voxcacheLib!
    const cache = await lib.openCache({ name: 'vx-import', storage: 'memory' })
    const attempt = async (bytes: number[]) => {
      try {
        await cache.importDatabase(new Uint8Array(bytes))
        return 'imported'
      } catch (e) {
        return `${e instanceof lib.SchemaVersionError ? 'SchemaVersionError' : e instanceof lib.InvalidImportError ? 'InvalidImportError' : 'other'}: ${(e as Error).message}`
      }
    }
    const out = { newer: await attempt(files.newer), foreign: await attempt(files.foreign), entries: (await cache.stats()).entries }
    await cache.close()
    return out
  }, files)
  expect(outcome.newer).toMatch(/^InvalidImportError: .*newer voxcache.*schema 3 is newer .*upgrade voxcache/)
  expect(outcome.foreign).toMatch(/^InvalidImportError: .*no results table/)
  expect(outcome.entries).toBe(0)
})

// The worker sets InvalidImportError's cause to the SchemaVersionError (the README promises it); the
// error channel carries it to the main thread (Comlink alone keeps only name, message and stack).
test('InvalidImportError for a newer export keeps its SchemaVersionError cause across the worker boundary', async ({ page }) => {
  const newer = [...previousSnapshot(await sourceEntries(page), { userVersion: 3 })]
  const got = await page.evaluate(async (bytes) => {
    const lib = window.voxcacheLib!
    const cache = await lib.openCache({ name: 'vx-import-cause', storage: 'memory' })
    try {
      await cache.importDatabase(new Uint8Array(bytes))
      return null
    } catch (e) {
      return { invalidImport: e instanceof lib.InvalidImportError, cause: (e as Error).cause instanceof lib.SchemaVersionError }
    } finally {
      await cache.close()
    }
  }, newer)
  expect(got).toEqual({ invalidImport: true, cause: true })
})
