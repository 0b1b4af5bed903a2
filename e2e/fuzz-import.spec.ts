// Hostile databases against importDatabase, in real Chromium: a real export is taken apart in this
// (Node) process with sql.js, and rebuilt with >10,000 mutated records, inconsistent rows, and damaged
// SQLite bytes. Every import must either throw InvalidImportError or report each row: imported (and
// then retrieving exactly what its record holds) or rejected with a reason. The cache must keep working.
//
// FUZZ_SEED=<n> replays a run.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Page } from '@playwright/test'
import { recordFigures } from '../test/figures.js'
import initSqlJs, { type SqlJsStatic, type SqlValue } from 'sql.js'
import {
  blindMutation,
  createSigner,
  fuzzSeed,
  HOSTILE_FAMILIES,
  hostileMutation,
  Rng,
  sameBytes,
  recordFormat,
  splitRecord,
  withOperationId,
  type Signer,
} from '../test/fuzz-cases.js'
import { expect, openPage, test } from './fixtures.js'

const SEED = fuzzSeed(process.env.FUZZ_SEED, 0x1e2e)
const TESTDATA = new URL('../../shared/testdata/', import.meta.url)
const COLUMNS = ['operation_id', 'data', 'data_type', 'created_at', 'size_bytes', 'metadata', 'raw_bytes', 'codec',
  'checksum', 'last_accessed_at', 'hits', 'pinned'] as const
/**
 * Forgeries whose value this test can predict without a zstd decoder: not a body edit re-signed (in
 * format 2 the table's frame hashes are re-signed with it).
 */
const HEADER_FAMILIES = HOSTILE_FAMILIES.filter((f) => f !== 'body')

interface Description {
  kind: string
  sha: string
  geometry?: unknown
}

/** A row of the clean export, with what its value is (as the page described it). */
interface Source {
  values: SqlValue[]
  id: string
  data: Uint8Array
  header: Record<string, unknown>
  desc: Description
}

/** What must happen to a row on import. `either`: a forged but possibly valid record, described by its header. */
type Expectation = { kind: 'import'; source: Source } | { kind: 'reject' } | { kind: 'either'; source: Source; header: Record<string, unknown> }

interface Row {
  values: SqlValue[]
  /** The id the import reports the row under (String() of whatever the column holds). */
  reportId: string
  expect: Expectation
  family: string
  mutatedRecord: boolean
}

/** Page side: what a retrieved value is, as comparable plain data (kind, SHA-256 of its bytes, geometry). */
async function describeInPage(page: Page, cacheName: string, storage: string, url: string) {
  const run = page.evaluate(
    async ({ cacheName, storage, url }) => {
      const lib = window.voxcacheLib!
      const stage = (name: string) => ((window as unknown as { fuzzStage: string }).fuzzStage = name)
      const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('')
      const describe = async (v: unknown) => {
        const sha = async (bytes: Uint8Array) => hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
        if (v instanceof ArrayBuffer) return { kind: 'ArrayBuffer', sha: await sha(new Uint8Array(v)) }
        if (ArrayBuffer.isView(v)) return { kind: v.constructor.name, sha: await sha(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) }
        if (v && typeof v === 'object' && 'imageType' in v && 'data' in v) {
          const im = v as unknown as { imageType: unknown; name: string; origin: number[]; spacing: number[]; direction: ArrayLike<number>; size: number[]; metadata: Map<string, unknown>; data: ArrayBufferView }
          return {
            kind: 'Image',
            sha: await sha(new Uint8Array(im.data.buffer, im.data.byteOffset, im.data.byteLength)),
            geometry: { imageType: im.imageType, name: im.name, origin: im.origin, spacing: im.spacing, direction: Array.from(im.direction), size: im.size, metadata: [...im.metadata] },
          }
        }
        return { kind: 'json', sha: await sha(new TextEncoder().encode(JSON.stringify(v))) }
      }
      stage('open')
      const cache = await lib.openCache({ name: cacheName, storage: storage as 'memory' })
      stage('clear')
      await cache.clear()
      stage('fetch')
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer())
      stage('import')
      const started = performance.now()
      let report: Awaited<ReturnType<typeof cache.importDatabase>> | undefined
      let error: { name: string; invalidImport: boolean; message: string } | undefined
      try {
        report = await cache.importDatabase(bytes)
      } catch (e) {
        error = { name: (e as Error)?.name, invalidImport: e instanceof lib.InvalidImportError, message: String((e as Error)?.message) }
      }
      const ms = performance.now() - started
      stage('retrieve')
      const entries: { id: string; metadata: unknown; desc: Awaited<ReturnType<typeof describe>> }[] = []
      // Metadata goes back as a digest of its canonical JSON: a forged one can be thousands of levels
      // deep, and Playwright's own (de)serialization of such a value takes minutes.
      const canonical = (value: unknown) =>
        JSON.stringify(value, (_, v: unknown) =>
          v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
        )
      const textSha = async (text: string) => hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
      for (const info of await cache.list()) {
        entries.push({ id: info.id, metadata: await textSha(canonical(info.metadata)), desc: await describe(await cache.retrieve(info.id)) })
      }
      // The cache still works after whatever it was fed.
      stage('probe')
      const probe = await lib.operationId('fuzz-probe', { cacheName })
      await cache.store(probe, new Float64Array([1, 2, 3]), { codec: 'zstd' })
      const back = await cache.retrieve(probe)
      const works = back instanceof Float64Array && back.length === 3 && back[2] === 3
      stage('close')
      await cache.clear()
      await cache.close()
      stage('done')
      return { report, error, ms, entries, works }
    },
    { cacheName, storage, url },
  )
  // A stuck import fails at the test's timeout; the afterEach below then says at which step it was.
  return run
}

/**
 * Serves built databases to the page from this process, over plain HTTP on localhost: Playwright's
 * route.fulfill ships bodies through the DevTools protocol, and after ~100 MB of them its process
 * spun for minutes. Returns the base URL.
 */
async function serve(files: Map<string, Uint8Array>): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    const body = files.get(decodeURIComponent((req.url ?? '').split('/').pop() ?? ''))
    res.setHeader('Access-Control-Allow-Origin', '*')
    res.statusCode = body ? 200 : 404
    res.end(body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  server.unref() // a failed assertion skips close(); the server must not keep the worker alive
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}

const hexId = (n: number, salt: number) => (n * 2654435761 + salt).toString(16).padStart(8, '0').repeat(8).slice(0, 64)

/** Rows of mutated records and inconsistent rows, built from re-issued copies of the sources. */
function buildRows(rng: Rng, signer: Signer, sources: Source[], count: number, salt: number, bomb = false): Row[] {
  const rows: Row[] = []
  const row = (src: Source, id: SqlValue, data: SqlValue, expectation: Expectation, family: string, mutatedRecord: boolean, edit: Partial<Record<(typeof COLUMNS)[number], SqlValue>> = {}) => {
    const values = COLUMNS.map((c, i) => (c in edit ? edit[c]! : c === 'operation_id' ? id : c === 'data' ? data : src.values[i]!))
    rows.push({ values, reportId: String(id), expect: expectation, family, mutatedRecord })
  }
  for (let n = 0; n < count; n++) {
    const src = sources[rng.int(sources.length)]!
    const id = hexId(n, salt)
    const base = withOperationId(signer, src.data, id)
    const r = rng.int(100)
    if (r < 3) {
      row(src, id, base, { kind: 'import', source: src }, 'control', false)
    } else if (r < 10) {
      const family = rng.pick(['row-data-type', 'row-id-mismatch', 'row-id-invalid', 'row-data-missing', 'row-metadata',
        'row-pinned', 'row-numbers'])
      const keep: Expectation = { kind: 'import', source: src }
      if (family === 'row-data-type') {
        const other = rng.pick(['Image', 'json', 'Uint8Array', 'Float32Array', 'ArrayBuffer', 'image', '', 'Int16Array'].filter((t) => t !== src.header.dataType))
        row(src, id, base, { kind: 'reject' }, family, false, { data_type: other })
      } else if (family === 'row-id-mismatch') {
        row(src, hexId(n, salt + 1), base, { kind: 'reject' }, family, false)
      } else if (family === 'row-id-invalid') {
        row(src, rng.pick([id.toUpperCase(), `${id}0`, id.slice(1), `${n}`, `x${id.slice(1)}`]), base, { kind: 'reject' }, family, false)
      } else if (family === 'row-data-missing') {
        row(src, id, rng.pick([null, 42, 'VXC1 text, not a blob', 1.5]), { kind: 'reject' }, family, false)
      } else if (family === 'row-metadata') {
        row(src, id, base, keep, family, false, { metadata: rng.pick(['{', 'not json', '{"__proto__":{"polluted":1}}', '[[[[', '']) })
      } else if (family === 'row-pinned') {
        row(src, id, base, keep, family, false, { pinned: rng.pick([7, -1, 'yes', null, 1.5]) })
      } else {
        row(src, id, base, keep, family, false, {
          size_bytes: rng.pick([-1, 0, 2 ** 53, 'big', null]), raw_bytes: rng.pick([-5, 1e18, null, 'x']),
          codec: rng.pick(['gzip', null, '']), checksum: rng.pick(['zz', null, '']), hits: rng.pick([-3, 'many', null]),
        })
      }
    } else if (r < 55) {
      const other = withOperationId(signer, sources[rng.int(sources.length)]!.data, id)
      const m = blindMutation(rng, base, other)
      const same = sameBytes(m.bytes, base) ? src : sameBytes(m.bytes, other) ? undefined : null
      // A splice can rebuild the other record whole: then that record is what must import.
      const otherSrc = same === undefined ? sources.find((s) => sameBytes(withOperationId(signer, s.data, id), m.bytes)) : undefined
      // (Unless the row's data_type, which is src's, then disagrees with it.)
      const expectation: Expectation = same
        ? { kind: 'import', source: same }
        : otherSrc && otherSrc.header.dataType === src.header.dataType
          ? { kind: 'import', source: otherSrc }
          : { kind: 'reject' }
      row(src, id, m.bytes, expectation, m.family, !sameBytes(m.bytes, base))
    } else {
      let m = hostileMutation(rng, signer, base, undefined, bomb ? [...HEADER_FAMILIES, 'tiny-frames', 'tiny-frames'] : HEADER_FAMILIES)
      // Megabyte headers (long metadata) are the unit fuzz's business; here they would make each
      // database hundreds of megabytes to ship into the page.
      while (m.bytes.byteLength > base.byteLength + 64 * 1024) m = hostileMutation(rng, signer, base, undefined, HEADER_FAMILIES)
      let header: Record<string, unknown> | undefined
      try {
        // Format 2 (what the export holds): the header after the 64-byte prefix, its length at byte 8.
        const two = recordFormat(m.bytes) === 2
        const at = two ? 64 : 16
        header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(m.bytes.subarray(at, at + new DataView(m.bytes.buffer).getUint32(two ? 8 : 4, true))))
      } catch {
        header = undefined
      }
      const expectation: Expectation = header && typeof header === 'object' ? { kind: 'either', source: src, header } : { kind: 'reject' }
      row(src, id, m.bytes, expectation, m.family, !sameBytes(m.bytes, base))
    }
  }
  return rows
}

/** A database like the export (same schema and version), holding `rows`. */
function buildDatabase(SQL: SqlJsStatic, exported: Uint8Array, rows: Row[]): Uint8Array {
  const db = new SQL.Database(exported)
  db.run('DELETE FROM results')
  const stmt = db.prepare(`INSERT INTO results (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`)
  db.run('BEGIN')
  for (const r of rows) stmt.run(r.values)
  db.run('COMMIT')
  stmt.free()
  const bytes = db.export()
  db.close()
  return bytes
}

interface ImportResult {
  report?: { imported: number; skipped: number; rejected: { id: string; reason: string }[] }
  error?: { name: string; invalidImport: boolean; message: string }
  ms: number
  /** SHA-256 of the canonical JSON of the entry's metadata. */
  entries: { id: string; metadata: string; desc: Description }[]
  works: boolean
}

/** JSON with sorted keys: equality of plain data, where -0 is 0 as JSON has it. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  )
}

/**
 * Collects failures and asserts once: Playwright records every expect() as a step, and tens of
 * thousands of them in one test made its worker spin for minutes (and a failing toEqual on a forged
 * 500 KB string diffs for as long).
 */
class Problems {
  readonly list: string[] = []
  check(ok: boolean, message: () => string): void {
    if (!ok && this.list.length < 20) this.list.push(message())
  }
  same(got: unknown, want: unknown, message: () => string): void {
    const [a, b] = [canonical(got), canonical(want)]
    this.check(a === b, () => `${message()}\n  got  ${a?.slice(0, 300)}\n  want ${b?.slice(0, 300)}`)
  }
}

const metadataSha = (value: unknown) => createHash('sha256').update(canonical(value)).digest('hex')

const normalImage = (im: Record<string, unknown>) => ({
  imageType: im.imageType, name: im.name, origin: im.origin, spacing: im.spacing, direction: im.direction, size: im.size, metadata: im.metadata,
})

/** Checks one import of built rows against what each row must become. Returns outcome counts. */
function checkImport(label: string, rows: Row[], result: ImportResult) {
  expect(result.works, `${label}: the cache works after the import`).toBe(true)
  expect(result.error, `${label}: import of a well-formed database threw`).toBeUndefined()
  const p = new Problems()
  const report = result.report!
  const entries = new Map(result.entries.map((e) => [e.id, e]))
  const rejected = new Map<string, number>()
  const reasons = new Map(report.rejected.map((r) => [r.id, r.reason]))
  for (const r of report.rejected) {
    p.check(typeof r.reason === 'string' && r.reason.length > 0, () => `rejection of ${r.id} gives no reason`)
    rejected.set(r.id, (rejected.get(r.id) ?? 0) + 1)
  }
  expect(report.skipped, label).toBe(0)
  expect(report.imported, `${label}: imported count`).toBe(entries.size)
  expect(report.imported + report.rejected.length, `${label}: every row is reported`).toBe(rows.length)
  const counts = { imported: 0, rejected: 0, mutatedImported: 0, mutatedRejected: 0 }
  for (const row of rows) {
    const got = entries.get(row.reportId)
    const where = () => `row ${row.reportId.slice(0, 16)}… (${row.family}, expected ${row.expect.kind})`
    if (!got) {
      p.check((rejected.get(row.reportId) ?? 0) > 0, () => `${where()}: neither imported nor rejected`)
      p.check(row.expect.kind !== 'import', () => `${where()}: was rejected: ${reasons.get(row.reportId)}`)
      counts.rejected++
      if (row.mutatedRecord) counts.mutatedRejected++
      continue
    }
    p.check(row.expect.kind !== 'reject', () => `${where()}: was imported`)
    const e = row.expect as Exclude<Expectation, { kind: 'reject' }>
    if (e.kind === 'import') {
      p.same(got.desc, e.source.desc, () => `${where()}: does not retrieve its original bytes`)
      p.check(got.metadata === metadataSha(e.source.header.metadata), () => `${where()}: metadata differs`)
    } else if (e.kind === 'either') {
      // A forged header that passed: the value is the original body read the way the header says.
      const h = e.header
      p.check(got.desc.kind === h.dataType, () => `${where()}: retrieves a ${got.desc.kind}, the record says ${String(h.dataType)}`)
      p.check(got.desc.sha === e.source.desc.sha, () => `${where()}: value bytes differ from the record's`)
      if (h.dataType === 'Image') p.same(got.desc.geometry, normalImage(h.image as Record<string, unknown>), () => `${where()}: geometry`)
      p.check(got.metadata === metadataSha(h.metadata), () => `${where()}: metadata differs from the record's`)
    }
    counts.imported++
    if (row.mutatedRecord) counts.mutatedImported++
  }
  expect(p.list, `${label}: rows imported or rejected wrongly`).toEqual([])
  return counts
}

// On a failure (a hang that hit the timeout included), say which step of describeInPage the page was in.
test.afterEach(async ({ page }, info) => {
  if (info.status === info.expectedStatus) return
  const stage = await page.evaluate(() => (window as unknown as { fuzzStage?: string }).fuzzStage).catch(() => 'unknown')
  info.annotations.push({ type: 'stuck at', description: String(stage) })
  console.log(`import fuzz: the page was at step "${stage}"`)
})

test('importDatabase refuses or exactly imports >10,000 mutated records, bad rows and damaged files', async ({ page }) => {
  test.setTimeout(300_000)
  const started = Date.now()
  console.log(`import fuzz: seed ${SEED} (FUZZ_SEED=${SEED} replays)`)
  await openPage(page, 'cache=fz-source&storage=memory')
  // The sources: real values stored in the page (a real MRI slice decoded by itk-wasm, a brain volume
  // for multi-frame zstd, typed arrays of several kinds, JSON incl. null), exported as one database.
  const read = (name: string) => Array.from(readFileSync(new URL(name, TESTDATA)))
  const exported = await page.evaluate(
    async ({ mha, raw, brain }) => {
      const cache = window.voxcache!
      const lib = window.voxcacheLib!
      await cache.clear()
      const slice = await cache.decode([{ name: 'RatLungSlice1.mha', data: new Uint8Array(mha) }, { name: 'RatLungSlice1.raw', data: new Uint8Array(raw) }])
      const head = await cache.decode({ name: 'ch2bet.nii.gz', data: new Uint8Array(brain) })
      const values: [string, unknown, 'none' | 'zstd'][] = [
        ['int16', new Int16Array(700).map((_, i) => (i * 7) % 3000 - 1500), 'none'],
        ['float32', new Float32Array(600).map((_, i) => Math.round(Math.sin(i / 40) * 100) / 4), 'zstd'],
        ['uint8-zeros', new Uint8Array(3000), 'zstd'],
        ['bigint', new BigInt64Array([-(2n ** 63n), 7n]), 'none'],
        ['bytes', new Uint8Array([1, 2, 3, 4, 5]).buffer, 'none'],
        ['json', { a: [1, 'é', { b: true }], n: -0.5 }, 'zstd'],
        ['null', null, 'none'],
        ['small-image', { imageType: { dimension: 2, componentType: 'uint16', pixelType: 'Scalar', components: 1 }, name: 'crop',
          origin: [1, 2], spacing: [0.5, 0.5], direction: new Float64Array([1, 0, 0, 1]), size: [20, 20], metadata: new Map([['k', 'v']]),
          data: new Uint16Array(400).map((_, i) => (i * 37) % 1000) }, 'none'],
      ]
      for (const [name, value, codec] of values) {
        await cache.store(await lib.operationId('fuzz-source', { name }), value as never, { codec, metadata: { name } })
      }
      const brainId = (await cache.list()).find((e) => e.dataType === 'Image' && e.sizeBytes > 1_000_000)!.id
      const bytes = new Uint8Array(await (await cache.exportDatabase()).arrayBuffer())
      void slice
      void head
      let binary = ''
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
      return { base64: btoa(binary), brainId }
    },
    { mha: read('RatLungSlice1.mha'), raw: read('RatLungSlice1.raw'), brain: read('ch2bet.nii.gz') },
  )
  const exportBytes = new Uint8Array(Buffer.from(exported.base64, 'base64'))

  // Take the export apart in Node, and learn what each value is from a clean import in the page.
  const SQL = await initSqlJs()
  const signer = await createSigner()
  const files = new Map<string, Uint8Array>([['clean.sqlite', exportBytes]])
  const server = await serve(files)
  const clean = (await describeInPage(page, 'fz-clean', 'memory', `${server.url}/clean.sqlite`)) as ImportResult
  expect(clean.report).toEqual({ imported: 10, skipped: 0, rejected: [] })
  const described = new Map(clean.entries.map((e) => [e.id, e.desc]))
  const db = new SQL.Database(exportBytes)
  const all: Source[] = (db.exec(`SELECT ${COLUMNS.join(', ')} FROM results ORDER BY operation_id`)[0]?.values ?? []).map((values) => {
    const data = values[1] as Uint8Array
    return { values, id: values[0] as string, data, header: splitRecord(data).header, desc: described.get(values[0] as string)! }
  })
  db.close()
  const small = all.filter((s) => s.id !== exported.brainId)
  const brain = all.filter((s) => s.id === exported.brainId)
  expect(brain).toHaveLength(1)

  // Databases of mutated rows: four of small records, one of the 1.3 MB multi-frame brain.
  const rng = new Rng(SEED)
  const plans: { name: string; rows: Row[]; storage: string }[] = []
  for (let i = 0; i < 4; i++) plans.push({ name: `rows-${i}.sqlite`, rows: buildRows(rng, signer, small, 2_900, 1000 * i), storage: 'memory' })
  plans.push({ name: 'brain.sqlite', rows: buildRows(rng, signer, brain, 24, 9000, true), storage: 'opfs' })
  for (const plan of plans) files.set(plan.name, buildDatabase(SQL, exportBytes, plan.rows))

  const totals = { rows: 0, mutatedRecords: 0, imported: 0, rejected: 0, mutatedImported: 0, mutatedRejected: 0 }
  const families = new Map<string, { imported: number; rejected: number }>()
  let slowest = 0
  console.log(`import fuzz: sources and ${plans.length} databases ready after ${((Date.now() - started) / 1000).toFixed(1)} s`)
  for (const plan of plans) {
    if (process.env.FUZZ_ONLY && !process.env.FUZZ_ONLY.split(',').includes(plan.name)) continue
    const result = (await describeInPage(page, `fz-${plan.name}`, plan.storage, `${server.url}/${plan.name}`)) as ImportResult
    console.log(`import fuzz: ${plan.name} (${files.get(plan.name)!.byteLength} bytes, ${plan.rows.length} rows) imported in ${Math.round(result.ms)} ms`)
    slowest = Math.max(slowest, result.ms)
    const c = checkImport(plan.name, plan.rows, result)
    totals.rows += plan.rows.length
    totals.mutatedRecords += plan.rows.filter((r) => r.mutatedRecord).length
    totals.imported += c.imported
    totals.rejected += c.rejected
    totals.mutatedImported += c.mutatedImported
    totals.mutatedRejected += c.mutatedRejected
    const ids = new Set(result.entries.map((e) => e.id))
    for (const r of plan.rows) {
      const f = families.get(r.family) ?? { imported: 0, rejected: 0 }
      if (ids.has(r.reportId)) f.imported++
      else f.rejected++
      families.set(r.family, f)
    }
  }
  expect(totals.mutatedRecords).toBeGreaterThanOrEqual(10_000)

  // Damaged SQLite files: the clean export with its bytes flipped, cut, extended, shuffled or replaced.
  const fileRng = new Rng(SEED ^ 0xdb)
  const damaged: { name: string; kind: string }[] = []
  const page4k = 4096
  for (let i = 0; i < 80; i++) {
    const kind = fileRng.pick(['flip', 'set', 'truncate', 'extend', 'zero-page', 'swap-pages', 'garbage', 'header'])
    let b: Uint8Array = exportBytes.slice()
    if (kind === 'flip') for (let n = 1 + fileRng.int(16); n > 0; n--) b[fileRng.int(b.length)]! ^= 1 << fileRng.int(8)
    else if (kind === 'set') for (let n = 1 + fileRng.int(8); n > 0; n--) b[fileRng.int(b.length)] = fileRng.pick([0, 0xff, fileRng.int(256)])
    else if (kind === 'truncate') b = b.slice(0, fileRng.chance(0.5) ? fileRng.int(b.length) : page4k * fileRng.int(Math.ceil(b.length / page4k)))
    else if (kind === 'extend') b = new Uint8Array([...b, ...(fileRng.chance(0.5) ? new Uint8Array(page4k) : fileRng.bytes(1 + fileRng.int(page4k * 2)))])
    else if (kind === 'zero-page') {
      const at = page4k * fileRng.int(Math.floor(b.length / page4k))
      b.fill(0, at, at + page4k)
    }
    else if (kind === 'swap-pages') {
      const pages = Math.floor(b.length / page4k)
      const [p, q] = [fileRng.int(pages), fileRng.int(pages)]
      const tmp = b.slice(p * page4k, (p + 1) * page4k)
      b.copyWithin(p * page4k, q * page4k, (q + 1) * page4k)
      b.set(tmp, q * page4k)
    } else if (kind === 'garbage') {
      b = fileRng.bytes(fileRng.pick([0, 1, 100, page4k, 3 * page4k]))
      if (fileRng.chance(0.5) && b.length >= 16) b.set(new TextEncoder().encode('SQLite format 3\0'))
    } else {
      // The 100-byte database header: page size, counts, schema cookie, encoding, version numbers.
      for (let n = 1 + fileRng.int(4); n > 0; n--) b[16 + fileRng.int(84)] = fileRng.int(256)
    }
    const name = `damaged-${i}.sqlite`
    files.set(name, b)
    damaged.push({ name, kind })
  }
  const fileOutcomes = { invalidImport: 0, reported: 0 }
  for (const { name, kind } of damaged) {
    const result = (await describeInPage(page, 'fz-damaged', 'memory', `${server.url}/${name}`)) as ImportResult
    slowest = Math.max(slowest, result.ms)
    expect(result.works, `${name} (${kind}): the cache works after the import`).toBe(true)
    if (result.error) {
      expect(result.error.invalidImport, `${name} (${kind}): threw ${result.error.name}: ${result.error.message}`).toBe(true)
      expect(result.entries.length, `${name}: nothing imported by a refused file`).toBe(0)
      fileOutcomes.invalidImport++
      continue
    }
    const report = result.report!
    expect(report.imported, `${name}: imported count`).toBe(result.entries.length)
    const p = new Problems()
    for (const r of report.rejected) p.check(r.reason.length > 0, () => `rejection of ${r.id} gives no reason`)
    for (const e of result.entries) {
      const source = all.find((s) => s.id === e.id)
      p.check(source !== undefined, () => `imported ${e.id}, which was never exported`)
      if (source) p.same(e.desc, source.desc, () => `${e.id} does not retrieve its original bytes`)
    }
    expect(p.list, `${name} (${kind})`).toEqual([])
    fileOutcomes.reported++
  }

  // Every row and file is accounted for, and the fuzz reached every outcome (or it proves less).
  expect(totals.mutatedImported + totals.mutatedRejected).toBe(totals.mutatedRecords)
  expect(totals.imported + totals.rejected).toBe(totals.rows)
  expect(totals.mutatedRejected).toBeGreaterThan(0)
  expect(totals.mutatedImported, 're-signed forgeries that are valid records of another value').toBeGreaterThan(0)
  expect(fileOutcomes.invalidImport + fileOutcomes.reported).toBe(damaged.length)
  expect(fileOutcomes.invalidImport, 'damaged files refused whole').toBeGreaterThan(0)
  expect(fileOutcomes.reported, 'damaged files judged row by row').toBeGreaterThan(0)
  recordFigures('fuzz-import', { seed: SEED, databases: plans.length, ...totals, damagedFiles: damaged.length, ...fileOutcomes })
  console.log(
    `import fuzz: ${totals.rows} rows in ${plans.length} databases, ${totals.mutatedRecords} of them mutated records ` +
      `(${totals.mutatedRejected} rejected, ${totals.mutatedImported} imported exactly as their record says); all rows: ` +
      `${totals.imported} imported, ${totals.rejected} rejected. ${damaged.length} damaged files: ${fileOutcomes.invalidImport} ` +
      `InvalidImportError, ${fileOutcomes.reported} reported row by row. Slowest import ${Math.round(slowest)} ms; ` +
      `whole test ${((Date.now() - started) / 1000).toFixed(1)} s.\n` +
      [...families].sort().map(([f, c]) => `  ${f.padEnd(16)} ${JSON.stringify(c)}`).join('\n'),
  )
  server.close()
})
