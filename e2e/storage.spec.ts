import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from '@playwright/test'
import { listCacheFiles } from './cache-files.js'
import { expect, HARNESS, openPage, test } from './fixtures.js'

/** Random (incompressible) bytes of a given size, stored under op `name`; returns the id. */
async function storeRandom(page: Page, op: string, bytes: number, extra: Record<string, unknown> = {}) {
  return page.evaluate(
    async ({ op, bytes, extra }) => {
      const data = new Uint8Array(bytes)
      for (let at = 0; at < bytes; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(at + 65536, bytes)))
      const id = await window.voxcacheLib!.operationId(op, extra)
      await window.voxcache!.store(id, data, { codec: 'none' })
      return id
    },
    { op, bytes, extra },
  )
}

/** The names of the files in one folder of this cache in OPFS. */
async function opfsList(page: Page, cache: string, dir: string, { underLock = true } = {}): Promise<string[]> {
  return Object.keys(await listCacheFiles(page, cache, 'opfs', { underLock }))
    .filter((path) => path.startsWith(`${dir}/`))
    .map((path) => path.slice(dir.length + 1))
    .sort()
}

test('a corrupted payload is a CorruptEntryError, quarantined, and nothing else is lost', async ({ page }) => {
  await openPage(page, 'cache=st-corrupt')
  await page.evaluate(() => window.voxcache!.clear())
  const victim = await storeRandom(page, 'victim', 300_000)
  const bystander = await storeRandom(page, 'bystander', 300_000)
  // Flip one byte in the middle of the victim's body, as a disk or a buggy tool might.
  await page.evaluate(async (id) => {
    const root = await navigator.storage.getDirectory()
    const dir = await (await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle('st-corrupt')).getDirectoryHandle('payloads')
    const file = await dir.getFileHandle(`${id}.vxc`)
    const bytes = new Uint8Array(await (await file.getFile()).arrayBuffer())
    bytes[150_000]! ^= 0x01
    const w = await file.createWritable()
    await w.write(bytes)
    await w.close()
  }, victim)
  const result = await page.evaluate(
    async ({ victim, bystander }) => {
      const cache = window.voxcache!
      const lib = window.voxcacheLib!
      let error: unknown
      try {
        await cache.retrieve(victim)
      } catch (e) {
        error = e
      }
      const other = (await cache.retrieve(bystander)) as Uint8Array
      return {
        isCorrupt: error instanceof lib.CorruptEntryError,
        code: (error as { code?: string }).code,
        message: (error as Error).message,
        entryId: (error as { entryId?: string }).entryId,
        victimStillListed: await cache.has(victim),
        bystanderBytes: other.byteLength,
      }
    },
    { victim, bystander },
  )
  expect(result.isCorrupt).toBe(true)
  expect(result.code).toBe('CORRUPT_ENTRY')
  expect(result.message).toContain('checksum')
  expect(result.entryId).toBe(victim)
  expect(result.victimStillListed).toBe(false)
  expect(result.bystanderBytes).toBe(300_000)
  const quarantined = await opfsList(page, 'st-corrupt', 'quarantine')
  expect(quarantined.some((n) => n.startsWith(victim))).toBe(true)
})

test('memoize treats a corrupted result as a miss: quarantined and recomputed', async ({ page }) => {
  await openPage(page, 'cache=st-corrupt-memo')
  const id = await page.evaluate(async () => {
    await window.voxcache!.clear()
    await window.voxcache!.memoize('noisy', { n: 1 }, () => new Float32Array(200_000).fill(1.5), { codec: 'none' })
    return window.voxcacheLib!.operationId('noisy', { n: 1 })
  })
  await page.evaluate(async (id) => {
    const root = await navigator.storage.getDirectory()
    const dir = await (await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle('st-corrupt-memo')).getDirectoryHandle('payloads')
    const file = await dir.getFileHandle(`${id}.vxc`)
    const w = await file.createWritable({ keepExistingData: true })
    await w.write({ type: 'write', position: 500_000, data: new Uint8Array([0xde, 0xad]) })
    await w.close()
  }, id)
  const after = await page.evaluate(async () => {
    let calls = 0
    const value = await window.voxcache!.memoize('noisy', { n: 1 }, () => {
      calls++
      return new Float32Array(200_000).fill(1.5)
    })
    return { calls, ok: value.length === 200_000 && value.every((v) => v === 1.5), stored: await window.voxcache!.has(await window.voxcacheLib!.operationId('noisy', { n: 1 })) }
  })
  expect(after).toEqual({ calls: 1, ok: true, stored: true })
  expect((await opfsList(page, 'st-corrupt-memo', 'quarantine')).some((n) => n.startsWith(id))).toBe(true)
})

test('two tabs storing 50 entries each at once: all 100 are listed in both and after a reopen', async ({ context }) => {
  const [a, b] = [await context.newPage(), await context.newPage()]
  await openPage(a, 'cache=st-tabs')
  await openPage(b, 'cache=st-tabs')
  await a.evaluate(() => window.voxcache!.clear())
  const writer = (tab: string) => async (page: Page) =>
    page.evaluate(async (tab) => {
      const cache = window.voxcache!
      const lib = window.voxcacheLib!
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const id = await lib.operationId('tabs', { tab, i })
          const data = new Uint16Array(2000 + i).fill(i)
          await cache.store(id, data)
        }),
      )
    }, tab)
  await Promise.all([writer('a')(a), writer('b')(b)])
  const counts = await Promise.all([a, b].map((p) => p.evaluate(async () => (await window.voxcache!.list()).length)))
  expect(counts).toEqual([100, 100])
  const c = await context.newPage()
  await openPage(c, 'cache=st-tabs')
  const fromC = await c.evaluate(async () => {
    const cache = window.voxcache!
    const lib = window.voxcacheLib!
    const list = await cache.list()
    const sample = (await cache.retrieve(await lib.operationId('tabs', { tab: 'b', i: 49 }))) as Uint16Array
    return { count: list.length, sample: [sample.length, sample[0]] }
  })
  expect(fromC).toEqual({ count: 100, sample: [2049, 49] })
})

test('a full budget evicts the least recently used entries down to the low-water mark; pinned ones stay', async ({ page }) => {
  // 1 MB budget, low water 0.9 MB; entries of 200 kB.
  await openPage(page, 'cache=st-budget&maxBytes=1000000')
  await page.evaluate(() => window.voxcache!.clear())
  const ids: string[] = []
  for (let i = 0; i < 4; i++) ids.push(await storeRandom(page, 'budget', 200_000, { i }))
  await page.evaluate(async (ids) => {
    await window.voxcache!.pin(ids[1]!)
    await window.voxcache!.retrieve(ids[0]!) // 0 becomes the most recently used
  }, ids)
  ids.push(await storeRandom(page, 'budget', 200_000, { i: 4 }))
  const after = await page.evaluate(async (ids) => {
    const cache = window.voxcache!
    return { present: await Promise.all(ids.map((id) => cache.has(id))), stats: await cache.stats() }
  }, ids)
  // 5 × 200 kB > 1 MB: evict LRU (2, then 3) until ≤ 0.9 MB − 200 kB; 0 was used, 1 is pinned.
  expect(after.present).toEqual([true, true, false, false, true])
  expect(after.stats.evictions).toBe(2)
  expect(after.stats.bytes).toBeLessThanOrEqual(1_000_000)
  expect(after.stats.pinnedBytes).toBeGreaterThan(200_000)

  const tooBig = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    try {
      await window.voxcache!.store(await lib.operationId('huge', {}), new Uint8Array(900_000), { codec: 'none' })
      return 'stored'
    } catch (e) {
      return e instanceof lib.CacheFullError ? 'CacheFullError' : String(e)
    }
  })
  expect(tooBig).toBe('CacheFullError')
  const stillThere = await page.evaluate(async (ids) => Promise.all(ids.map((id) => window.voxcache!.has(id))), ids)
  expect(stillThere).toEqual([true, true, false, false, true])
})

test("the browser's quota: one evict-and-retry, then CacheFullError with nothing else lost", async ({ page, context }) => {
  await openPage(page, 'cache=st-quota&maxBytes=10000000000')
  await page.evaluate(() => window.voxcache!.destroy())
  const cdp = await context.newCDPSession(page)
  const origin = new URL(page.url()).origin
  const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0)
  // Room for about three 8 MB entries above what the origin already uses.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + 27_000_000 })
  try {
    await page.reload()
    await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push(await storeRandom(page, 'quota', 8_000_000, { i }))
    const counters = async () =>
      page.evaluate(async () => {
        const { evictions, quotaRetries } = await window.voxcache!.stats()
        return { evictions, quotaRetries, log: (await window.voxcache!.evictions()).map((e) => ({ id: e.id, reason: e.reason })) }
      })
    expect(await counters(), 'three fit without eviction').toEqual({ evictions: 0, quotaRetries: 0, log: [] })
    ids.push(await storeRandom(page, 'quota', 8_000_000, { i: 3 })) // refused once, evicts, retried
    const present = await page.evaluate(async (ids) => Promise.all(ids.map((id) => window.voxcache!.has(id))), ids)
    // Other data of the origin (the demo's service worker precache) shares the quota, so how many
    // entries had to go may vary; they must be the least recently used ones, and the new one is in.
    expect(present[3]).toBe(true)
    const kept = present.indexOf(true)
    expect(kept).toBeGreaterThan(0)
    expect(present.slice(kept)).toEqual(present.slice(kept).map(() => true))
    // Exactly one refusal, one eviction round for the quota (the oldest entries, by id), one retry.
    const gone = ids.slice(0, kept)
    expect(await counters()).toEqual({ evictions: gone.length, quotaRetries: 1, log: gone.map((id) => ({ id, reason: 'quota' })) })
    const huge = await page.evaluate(async () => {
      const lib = window.voxcacheLib!
      try {
        await window.voxcache!.store(await lib.operationId('quota-huge', {}), new Uint8Array(60_000_000), { codec: 'none' })
        return 'stored'
      } catch (e) {
        return e instanceof lib.CacheFullError ? 'CacheFullError' : `${(e as Error).name}: ${(e as Error).message}`
      }
    })
    expect(huge).toBe('CacheFullError')
    // Even evicting everything could not make room: nothing was evicted for it and nothing retried.
    expect(await counters()).toEqual({ evictions: gone.length, quotaRetries: 1, log: gone.map((id) => ({ id, reason: 'quota' })) })
    const survivors = await page.evaluate(async (ids) => {
      const out: number[] = []
      for (const id of ids) out.push(((await window.voxcache!.retrieve(id)) as Uint8Array | undefined)?.byteLength ?? -1)
      return out
    }, ids)
    expect(survivors).toEqual(present.map((p) => (p ? 8_000_000 : -1)))
    expect((await opfsList(page, 'st-quota', 'payloads')).filter((n) => n.endsWith('.tmp'))).toEqual([])
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
  }
})

test('reopening reconciles a crash: temp files removed, orphans re-indexed, unfinished new records removed, dangling rows dropped', async ({ page }) => {
  await openPage(page, 'cache=st-crash')
  await page.evaluate(() => window.voxcache!.clear())
  const keep = await storeRandom(page, 'crash', 100_000, { keep: true })
  const orphan = await storeRandom(page, 'crash', 100_000, { orphan: true })
  const dangling = await storeRandom(page, 'crash', 100_000, { dangling: true })
  // Make the three states a crash leaves: a half-written temp file, a payload whose row never made it
  // to the index (delete the row, then put the file back), and a row whose payload is gone.
  await page.evaluate(
    async ({ orphan, dangling }) => {
      const cache = window.voxcache!
      const root = await navigator.storage.getDirectory()
      const dir = await (await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle('st-crash')).getDirectoryHandle('payloads')
      const orphanBytes = await (await (await dir.getFileHandle(`${orphan}.vxc`)).getFile()).arrayBuffer()
      await cache.close()
      await cache.delete(orphan).catch(() => undefined) // closed: no effect
      const tmp = await dir.getFileHandle(`${'f'.repeat(64)}.vxc.tmp`, { create: true })
      const w = await tmp.createWritable()
      await w.write(new Uint8Array(1000))
      await w.close()
      // A new entry's record cut short: written in place, its first 8 bytes (the magic) last, so zeros
      // there; the rest is a real record's bytes.
      const unfinished = await (await dir.getFileHandle(`${'e'.repeat(64)}.vxc`, { create: true })).createWritable()
      const torn = new Uint8Array(orphanBytes.slice(0, 5000))
      torn.fill(0, 0, 8)
      await unfinished.write(torn)
      await unfinished.close()
      await dir.removeEntry(`${dangling}.vxc`)
      const lib = window.voxcacheLib!
      const again = await lib.openCache({ name: 'st-crash' })
      await again.delete(orphan) // the row goes; now put the payload back without a row
      await again.close()
      const o = await (await dir.getFileHandle(`${orphan}.vxc`, { create: true })).createWritable()
      await o.write(orphanBytes)
      await o.close()
    },
    { orphan, dangling },
  )
  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  const after = await page.evaluate(
    async (ids) => {
      const cache = window.voxcache!
      return Promise.all(ids.map(async (id) => ((await cache.retrieve(id)) as Uint8Array | undefined)?.byteLength ?? -1))
    },
    [keep, orphan, dangling],
  )
  expect(after).toEqual([100_000, 100_000, -1])
  expect(await opfsList(page, 'st-crash', 'payloads')).not.toContain(`${'f'.repeat(64)}.vxc.tmp`)
  // Removed as a write that never finished: neither in payloads/ nor set aside as damage.
  expect(await opfsList(page, 'st-crash', 'payloads')).not.toContain(`${'e'.repeat(64)}.vxc`)
  expect((await opfsList(page, 'st-crash', 'quarantine')).filter((n) => n.startsWith('e'.repeat(64)))).toEqual([])
  expect((await page.evaluate(() => window.voxcache!.stats())).quarantined).toBe(0)
})

test('open resolves before its reconcile ends; a miss, a store and close() right after it see the files reconciled', async ({ page }) => {
  // Reconcile lists payloads/ (seconds at 100,000 record files), so it runs after openCache resolves,
  // holding the cache's lock. What a crash left must still be repaired before anyone relies on it: a
  // miss asks again under the lock, so it sees the records re-indexed; a store waits for the lock.
  await openPage(page, 'cache=st-settle-probe')
  const result = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const name = 'st-settle'
    const root = await navigator.storage.getDirectory()
    const payloads = async () => (await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle(name)).getDirectoryHandle('payloads')
    const first = await lib.openCache({ name, inlineBytes: 0 })
    await first.clear()
    // Records whose rows a crash lost: stored, their bytes kept, deleted, then put back without a row.
    const orphans: string[] = []
    for (let i = 0; i < 40; i++) {
      const id = await lib.operationId('settle-orphan', { i })
      await first.store(id, new Uint8Array(3000).fill(i), { codec: 'none' })
      orphans.push(id)
    }
    const dangling = await lib.operationId('settle-dangling', {})
    await first.store(dangling, new Uint8Array(3000), { codec: 'none' })
    const kept: Record<string, ArrayBuffer> = {}
    for (const id of orphans) kept[id] = await (await (await (await payloads()).getFileHandle(`${id}.vxc`)).getFile()).arrayBuffer()
    for (const id of orphans) await first.delete(id)
    await first.close()
    const dir = await payloads()
    for (const id of orphans) {
      const w = await (await dir.getFileHandle(`${id}.vxc`, { create: true })).createWritable()
      await w.write(kept[id]!)
      await w.close()
    }
    await dir.removeEntry(`${dangling}.vxc`) // a row whose record is gone
    const tmp = await (await dir.getFileHandle(`${'e'.repeat(64)}.vxc.tmp`, { create: true })).createWritable()
    await tmp.write(new Uint8Array(500)) // a write a crash cut short
    await tmp.close()

    // Each call is made as soon as openCache resolves, before anything else is awaited.
    const again = await lib.openCache({ name, inlineBytes: 0 })
    const [hasOrphan, infoOrphan, hasDangling, stored] = await Promise.all([
      again.has(orphans[7]!),
      again.info(orphans[8]!).then((info) => info?.id === orphans[8]),
      again.retrieve(dangling).then((v) => v !== undefined),
      again.store(await lib.operationId('settle-new', {}), new Uint8Array(10), { codec: 'none' }).then(() => true),
    ])
    const listed = (await again.list()).length
    const names = [] as string[]
    for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n)
    const stats = await again.stats()
    // close() right after another open: it waits for that open's reconcile, which ends with the files whole.
    for (const id of orphans.slice(0, 5)) await again.delete(id)
    await again.close()
    const w = await (await dir.getFileHandle(`${orphans[0]}.vxc`, { create: true })).createWritable()
    await w.write(kept[orphans[0]!]!)
    await w.close()
    const third = await lib.openCache({ name, inlineBytes: 0 })
    await third.close()
    const fourth = await lib.openCache({ name, inlineBytes: 0 })
    const afterClose = await fourth.has(orphans[0]!)
    const total = (await fourth.stats()).entries
    await fourth.destroy()
    return { hasOrphan, infoOrphan, hasDangling, stored, listed, tmpLeft: names.filter((n) => n.endsWith('.tmp')), entries: stats.entries, afterClose, total }
  })
  expect(result).toEqual({ hasOrphan: true, infoOrphan: true, hasDangling: false, stored: true, listed: 41, tmpLeft: [], entries: 41, afterClose: true, total: 37 })
})

test('an index that is lost is rebuilt from the records before open resolves: list() and stats() show every entry at once', async ({ page }) => {
  await openPage(page, 'cache=st-lost-probe')
  const result = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const name = 'st-lost'
    const first = await lib.openCache({ name, inlineBytes: 0 })
    await first.clear()
    for (let i = 0; i < 30; i++) await first.store(await lib.operationId('lost', { i }), new Uint8Array(2000).fill(i), { codec: 'none' })
    await first.close()
    const home = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle(name)
    for (const file of ['index.sqlite', 'index.journal']) await home.removeEntry(file).catch(() => undefined)
    const again = await lib.openCache({ name, inlineBytes: 0 })
    const [listed, stats] = await Promise.all([again.list(), again.stats()])
    await again.destroy()
    return { listed: listed.length, entries: stats.entries }
  })
  expect(result).toEqual({ listed: 30, entries: 30 })
})

test('a tab killed in the middle of a large write loses only that write', async ({ context }) => {
  const writer = await context.newPage()
  await openPage(writer, 'cache=st-kill')
  await writer.evaluate(() => window.voxcache!.clear())
  const before = [await storeRandom(writer, 'kill', 50_000, { i: 0 }), await storeRandom(writer, 'kill', 50_000, { i: 1 })]
  const watcher = await context.newPage()
  await watcher.goto(`${HARNESS}?cache=st-kill-watch`)
  await expect(watcher.locator('body')).toHaveAttribute('data-ready', 'true')
  const bigId = await writer.evaluate(() => window.voxcacheLib!.operationId('kill-big', {}))
  void writer.evaluate(async (id) => {
    const data = new Uint8Array(768 * 1024 * 1024).fill(7)
    await window.voxcache!.store(id, data, { codec: 'none' })
  }, bigId).catch(() => undefined)
  // Wait until the big write is on disk, half done (a new entry's files are written in place, no
  // temporary file), then kill the tab.
  await expect
    .poll(async () => (await opfsList(watcher, 'st-kill', 'payloads', { underLock: false })).some((n) => n.endsWith('.tmp') || n.startsWith(bigId)), {
      timeout: 60_000,
      intervals: [5],
    })
    .toBe(true)
  await writer.close()
  const reader = await context.newPage()
  await openPage(reader, 'cache=st-kill')
  const after = await reader.evaluate(
    async ({ before, bigId }) => {
      const cache = window.voxcache!
      // The big write, if it made it before the kill, must be whole: 768 MiB of sevens.
      const big = (await cache.retrieve(bigId)) as Uint8Array | undefined
      return {
        before: await Promise.all(before.map(async (id) => ((await cache.retrieve(id)) as Uint8Array).byteLength)),
        listed: (await cache.list({ orderBy: 'id' })).map((e) => e.id),
        big: big === undefined ? 'absent' : big.byteLength === 768 * 1024 * 1024 && big.every((b) => b === 7) ? 'whole' : `damaged (${big.byteLength} bytes)`,
      }
    },
    { before, bigId },
  )
  expect(after.before).toEqual([50_000, 50_000])
  expect(after.big).toMatch(/^(absent|whole)$/)
  expect(after.listed).toEqual([...before, ...(after.big === 'whole' ? [bigId] : [])].sort())
  expect((await opfsList(reader, 'st-kill', 'payloads')).filter((n) => n.endsWith('.tmp'))).toEqual([])
  // What the kill cut short is gone: no chunk or record of the big value unless it is whole.
  if (after.big === 'absent') expect((await opfsList(reader, 'st-kill', 'payloads')).filter((n) => n.startsWith(bigId))).toEqual([])
  await reader.evaluate(() => window.voxcache!.clear())
})

test('export to one SQLite file that sqlite3 opens, and import into an empty cache with every entry intact', async ({ page }) => {
  await openPage(page, 'cache=st-export')
  const exported = await page.evaluate(async () => {
    const cache = window.voxcache!
    const lib = window.voxcacheLib!
    await cache.clear()
    const ids: string[] = []
    const values: unknown[] = [
      { json: [1, 'two', null] },
      null,
      new Int16Array(50_000).map((_, i) => (i * 7) % 3000 - 1500),
      {
        imageType: { dimension: 2, componentType: 'float32', pixelType: 'Scalar', components: 1 },
        name: 'slice', origin: [1, 2], spacing: [0.5, 0.5], direction: new Float64Array([1, 0, 0, 1]), size: [300, 200],
        metadata: new Map([['k', 'v']]), data: new Float32Array(60_000).map((_, i) => Math.sqrt(i)),
      },
    ]
    const sha = async (v: unknown) => {
      const bytes = v instanceof Int16Array ? new Uint8Array(v.buffer) : v && typeof v === 'object' && 'data' in v ? new Uint8Array((v as { data: Float32Array }).data.buffer) : new TextEncoder().encode(JSON.stringify(v))
      return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource)), (b) => b.toString(16).padStart(2, '0')).join('')
    }
    const digests: string[] = []
    for (let i = 0; i < values.length; i++) {
      const id = await lib.operationId('export', { i })
      ids.push(id)
      digests.push(await sha(values[i]))
      await cache.store(id, values[i] as never, { metadata: { i }, pin: i === 3 })
    }
    const blob = await cache.exportDatabase()
    const bytes = new Uint8Array(await blob.arrayBuffer())
    let binary = ''
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
    return { ids, digests, base64: btoa(binary) }
  })
  // The sqlite3 command line opens it: the results table with each record inline.
  const dir = mkdtempSync(join(tmpdir(), 'voxcache-'))
  const file = join(dir, 'cache.sqlite')
  writeFileSync(file, Buffer.from(exported.base64, 'base64'))
  const rows = execFileSync('sqlite3', [file, "SELECT operation_id, data_type, length(data) > 0, pinned FROM results ORDER BY operation_id"], { encoding: 'utf8' })
  expect(rows.trim().split('\n').length).toBe(4)
  expect(rows).toContain('|Image|1|1')
  expect(execFileSync('sqlite3', [file, 'PRAGMA integrity_check'], { encoding: 'utf8' }).trim()).toBe('ok')

  const imported = await page.evaluate(async ({ base64, ids }) => {
    const lib = window.voxcacheLib!
    const fresh = await lib.openCache({ name: 'st-import' })
    await fresh.clear()
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
    const report = await fresh.importDatabase(new Blob([bytes]))
    const again = await fresh.importDatabase(new Blob([bytes]))
    const sha = async (v: unknown) => {
      const b = v instanceof Int16Array ? new Uint8Array(v.buffer) : v && typeof v === 'object' && 'data' in v ? new Uint8Array((v as { data: Float32Array }).data.buffer) : new TextEncoder().encode(JSON.stringify(v))
      return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b as BufferSource)), (x) => x.toString(16).padStart(2, '0')).join('')
    }
    const digests: string[] = []
    for (const id of ids) digests.push(await sha(await fresh.retrieve(id)))
    const infos = await Promise.all(ids.map((id) => fresh.info(id)))
    const other = await lib.openCache({ name: 'st-import-broken', storage: 'memory' })
    let garbage = ''
    try {
      await other.importDatabase(new TextEncoder().encode('not a database at all'))
    } catch (e) {
      garbage = e instanceof lib.InvalidImportError ? 'InvalidImportError' : String(e)
    }
    await other.close()
    await fresh.close()
    return { report, again, digests, metadata: infos.map((i) => i?.metadata), pinned: infos.map((i) => i?.pinned), garbage }
  }, exported)
  expect(imported.report).toEqual({ imported: 4, skipped: 0, rejected: [] })
  expect(imported.again).toEqual({ imported: 0, skipped: 4, rejected: [] })
  expect(imported.digests).toEqual(exported.digests)
  expect(imported.metadata).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }])
  expect(imported.pinned).toEqual([false, false, false, true])
  expect(imported.garbage).toBe('InvalidImportError')

  // One record damaged inside a sound SQLite file (one byte of the Int16Array's body changed by SQL):
  // exactly that entry is rejected, for its checksum, and the other three are imported.
  const victim = exported.ids[2]!
  execFileSync('sqlite3', [file, `UPDATE results SET data = CAST(substr(data, 1, 3000) || CASE WHEN substr(data, 3001, 1) = X'00' THEN X'01' ELSE X'00' END || substr(data, 3002) AS BLOB) WHERE operation_id = '${victim}'`])
  expect(execFileSync('sqlite3', [file, 'PRAGMA integrity_check'], { encoding: 'utf8' }).trim()).toBe('ok')
  expect(execFileSync('sqlite3', [file, `SELECT typeof(data), length(data) = size_bytes FROM results WHERE operation_id = '${victim}'`], { encoding: 'utf8' }).trim()).toBe('blob|1')
  const damaged = readFileSync(file).toString('base64')
  const partial = await page.evaluate(async (base64) => {
    const other = await window.voxcacheLib!.openCache({ name: 'st-import-damaged', storage: 'memory' })
    const report = await other.importDatabase(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)))
    const listed = (await other.list({ orderBy: 'id' })).map((e) => e.id)
    await other.close()
    return { report, listed }
  }, damaged)
  expect(partial.report.imported).toBe(3)
  expect(partial.report.skipped).toBe(0)
  expect(partial.report.rejected).toEqual([{ id: victim, reason: expect.stringContaining('checksum') }])
  expect(partial.listed).toEqual(exported.ids.filter((id) => id !== victim).sort())
})

for (const storage of ['idb', 'memory'] as const) {
  test(`the ${storage} backend stores and retrieves${storage === 'idb' ? ' across a reload' : ', and forgets on reload'}`, async ({ page }) => {
    await openPage(page, `cache=st-${storage}&storage=${storage}`)
    const id = await page.evaluate(async () => {
      const cache = window.voxcache!
      await cache.clear()
      const id = await window.voxcacheLib!.operationId('backend', {})
      await cache.store(id, new Uint32Array(300_000).map((_, i) => i * 2654435761))
      return id
    })
    await page.reload()
    await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
    const after = await page.evaluate(async (id) => {
      const cache = window.voxcache!
      const v = (await cache.retrieve(id)) as Uint32Array | undefined
      return { storage: cache.storage, ok: v ? v.length === 300_000 && v.every((x, i) => x === Math.imul(i, 2654435761) >>> 0) : null }
    }, id)
    expect(after.storage).toBe(storage)
    expect(after.ok).toBe(storage === 'idb' ? true : null)
  })
}

test('a destroyed index is rebuilt from the self-describing payload records', async ({ page }) => {
  await openPage(page, 'cache=st-rebuild')
  await page.evaluate(() => window.voxcache!.clear())
  const ids = [await storeRandom(page, 'rebuild', 70_000, { i: 0 }), await storeRandom(page, 'rebuild', 90_000, { i: 1 })]
  await page.evaluate(async () => {
    await window.voxcache!.close()
    const root = await navigator.storage.getDirectory()
    const dir = await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle('st-rebuild')
    for (const name of ['index.sqlite', 'index.journal']) {
      const w = await (await dir.getFileHandle(name, { create: true })).createWritable()
      await w.write(new TextEncoder().encode('scribbled over by something else entirely'))
      await w.close()
    }
  })
  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  const sizes = await page.evaluate(
    async (ids) => Promise.all(ids.map(async (id) => ((await window.voxcache!.retrieve(id)) as Uint8Array | undefined)?.byteLength ?? -1)),
    ids,
  )
  expect(sizes).toEqual([70_000, 90_000])
  expect((await opfsList(page, 'st-rebuild', 'quarantine')).length).toBe(2)
})

// openCache's wasmUrls: sql.js's and zstd's wasm from where the app says, not from beside the worker;
// a URL that serves nothing (or not wasm) fails the open, naming it, instead of hanging in zstd's loader.
test('wasmUrls: the worker loads both wasm files from there; a wrong one is a StorageUnavailableError naming it', async ({ page }) => {
  await openPage(page, 'cache=wasm-default&storage=memory')
  const files: Record<string, Buffer> = {
    'sql.wasm': readFileSync(new URL('../node_modules/sql.js/dist/sql-wasm.wasm', import.meta.url)),
    'zstd.wasm': readFileSync(new URL('../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)),
    'text.wasm': Buffer.from('not wasm'),
  }
  // Cut in half: wasm's magic and version, then a module that does not compile.
  files['cut.wasm'] = files['zstd.wasm']!.subarray(0, files['zstd.wasm']!.length >> 1)
  const served: string[] = []
  await page.route('**/elsewhere/*', async (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop()!
    served.push(name)
    await (files[name] ? route.fulfill({ body: files[name], contentType: 'application/wasm' }) : route.fulfill({ status: 404 }))
  })
  const got = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    // A fresh worker per cache, so each open loads its wasm again.
    const cache = await lib.openCache({ name: 'wasm-elsewhere', storage: 'memory', wasmUrls: { sqlite: '/elsewhere/sql.wasm', zstd: '../../elsewhere/zstd.wasm' } })
    const id = await lib.operationId('wasm', {})
    await cache.store(id, new Float32Array(100_000).fill(1.5), { codec: 'zstd' })
    const back = (await cache.retrieve(id)) as Float32Array
    const info = await cache.info(id)
    await cache.close()
    const failure = async (wasmUrls: { sqlite?: string; zstd?: string }) =>
      lib.openCache({ name: 'wasm-wrong', storage: 'memory', wasmUrls }).then(
        async (c) => (await c.close(), 'opened'),
        (e: Error) => `${e instanceof lib.StorageUnavailableError}: ${e.message}`,
      )
    return {
      roundTrip: back.length === 100_000 && back.every((v) => v === 1.5),
      codec: info?.codec,
      missing: await failure({ zstd: '/elsewhere/missing.wasm' }),
      notWasm: await failure({ sqlite: '/elsewhere/text.wasm' }),
      cut: await failure({ zstd: '/elsewhere/cut.wasm' }),
      // Modules that compile but ask for other imports: either runtime would wait for them forever.
      swapped: await failure({ zstd: '/elsewhere/sql.wasm' }),
      swappedSql: await failure({ sqlite: '/elsewhere/zstd.wasm' }),
    }
  })
  expect(served.slice(0, 2).sort()).toEqual(['sql.wasm', 'zstd.wasm'])
  expect(got.roundTrip).toBe(true)
  expect(got.codec).toBe('zstd')
  expect(got.missing).toMatch(/^true: could not load zstd's wasm from http:\/\/localhost:\d+\/elsewhere\/missing\.wasm: HTTP 404$/)
  expect(got.notWasm).toMatch(/^true: http:\/\/localhost:\d+\/elsewhere\/text\.wasm is not sql\.js's wasm/)
  expect(got.cut).toMatch(/^true: http:\/\/localhost:\d+\/elsewhere\/cut\.wasm is not zstd's wasm: WebAssembly.compile\(\): /)
  expect(got.swapped).toMatch(/^true: http:\/\/localhost:\d+\/elsewhere\/sql\.wasm is not zstd's wasm: WebAssembly.instantiate\(\): Import/)
  // zstd's imports link against sql.js's; sql.js's setup then throws on the instance.
  expect(got.swappedSql).toMatch(/^true: http:\/\/localhost:\d+\/elsewhere\/zstd\.wasm is not sql\.js's wasm: /)
})

// Chromium evicts best-effort storage under pressure, silently and for the whole origin.
test('persist: asks the browser to keep the storage (stats().persisted says whether it does); a cache whose files the browser removed opens empty and works', async ({ page, context }) => {
  await openPage(page, 'cache=persist-page&storage=memory')
  const origin = new URL(page.url()).origin
  const cdp = await context.newCDPSession(page)
  const open = (persist: boolean) =>
    page.evaluate(async (persist) => {
      // The browser's side, observed: how often openCache asks for persistence.
      const storage = navigator.storage as StorageManager & { asked?: number; original?: () => Promise<boolean> }
      storage.original ??= storage.persist.bind(storage)
      storage.asked = 0
      storage.persist = () => ((storage.asked! += 1), storage.original!())
      const lib = window.voxcacheLib!
      const cache = await lib.openCache({ name: 'persist-asked', persist })
      const persisted = (await cache.stats()).persisted
      const id = await lib.operationId('persist', 1)
      await cache.store(id, new Uint8Array(100_000).fill(7), { codec: 'none' })
      await cache.store(await lib.operationId('persist', 2), { small: true })
      await cache.close()
      return { asked: storage.asked, persisted, id }
    }, persist)
  // Headless Chromium grants persistence to no one by itself.
  expect(await open(false)).toMatchObject({ asked: 0, persisted: false })
  expect(await open(true)).toMatchObject({ asked: 1, persisted: false })
  // What Chromium decides from engagement, here decided for the test: persistence is granted (in this
  // test's browser context; without its id the grant goes to the default one).
  const { targetInfo } = await cdp.send('Target.getTargetInfo')
  await cdp.send('Browser.grantPermissions', { origin, permissions: ['durableStorage'], browserContextId: targetInfo.browserContextId })
  const got = await open(true)
  expect(got).toMatchObject({ asked: 1, persisted: true })

  // The browser removes everything of the origin (what eviction or "clear site data" does).
  await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' })
  const after = await page.evaluate(async (id) => {
    const lib = window.voxcacheLib!
    const cache = await lib.openCache({ name: 'persist-asked' })
    const listed = (await cache.list()).length
    const miss = (await cache.retrieve(id)) === undefined
    await cache.store(id, new Uint8Array(1000).fill(9), { codec: 'none' })
    const back = (await cache.retrieve(id)) as Uint8Array
    const stats = await cache.stats()
    await cache.destroy()
    return { listed, miss, back: [back.length, back[0]], entries: stats.entries }
  }, got.id)
  expect(after).toEqual({ listed: 0, miss: true, back: [1000, 9], entries: 1 })
})

test("durability: 'strict' and 'relaxed' (the default) both keep what they stored across a reopen; another value is refused before anything opens", async ({ page }) => {
  await openPage(page)
  const out = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const got: Record<string, unknown> = {}
    for (const durability of ['strict', 'relaxed', undefined] as const) {
      const name = `durability-${durability ?? 'default'}`
      const options = { name, storage: 'opfs' as const, ...(durability ? { durability } : {}) }
      const cache = await lib.openCache(options)
      await cache.clear()
      const small = await lib.operationId('durability', { durability: durability ?? null, small: true })
      const large = await lib.operationId('durability', { durability: durability ?? null, small: false })
      await cache.store(small, { note: 'inline' })
      await cache.store(large, new Uint8Array(300_000).fill(5), { codec: 'none' })
      await cache.close()
      const again = await lib.openCache(options)
      const bytes = (await again.retrieve(large)) as Uint8Array
      got[durability ?? 'default'] = [await again.retrieve(small), bytes.length, bytes.every((b) => b === 5)]
      await again.destroy()
    }
    try {
      await lib.openCache({ name: 'durability-bad', storage: 'opfs', durability: 'eventually' as never })
      got.bad = 'opened'
    } catch (error) {
      got.bad = `${(error as Error).name} ${error instanceof lib.UnsupportedValueError}`
    }
    return got
  })
  for (const k of ['strict', 'relaxed', 'default']) expect(out[k], k).toEqual([{ note: 'inline' }, 300_000, true])
  expect(out.bad).toBe('UnsupportedValueError true')
})

test('a new cache that changes nothing leaves no empty journal behind: reopened, its index is not taken for damaged', async ({ page }) => {
  await openPage(page)
  const name = 'st-no-empty-journal'
  const out = await page.evaluate(async (name) => {
    const lib = window.voxcacheLib!
    await (await lib.openCache({ name, storage: 'opfs' })).destroy()
    // Opened (reconcile runs, and commits nothing), a miss and a delete of nothing, then closed.
    const cache = await lib.openCache({ name, storage: 'opfs' })
    const id = await lib.operationId('nothing', {})
    await cache.retrieve(id)
    await cache.delete(id)
    await cache.close()
    const again = await lib.openCache({ name, storage: 'opfs' })
    const stats = await again.stats()
    await again.close()
    return { indexRecovery: stats.indexRecovery, entries: stats.entries }
  }, name)
  const files = Object.keys(await listCacheFiles(page, name, 'opfs'))
  expect(out).toEqual({ indexRecovery: null, entries: 0 })
  expect(files.filter((f) => f.startsWith('quarantine/'))).toEqual([])
})
