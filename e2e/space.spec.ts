// Space: a small budget and a tight browser quota. Eviction keeps the cache under budget with
// hysteresis, pinned and recently used entries survive, and a write the quota refuses ends in
// CacheFullError with nothing stored earlier lost.
import { listCacheFiles } from './cache-files.js'
import { installHarness, prng } from './harness.js'
import { expect, openPage, test } from './fixtures.js'

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
      await cache.close()
      return { after, stats, present, intact }
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
  expect(run.intact.every(Boolean)).toBe(true)
  expect(run.intact.length).toBe(run.present.filter(Boolean).length)
})

for (const storage of ['opfs', 'idb'] as const) {
test(`a tight quota (${storage}): stores evict to fit, and one that cannot fit is CacheFullError with nothing lost`, async ({ page, context }) => {
  await installHarness(context)
  await openPage(page, 'cache=space-quota-probe')
  const cdp = await context.newCDPSession(page)
  const origin = new URL(page.url()).origin
  const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0)
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + 40_000_000 })
  try {
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
      await cache.close()
      return { log, before, after, huge, bytesBefore, bytesAfter: stats.bytes, evictions: stats.evictions }
    }, storage)
    // Every store fitted by evicting least recently used entries; none failed any other way.
    expect(run.log).toEqual(run.log.map(() => 'stored'))
    expect(run.evictions).toBeGreaterThan(0)
    expect(run.before.slice(0, 2)).toEqual([true, true]) // pinned
    expect(run.before.at(-1)).toBe(true) // the newest
    expect(run.before.every((r) => r !== false)).toBe(true) // present means intact
    // The refused store: CacheFullError, and not one entry, byte or file lost to it.
    expect(run.huge).toBe('CacheFullError')
    expect(run.after).toEqual(run.before)
    expect(run.bytesAfter).toBe(run.bytesBefore)
    const files = await listCacheFiles(page, `space-quota-${storage}`, storage)
    expect(Object.keys(files).filter((f) => f.endsWith('.tmp') || f.startsWith('quota-probe'))).toEqual([])
    expect(Object.keys(files).filter((f) => f.startsWith('payloads/')).length).toBe(run.after.filter((r) => r).length)
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
  }
})
}
