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
