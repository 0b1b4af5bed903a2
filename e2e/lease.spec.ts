// The lease of the exclusive lock (worker/tabs.ts): a context keeps the cache's lock between its calls,
// and lets go when another context asks for it. The test page keeps the lease of a cache named
// lease-kept… until asked (test/harness/kept-lease.ts), never for want of calls, so nothing here waits
// on a timer: a context that did not let go when asked would leave the other one waiting for good.
// Two caches of one name in one page play two tabs (each is its own worker).
import { removeCache } from './cache-files.js'
import { installHarness } from './harness.js'
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

test('a memory hit under a lease taken again sees what another tab changed meanwhile, with no announcement to tell it', async ({ page, context }) => {
  // The test page drops every announcement of caches named lease-kept-muted… (test/harness/kept-lease.ts):
  // only the lock and the journal tell A of B's change.
  const MUTED = 'lease-kept-muted-spec'
  await installHarness(context)
  await openPage(page, 'cache=lease-page&storage=memory')
  await removeCache(page, MUTED)
  const out = await page.evaluate(async (MUTED) => {
    const lib = window.voxcacheLib!
    const h = window.vxHarness
    const a = await lib.openCache({ name: MUTED, storage: 'opfs' })
    const b = await lib.openCache({ name: MUTED, storage: 'opfs' })
    const held = async () => (await navigator.locks.query()).held?.filter((l) => l.name === `voxcache:${MUTED}`).length ?? 0
    const id = await lib.operationId('lease-muted', 'x')
    const first = (v: unknown) => (v instanceof Uint8Array ? v[0] : String(v))
    // 20 kB: a record file, kept by the memory tier at its first read.
    await a.store(id, h.bytes(1, 20_000, 'random').fill(1, 0, 1))
    await a.retrieve(id)
    const hits = (await a.stats()).memoryHits
    const heldByA = first(await a.retrieve(id))
    const memoryHit = (await a.stats()).memoryHits === hits + 1
    // B replaces it (A lets go of its lease when B asks), then lets go of the lock itself.
    await b.store(id, h.bytes(1, 20_000, 'random').fill(2, 0, 1))
    await b.trimMemory()
    for (let i = 0; (await held()) > 0; i++) if (i > 10_000) throw new Error('B kept the lock')
    // A takes the lock again as a lease of its own: its memory still holds version 1.
    const afterReplace = first(await a.retrieve(id))
    await a.close()
    await b.close()
    return { heldByA, memoryHit, afterReplace }
  }, MUTED)
  expect(out).toEqual({ heldByA: 1, memoryHit: true, afterReplace: 2 })
})
