import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { checkGuard, expect, guardContext, openPage, test } from './fixtures.js'

// A browser restart, not just a reload: the same profile directory, a new browser process.
test('entries survive closing and relaunching the browser', async ({ baseURL }) => {
  const profile = mkdtempSync(join(tmpdir(), 'voxcache-profile-'))
  const launch = async () => {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      args: chromiumArgs,
      baseURL,
    })
    return { context, guard: await guardContext(context) }
  }
  try {
    const first = await launch()
    const page = await first.context.newPage()
    await openPage(page, 'cache=restart')
    const id = await page.evaluate(async () => {
      const id = await window.voxcacheLib!.operationId('restart', { v: 1 })
      await window.voxcache!.store(id, new Float64Array([Math.PI, Math.E, -0]), { metadata: { note: 'kept' } })
      await window.voxcache!.close()
      return id
    })
    await first.context.close()
    checkGuard(first.guard)

    const second = await launch()
    const again = await second.context.newPage()
    await openPage(again, 'cache=restart')
    const back = await again.evaluate(async (id) => {
      const value = (await window.voxcache!.retrieve(id)) as Float64Array
      return { values: Array.from(value, (v) => (Object.is(v, -0) ? '-0' : v)), info: await window.voxcache!.info(id) }
    }, id)
    await second.context.close()
    expect(back.values).toEqual([Math.PI, Math.E, '-0'])
    expect(back.info?.metadata).toEqual({ note: 'kept' })
    checkGuard(second.guard)
  } finally {
    rmSync(profile, { recursive: true, force: true })
  }
})

// The walls measured in bench/results-large.md, met with typed errors until record format 2 chunks
// values: postMessage refuses ~2 GiB (the array stays whole: nothing was sent), and a real profile's
// IndexedDB refuses a blob of 512 MiB (an incognito context's in-memory IndexedDB does not, hence the
// persistent profile here).
test('past the walls: 2 GiB and a 512 MiB record on IndexedDB are UnsupportedValueErrors, and the cache goes on', async ({ baseURL }) => {
  const profile = mkdtempSync(join(tmpdir(), 'voxcache-profile-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: chromiumArgs, baseURL })
  const guard = await guardContext(context)
  try {
    const page = await context.newPage()
    await openPage(page, 'cache=walls&storage=idb')
    const got = await page.evaluate(async () => {
      const cache = window.voxcache!
      const lib = window.voxcacheLib!
      const attempt = async (bytes: number) => {
        const data = new Uint8Array(bytes)
        const error = await cache.store(await lib.operationId('walls', { bytes }), data, { codec: 'none' }).then(
          () => null,
          (e: Error) => ({ typed: e instanceof lib.UnsupportedValueError, message: e.message }),
        )
        return { error, stillWhole: data.length === bytes }
      }
      const huge = await attempt(2 ** 31)
      const blob = await attempt(512 * 2 ** 20 + 1)
      const id = await lib.operationId('walls', { small: true })
      await cache.store(id, new Float32Array([1, 2, 3]))
      return { huge, blob, after: [...((await cache.retrieve(id)) as Float32Array)], entries: (await cache.stats()).entries }
    })
    expect(got.huge).toEqual({ error: { typed: true, message: expect.stringContaining('too large to send') }, stillWhole: true })
    expect(got.blob.error).toEqual({ typed: true, message: expect.stringContaining('IndexedDB refused a record of') })
    expect(got.after).toEqual([1, 2, 3])
    expect(got.entries).toBe(1)
  } finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
  checkGuard(guard)
})
