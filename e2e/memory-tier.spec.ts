// The memory tier (issue 14): a value read once is served again from the worker's RAM, as a copy the
// caller owns; a value replaced, deleted or expired — in this cache or in another instance of it, which
// is what another tab is (its own worker) — is never served from it once that change has resolved;
// clear(), trimMemory() and a hidden page empty it; its budget holds. Two caches of one name in one page
// play two tabs. Nothing sleeps: expiry is awaited by polling the page's clock.
import { removeCache } from './cache-files.js'
import { installHarness } from './harness.js'
import { expect, openPage, test } from './fixtures.js'
import type { VoxCache } from '../src/index.js'

declare global {
  interface Window {
    mt: Record<string, VoxCache>
  }
}

test.beforeEach(async ({ page, context }) => {
  await installHarness(context)
  await openPage(page, 'cache=mt-page&storage=memory')
  await page.evaluate(() => (window.mt = {}))
})

test.afterEach(async ({ page }) => {
  await page.evaluate(async () => {
    for (const cache of Object.values(window.mt)) await cache.close()
  })
})

test('a second retrieve is a memory hit: an equal value, the caller\'s own, equal to a read from disk; a region is cut from a held image', async ({ page }) => {
  await removeCache(page, 'mt-own')
  const out = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const cache = (window.mt.a = await lib.openCache({ name: 'mt-own', storage: 'opfs' }))
    const bytesId = await lib.operationId('mt', 'bytes')
    const imageId = await lib.operationId('mt', 'image')
    const bytes = window.vxHarness.bytes(1, 40_000, 'random') // past inlineBytes: a payload file
    const digest = await window.vxHarness.digest(bytes)
    await cache.store(bytesId, bytes)
    const image = {
      imageType: { dimension: 3, componentType: 'int16', pixelType: 'Scalar', components: 1 },
      name: 'mt',
      origin: [1, 2, 3],
      spacing: [0.5, 0.5, 2],
      direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size: [20, 30, 40],
      metadata: new Map<string, unknown>([['0008|0060', 'MR']]),
      data: new Int16Array(window.vxHarness.bytes(2, 20 * 30 * 40 * 2, 'smooth').buffer),
    } as unknown as import('../src/index.js').Image
    const imageDigest = await window.vxHarness.digest(image.data as Int16Array)
    await cache.store(imageId, image)

    const fromDisk = (await cache.retrieve(bytesId)) as Uint8Array
    const afterDisk = await cache.stats()
    const fromMemory = (await cache.retrieve(bytesId)) as Uint8Array
    const afterMemory = await cache.stats()
    const memoryDigest = await window.vxHarness.digest(fromMemory)
    fromMemory.fill(0) // the caller's own: the next retrieve must not see this
    const again = (await cache.retrieve(bytesId)) as Uint8Array

    // An image: the memory copy equals the disk read in every field, and its pixels are the caller's.
    const shape = (i: import('../src/index.js').Image) => JSON.stringify({ ...i, data: i.data!.constructor.name, direction: Array.from(i.direction as ArrayLike<number>), metadata: [...(i.metadata as Map<string, unknown>)] })
    const imageDisk = (await cache.retrieve(imageId)) as import('../src/index.js').Image
    const imageMemory = (await cache.retrieve(imageId)) as import('../src/index.js').Image
    ;(imageMemory.data as Int16Array).fill(7)
    ;(imageMemory.origin as number[])[0] = 99
    ;(imageMemory.metadata as Map<string, unknown>).set('0008|0060', 'CT')
    const imageAgain = (await cache.retrieve(imageId)) as import('../src/index.js').Image
    const last = await cache.stats()
    // A box of a held image is cut from it, and equals the box a region read gives.
    const box = { index: [3, 5, 7], size: [10, 20, 9] }
    const boxMemory = (await cache.retrieveRegion(imageId, box))!
    const boxHits = (await cache.stats()).memoryHits - last.memoryHits
    let badBox = ''
    await cache.retrieveRegion(imageId, { index: [15, 0, 0], size: [10, 1, 1] }).catch((e: Error) => (badBox = e.name))
    await cache.trimMemory()
    const boxDisk = (await cache.retrieveRegion(imageId, box))!
    const region = {
      hits: boxHits,
      afterTrim: (await cache.stats()).memoryHits - last.memoryHits,
      badBox,
      digests: [await window.vxHarness.digest(boxMemory.data as Int16Array), await window.vxHarness.digest(boxDisk.data as Int16Array)],
      shapes: [shape(boxMemory), shape(boxDisk)],
    }
    return {
      digest,
      diskDigest: await window.vxHarness.digest(fromDisk),
      memoryDigest,
      againDigest: await window.vxHarness.digest(again),
      counts: [afterDisk, afterMemory, last].map((s) => [s.hits, s.memoryHits]),
      held: { bytes: last.memoryBytes, entries: last.memoryEntries },
      imageDigest,
      imageDiskDigest: await window.vxHarness.digest(imageDisk.data as Int16Array),
      imageAgainDigest: await window.vxHarness.digest(imageAgain.data as Int16Array),
      shapes: [shape(imageDisk), shape(imageAgain)],
      sameBuffer: imageDisk.data!.buffer === imageAgain.data!.buffer,
      region,
    }
  })
  expect(out.diskDigest).toBe(out.digest)
  expect(out.memoryDigest).toBe(out.digest)
  expect(out.againDigest).toBe(out.digest)
  // hits count every hit; memoryHits those the tier served.
  expect(out.counts).toEqual([[1, 0], [2, 1], [6, 4]])
  expect(out.held).toEqual({ bytes: 40_000 + 20 * 30 * 40 * 2, entries: 2 })
  expect(out.imageDiskDigest).toBe(out.imageDigest)
  expect(out.imageAgainDigest).toBe(out.imageDigest)
  expect(out.shapes[1]).toBe(out.shapes[0])
  expect(out.shapes[0]).toContain('"origin":[1,2,3]')
  expect(out.sameBuffer).toBe(false)
  expect(out.region.hits).toBe(1)
  expect(out.region.afterTrim).toBe(1)
  expect(out.region.badBox).toBe('UnsupportedValueError')
  expect(out.region.digests[0]).toBe(out.region.digests[1])
  expect(out.region.shapes[0]).toBe(out.region.shapes[1])
})

test('replaced here or in another instance ("another tab"), deleted or expired there: never served from memory once that call resolved', async ({ page }) => {
  await removeCache(page, 'mt-tabs')
  const ROUNDS = 24
  const out = await page.evaluate(async (ROUNDS) => {
    const lib = window.voxcacheLib!
    const a = (window.mt.a = await lib.openCache({ name: 'mt-tabs', storage: 'opfs' }))
    const b = (window.mt.b = await lib.openCache({ name: 'mt-tabs', storage: 'opfs' }))
    const h = window.vxHarness
    const first = (v: unknown) => (v instanceof Uint8Array ? v[0] : v === undefined ? 'miss' : 'other')
    const wrong: string[] = []
    // Each round: A holds version n (read twice: the second is a memory hit), then the change happens,
    // then A reads at once.
    for (let n = 0; n < ROUNDS; n++) {
      const id = await lib.operationId('mt-tabs', n)
      await a.store(id, h.bytes(n, 20_000, 'random').fill(1, 0, 1))
      await a.retrieve(id)
      const hits = (await a.stats()).memoryHits
      if (first(await a.retrieve(id)) !== 1 || (await a.stats()).memoryHits !== hits + 1) wrong.push(`round ${n}: not held`)
      // Replaced in this tab.
      await a.store(id, h.bytes(n, 20_000, 'random').fill(2, 0, 1))
      if (first(await a.retrieve(id)) !== 2) wrong.push(`round ${n}: replaced here, got the old value`)
      await a.retrieve(id)
      // Replaced in the other tab.
      await b.store(id, h.bytes(n, 20_000, 'random').fill(3, 0, 1))
      const replaced = first(await a.retrieve(id))
      if (replaced !== 3) wrong.push(`round ${n}: replaced in B, A got ${replaced}`)
      await a.retrieve(id)
      // Deleted in the other tab.
      await b.delete(id)
      const deleted = first(await a.retrieve(id))
      if (deleted !== 'miss') wrong.push(`round ${n}: deleted in B, A got ${deleted}`)
    }
    // Expired: stored by B with a near expiresAt, held by A, read by A once the time has passed.
    const id = await lib.operationId('mt-tabs', 'expiring')
    const expiresAt = Date.now() + 400
    await b.store(id, h.bytes(9, 20_000, 'random'), { expiresAt })
    await a.retrieve(id)
    const held = (await a.stats()).memoryHits
    const before = await a.retrieve(id)
    const heldThen = (await a.stats()).memoryHits === held + 1
    return { wrong, expiresAt, id, heldBeforeExpiry: before !== undefined && heldThen }
  }, ROUNDS)
  expect(out.wrong).toEqual([])
  expect(out.heldBeforeExpiry).toBe(true)
  await expect.poll(() => page.evaluate(() => Date.now())).toBeGreaterThan(out.expiresAt)
  expect(await page.evaluate((id) => window.mt.a!.retrieve(id), out.id)).toBeUndefined()
})

test('trimMemory(), clear() and a hidden page empty the tier: the next retrieve reads the record', async ({ page }) => {
  await removeCache(page, 'mt-trim')
  const out = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const cache = (window.mt.a = await lib.openCache({ name: 'mt-trim', storage: 'opfs' }))
    const id = await lib.operationId('mt-trim', 1)
    await cache.store(id, window.vxHarness.bytes(1, 20_000, 'random'))
    const snap = async () => {
      const s = await cache.stats()
      return [s.hits, s.memoryHits, s.memoryBytes]
    }
    const seen: Record<string, number[]> = {}
    await cache.retrieve(id)
    await cache.retrieve(id)
    seen.held = await snap()
    await cache.trimMemory()
    seen.trimmed = await snap()
    await cache.retrieve(id) // from disk: hits +1, memoryHits not
    seen.readAgain = await snap()
    await cache.retrieve(id)
    seen.heldAgain = await snap()
    await cache.clear()
    seen.cleared = await snap()
    const afterClear = await cache.retrieve(id)
    return { seen, afterClear: afterClear === undefined ? 'miss' : 'hit' }
  })
  expect(out.seen).toEqual({
    held: [2, 1, 20_000],
    trimmed: [2, 1, 0],
    readAgain: [3, 1, 20_000],
    heldAgain: [4, 2, 20_000],
    cleared: [4, 2, 0],
  })
  expect(out.afterClear).toBe('miss')

  // The page hidden: the client's visibilitychange listener asks the worker to trim.
  await page.evaluate(async () => {
    const cache = window.mt.a!
    const id = await window.voxcacheLib!.operationId('mt-trim', 2)
    await cache.store(id, window.vxHarness.bytes(2, 20_000, 'random'))
    await cache.retrieve(id)
  })
  expect((await page.evaluate(() => window.mt.a!.stats())).memoryBytes).toBe(20_000)
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true })
    document.dispatchEvent(new Event('visibilitychange'))
  })
  await expect.poll(async () => (await page.evaluate(() => window.mt.a!.stats())).memoryBytes).toBe(0)
})

test('the budget holds: least recently used values go first, a value past a quarter of it is not kept, 0 keeps nothing, a bad budget is refused', async ({ page }) => {
  await removeCache(page, 'mt-budget')
  await removeCache(page, 'mt-off')
  const out = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const cache = (window.mt.a = await lib.openCache({ name: 'mt-budget', storage: 'opfs', memoryBytes: 100_000 }))
    const ids = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => lib.operationId('mt-budget', i)))
    for (const [i, id] of ids.entries()) await cache.store(id, window.vxHarness.bytes(i, 20_000, 'random'))
    for (const id of ids) await cache.retrieve(id) // six of 20,000 bytes: the first goes
    const full = await cache.stats()
    const memoryHits = async (id: string) => {
      const before = (await cache.stats()).memoryHits
      await cache.retrieve(id)
      return (await cache.stats()).memoryHits - before
    }
    const newest = await memoryHits(ids[5]!)
    const oldest = await memoryHits(ids[0]!) // read from disk, and kept again: ids[1] goes
    const second = await memoryHits(ids[1]!)
    const big = await lib.operationId('mt-budget', 'big')
    await cache.store(big, window.vxHarness.bytes(9, 25_001, 'random'))
    await cache.retrieve(big)
    const bigAgain = await memoryHits(big)
    const last = await cache.stats()

    const off = (window.mt.off = await lib.openCache({ name: 'mt-off', storage: 'opfs', memoryBytes: 0 }))
    await off.store(ids[0]!, window.vxHarness.bytes(0, 20_000, 'random'))
    await off.retrieve(ids[0]!)
    await off.retrieve(ids[0]!)
    const offStats = await off.stats()
    let refused = ''
    try {
      await lib.openCache({ name: 'mt-bad', storage: 'memory', memoryBytes: -1 })
    } catch (error) {
      refused = `${(error as Error).name} ${error instanceof lib.UnsupportedValueError}`
    }
    return {
      full: [full.memoryBytes, full.memoryEntries, full.memoryMaxBytes],
      newest,
      oldest,
      second,
      bigAgain,
      last: [last.memoryBytes, last.memoryEntries],
      off: [offStats.hits, offStats.memoryHits, offStats.memoryBytes, offStats.memoryMaxBytes],
      refused,
    }
  })
  expect(out.full).toEqual([100_000, 5, 100_000])
  expect([out.newest, out.oldest, out.second]).toEqual([1, 0, 0])
  expect(out.bigAgain).toBe(0)
  expect(out.last[0]).toBeLessThanOrEqual(100_000)
  expect(out.off).toEqual([2, 0, 0, 0])
  expect(out.refused).toBe('UnsupportedValueError true')
})

test('the default budget comes from navigator.deviceMemory', async ({ page }) => {
  const out = await page.evaluate(async () => ({
    stats: (await window.voxcache!.stats()).memoryMaxBytes,
    deviceMemory: (navigator as { deviceMemory?: number }).deviceMemory,
  }))
  const gib = out.deviceMemory ?? 4
  expect(out.stats).toBe(Math.min(2 ** 30, Math.max(64 * 2 ** 20, (gib * 2 ** 30) / 16)))
})
