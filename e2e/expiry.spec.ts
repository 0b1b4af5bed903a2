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
    return { ids, expiresAt: expiresAt.getTime(), infos: [soon, pinned, kept].map((i) => ({ expiresAt: i.expiresAt, pinned: i.pinned, inline: i.inline })) }
  })
  const iso = new Date(made.expiresAt).toISOString()
  expect(made.infos).toEqual([
    { expiresAt: iso, pinned: false, inline: false },
    { expiresAt: iso, pinned: true, inline: false },
    { expiresAt: null, pinned: false, inline: false },
  ])
  const file = (id: string) => `payloads/${id}.vxc`
  // Each was written to a payload file (inline: false). Only the files are watched (no call into the cache): the cache's own timer must remove them.
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
    // The one margin of this spec: the page must take the lock below within 3 s of this store.
    const expiresAt = Date.now() + 3000
    const info = await cache.store(id, crypto.getRandomValues(new Uint8Array(20_000)), { expiresAt })
    // No read here: a hit's access time is written a second later, under the lock held below.
    return { id, expiresAt, misses: (await cache.stats()).misses, stored: info.expiresAt }
  })
  expect(made.stored).toBe(new Date(made.expiresAt).toISOString())
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
  // list() needs no lock: it already leaves the expired entry out, though its row is still there.
  expect(await page.evaluate(async () => (await window.exp.read!.list()).length)).toBe(0)
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

test('at open: what expired while the cache was closed is gone before any read; maxAgeMs is the opener\'s', async ({ page }) => {
  for (const name of ['exp-reopen', 'exp-age']) await removeCache(page, name)
  const made = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const bytes = () => crypto.getRandomValues(new Uint8Array(20_000))
    const ids = { soon: await lib.operationId('exp', 'reopen-soon'), kept: await lib.operationId('exp', 'reopen-kept'), old: await lib.operationId('exp', 'old'), oldPinned: await lib.operationId('exp', 'old-pinned') }
    const reopen = await lib.openCache({ name: 'exp-reopen', storage: 'opfs' })
    // Margin: the cache must be closed before its own timer could sweep (3 s).
    const expiresAt = Date.now() + 3000
    await reopen.store(ids.soon, bytes(), { expiresAt })
    await reopen.store(ids.kept, bytes())
    await reopen.close()
    const age = await lib.openCache({ name: 'exp-age', storage: 'opfs' })
    const created = Date.parse((await age.store(ids.old, bytes())).createdAt)
    await age.store(ids.oldPinned, bytes(), { pin: true })
    await age.close()
    return { ids, expiresAt, created }
  })
  const file = (id: string) => `payloads/${id}.vxc`
  await until(page, Math.max(made.expiresAt, made.created + 1000))
  // Closed, nothing has touched the files yet.
  expect(await payloads(page, 'exp-reopen')).toEqual([made.ids.soon, made.ids.kept].map(file).sort())
  expect(await payloads(page, 'exp-age')).toEqual([made.ids.old, made.ids.oldPinned].map(file).sort())

  await page.evaluate(async () => (window.exp.reopen = await window.voxcacheLib!.openCache({ name: 'exp-reopen', storage: 'opfs' })))
  expect(await payloads(page, 'exp-reopen'), 'gone once openCache resolved').toEqual([file(made.ids.kept)])

  // Without maxAgeMs nothing ages out; with it, whatever is older goes at open, pinned too.
  await page.evaluate(async () => {
    const cache = await window.voxcacheLib!.openCache({ name: 'exp-age', storage: 'opfs' })
    await cache.close()
  })
  expect(await payloads(page, 'exp-age')).toEqual([made.ids.old, made.ids.oldPinned].map(file).sort())
  await page.evaluate(async () => (window.exp.age = await window.voxcacheLib!.openCache({ name: 'exp-age', storage: 'opfs', maxAgeMs: 1000 })))
  expect(await payloads(page, 'exp-age'), 'gone once openCache resolved').toEqual([])

  const got = await page.evaluate(async (ids) => {
    const lib = window.voxcacheLib!
    const reopen = window.exp.reopen!
    const age = window.exp.age!
    const out = {
      reopen: (await reopen.list()).map((e) => e.id),
      soon: (await reopen.retrieve(ids.soon)) ?? 'miss',
      age: (await age.list()).map((e) => e.id),
      entries: (await age.stats()).entries,
      refused: await lib.openCache({ name: 'exp-age', storage: 'opfs', maxAgeMs: 0 }).then(
        () => 'opened',
        (e: Error) => (e instanceof lib.UnsupportedValueError ? `UnsupportedValueError: ${e.message}` : `${e.name}: ${e.message}`),
      ),
    }
    await reopen.close()
    // A value stored now is younger than maxAgeMs, and the timer takes it once it is not.
    const fresh = await lib.operationId('exp', 'fresh')
    const stored = await age.store(fresh, crypto.getRandomValues(new Uint8Array(20_000)))
    return { ...out, fresh: { id: fresh, inline: stored.inline } }
  }, made.ids)
  const fresh = got.fresh.id
  expect(got).toEqual({
    reopen: [made.ids.kept], soon: 'miss', age: [], entries: 0, fresh: { id: fresh, inline: false },
    refused: 'UnsupportedValueError: maxAgeMs must be a positive finite number of milliseconds, not 0',
  })
  await expect.poll(() => payloads(page, 'exp-age')).toEqual([])
  expect(await page.evaluate(async () => {
    const cache = window.exp.age!
    const out = (await cache.list()).length
    await cache.close()
    return out
  })).toBe(0)
})

test('a bad expiresAt is refused before anything is written or detached', async ({ page }) => {
  const got = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const cache = window.voxcache!
    const id = await lib.operationId('exp', 'bad')
    const data = new Uint8Array(100)
    const outcomes: string[] = []
    for (const expiresAt of [Number.NaN, Infinity, new Date('no'), '2030-01-01', 1e20] as unknown as number[]) {
      // (store() checks its arguments before it returns a promise, as for metadata.)
      outcomes.push(await (async () => cache.store(id, data, { expiresAt }))().then(() => 'stored', (e: Error) => (e instanceof lib.UnsupportedValueError ? 'refused' : e.name)))
    }
    let computed = false
    const memo = await cache.memoize('exp', 'bad', () => ((computed = true), 1), { expiresAt: Number.NaN }).then(() => 'stored', (e: Error) => (e instanceof lib.UnsupportedValueError ? 'refused' : e.name))
    return { outcomes, memo, computed, detached: data.byteLength === 0, has: await cache.has(id) }
  })
  expect(got).toEqual({ outcomes: Array(5).fill('refused'), memo: 'refused', computed: false, detached: false, has: false })
})

test('a protected cache opened locked (no key) still sweeps, at open and while open', async ({ page }) => {
  await removeCache(page, 'exp-locked')
  const made = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const cache = await lib.openCache({ name: 'exp-locked', storage: 'opfs', encryption: { key } })
    const bytes = () => crypto.getRandomValues(new Uint8Array(20_000))
    const ids = { first: await lib.operationId('exp', 'locked-1'), second: await lib.operationId('exp', 'locked-2'), kept: await lib.operationId('exp', 'locked-kept') }
    const now = Date.now()
    await cache.store(ids.first, bytes(), { expiresAt: now + 1500, metadata: { patient: 'x' } })
    await cache.store(ids.second, bytes(), { expiresAt: now + 4000 })
    await cache.store(ids.kept, bytes())
    await cache.close()
    return { ids, first: now + 1500 }
  })
  const file = (id: string) => `payloads/${id}.vxc`
  await until(page, made.first)
  await page.evaluate(async () => (window.exp.locked = await window.voxcacheLib!.openCache({ name: 'exp-locked', storage: 'opfs' })))
  // The first went at open (no call into the cache yet: stats() would sweep too); the second, 2.5 s
  // later, goes by the locked cache's own timer.
  expect(await payloads(page, 'exp-locked')).not.toContain(file(made.ids.first))
  expect(await page.evaluate(async () => (await window.exp.locked!.stats()).protection?.locked)).toBe(true)
  await expect.poll(() => payloads(page, 'exp-locked')).toEqual([file(made.ids.kept)])
  const listed = await page.evaluate(async () => {
    const cache = window.exp.locked!
    const out = (await cache.list()).map((e) => e.id)
    await cache.close()
    return out
  })
  expect(listed).toEqual([made.ids.kept])
})

test('expiresAt survives an index rebuilt from the records, and an export/import (which refuses what expired since)', async ({ page }) => {
  for (const name of ['exp-rebuild', 'exp-port']) await removeCache(page, name)
  const later = Date.now() + 3_600_000
  const made = await page.evaluate(async (later) => {
    const lib = window.voxcacheLib!
    const bytes = () => crypto.getRandomValues(new Uint8Array(20_000))
    const ids = { later: await lib.operationId('exp', 'later'), never: await lib.operationId('exp', 'never'), soon: await lib.operationId('exp', 'port-soon') }
    const cache = await lib.openCache({ name: 'exp-rebuild', storage: 'opfs' })
    await cache.store(ids.later, bytes(), { expiresAt: later })
    await cache.store(ids.never, bytes())
    await cache.close()
    const port = await lib.openCache({ name: 'exp-port', storage: 'opfs' })
    // Margin: the export must be made within 3 s.
    const soon = Date.now() + 3000
    await port.store(ids.later, bytes(), { expiresAt: later })
    await port.store(ids.never, { small: true })
    await port.store(ids.soon, bytes(), { expiresAt: soon })
    const exported = await port.exportDatabase()
    await port.clear()
    ;(window as unknown as { exported: Blob }).exported = exported
    window.exp.port = port
    return { ids, soon }
  }, later)
  // The index goes (snapshot and journal): the next open rebuilds it from the payload files' headers.
  await page.evaluate(async () => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle('exp-rebuild')
    const names: string[] = []
    for await (const [name, handle] of dir as unknown as AsyncIterable<[string, FileSystemHandle]>) if (handle.kind === 'file' && name.startsWith('index.')) names.push(name)
    if (!names.length) throw new Error('no index files to remove')
    for (const name of names) await dir.removeEntry(name)
  })
  await until(page, made.soon)
  const got = await page.evaluate(async (ids) => {
    const lib = window.voxcacheLib!
    const cache = await lib.openCache({ name: 'exp-rebuild', storage: 'opfs' })
    const rebuilt = { later: (await cache.info(ids.later))?.expiresAt, never: (await cache.info(ids.never))?.expiresAt }
    await cache.close()
    const port = window.exp.port!
    const report = await port.importDatabase((window as unknown as { exported: Blob }).exported)
    const imported = { later: (await port.info(ids.later))?.expiresAt, never: (await port.info(ids.never))?.expiresAt, soon: (await port.info(ids.soon)) ?? 'gone' }
    await port.close()
    return { rebuilt, imported, report: { imported: report.imported, rejected: report.rejected.map((r) => [r.id, r.reason.replace(/\(.*\)/, '(…)')]) } }
  }, made.ids)
  const iso = new Date(later).toISOString()
  expect(got).toEqual({
    rebuilt: { later: iso, never: null },
    imported: { later: iso, never: null, soon: 'gone' },
    report: { imported: 2, rejected: [[made.ids.soon, 'expired (…)']] },
  })
  expect(await payloads(page, 'exp-port')).toEqual([`payloads/${made.ids.later}.vxc`])
})
