import { expect, openPage, test } from './fixtures.js'

test('stores and retrieves JSON, typed arrays and null across the worker', async ({ page }) => {
  await openPage(page, 'cache=core-basic')
  const result = await page.evaluate(async () => {
    const cache = window.voxcache!
    const lib = window.voxcacheLib!
    await cache.clear()
    const idJson = await lib.operationId('json', { a: 1 })
    const idNull = await lib.operationId('null', {})
    const idF32 = await lib.operationId('f32', {})
    const idMissing = await lib.operationId('missing', {})
    await cache.store(idJson, { hello: ['wörld', 1.5, true, null] })
    await cache.store(idNull, null)
    const f = new Float32Array(100_000).map((_, i) => Math.sin(i))
    const expected = f.slice()
    await cache.store(idF32, f)
    const back = (await cache.retrieve(idF32)) as Float32Array
    return {
      json: await cache.retrieve(idJson),
      nullValue: await cache.retrieve(idNull),
      nullHas: await cache.has(idNull),
      missing: await cache.retrieve(idMissing),
      detached: f.length,
      f32Same: back instanceof Float32Array && back.length === expected.length && back.every((v, i) => Object.is(v, expected[i])),
      entries: (await cache.list()).length,
    }
  })
  expect(result.json).toEqual({ hello: ['wörld', 1.5, true, null] })
  expect(result.nullValue).toBeNull()
  expect(result.nullHas).toBe(true)
  expect(result.missing).toBeUndefined()
  expect(result.detached).toBe(0)
  expect(result.f32Same).toBe(true)
  expect(result.entries).toBe(3)
})
