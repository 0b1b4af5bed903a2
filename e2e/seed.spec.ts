// voxcache/playwright's seedCache: an export left for a cache of a fresh browser profile, imported as the
// app's cache opens, so that its first memoize is a hit with the network blocked (every spec's guard).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from '@playwright/test'
import { seedCache } from '../src/playwright.js'
import { checkGuard, expect, guardContext, HARNESS, openPage, test } from './fixtures.js'

/** A cache's export, built in a throwaway profile: two memoized steps and a pinned raw entry. */
async function makeExport(page: Page): Promise<Buffer> {
  await openPage(page, 'cache=seed-source&storage=memory')
  const bytes = await page.evaluate(async () => {
    const cache = window.voxcache!
    await cache.memoize('threshold', { level: 7 }, async () => ({ voxels: 1234 }))
    await cache.memoize('smooth', { sigma: 2 }, async () => new Float32Array([1, 2, 3, 4]))
    const data = new Uint8Array(await (await cache.exportDatabase()).arrayBuffer())
    let binary = ''
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000))
    return btoa(binary)
  })
  return Buffer.from(bytes, 'base64')
}

/** A fresh profile (its own OPFS), guarded like every spec's. */
async function freshPage(browser: Browser, baseURL: string) {
  const context = await browser.newContext({ baseURL })
  const guard = await guardContext(context)
  return { page: await context.newPage(), context, done: async () => (checkGuard(guard), await context.close()) }
}

test.describe('seedCache', () => {
  let dir: string
  test.beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'voxcache-seed-'))
  })
  test.afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('a seeded profile: the first memoize is a hit, and the seed is gone after the open that imported it', async ({ page, browser, baseURL }) => {
    const file = join(dir, 'warm.sqlite')
    writeFileSync(file, await makeExport(page))
    const fresh = await freshPage(browser, baseURL!)
    try {
      await fresh.page.goto(`${HARNESS}?cache=none&storage=memory`)
      await seedCache(fresh.page, file, { name: 'warm' })
      await openPage(fresh.page, 'cache=warm')
      const first = await fresh.page.evaluate(async () => {
        const cache = window.voxcache!
        let computed = 0
        const step = await cache.memoizeEntry('threshold', { level: 7 }, async () => (computed++, { voxels: 0 }))
        const other = await cache.memoizeEntry('smooth', { sigma: 2 }, async () => (computed++, new Float32Array(1)))
        return { seeded: cache.seeded, hit: step.hit && other.hit, value: step.value, floats: [...(other.value as Float32Array)], computed }
      })
      expect(first).toEqual({ seeded: { imported: 2, skipped: 0, rejected: [] }, hit: true, value: { voxels: 1234 }, floats: [1, 2, 3, 4], computed: 0 })
      // The next open finds no seed, and the entries stayed.
      await openPage(fresh.page, 'cache=warm')
      const again = await fresh.page.evaluate(async () => ({ seeded: window.voxcache!.seeded ?? null, entries: (await window.voxcache!.stats()).entries }))
      expect(again).toEqual({ seeded: null, entries: 2 })
    } finally {
      await fresh.done()
    }
  })

  test('a seed that is not an export fails the open with InvalidImportError, once: the next open goes ahead', async ({ browser, baseURL }) => {
    const fresh = await freshPage(browser, baseURL!)
    try {
      const damaged = Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(4096, 0x5a)])
      await seedCache(fresh.page, damaged, { name: 'bad', url: baseURL! }) // the page is still about:blank
      await fresh.page.goto(`${HARNESS}?cache=bad`)
      await expect(fresh.page.locator('body')).toHaveAttribute('data-ready', 'error')
      await expect(fresh.page.locator('#status')).toContainText('InvalidImportError: not a voxcache database')
      const name = await fresh.page.evaluate(() =>
        window.voxcacheLib!.openCache({ name: 'bad' }).then(
          async (cache) => (await cache.close(), 'opened'),
          (error: Error) => error.name,
        ),
      )
      expect(name, 'the second open, the seed removed').toBe('opened')
      await expect(seedCache(fresh.page, Buffer.from('not a database'), { name: 'x' })).rejects.toThrow(TypeError)
    } finally {
      await fresh.done()
    }
  })
})
