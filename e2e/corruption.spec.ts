// Damage on disk, case by case: bytes flipped, files truncated or extended, in payload records and in
// the index (snapshot and journal). A damaged entry is a CorruptEntryError and quarantined; a damaged
// index is rebuilt (payload files re-indexed, inline records salvaged when their bytes survived);
// every undamaged entry reads back bit for bit. Entries whose bytes were destroyed are misses, never
// wrong values.
import { randomBytes } from 'node:crypto'
import type { Browser, BrowserContext, Page } from '@playwright/test'
import { xxhash32, xxhash64 } from 'hash-wasm'
import { copyCache, DIGEST_SCRIPT, readCacheFiles, retrieveAll, writeCacheFile } from './cache-files.js'
import { checkGuard, expect, guardContext, openPage, test, type Guard } from './fixtures.js'

const TEMPLATE = 'cx-template'
const NAMES = ['fileNone', 'fileZstd', 'inlineJson', 'inlineZstd', 'pad1', 'pad2', 'lateInline', 'lateFile'] as const
type Name = (typeof NAMES)[number]
/** Inline entries and the index file their record lives in (the first four are in the snapshot). */
const INLINE: Partial<Record<Name, 'index.sqlite' | 'index.journal'>> = {
  inlineJson: 'index.sqlite',
  inlineZstd: 'index.sqlite',
  lateInline: 'index.journal',
}

interface Template {
  ids: Record<Name, string>
  digests: Record<Name, string>
  checksums: Record<Name, string>
}

/**
 * The cache every case starts from: file and inline entries with both codecs, two entries with large
 * metadata whose journal lines force a checkpoint (so there is a snapshot holding the first six), then
 * two entries and an access-time update that only the journal holds.
 */
async function buildTemplate(page: Page): Promise<Template> {
  return page.evaluate(async (name) => {
    const lib = window.voxcacheLib!
    const cache = await lib.openCache({ name })
    await cache.clear()
    const random = (n: number) => {
      const data = new Uint8Array(n)
      for (let at = 0; at < n; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(at + 65536, n)))
      return data
    }
    const image = {
      imageType: { dimension: 3, componentType: 'uint16', pixelType: 'Scalar', components: 1 },
      name: 'phantom', origin: [-10, 2.5, 0], spacing: [0.9, 0.9, 1.5], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size: [64, 64, 16], metadata: new Map<string, unknown>([['modality', 'MR']]),
      data: new Uint16Array(64 * 64 * 16).map((_, i) => (i % 64) * 10 + Math.floor(Math.random() * 16)), // zstd keeps ~40%
    }
    const pad = 'x'.repeat(560_000)
    const plan: [string, unknown, Record<string, unknown>][] = [
      ['fileNone', random(150_000), { codec: 'none' }],
      ['fileZstd', image, { codec: 'zstd' }],
      ['inlineJson', { kind: 'inline', list: [1, 'two', null, { three: 3.5 }] }, { codec: 'none' }],
      ['inlineZstd', new Float32Array(900).map((_, i) => (i % 30) * 0.5), { codec: 'zstd' }],
      ['pad1', new Uint8Array(32).fill(1), { codec: 'none', metadata: { pad } }],
      ['pad2', new Uint8Array(32).fill(2), { codec: 'none', metadata: { pad } }],
      ['lateInline', { late: true, n: 42 }, { codec: 'none' }],
      ['lateFile', random(80_000), { codec: 'none' }],
    ]
    const ids: Record<string, string> = {}
    const digests: Record<string, string> = {}
    const checksums: Record<string, string> = {}
    for (const [key, value, options] of plan) {
      ids[key] = await lib.operationId('corruption', { key })
      digests[key] = await globalThis.vxDigest!(value) // before store() takes the buffer over
      const info = await cache.store(ids[key]!, value as never, options)
      checksums[key] = info.checksum
    }
    await cache.retrieve(ids.fileNone!) // an access-time update, journaled on close
    await cache.close()
    return { ids, digests, checksums } as unknown as Template
  }, TEMPLATE)
}

// ---- where things are in the files ----

const align8 = (n: number) => (n + 7) & ~7
const asText = (bytes: Buffer) => bytes.toString('latin1')

/**
 * Byte ranges of every whole copy of `id`'s record inside raw bytes (a snapshot). SQLite leaves stale
 * copies of moved rows in free space, some partly overwritten: a copy counts when its prefix hash and
 * table checksum hold (xxhash32 and xxhash64, as record format 2 says; frames are checked by the codec).
 */
async function recordRanges(bytes: Buffer, id: string): Promise<[number, number][]> {
  const ranges: [number, number][] = []
  const needle = `{"format":2,"operationId":"${id}"`
  for (let at = asText(bytes).indexOf(needle); at >= 0; at = asText(bytes).indexOf(needle, at + 1)) {
    const start = at - 64
    const length = bytes.readUInt32LE(start + 8)
    const headerBytes = bytes.subarray(at, at + length)
    let header: { storedLength: number; checksum: string }
    try {
      header = JSON.parse(asText(headerBytes)) as typeof header
    } catch {
      continue
    }
    const tableStart = start + align8(64 + length)
    const tableEnd = tableStart + 48 * bytes.readUInt32LE(start + 44)
    const end = tableEnd + header.storedLength
    const prefix = Buffer.from(bytes.subarray(start, start + 64))
    prefix.fill(0, 12, 16)
    if (Number.parseInt(await xxhash32(Buffer.concat([prefix, headerBytes])), 16) !== bytes.readUInt32LE(start + 12)) continue
    if (end > bytes.length || (await xxhash64(bytes.subarray(tableStart, tableEnd))) !== header.checksum) continue
    ranges.push([start, end])
  }
  return ranges
}

/** The journal line that puts `id`, and the base64 record inside it. */
function journalRanges(bytes: Buffer, id: string): { line: [number, number]; data: [number, number] } {
  const text = asText(bytes)
  const key = `"t":"put","row":{"id":"${id}","data":`
  const at = text.indexOf(key)
  if (at < 0) throw new Error(`no put line for ${id}`)
  const lineStart = text.lastIndexOf('\n', at) + 1
  const dataStart = at + key.length + 1
  const line: [number, number] = [lineStart, text.indexOf('\n', at) + 1]
  if (text[dataStart - 1] !== '"') return { line, data: [dataStart, dataStart] } // data: null
  return { line, data: [dataStart, text.indexOf('"', dataStart)] }
}

function find(bytes: Buffer, text: string, from = 0): number {
  const at = asText(bytes).indexOf(text, from)
  if (at < 0) throw new Error(`${text} not found`)
  return at
}

// ---- the cases ----

interface Context {
  t: Template
  /** Whole copies of the snapshot's inline records. */
  copies: Partial<Record<Name, [number, number][]>>
}
type Damage =
  /** Flips one byte, or several (every copy of a record that SQLite left in the file). */
  | { flip: (bytes: Buffer, c: Context) => number | number[]; bit?: number }
  | { truncate: (bytes: Buffer, c: Context) => number }
  | { extend: (bytes: Buffer) => Buffer }

interface Case {
  target: 'fileNone' | 'fileZstd' | 'index.sqlite' | 'index.journal'
  what: string
  damage: Damage
  /** Index cases: whether the damaged index file is set aside and the index rebuilt. */
  rebuilt?: boolean
}

/** Where a format-2 record's body starts: after its prefix, header and frame table. */
const bodyOffset = (b: Buffer) => align8(64 + b.readUInt32LE(8)) + 48 * b.readUInt32LE(44)
const noNewline = (n: number) => Buffer.from(randomBytes(n).map((x) => (x === 0x0a ? 0x20 : x)))

const payloadCases = (target: 'fileNone' | 'fileZstd'): Case[] => [
  { target, what: 'flip magic', damage: { flip: () => 0 } },
  { target, what: 'flip magic version digit (VXC2 → VXC3)', damage: { flip: () => 3, bit: 0x01 } },
  { target, what: 'flip record flags (sealed bit)', damage: { flip: () => 4, bit: 0x01 } },
  { target, what: 'flip header length', damage: { flip: () => 9 } },
  { target, what: 'flip header hash', damage: { flip: () => 13 } },
  { target, what: 'flip key id', damage: { flip: () => 20 } },
  { target, what: 'flip frame count', damage: { flip: () => 44 } },
  { target, what: 'flip table offset', damage: { flip: () => 48 } },
  { target, what: 'flip inside header JSON', damage: { flip: () => 64 + 30 } },
  { target, what: 'flip inside the frame table (an offset)', damage: { flip: (b) => align8(64 + b.readUInt32LE(8)) + 25 } },
  { target, what: 'flip inside the frame table (a frame hash)', damage: { flip: (b) => align8(64 + b.readUInt32LE(8)) + 44 } },
  { target, what: 'flip first body byte', damage: { flip: (b) => bodyOffset(b) } },
  { target, what: 'flip middle of body', damage: { flip: (b) => (bodyOffset(b) + b.length) >> 1 } },
  { target, what: 'flip last byte', damage: { flip: (b) => b.length - 1, bit: 0x80 } },
  { target, what: 'truncate to 0', damage: { truncate: () => 0 } },
  { target, what: 'truncate to 8 (inside prefix)', damage: { truncate: () => 8 } },
  { target, what: 'truncate inside header', damage: { truncate: () => 64 + 40 } },
  { target, what: 'truncate inside the frame table', damage: { truncate: (b) => bodyOffset(b) - 7 } },
  { target, what: 'truncate at body start', damage: { truncate: (b) => bodyOffset(b) } },
  { target, what: 'truncate last byte', damage: { truncate: (b) => b.length - 1 } },
  { target, what: 'extend by 1 zero byte', damage: { extend: (b) => Buffer.concat([b, Buffer.alloc(1)]) } },
  { target, what: 'extend by 4096 random bytes', damage: { extend: (b) => Buffer.concat([b, randomBytes(4096)]) } },
]

const S = 'index.sqlite' as const
const snapshotCases: Case[] = ([
  { target: S, what: 'flip magic', damage: { flip: () => 0 } },
  { target: S, what: 'flip envelope version (1 → 3)', damage: { flip: () => 4, bit: 0x02 } },
  { target: S, what: 'flip envelope length', damage: { flip: () => 9 } },
  { target: S, what: 'flip envelope checksum', damage: { flip: () => 20 } },
  { target: S, what: 'flip SQLite header', damage: { flip: () => 32 + 18 } },
  // SQLite leaves stale copies of moved rows in free space: one copy damaged, another still salvages.
  { target: S, what: 'flip inline record magic, one copy (inlineJson)', damage: { flip: (b, c) => c.copies.inlineJson![0]![0] } },
  { target: S, what: 'flip inline record header, every copy (inlineJson)', damage: { flip: (b, c) => c.copies.inlineJson!.map((r) => r[0] + 64 + 20) } },
  { target: S, what: 'flip inline zstd record body, every copy (inlineZstd)', damage: { flip: (b, c) => c.copies.inlineZstd!.map((r) => r[1] - 2) } },
  { target: S, what: 'flip a digit of the checksum column (fileNone)', damage: { flip: (b, c) => find(b, c.t.checksums.fileNone) + 3, bit: 0x01 } },
  { target: S, what: 'flip a byte in the middle', damage: { flip: (b) => b.length >> 1 } },
  { target: S, what: 'flip near the end', damage: { flip: (b) => b.length - 3 } },
  { target: S, what: 'truncate to 0', damage: { truncate: () => 0 } },
  { target: S, what: 'truncate inside envelope', damage: { truncate: () => 20 } },
  { target: S, what: 'truncate inside SQLite header', damage: { truncate: () => 32 + 60 } },
  { target: S, what: 'truncate to half', damage: { truncate: (b) => b.length >> 1 } },
  { target: S, what: 'truncate last byte', damage: { truncate: (b) => b.length - 1 } },
  { target: S, what: 'extend by 1 byte', damage: { extend: (b) => Buffer.concat([b, Buffer.from([0x2a])]) } },
  { target: S, what: 'extend by 4096 random bytes', damage: { extend: (b) => Buffer.concat([b, randomBytes(4096)]) } },
] satisfies Case[]).map((c) => ({ ...c, rebuilt: true }))

const J = 'index.journal' as const
const journalCases: Case[] = [
  { target: J, what: 'flip header line', rebuilt: true, damage: { flip: () => 5 } },
  { target: J, what: 'flip base64 of an inline record (lateInline)', rebuilt: true, damage: { flip: (b, c) => journalRanges(b, c.t.ids.lateInline).data[0] + 10, bit: 0x01 } },
  { target: J, what: 'flip a digit of sizeBytes (lateFile), still valid JSON', rebuilt: true, damage: { flip: (b, c) => find(b, '"sizeBytes":', journalRanges(b, c.t.ids.lateFile).line[0]) + 13, bit: 0x01 } },
  { target: J, what: 'flip the hits count of a touch, still valid JSON', rebuilt: true, damage: { flip: (b) => find(b, '"hits":') + 7, bit: 0x02 } },
  { target: J, what: 'flip near the end (last whole line)', rebuilt: true, damage: { flip: (b) => b.length - 2 } },
  { target: J, what: 'truncate to 0', rebuilt: true, damage: { truncate: () => 0 } },
  { target: J, what: 'truncate inside header line', rebuilt: true, damage: { truncate: () => 10 } },
  // Cut at a line boundary, a journal looks like an earlier one: nothing to detect, the lines after are gone.
  { target: J, what: 'truncate right after the header line', rebuilt: false, damage: { truncate: (b) => b.indexOf(0x0a) + 1 } },
  // A cut inside a line is what a crash mid-append leaves: the torn line is dropped, not damage.
  { target: J, what: 'truncate inside an inline put line (torn tail)', rebuilt: false, damage: { truncate: (b, c) => journalRanges(b, c.t.ids.lateInline).data[0] + 100 } },
  { target: J, what: 'truncate last byte (torn tail)', rebuilt: false, damage: { truncate: (b) => b.length - 1 } },
  { target: J, what: 'extend by random bytes without newline (torn tail)', rebuilt: false, damage: { extend: (b) => Buffer.concat([b, noNewline(300)]) } },
  { target: J, what: 'extend by a garbage line', rebuilt: true, damage: { extend: (b) => Buffer.concat([b, noNewline(40), Buffer.from('\n')]) } },
  { target: J, what: 'extend by a well-formed "clear" line without checksum', rebuilt: true, damage: { extend: (b) => Buffer.concat([b, Buffer.from('{"g":999,"t":"clear"}\n')]) } },
]

const CASES: Case[] = [...payloadCases('fileNone'), ...payloadCases('fileZstd'), ...snapshotCases, ...journalCases]

function apply(damage: Damage, bytes: Buffer, c: Context): { out: Buffer; ranges: [number, number][] } {
  if ('flip' in damage) {
    const at = [damage.flip(bytes, c)].flat()
    const out = Buffer.from(bytes)
    for (const x of at) out[x]! ^= damage.bit ?? 0xff
    return { out, ranges: at.map((x) => [x, x + 1]) }
  }
  if ('truncate' in damage) {
    const to = damage.truncate(bytes, c)
    return { out: bytes.subarray(0, to), ranges: [[to, Number.POSITIVE_INFINITY]] }
  }
  return { out: damage.extend(bytes), ranges: [] }
}

const overlaps = (a: [number, number], damage: [number, number][]) => damage.some((b) => a[0] < b[1] && b[0] < a[1])

/**
 * What each entry should read as after damage to an index file: intact, unless it is an inline entry
 * whose record bytes the damage reached in every copy (for a truncated journal: whose line it reached, since a torn
 * line is dropped whole), then a miss.
 */
function expectedAfterIndexDamage(c: Case, bytes: Buffer, range: [number, number][], { t, copies }: Context): Record<Name, 'intact' | 'miss'> {
  const out = {} as Record<Name, 'intact' | 'miss'>
  for (const name of NAMES) {
    let hit = false
    if (INLINE[name] === c.target) {
      if (c.target === S) hit = copies[name]!.every((r) => overlaps(r, range))
      else {
        const { line, data } = journalRanges(bytes, t.ids[name])
        hit = 'truncate' in c.damage ? overlaps(line, range) : overlaps(data, range)
      }
    }
    out[name] = hit ? 'miss' : 'intact'
  }
  return out
}

test.describe('corruption on disk', () => {
  // Not serial: every case runs even when one fails (a failure restarts the worker, and beforeAll
  // builds the template again).
  let context: BrowserContext
  let page: Page
  let template: Template
  let files: Map<string, Buffer>
  const copies: Context['copies'] = {}
  const where = (): Context => ({ t: template, copies })
  let guard: Guard

  /** What every case assumes of the template; in beforeAll, so that no case runs on a template without it. */
  async function checkTemplate(): Promise<void> {
    const snapshot = files.get('index.sqlite')!
    const journal = asText(files.get('index.journal')!)
    expect(snapshot, 'a checkpoint wrote a snapshot').toBeDefined()
    for (const name of ['inlineJson', 'inlineZstd'] as const) expect(copies[name]!.length).toBeGreaterThan(0)
    expect(journalRanges(files.get('index.journal')!, template.ids.lateInline).data[1]).toBeGreaterThan(0)
    expect(journal).toContain(`"id":"${template.ids.lateFile}","data":null`)
    expect(journal).toContain('"t":"touch"')
    for (const name of ['fileNone', 'fileZstd', 'pad1', 'pad2', 'lateFile'] as const) expect(files.has(`payloads/${template.ids[name]}.vxc`)).toBe(true)
    for (const name of Object.keys(INLINE)) expect(files.has(`payloads/${template.ids[name as Name]}.vxc`)).toBe(false)
    // Read from a copy: reading updates access times, and the cases start from the untouched template.
    await copyCache(page, TEMPLATE, 'cx-template-check')
    const before = await retrieveAll(page, 'cx-template-check', NAMES.map((n) => template.ids[n]))
    expect(before.outcomes).toEqual(NAMES.map((n) => ({ kind: 'value', digest: template.digests[n] })))
  }

  test.beforeAll(async ({ browser }: { browser: Browser }) => {
    context = await browser.newContext()
    guard = await guardContext(context)
    await context.addInitScript(DIGEST_SCRIPT)
    page = await context.newPage()
    await openPage(page, 'cache=cx-page&storage=memory')
    template = await buildTemplate(page)
    files = await readCacheFiles(page, TEMPLATE)
    for (const name of ['inlineJson', 'inlineZstd'] as const) copies[name] = await recordRanges(files.get(S)!, template.ids[name])
    await checkTemplate()
  })

  test.afterAll(async () => {
    await context.close()
    checkGuard(guard)
  })

  CASES.forEach((c, i) => {
    test(`${c.target === S || c.target === J ? c.target : `payload ${c.target}`}: ${c.what}`, async () => {
      const cache = `cx-case-${i}`
      await copyCache(page, TEMPLATE, cache)
      const path = c.target === S || c.target === J ? c.target : `payloads/${template.ids[c.target]}.vxc`
      const original = files.get(path)!
      const { out, ranges } = apply(c.damage, original, where())
      expect(out.equals(original), 'the damage changes the file').toBe(false)
      await writeCacheFile(page, cache, path, out)

      const ids = NAMES.map((n) => template.ids[n])
      const got = await retrieveAll(page, cache, ids)
      const quarantined = [...(await readCacheFiles(page, cache)).keys()].filter((p) => p.startsWith('quarantine/'))

      if (c.target === 'fileNone' || c.target === 'fileZstd') {
        const victim = NAMES.indexOf(c.target)
        expect(got.outcomes[victim]).toMatchObject({ kind: 'error', corrupt: true, code: 'CORRUPT_ENTRY', entryId: template.ids[c.target] })
        expect(got.stillListed[victim], 'the corrupt entry is no longer listed').toBe(false)
        expect(quarantined).toEqual([expect.stringMatching(new RegExp(`^quarantine/${template.ids[c.target]}\\.`))])
        NAMES.forEach((n, k) => {
          if (k !== victim) expect(got.outcomes[k], n).toEqual({ kind: 'value', digest: template.digests[n] })
        })
        expect(got.entries).toBe(NAMES.length - 1)
        expect(got.stats, 'reported in stats()').toEqual({ indexRecovery: null, quarantined: 1 })
        return
      }

      const expected = expectedAfterIndexDamage(c, original, ranges, where())
      NAMES.forEach((n, k) => {
        expect(got.outcomes[k], n).toEqual(expected[n] === 'intact' ? { kind: 'value', digest: template.digests[n] } : { kind: 'miss' })
      })
      const intact = NAMES.filter((n) => expected[n] === 'intact').length
      expect(got.entries, 'entries listed').toBe(intact)
      expect(quarantined.filter((p) => p.startsWith(`quarantine/${c.target}.`)), 'the damaged file was set aside').toHaveLength(c.rebuilt ? 1 : 0)
      expect(quarantined.filter((p) => !p.startsWith(`quarantine/${c.target}.`)), 'nothing else was set aside').toEqual([])
      // A rebuild is reported by stats() of the page that opened the damaged cache.
      if (c.rebuilt) {
        expect(got.stats.indexRecovery, 'reported in stats()').toMatchObject({ [c.target === S ? 'snapshot' : 'journal']: expect.any(String) })
      } else {
        expect(got.stats.indexRecovery).toBeNull()
      }
      // The rebuilt index is sound: it opens again with nothing more set aside and the same entries.
      const again = await retrieveAll(page, cache, [])
      expect(again.entries).toBe(intact)
      expect(again.stats.indexRecovery).toBeNull()
      const after = [...(await readCacheFiles(page, cache)).keys()].filter((p) => p.startsWith('quarantine/'))
      expect(after).toEqual(quarantined)
    })
  })
})
