// Expiry (issue 15): an entry past its `expiresAt` (a store option), or older than the opener's
// `maxAgeMs`, is a miss, and its files are deleted — by a sweep while the cache is open, at open before
// any read, and by a read that meets it — pinned or not, in a protected cache opened locked too. The
// expiry lives in the record, so an index rebuilt from the records and an export/import keep it.
// Nothing sleeps: the tests poll the page's clock, the cache's files and its Web Lock.
import type { Page } from '@playwright/test'
import { listCacheFiles, removeCache } from './cache-files.js'
import { expect, openPage, test } from './fixtures.js'

/** The payload files of a cache, by path (`payloads/<id>.vxc`, chunks `.vxb`). */
async function payloads(page: Page, cache: string): Promise<string[]> {
  return Object.keys(await listCacheFiles(page, cache)).filter((p) => p.startsWith('payloads/')).sort()
}

/** Waits, by polling the page's clock, until `time` (epoch ms) has passed. */
async function until(page: Page, time: number): Promise<void> {
  await expect.poll(() => page.evaluate(() => Date.now())).toBeGreaterThan(time)
}

declare global {
  interface Window {
    exp: Record<string, import('../src/index.js').VoxCache>
  }
}

test.beforeEach(async ({ page }) => {
  await openPage(page, 'cache=exp-page&storage=memory')
  await page.evaluate(() => (window.exp = {}))
})

test('swept while open: entries past expiresAt (pinned too) leave list() and OPFS without any read; the rest stay', async ({ page }) => {
  await removeCache(page, 'exp-open')
  const made = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const cache = (window.exp.open = await lib.openCache({ name: 'exp-open', storage: 'opfs' }))
    const ids = { soon: await lib.operationId('exp', 'soon'), pinned: await lib.operationId('exp', 'pinned'), kept: await lib.operationId('exp', 'kept') }
    const bytes = () => crypto.getRandomValues(new Uint8Array(20_000)) // past inlineBytes: a payload file each
    const expiresAt = new Date(Date.now() + 1500)
    const soon = await cache.store(ids.soon, bytes(), { expiresAt })
    const pinned = await cache.store(ids.pinned, bytes(), { expiresAt: expiresAt.getTime(), pin: true })
    const kept = await cache.store(ids.kept, bytes())
    return { ids, expiresAt: expiresAt.getTime(), infos: [soon, pinned, kept].map((i) => ({ expiresAt: i.expiresAt, pinned: i.pinned, inline: i.inline })), listed: (await cache.list()).length }
  })
  const iso = new Date(made.expiresAt).toISOString()
  expect(made.infos).toEqual([
    { expiresAt: iso, pinned: false, inline: false },
    { expiresAt: iso, pinned: true, inline: false },
    { expiresAt: null, pinned: false, inline: false },
  ])
  expect(made.listed).toBe(3)
  const file = (id: string) => `payloads/${id}.vxc`
  expect(await payloads(page, 'exp-open')).toEqual([made.ids.soon, made.ids.pinned, made.ids.kept].map(file).sort())
  // Only the files are watched (no call into the cache): the cache's own timer must remove them.
  await expect.poll(() => payloads(page, 'exp-open')).toEqual([file(made.ids.kept)])
  const after = await page.evaluate(async () => {
    const cache = window.exp.open!
    const out = { listed: (await cache.list()).map((e) => e.id), entries: (await cache.stats()).entries }
    await cache.close()
    return out
  })
  expect(after).toEqual({ listed: [made.ids.kept], entries: 1 })
})

test('a read that meets an expired entry is a miss (counted) and deletes it, even while the sweep cannot run', async ({ page }) => {
  await removeCache(page, 'exp-read')
  const made = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const cache = (window.exp.read = await lib.openCache({ name: 'exp-read', storage: 'opfs' }))
    const id = await lib.operationId('exp', 'read')
    const expiresAt = Date.now() + 1500
    await cache.store(id, crypto.getRandomValues(new Uint8Array(20_000)), { expiresAt })
    // has(), not retrieve(): a hit's access time is written a second later, under the lock held below.
    return { id, expiresAt, misses: (await cache.stats()).misses, has: await cache.has(id) }
  })
  expect(made.has).toBe(true)
  // The page holds the cache's lock, so the worker's timer cannot sweep: only the read path can make
  // the read a miss. (Without it, retrieve reads the file outside the lock and returns the value.)
  await page.evaluate(() => {
    const w = window as unknown as { letGo: () => void; held: Promise<void> }
    w.held = new Promise<void>((granted) => {
      void navigator.locks.request('voxcache:exp-read', { mode: 'exclusive' }, () => {
        granted()
        return new Promise<void>((resolve) => (w.letGo = resolve))
      })
    })
    return w.held
  })
  await until(page, made.expiresAt)
  const pending = () => page.evaluate(async () => ((await navigator.locks.query()).pending ?? []).filter((l) => l.name === 'voxcache:exp-read').length)
  await expect.poll(pending, 'the timer\'s sweep waits for the lock').toBe(1)
  await page.evaluate((id) => {
    const w = window as unknown as { read: Promise<unknown>; settled: boolean }
    w.settled = false
    w.read = window.exp.read!.retrieve(id).finally(() => (w.settled = true))
  }, made.id)
  // Either the read queued its own sweep behind the lock, or it came back without one (the fault this catches).
  await expect.poll(async () => (await pending()) === 2 || (await page.evaluate(() => (window as unknown as { settled: boolean }).settled))).toBe(true)
  expect(await page.evaluate(() => (window as unknown as { settled: boolean }).settled), 'the read waited for its sweep').toBe(false)
  const got = await page.evaluate(async (id) => {
    const w = window as unknown as { letGo: () => void; read: Promise<unknown> }
    w.letGo()
    const value = await w.read
    const cache = window.exp.read!
    const out = { value: value === undefined ? 'miss' : 'hit', misses: (await cache.stats()).misses, has: await cache.has(id), info: (await cache.info(id)) ?? null }
    await cache.close()
    return out
  }, made.id)
  expect(got).toEqual({ value: 'miss', misses: made.misses + 1, has: false, info: null })
  expect(await payloads(page, 'exp-read')).toEqual([])
})
