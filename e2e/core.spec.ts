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
      missingHas: await cache.has(idMissing),
      detached: f.length,
      f32Same: back instanceof Float32Array && back.length === expected.length && back.every((v, i) => Object.is(v, expected[i])),
      entries: (await cache.list()).length,
      deletedMissing: await cache.delete(idMissing),
    }
  })
  expect(result.json).toEqual({ hello: ['wörld', 1.5, true, null] })
  expect(result.nullValue).toBeNull()
  expect(result.nullHas).toBe(true)
  expect(result.missing).toBeUndefined()
  expect(result.missingHas).toBe(false)
  expect(result.detached).toBe(0)
  expect(result.f32Same).toBe(true)
  expect(result.entries).toBe(3)
  expect(result.deletedMissing).toBe(false)
})

test('a 256³ image survives a reload bit for bit, geometry and metadata included', async ({ page }) => {
  await openPage(page, 'cache=core-reload')
  const stored = await page.evaluate(async () => {
    const cache = window.voxcache!
    const lib = window.voxcacheLib!
    await cache.clear()
    const n = 256
    const data = new Uint8Array(n * n * n)
    // A phantom with structure (a sphere with a gradient, plus noise) so compression has real work to do.
    let seed = 1
    for (let z = 0; z < n; z++)
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          seed = (seed * 1103515245 + 12345) >>> 0
          const r = Math.hypot(x - 128, y - 128, z - 128)
          data[(z * n + y) * n + x] = r < 100 ? 60 + (x >> 1) + (seed >>> 28) : seed >>> 30
        }
    const sha = async (bytes: Uint8Array) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)), (b) => b.toString(16).padStart(2, '0')).join('')
    const digest = await sha(data)
    const id = await lib.operationId('phantom', { n })
    const image = {
      imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
      name: 'phantom',
      origin: [-127.5, -0.25, 3e-7],
      spacing: [0.7, 0.7, 1.25],
      direction: new Float64Array([0, 1, 0, -1, 0, 0, 0, 0, 1]),
      size: [n, n, n],
      metadata: new Map<string, unknown>([['modality', 'MR'], ['window', [40, 400]]]),
      data,
    }
    const info = await cache.store(id, image as never, { metadata: { source: 'test' } })
    return { id, digest, info, detached: data.byteLength }
  })
  expect(stored.detached).toBe(0)
  expect(stored.info.rawBytes).toBe(256 ** 3)
  expect(stored.info.codec).toBe('zstd')
  expect(stored.info.sizeBytes).toBeLessThan(256 ** 3)

  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  const back = await page.evaluate(async (id) => {
    const cache = window.voxcache!
    const image = (await cache.retrieve(id)) as { data: Uint8Array; [k: string]: unknown }
    const sha = async (bytes: Uint8Array) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)), (b) => b.toString(16).padStart(2, '0')).join('')
    return {
      digest: await sha(image.data),
      type: image.data.constructor.name,
      imageType: image.imageType,
      origin: image.origin,
      spacing: image.spacing,
      direction: Array.from(image.direction as Float64Array),
      size: image.size,
      metadata: [...(image.metadata as Map<string, unknown>)],
      info: await cache.info(id),
      storage: cache.storage,
    }
  }, stored.id)
  expect(back.storage).toBe('opfs')
  expect(back.digest).toBe(stored.digest)
  expect(back.type).toBe('Uint8Array')
  expect(back.imageType).toEqual({ dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 })
  expect(back.origin).toEqual([-127.5, -0.25, 3e-7])
  expect(back.spacing).toEqual([0.7, 0.7, 1.25])
  expect(back.direction).toEqual([0, 1, 0, -1, 0, 0, 0, 0, 1])
  expect(back.size).toEqual([256, 256, 256])
  expect(back.metadata).toEqual([['modality', 'MR'], ['window', [40, 400]]])
  expect(back.info?.metadata).toEqual({ source: 'test' })
  expect(back.info?.hits).toBe(1)
})

test('errors keep their class and code across the worker boundary', async ({ page }) => {
  await openPage(page, 'cache=core-errors')
  const result = await page.evaluate(async () => {
    const cache = window.voxcache!
    const lib = window.voxcacheLib!
    const caught = async (fn: () => Promise<unknown>) => {
      try {
        await fn()
        return 'no error'
      } catch (e) {
        return e
      }
    }
    const bad = await caught(() => cache.retrieve('not-an-id'))
    const unsupported = await caught(() => cache.store('a'.repeat(64), (() => 1) as never))
    const nan = await caught(() => cache.store('a'.repeat(64), { x: Number.NaN }))
    const key = await caught(() => cache.memoize('op', { when: new Date() }, () => 1))
    const other = await lib.openCache({ name: 'core-errors-closed', storage: 'memory' })
    await other.close()
    const closed = await caught(() => other.has('a'.repeat(64)))
    return {
      bad: [bad instanceof lib.InvalidKeyError, bad instanceof lib.VoxCacheError, (bad as { code?: string }).code],
      unsupported: [unsupported instanceof lib.UnsupportedValueError, (unsupported as { code?: string }).code],
      nan: nan instanceof lib.UnsupportedValueError,
      key: key instanceof lib.InvalidKeyError,
      closed: [closed instanceof lib.ClosedError, (closed as { code?: string }).code],
    }
  })
  expect(result.bad).toEqual([true, true, 'INVALID_KEY'])
  expect(result.unsupported).toEqual([true, 'UNSUPPORTED_VALUE'])
  expect(result.nan).toBe(true)
  expect(result.key).toBe(true)
  expect(result.closed).toEqual([true, 'CLOSED'])
})

test('memoize computes once, shares concurrent calls, stores no failure, and hits after a reload', async ({ page }) => {
  await openPage(page, 'cache=core-memo')
  const first = await page.evaluate(async () => {
    const cache = window.voxcache!
    await cache.clear()
    let calls = 0
    const compute = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 50)) // stands in for real work, so the calls overlap
      return new Float64Array([1, 2, 3, calls])
    }
    const [a, b, c] = await Promise.all([
      cache.memoize('square', { x: 3 }, compute),
      cache.memoize('square', { x: 3 }, compute),
      cache.memoize('square', { x: 3 }, compute),
    ])
    let failures = 0
    const failing = () => {
      failures++
      return Promise.reject(new Error('pipeline step failed'))
    }
    const errors = await Promise.allSettled([
      cache.memoize('broken', {}, failing),
      cache.memoize('broken', {}, failing),
    ])
    const brokenId = await cache.operationId('broken', {})
    const nullResult = await cache.memoize('nothing', {}, () => null)
    let nullCalls = 0
    const nullAgain = await cache.memoize('nothing', {}, () => {
      nullCalls++
      return 'not null'
    })
    return {
      calls,
      values: [Array.from(a), Array.from(b), Array.from(c)],
      usable: a.length === 4,
      errors: errors.map((e) => (e.status === 'rejected' ? (e.reason as Error).message : 'fulfilled')),
      failures,
      brokenStored: await cache.has(brokenId),
      nullResult,
      nullAgain,
      nullCalls,
    }
  })
  expect(first.calls).toBe(1)
  expect(first.values).toEqual([[1, 2, 3, 1], [1, 2, 3, 1], [1, 2, 3, 1]])
  expect(first.usable).toBe(true)
  expect(first.errors).toEqual(['pipeline step failed', 'pipeline step failed'])
  expect(first.failures).toBe(1)
  expect(first.brokenStored).toBe(false)
  expect(first.nullResult).toBeNull()
  expect(first.nullAgain).toBeNull()
  expect(first.nullCalls).toBe(0)

  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  const second = await page.evaluate(async () => {
    let calls = 0
    const value = await window.voxcache!.memoize('square', { x: 3 }, () => {
      calls++
      return new Float64Array(0)
    })
    return { calls, value: Array.from(value) }
  })
  expect(second).toEqual({ calls: 0, value: [1, 2, 3, 1] })
})

test('memoizeEntry says the id, whether it was a hit, and the entry it stored or read', async ({ page }) => {
  await openPage(page, 'cache=core-memo-entry')
  const run = await page.evaluate(async () => {
    const cache = window.voxcache!
    await cache.clear()
    const id = await cache.operationId('double', { x: 21 })
    const miss = await cache.memoizeEntry('double', { x: 21 }, () => ({ answer: 42 }), { metadata: { note: 'first' } })
    const hit = await cache.memoizeEntry('double', { x: 21 }, () => ({ answer: -1 }))
    return {
      id,
      miss: { id: miss.id, value: miss.value, hit: miss.hit, hits: miss.info?.hits, metadata: miss.info?.metadata, dataType: miss.info?.dataType },
      hit: { id: hit.id, value: hit.value, hit: hit.hit, hits: hit.info?.hits, metadata: hit.info?.metadata, checksum: hit.info?.checksum === miss.info?.checksum },
    }
  })
  expect(run.miss).toEqual({ id: run.id, value: { answer: 42 }, hit: false, hits: 0, metadata: { note: 'first' }, dataType: 'json' })
  expect(run.hit).toEqual({ id: run.id, value: { answer: 42 }, hit: true, hits: 1, metadata: { note: 'first' }, checksum: true })
})

test('retrieveImage: an Image derived with deriveImage comes back as one; a miss is undefined; another value is an error and stays', async ({ page }) => {
  await openPage(page, 'cache=core-image')
  const run = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const cache = window.voxcache!
    await cache.clear()
    const source = {
      imageType: { dimension: 2, componentType: 'int16', pixelType: 'Scalar', components: 1 },
      name: 'slice',
      origin: [1, 2],
      spacing: [0.5, 0.5],
      direction: new Float64Array([1, 0, 0, 1]),
      size: [3, 2],
      metadata: new Map(),
      data: Int16Array.from([-3, -2, -1, 1, 2, 3]),
    } as unknown as Parameters<typeof lib.deriveImage>[0]
    const mask = lib.deriveImage(source, Uint8Array.from([0, 0, 0, 1, 1, 1]))
    const imageId = await lib.operationId('mask', { of: 'slice' })
    const jsonId = await lib.operationId('note', {})
    await cache.store(imageId, mask)
    await cache.store(jsonId, { note: 'not an image' })
    const image = await cache.retrieveImage(imageId)
    const missing = await cache.retrieveImage(await lib.operationId('absent', {}))
    const wrong = await cache.retrieveImage(jsonId).then(
      () => null,
      (e: Error) => ({ name: e.name, typed: e instanceof lib.UnsupportedValueError }),
    )
    return {
      image: image && { componentType: image.imageType.componentType, size: image.size, origin: image.origin, data: [...(image.data as Uint8Array)] },
      missing: missing === undefined,
      wrong,
      jsonKept: await cache.retrieve(jsonId),
    }
  })
  expect(run.image).toEqual({ componentType: 'uint8', size: [3, 2], origin: [1, 2], data: [0, 0, 0, 1, 1, 1] })
  expect(run.missing).toBe(true)
  expect(run.wrong).toEqual({ name: 'UnsupportedValueError', typed: true })
  expect(run.jsonKept).toEqual({ note: 'not an image' })
})

test('two caches with different names do not see each other', async ({ page }) => {
  await openPage(page, 'cache=core-names-a')
  const result = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const a = window.voxcache!
    const b = await lib.openCache({ name: 'core-names-b' })
    await a.clear()
    await b.clear()
    const id = await lib.operationId('where', {})
    await a.store(id, 'in a')
    const out = { a: await a.retrieve(id), b: await b.retrieve(id), bCount: (await b.stats()).entries }
    await b.close()
    return out
  })
  expect(result).toEqual({ a: 'in a', b: undefined, bCount: 0 })
})

// DESIGN: pixel buffers leave the worker by transfer, never by structured clone. The cache worker's
// script is served through a bootstrap (same URL, so everything it resolves stays the same) that counts
// the bytes of the ArrayBuffers each of its postMessage calls transfers, then imports the real script.
test('retrieve, memoize hits and memoizeEntry hand their buffers over by transfer, not by copy', async ({ page }) => {
  await page.route(/\/cache\.worker[^/]*\.js$/, async (route) => {
    const real = `${route.request().url()}?real`
    await route.fulfill({
      contentType: 'text/javascript',
      body: `const post = self.postMessage.bind(self)
        self.vxTransferred = 0
        self.postMessage = (message, transfer) => {
          for (const t of Array.isArray(transfer) ? transfer : []) if (t instanceof ArrayBuffer) self.vxTransferred += t.byteLength
          return post(message, transfer)
        }
        // Messages that arrive while the real script loads would find no listener: hold, then replay.
        const held = []
        const hold = (event) => held.push(event.data)
        self.addEventListener('message', hold)
        await import(${JSON.stringify(real)})
        self.removeEventListener('message', hold)
        for (const data of held) self.dispatchEvent(new MessageEvent('message', { data }))`,
    })
  })
  await openPage(page, 'cache=core-transfer')
  const workers = () => page.workers().filter((w) => /\/cache\.worker[^/]*\.js$/.test(w.url()))
  expect(workers()).toHaveLength(1)
  const transferred = () => workers()[0]!.evaluate(() => (self as unknown as { vxTransferred: number }).vxTransferred)
  const id = await page.evaluate(async () => {
    const cache = window.voxcache!
    await cache.clear()
    await cache.memoize('transfer', { n: 1 }, () => new Float32Array(2_000_000).fill(0.5), { codec: 'none' })
    return cache.operationId('transfer', { n: 1 })
  })
  const sizes: Record<string, number> = {}
  for (const step of ['retrieve', 'memoize hit', 'memoizeEntry hit'] as const) {
    const before = await transferred()
    const got = await page.evaluate(
      async ({ step, id }) => {
        const cache = window.voxcache!
        const value =
          step === 'retrieve'
            ? await cache.retrieve(id)
            : step === 'memoize hit'
              ? await cache.memoize('transfer', { n: 1 }, () => new Float32Array(0))
              : (await cache.memoizeEntry('transfer', { n: 1 }, () => new Float32Array(0))).value
        return (value as Float32Array).length
      },
      { step, id },
    )
    expect(got, step).toBe(2_000_000)
    sizes[step] = (await transferred()) - before
  }
  expect(sizes).toEqual({ retrieve: 8_000_000, 'memoize hit': 8_000_000, 'memoizeEntry hit': 8_000_000 })
})

// Opening reads the index snapshot through a read handle (worker/index/store.ts), which must be closed
// once read: while it is open, nothing may write or replace the snapshot, not another tab's checkpoint
// nor this worker's own (NoModificationAllowedError). The page asks for a writer of the file right
// after the reopen, as another tab's checkpoint would, and lets it go without writing.
test('opening a cache leaves its index snapshot free for a checkpoint, and a reopened cache checkpoints again', async ({ page }) => {
  await openPage(page, 'cache=core-checkpoint')
  const result = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    let cache = window.voxcache!
    await cache.clear()
    // Random text, which zstd does not shrink: 400 values of 3.5 KB stay in the index (inlineBytes
    // 4096) and put its journal past 1 MiB, where a commit writes a new snapshot.
    const hex = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('')
    const ids: string[] = []
    const storeMany = async (from: number) => {
      for (let n = from; n < from + 400; n++) {
        ids[n] = await lib.operationId('checkpoint', { n })
        await cache.store(ids[n]!, { n, text: hex(1750) })
      }
    }
    const snapshotWriter = async () => {
      const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle('core-checkpoint')
      try {
        const writable = await (await dir.getFileHandle('index.sqlite')).createWritable({ keepExistingData: true })
        await writable.abort()
        return 'free'
      } catch (error) {
        return (error as Error).name
      }
    }
    await storeMany(0)
    await cache.close()
    cache = await lib.openCache({ name: 'core-checkpoint', storage: 'opfs' })
    const afterOpen = await snapshotWriter()
    const failed: string[] = []
    await storeMany(400).catch((error: Error) => failed.push(`${error.name}: ${error.message}`))
    await cache.close()
    cache = await lib.openCache({ name: 'core-checkpoint', storage: 'opfs' })
    let read = 0
    for (const [n, id] of ids.entries()) if (((await cache.retrieve(id)) as { n: number } | undefined)?.n === n) read++
    const entries = (await cache.stats()).entries
    await cache.destroy()
    return { afterOpen, failed, read, entries }
  })
  expect(result.afterOpen).toBe('free')
  expect(result.failed).toEqual([])
  expect(result.read).toBe(800)
  expect(result.entries).toBe(800)
})
