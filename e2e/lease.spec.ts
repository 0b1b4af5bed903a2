// The lease of the exclusive lock (worker/tabs.ts): a context keeps the cache's lock between its calls,
// and lets go when another context asks for it. The test page keeps the lease of a cache named
// lease-kept… until asked (test/harness/kept-lease.ts), never for want of calls, so nothing here waits
// on a timer: a context that did not let go when asked would leave the other one waiting for good.
// Two caches of one name in one page play two tabs (each is its own worker).
import { removeCache } from './cache-files.js'
import { expect, openPage, test } from './fixtures.js'

const CACHE = 'lease-kept-spec'

test('a kept lease is let go when another tab asks, and a lease taken again first catches up with what the other tab wrote', async ({ page }) => {
  await openPage(page, 'cache=lease-page&storage=memory')
  await removeCache(page, CACHE)
  const out = await page.evaluate(async (CACHE) => {
    const lib = window.voxcacheLib!
    const a = await lib.openCache({ name: CACHE, storage: 'opfs' })
    const b = await lib.openCache({ name: CACHE, storage: 'opfs' })
    const holds = async () => (await navigator.locks.query()).held?.filter((l) => l.name === `voxcache:${CACHE}`).map((l) => l.mode) ?? []
    const ids: string[] = []
    // Each store needs the lock the other instance kept: without the hand-over this never ends. The
    // values are small JSON, kept inline: an index line lost to a stale journal position would lose
    // the value itself, not only its row.
    for (let i = 0; i < 12; i++) {
      for (const [tab, cache] of [['a', a], ['b', b]] as const) {
        const id = await lib.operationId('lease', { tab, i })
        ids.push(id)
        await cache.store(id, { tab, i })
      }
      // A reads back what B just wrote (a memory hit after the first read), B what A wrote.
      const fromB = await a.retrieve(ids.at(-1)!)
      const fromA = await b.retrieve(ids.at(-2)!)
      if (JSON.stringify(fromB) !== JSON.stringify({ tab: 'b', i }) || JSON.stringify(fromA) !== JSON.stringify({ tab: 'a', i })) {
        throw new Error(`round ${i}: read ${JSON.stringify([fromB, fromA])}`)
      }
    }
    // The last call a store: a read of the lock's holder asks it to let go (so that its next read
    // may use read handles), a store keeps it.
    const last = await lib.operationId('lease', 'last')
    ids.push(last)
    await a.store(last, { tab: 'a', i: 12 })
    const keptAfterCalls = await holds()
    await a.trimMemory()
    await b.trimMemory()
    return { ids, keptAfterCalls }
  }, CACHE)
  // Kept after the last call: the lease is real (the test page's lease never ends for want of calls).
  expect(out.keptAfterCalls).toEqual(['exclusive'])
  // trimMemory() (what a hidden page does) lets go of it.
  await expect.poll(() => page.evaluate(async (CACHE) => (await navigator.locks.query()).held?.filter((l) => l.name === `voxcache:${CACHE}`).length, CACHE)).toBe(0)
  // A third instance opens what is on disk: every entry, every value, from the snapshot and journal
  // both instances wrote in turns.
  const reopened = await page.evaluate(
    async ({ CACHE, ids }) => {
      const lib = window.voxcacheLib!
      const c = await lib.openCache({ name: CACHE, storage: 'opfs' })
      try {
        const values = await Promise.all(ids.map((id) => c.retrieve(id)))
        return { entries: (await c.stats()).entries, values: values.map((v) => JSON.stringify(v)) }
      } finally {
        await c.close()
      }
    },
    { CACHE, ids: out.ids },
  )
  expect(reopened.entries).toBe(25)
  expect(reopened.values).toEqual(Array.from({ length: 25 }, (_, k) => JSON.stringify({ tab: k % 2 ? 'b' : 'a', i: Math.floor(k / 2) })))
})
