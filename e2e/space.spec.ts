// Space: a small budget and a tight browser quota. Eviction keeps the cache under budget with
// hysteresis, pinned and recently used entries survive, and a write the quota refuses ends in
// CacheFullError with nothing stored earlier lost.
import type { BrowserContext, Page } from '@playwright/test'
import { listCacheFiles } from './cache-files.js'
import { installHarness, prng } from './harness.js'
import { expect, openPage, test } from './fixtures.js'
import { recordFigures } from '../test/figures.js'

test('a small budget: evictions come in bursts down to the low-water mark; pinned and hot entries stay', async ({ page, context }) => {
  await installHarness(context)
  await openPage(page, 'cache=space-probe')
  const random = prng(11)
  const sizes = Array.from({ length: 60 }, () => 40_000 + Math.floor(random() * 80_000))
  const run = await page.evaluate(
    async ({ sizes }) => {
      const lib = window.voxcacheLib!
      const h = window.vxHarness
      const cache = await lib.openCache({ name: 'space-budget', maxBytes: 2_000_000, lowWater: 0.6 })
      await cache.clear()
      const value = (i: number, size: number) => h.bytes(1000 + i, size, i % 2 ? 'smooth' : 'random')
      const ids: string[] = []
      const put = async (i: number, size: number, pin = false) => {
        const id = await lib.operationId('space', { i })
        await cache.store(id, value(i, size), { pin })
        ids[i] = id
      }
      // Three pinned entries and two hot ones (read before every store), then a stream of stores.
      for (let i = 0; i < 3; i++) await put(i, 100_000, true)
      for (let i = 3; i < 5; i++) await put(i, 60_000)
      const after: { bytes: number; evictions: number; size: number }[] = []
      for (let n = 0; n < sizes.length; n++) {
        await cache.retrieve(ids[3]!)
        await cache.retrieve(ids[4]!)
        await put(5 + n, sizes[n]!)
        const s = await cache.stats()
        after.push({ bytes: s.bytes, evictions: s.evictions, size: (await cache.info(ids[5 + n]!))!.sizeBytes })
      }
      const stats = await cache.stats()
      const present: boolean[] = []
      const intact: boolean[] = []
      for (let i = 0; i < ids.length; i++) {
        const got = (await cache.retrieve(ids[i]!)) as Uint8Array | undefined
        present.push(got !== undefined)
        const size = i < 3 ? 100_000 : i < 5 ? 60_000 : sizes[i - 5]!
        if (got) intact.push((await h.digest(got)) === (await h.digest(value(i, size))))
      }
      const evicted = (await cache.evictions()).map((e) => ({ i: ids.indexOf(e.id), reason: e.reason }))
      await cache.close()
      return { after, stats, present, intact, evicted }
    },
    { sizes },
  )
  const { maxBytes, lowWaterBytes } = run.stats
  expect([maxBytes, lowWaterBytes]).toEqual([2_000_000, 1_200_000])
  // Under budget after every store; each eviction brought the cache down to low water, new entry aside.
  const bursts: number[] = []
  run.after.forEach((a, n) => {
    expect(a.bytes, `after store ${n}`).toBeLessThanOrEqual(maxBytes)
    const before = n ? run.after[n - 1]!.evictions : 0
    if (a.evictions > before) {
      bursts.push(n)
      expect(a.bytes - a.size, `store ${n} evicted down to low water`).toBeLessThanOrEqual(lowWaterBytes)
    }
  })
  // Hysteresis: after a burst there is 800 kB of room for stores of at most 120 kB, so the next
  // burst is at least six stores away — not an eviction on every insert.
  expect(bursts.length).toBeGreaterThan(2)
  for (let i = 1; i < bursts.length; i++) expect(bursts[i]! - bursts[i - 1]!, `bursts ${bursts.join(', ')}`).toBeGreaterThanOrEqual(6)
  expect(run.stats.evictions).toBeGreaterThan(bursts.length) // a burst evicts several entries
  // Pinned (0–2) and hot (3, 4) entries all survive; what is gone was evicted; what is left is intact.
  expect(run.present.slice(0, 5)).toEqual([true, true, true, true, true])
  expect(run.present.filter((p) => !p).length).toBe(run.stats.evictions)
  // And by id: the eviction log names exactly the entries that are gone, each once, for the budget.
  const gone = run.present.flatMap((p, i) => (p ? [] : [i]))
  expect(run.evicted.map((e) => e.i).sort((a, b) => a - b)).toEqual(gone)
  expect(new Set(run.evicted.map((e) => e.reason))).toEqual(new Set(['budget']))
  recordFigures('space-budget', { stores: run.after.length, bursts: bursts.length, evictions: run.stats.evictions })
  expect(run.intact.every(Boolean)).toBe(true)
  expect(run.intact.length).toBe(run.present.filter(Boolean).length)
})

/** Runs `fn` with the origin's quota set (CDP) to what it uses now plus `room` bytes, then lifts it. */
async function withQuota(page: Page, context: BrowserContext, room: number, fn: () => Promise<void>): Promise<void> {
  const cdp = await context.newCDPSession(page)
  const origin = new URL(page.url()).origin
  const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0)
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + room })
  try {
    await fn()
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
  }
}

for (const storage of ['opfs', 'idb'] as const) {
test(`a tight quota (${storage}): stores evict to fit, and one that cannot fit is CacheFullError with nothing lost`, async ({ page, context }) => {
  await installHarness(context)
  await openPage(page, 'cache=space-quota-probe')
  await withQuota(page, context, 40_000_000, async () => {
    const run = await page.evaluate(async (storage) => {
      const lib = window.voxcacheLib!
      const h = window.vxHarness
      // The budget is far above the quota: only the browser's refusals drive eviction here.
      const cache = await lib.openCache({ name: `space-quota-${storage}`, maxBytes: 1e10, storage })
      const value = (i: number) => h.bytes(5000 + i, 4_000_000, i % 3 ? 'random' : 'smooth')
      const ids: string[] = []
      const log: string[] = []
      for (let i = 0; i < 24; i++) {
        ids[i] = await lib.operationId('quota', { i })
        try {
          await cache.store(ids[i]!, value(i), { pin: i < 2, codec: 'none' })
          log.push('stored')
        } catch (e) {
          log.push(e instanceof lib.CacheFullError ? 'CacheFullError' : `${(e as Error).name}: ${(e as Error).message}`)
        }
      }
      const check = async () => {
        const out: (boolean | null)[] = []
        for (let i = 0; i < ids.length; i++) {
          const got = (await cache.retrieve(ids[i]!)) as Uint8Array | undefined
          out.push(got === undefined ? null : (await h.digest(got)) === (await h.digest(value(i))))
        }
        return out
      }
      const before = await check()
      const bytesBefore = (await cache.stats()).bytes
      // 34 MB cannot fit beside 8 MB of pinned entries in a 40 MB quota, whatever is evicted.
      let huge: string
      try {
        await cache.store(await lib.operationId('quota', { huge: true }), new Uint8Array(34_000_000).fill(7), { codec: 'none' })
        huge = 'stored'
      } catch (e) {
        huge = e instanceof lib.CacheFullError ? 'CacheFullError' : `${(e as Error).name}: ${(e as Error).message}`
      }
      const after = await check()
      const stats = await cache.stats()
      const evicted = (await cache.evictions()).map((e) => ({ i: ids.indexOf(e.id), reason: e.reason }))
      await cache.close()
      return { log, before, after, huge, bytesBefore, bytesAfter: stats.bytes, evictions: stats.evictions, retries: stats.quotaRetries, evicted }
    }, storage)
    // Every store fitted by evicting least recently used entries; none failed any other way.
    expect(run.log).toEqual(run.log.map(() => 'stored'))
    expect(run.evictions).toBeGreaterThan(0)
    expect(run.before.slice(0, 2)).toEqual([true, true]) // pinned
    expect(run.before.at(-1)).toBe(true) // the newest
    expect(run.before.every((r) => r !== false)).toBe(true) // present means intact
    // What is gone is exactly what the log says the quota evicted; each refusal led to one retry,
    // and there were fewer retries than stores (eviction goes past the shortfall).
    expect(run.evicted.map((e) => e.i).sort((a, b) => a - b)).toEqual(run.before.flatMap((r, i) => (r === null ? [i] : [])))
    expect(new Set(run.evicted.map((e) => e.reason))).toEqual(new Set(['quota']))
    expect(run.retries).toBeGreaterThan(0)
    expect(run.retries).toBeLessThan(24)
    recordFigures(`space-quota-${storage}`, { stores: 24, evictions: run.evictions, quotaRetries: run.retries })
    // The refused store: CacheFullError, and not one entry, byte or file lost to it.
    expect(run.huge).toBe('CacheFullError')
    expect(run.after).toEqual(run.before)
    expect(run.bytesAfter).toBe(run.bytesBefore)
    const files = await listCacheFiles(page, `space-quota-${storage}`, storage)
    expect(Object.keys(files).filter((f) => f.endsWith('.tmp') || f.startsWith('quota-probe'))).toEqual([])
    expect(Object.keys(files).filter((f) => f.startsWith('payloads/')).length).toBe(run.after.filter((r) => r).length)
  })
})
}

// A full quota refuses not only payload files: an inline record (≤ 4 KiB) is a journal line, and so is
// every row and deletion. Those writes get the same one evict-and-retry. The quota is filled to the
// byte with a ballast file written through a sync access handle (its write stops where the quota does).
for (const storage of ['opfs', 'idb'] as const) {
test(`a full quota (${storage}): inline records and journal lines evict payload files to fit; with nothing evictable, CacheFullError and nothing lost`, async ({ page, context }) => {
  await installHarness(context)
  await openPage(page, 'cache=space-inline-probe')
  await withQuota(page, context, 40_000_000, async () => {
    const run = await page.evaluate(async (storage) => {
      const lib = window.voxcacheLib!
      const h = window.vxHarness
      /**
       * Fills whatever quota is left, in the storage the cache uses, since each counts usage its own
       * way (IndexedDB let writes past an OPFS ballast through, seen here): Blobs in a database of
       * their own, halving their size at each refusal; resolves to the bytes it took.
       */
      const fillIdb = async () => {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const open = indexedDB.open('space-ballast')
          open.onupgradeneeded = () => open.result.createObjectStore('b')
          open.onsuccess = () => resolve(open.result)
          open.onerror = () => reject(open.error)
        })
        let took = 0
        for (let size = 4 << 20; size >= 256; ) {
          const ok = await new Promise<boolean>((resolve) => {
            const tx = db.transaction('b', 'readwrite')
            tx.objectStore('b').put(new Blob([new Uint8Array(size)]), `${Date.now()}-${Math.random()}`)
            tx.oncomplete = () => resolve(true)
            tx.onabort = () => resolve(false)
          })
          if (ok) took += size
          else size /= 2
        }
        db.close()
        return took
      }
      /** Fills whatever quota is left with one OPFS file (a sync write stops at the quota); resolves to the bytes it took. */
      const fillOpfs = async () => {
        const source = `onmessage = async () => {
          const root = await navigator.storage.getDirectory()
          const handle = await (await root.getFileHandle('space-ballast', { create: true })).createSyncAccessHandle()
          const before = handle.getSize()
          handle.write(new Uint8Array(64 << 20), { at: before }) // its count is not to be trusted when short
          handle.flush()
          postMessage(handle.getSize() - before)
          handle.close()
        }`
        const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })))
        const n = await new Promise<number>((resolve) => {
          worker.onmessage = (e) => resolve(e.data as number)
          worker.postMessage(null)
        })
        worker.terminate()
        return n
      }
      const fillQuota = storage === 'idb' ? fillIdb : fillOpfs
      let cache = await lib.openCache({ name: `space-inline-${storage}`, maxBytes: 1e10, storage })
      await cache.clear()
      const big = (i: number) => h.bytes(7000 + i, 4_000_000, 'random')
      const small = (i: number) => h.bytes(8000 + i, 3_000, 'random')
      const bigIds: string[] = []
      for (let i = 0; i < 4; i++) {
        bigIds[i] = await lib.operationId('inline-quota', { big: i })
        await cache.store(bigIds[i]!, big(i), { codec: 'none' })
      }
      const ballast = await fillQuota()

      const outcome = async (fn: () => Promise<unknown>) => {
        try {
          await fn()
          return 'stored'
        } catch (e) {
          return e instanceof lib.CacheFullError ? 'CacheFullError' : `${(e as Error).name}: ${(e as Error).message}`
        }
      }
      // Twenty inline records into a full quota.
      const smallIds: string[] = []
      const log: string[] = []
      for (let i = 0; i < 20; i++) {
        smallIds[i] = await lib.operationId('inline-quota', { small: i })
        log.push(await outcome(() => cache.store(smallIds[i]!, small(i), { codec: 'none' })))
      }
      const listed = (await cache.list()).map((e) => ({ id: e.id, inline: e.inline }))
      const check = async () => {
        const out: (boolean | null)[] = []
        for (const [i, id] of [...bigIds, ...smallIds].entries()) {
          const got = (await cache.retrieve(id)) as Uint8Array | undefined
          const want = i < bigIds.length ? big(i) : small(i - bigIds.length)
          out.push(got === undefined ? null : (await h.digest(got)) === (await h.digest(want)))
        }
        return out
      }
      const first = { log, listed, present: await check(), stats: await cache.stats(), evicted: (await cache.evictions()).map((e) => ({ i: bigIds.indexOf(e.id), reason: e.reason })) }
      // What was acknowledged is on disk: a reopened cache reads the same.
      await cache.close()
      cache = await lib.openCache({ name: `space-inline-${storage}`, maxBytes: 1e10, storage })
      const reopened = await check()
      // Now nothing is evictable: pin what is left, fill the quota again, and try once more.
      for (const id of [...bigIds, ...smallIds]) await cache.pin(id)
      await fillQuota()
      const before = await check()
      const refused = await outcome(async () => cache.store(await lib.operationId('inline-quota', { refused: true }), small(99), { codec: 'none' }))
      const after = await check()
      const stats = await cache.stats()
      await cache.close()
      const root = await navigator.storage.getDirectory()
      await root.removeEntry('space-ballast').catch(() => undefined)
      await new Promise((resolve) => Object.assign(indexedDB.deleteDatabase('space-ballast'), { onsuccess: resolve, onerror: resolve }))
      return { ballast, first, reopened, refused, before, after, entries: stats.entries, retries: stats.quotaRetries }
    }, storage)
    // The ballast really filled the quota, so the first inline store was refused and retried.
    expect(run.ballast).toBeGreaterThan(0)
    expect(run.first.log).toEqual(run.first.log.map(() => 'stored'))
    expect(run.first.stats.quotaRetries).toBeGreaterThan(0)
    // Eviction freed payload files, oldest first, for the quota; every inline record is there and intact.
    const gone = run.first.present.slice(0, 4).flatMap((p, i) => (p === null ? [i] : []))
    expect(gone.length).toBeGreaterThan(0)
    expect(gone).toEqual(gone.map((_, k) => k))
    expect(run.first.evicted).toEqual(gone.map((i) => ({ i, reason: 'quota' })))
    expect(run.first.present.slice(4)).toEqual(run.first.present.slice(4).map(() => true))
    expect(run.first.present.every((p) => p !== false)).toBe(true)
    expect(run.first.listed.filter((e) => e.inline).length).toBe(20)
    expect(run.reopened, 'after reopening').toEqual(run.first.present)
    // Nothing evictable: CacheFullError, and not one entry or byte lost; no retry was counted for it.
    expect(run.refused).toBe('CacheFullError')
    expect(run.after).toEqual(run.before)
    expect(run.entries).toBe(run.first.listed.length)
    expect(run.retries, 'retries counted by the reopened cache').toBe(0)
    recordFigures(`space-inline-quota-${storage}`, { inlineStores: 20, quotaRetries: run.first.stats.quotaRetries, evicted: gone.length })
  })
})
}
