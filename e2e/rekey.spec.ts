// Rekey and kept keys: rekey(newKey) seals every entry again under a new data key (values, metadata,
// pins and hits exact; the old key then opens nothing; another context holding the old key finds the
// cache locked); a rekey killed midway — its worker terminated once some records are sealed again and
// others not — is finished by an open with the new key and rolled back by an open with the old one,
// losing nothing; `encryption.persist` keeps the key for opens without one, and wipeAll removes it.
import type { Page } from '@playwright/test'
import { readCacheFiles } from './cache-files.js'
import { installHarness } from './harness.js'
import { expect, openPage, test } from './fixtures.js'

type Lib = NonNullable<Window['voxcacheLib']>

test.beforeEach(async ({ context, page }) => {
  await installHarness(context)
  await openPage(page, 'cache=rekey-page&storage=memory')
  await page.evaluate(async () => {
    const w = window as unknown as Record<string, CryptoKey>
    const make = () => crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    w.keyA = await make()
    w.keyB = await make()
  })
})

/** The key id (hex) in the prefix of every record file of the cache: which data key sealed it. */
async function recordKeys(page: Page, cache: string): Promise<Map<string, string>> {
  const files = await readCacheFiles(page, cache)
  const out = new Map<string, string>()
  for (const [path, bytes] of files) if (path.endsWith('.vxc')) out.set(path, bytes.subarray(16, 32).toString('hex'))
  return out
}

async function keyFile(page: Page, cache: string): Promise<{ keyId: string; current: string; deks: Record<string, string>; pending?: { keyId: string } }> {
  return JSON.parse((await readCacheFiles(page, cache)).get('key.json')!.toString('utf8'))
}

test('rekey seals every entry again: exact values, metadata, pins and hits; the old key opens nothing; a context holding it finds the cache locked', async ({ page }) => {
  const made = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const h = window.vxHarness
    const { keyA } = window as unknown as Record<string, CryptoKey>
    const cache = await lib.openCache({ name: 'rekey-a', storage: 'opfs', encryption: { key: keyA! } })
    const other = await lib.openCache({ name: 'rekey-a', storage: 'opfs', encryption: { key: keyA! } })
    const ids = { image: await lib.operationId('rk', 'image'), big: await lib.operationId('rk', 'big'), json: await lib.operationId('rk', 'json'), small: await lib.operationId('rk', 'small') }
    const pixels = h.bytes(7, 64 * 64 * 40, 'smooth')
    const image = {
      imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
      name: 'scan', origin: [1, 2, 3], spacing: [1, 1, 2], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size: [64, 64, 40], metadata: new Map([['0010|0010', 'DOE^JANE']]), data: pixels.slice(),
    } as unknown as import('../src/types.js').Image
    const big = h.bytes(8, 3_000_000, 'random')
    await cache.store(ids.image, image, { metadata: { patient: 'DOE^JANE' }, codec: 'zstd', pin: true })
    await cache.store(ids.big, big.slice(), { metadata: 'big one' })
    await cache.store(ids.json, { report: 'x'.repeat(5000) }, { metadata: ['json'] })
    await cache.store(ids.small, { note: 1 })
    await cache.retrieve(ids.json)
    await cache.retrieve(ids.json)
    await cache.close().then(() => undefined)
    const reopened = await lib.openCache({ name: 'rekey-a', storage: 'opfs', encryption: { key: keyA! } })
    ;(window as unknown as Record<string, unknown>).rk = { reopened, other, digests: { image: await h.digest(pixels), big: await h.digest(big) } }
    const before = (await reopened.list({ orderBy: 'id' })).map(({ id, metadata, pinned, hits, createdAt, lastAccessedAt }) => ({ id, metadata, pinned, hits, createdAt, lastAccessedAt }))
    return { ids, before }
  })
  const keysBefore = await recordKeys(page, 'rekey-a')
  const fileBefore = await keyFile(page, 'rekey-a')
  expect(keysBefore.size).toBeGreaterThanOrEqual(2) // the small JSON is inline, the long one may be
  expect(new Set(keysBefore.values())).toEqual(new Set([fileBefore.current]))

  const after = await page.evaluate(async (ids) => {
    const lib = window.voxcacheLib!
    const h = window.vxHarness
    const { keyA, keyB } = window as unknown as Record<string, CryptoKey>
    const { reopened, other, digests } = (window as unknown as { rk: { reopened: import('../src/client.js').VoxCache; other: import('../src/client.js').VoxCache; digests: Record<string, string> } }).rk
    const outcome = (p: Promise<unknown>) => p.then(() => 'done', (e: Error) => (e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : `${e.name}: ${e.message}`))
    // The other context reads a value first: its memory tier then holds it in clear.
    const otherHeld = await h.digest((await other.retrieve(ids.big)) as Uint8Array)
    const { resealed } = await reopened.rekey(keyB!)
    const list = (await reopened.list({ orderBy: 'id' })).map(({ id, metadata, pinned, hits, createdAt, lastAccessedAt }) => ({ id, metadata, pinned, hits, createdAt, lastAccessedAt }))
    const image = (await reopened.retrieve(ids.image)) as import('../src/types.js').Image
    const values = {
      image: await h.digest(image.data as Uint8Array),
      imageMeta: [...(image.metadata as Map<string, string>)],
      big: await h.digest((await reopened.retrieve(ids.big)) as Uint8Array),
      json: ((await reopened.retrieve(ids.json)) as { report: string }).report.length,
      small: await reopened.retrieve(ids.small),
    }
    // The other context, told of the rekey, reads key.json again as it catches up: it lists the entries
    // as a locked context does, metadata withheld, instead of failing on metadata sealed under a data key
    // it lacks. (Listed before the store below, which reads key.json again in any case.)
    const otherList = await other.list({ orderBy: 'id' }).then((l) => l.map((e) => e.metadata), (e: Error) => `${e.name}: ${e.message}`)
    // The other context still holds key A: reading a resealed record and writing are refused.
    const otherSide = { retrieve: await outcome(other.retrieve(ids.big)), store: await outcome(other.store(ids.small, { note: 2 })) }
    const otherStats = (await other.stats()).protection
    await other.close()
    await reopened.close()
    const oldKey = await outcome(lib.openCache({ name: 'rekey-a', storage: 'opfs', encryption: { key: keyA! } }))
    const again = await lib.openCache({ name: 'rekey-a', storage: 'opfs', encryption: { key: keyB! } })
    const reread = await h.digest(((await again.retrieve(ids.image)) as import('../src/types.js').Image).data as Uint8Array)
    await again.close()
    return { resealed, list, values, digests, otherList, otherSide, otherStats, oldKey, reread, otherHeld }
  }, made.ids)
  expect(after.resealed).toBe(4)
  // Hits and access times move with the reads above; the rest is as it was.
  expect(after.list.map(({ hits: _h, lastAccessedAt: _l, ...rest }) => rest)).toEqual(made.before.map(({ hits: _h, lastAccessedAt: _l, ...rest }) => rest))
  expect(after.values).toEqual({ image: after.digests.image, imageMeta: [['0010|0010', 'DOE^JANE']], big: after.digests.big, json: 5000, small: { note: 1 } })
  expect(after.reread).toBe(after.digests.image)
  expect(after.otherHeld).toBe(after.digests.big)
  expect(after.otherList).toEqual([null, null, null, null])
  expect(after.otherSide).toEqual({ retrieve: 'KeyMismatchError', store: 'KeyMismatchError' })
  expect(after.otherStats).toMatchObject({ locked: true })
  expect(after.oldKey).toBe('KeyMismatchError')
  const fileAfter = await keyFile(page, 'rekey-a')
  expect(fileAfter.keyId).not.toBe(fileBefore.keyId)
  expect(fileAfter.pending).toBeUndefined()
  expect(Object.keys(fileAfter.deks)).toEqual([fileAfter.current])
  expect(fileAfter.current).not.toBe(fileBefore.current)
  const keysAfter = await recordKeys(page, 'rekey-a')
  expect(new Set(keysAfter.values())).toEqual(new Set([fileAfter.current]))
})

for (const reopenWith of ['keyB', 'keyA'] as const) {
  test(`a rekey killed midway is ${reopenWith === 'keyB' ? 'finished by an open with the new key' : 'rolled back by an open with the old key'}, losing nothing`, async ({ page }) => {
    const COUNT = 120
    const expected = await page.evaluate(async (COUNT) => {
      const lib = window.voxcacheLib!
      const h = window.vxHarness
      const { keyA } = window as unknown as Record<string, CryptoKey>
      const cache = await lib.openCache({ name: 'rekey-kill', storage: 'opfs', encryption: { key: keyA! } })
      const out: { id: string; digest: string }[] = []
      for (let i = 0; i < COUNT; i++) {
        const bytes = h.bytes(1000 + i, 256 * 1024, 'random')
        const id = await lib.operationId('rk-kill', i)
        out.push({ id, digest: await h.digest(bytes) })
        await cache.store(id, bytes, { metadata: { i } })
      }
      ;(window as unknown as Record<string, unknown>).rkCache = cache
      return out
    }, COUNT)
    const before = await keyFile(page, 'rekey-kill')

    // Start the rekey, and terminate its worker once some records carry a new data key and others not:
    // watched from the page, reading only each record's key id, so that the kill follows at once.
    const seen = await page.evaluate(async (current) => {
      const cache = (window as unknown as { rkCache: import('../src/client.js').VoxCache }).rkCache
      const { keyB } = window as unknown as Record<string, CryptoKey>
      const dir = await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle('rekey-kill')).getDirectoryHandle('payloads')
      void cache.rekey(keyB!).catch(() => undefined)
      for (;;) {
        let moved = 0
        for await (const [name, handle] of dir as unknown as AsyncIterable<[string, FileSystemFileHandle]>) {
          if (!name.endsWith('.vxc')) continue
          // A file being replaced at that moment reads as NotReadableError: it is counted next time round.
          const id = await handle.getFile().then((f) => f.slice(16, 32).arrayBuffer()).then((b) => new Uint8Array(b), () => undefined)
          if (id && Array.from(id, (b) => b.toString(16).padStart(2, '0')).join('') !== current) moved++
        }
        if (moved >= 10) {
          window.vxHarness.workers.filter((w) => w.url.includes('cache.worker')).at(-1)!.worker.terminate()
          return moved
        }
      }
    }, before.current)
    expect(seen).toBeGreaterThanOrEqual(10)
    const killed = await keyFile(page, 'rekey-kill')
    expect(killed.pending, 'the kill landed inside the rekey').toBeDefined()
    const mixed = new Set((await recordKeys(page, 'rekey-kill')).values())
    expect(mixed.size, 'records under both data keys').toBe(2)

    const reopened = await page.evaluate(
      async ({ reopenWith, expected }) => {
        const lib = window.voxcacheLib!
        const h = window.vxHarness
        const keys = window as unknown as Record<string, CryptoKey>
        const cache = await lib.openCache({ name: 'rekey-kill', storage: 'opfs', encryption: { key: keys[reopenWith]! } })
        let exact = 0
        const metadata: unknown[] = []
        for (const { id, digest } of expected) {
          const value = (await cache.retrieve(id)) as Uint8Array | undefined
          if (value && (await h.digest(value)) === digest) exact++
          metadata.push((await cache.info(id))?.metadata)
        }
        const entries = (await cache.stats()).entries
        await cache.close()
        const otherName = reopenWith === 'keyB' ? 'keyA' : 'keyB'
        const other = await lib.openCache({ name: 'rekey-kill', storage: 'opfs', encryption: { key: keys[otherName]! } }).then(
          async (c) => {
            await c.close()
            return 'opened'
          },
          (e: Error) => (e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : `${e.name}: ${e.message}`),
        )
        return { exact, entries, metadata, other }
      },
      { reopenWith, expected },
    )
    expect(reopened.exact).toBe(COUNT)
    expect(reopened.entries).toBe(COUNT)
    expect(reopened.metadata).toEqual(expected.map((_, i) => ({ i })))
    expect(reopened.other, 'the other key opens nothing').toBe('KeyMismatchError')
    const settled = await keyFile(page, 'rekey-kill')
    expect(settled.pending).toBeUndefined()
    if (reopenWith === 'keyB') {
      expect(settled.keyId).toBe(killed.pending!.keyId)
      expect(Object.keys(settled.deks)).toEqual([settled.current])
      expect(new Set((await recordKeys(page, 'rekey-kill')).values())).toEqual(new Set([settled.current]))
    } else {
      expect(settled.keyId).toBe(before.keyId)
      expect(settled.current).toBe(before.current)
    }
  })
}

test('a kept key (encryption.persist) opens the cache without one; given without persist it is forgotten; rekey replaces it; wipeAll removes it', async ({ page }) => {
  const got = await page.evaluate(async () => {
    const lib: Lib = window.voxcacheLib!
    const { keyA, keyB } = window as unknown as Record<string, CryptoKey>
    const outcome = (p: Promise<unknown>) => p.then((v) => v, (e: Error) => (e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : `${e.name}: ${e.message}`))
    const id = await lib.operationId('kept', 1)
    // Opens without persist create no key database.
    await (await lib.openCache({ name: 'rekey-unkept', storage: 'opfs' })).close()
    await (await lib.openCache({ name: 'rekey-unkept-2', storage: 'opfs', encryption: { key: keyA! } })).close()
    const before = (await indexedDB.databases()).map((d) => d.name)
    const first = await lib.openCache({ name: 'rekey-kept', storage: 'opfs', encryption: { key: keyA!, persist: true } })
    await first.store(id, { secret: 1 })
    await first.close()
    const dbs = (await indexedDB.databases()).map((d) => d.name)
    const noKey = await lib.openCache({ name: 'rekey-kept', storage: 'opfs' })
    const kept = { locked: (await noKey.stats()).protection?.locked, value: await outcome(noKey.retrieve(id)) }
    await noKey.rekey(keyB!)
    await noKey.close()
    const afterRekey = await lib.openCache({ name: 'rekey-kept', storage: 'opfs' })
    const rekeyed = { locked: (await afterRekey.stats()).protection?.locked, value: await outcome(afterRekey.retrieve(id)) }
    await afterRekey.close()
    // Given without persist: used, and the kept one forgotten.
    const given = await lib.openCache({ name: 'rekey-kept', storage: 'opfs', encryption: { key: keyB! } })
    await given.close()
    const forgotten = await lib.openCache({ name: 'rekey-kept', storage: 'opfs' })
    const after = { locked: (await forgotten.stats()).protection?.locked, value: await outcome(forgotten.retrieve(id)) }
    await forgotten.close()
    // Kept again, then wiped: no key database is left.
    const again = await lib.openCache({ name: 'rekey-kept', storage: 'opfs', encryption: { key: keyB!, persist: true } })
    await again.close()
    await lib.wipeAll()
    const left = (await indexedDB.databases()).map((d) => d.name)
    return { before, dbs, kept, rekeyed, after, left }
  })
  expect(got.before).not.toContain('voxcache-keys')
  expect(got.dbs).toContain('voxcache-keys')
  expect(got.kept).toEqual({ locked: false, value: { secret: 1 } })
  expect(got.rekeyed).toEqual({ locked: false, value: { secret: 1 } })
  expect(got.after).toEqual({ locked: true, value: 'KeyMismatchError' })
  expect(got.left).not.toContain('voxcache-keys')
})

test('export of a protected cache stays sealed (also while locked); only a cache opened with the same key imports it; a clear export is sealed on the way in', async ({ page }) => {
  const MARKER = 'ROE^RICHARD^c0ffee'
  const got = await page.evaluate(async (MARKER) => {
    const lib: Lib = window.voxcacheLib!
    const h = window.vxHarness
    const { keyA, keyB } = window as unknown as Record<string, CryptoKey>
    const outcome = (p: Promise<unknown>) => p.then((v) => v, (e: Error) => (e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : `${e.name}: ${e.message}`))
    const bytes = h.bytes(42, 200_000, 'random')
    const ids = { bytes: await lib.operationId('exp', 'bytes'), json: await lib.operationId('exp', 'json') }
    const source = await lib.openCache({ name: 'exp-src', storage: 'opfs', encryption: { key: keyA! } })
    await source.store(ids.bytes, bytes.slice(), { metadata: { patient: MARKER } })
    await source.store(ids.json, { report: MARKER }, { pin: true })
    const sealedExport = new Uint8Array(await (await source.exportDatabase()).arrayBuffer())
    await source.close()
    const locked = await lib.openCache({ name: 'exp-src', storage: 'opfs' })
    const lockedExport = new Uint8Array(await (await locked.exportDatabase()).arrayBuffer())
    await locked.close()

    const read = async (cache: import('../src/client.js').VoxCache) => ({
      bytes: await h.digest((await cache.retrieve(ids.bytes)) as Uint8Array),
      json: await cache.retrieve(ids.json),
      meta: (await cache.info(ids.bytes))?.metadata,
      pinned: (await cache.info(ids.json))?.pinned,
    })
    const same = await lib.openCache({ name: 'exp-same', storage: 'opfs', encryption: { key: keyA! } })
    const report = await same.importDatabase(sealedExport.slice())
    const sameValues = await read(same)
    await same.close()
    const fromLocked = await lib.openCache({ name: 'exp-locked', storage: 'opfs', encryption: { key: keyA! } })
    const lockedReport = await fromLocked.importDatabase(lockedExport.slice())
    const lockedValues = await read(fromLocked)
    await fromLocked.close()
    // Reopened in a new worker: the adopted data keys were kept in the cache's key.json.
    const again = await lib.openCache({ name: 'exp-same', storage: 'opfs', encryption: { key: keyA! } })
    const againValues = await read(again)
    await again.close()

    const other = await lib.openCache({ name: 'exp-other', storage: 'opfs', encryption: { key: keyB! } })
    const otherRefused = await outcome(other.importDatabase(sealedExport.slice()))
    const otherEntries = (await other.stats()).entries
    await other.close()
    const clear = await lib.openCache({ name: 'exp-clear', storage: 'opfs' })
    const clearRefused = await outcome(clear.importDatabase(sealedExport.slice()))
    const clearEntries = (await clear.stats()).entries
    // A clear export of the same values, into a protected cache: sealed on the way in.
    await clear.store(ids.bytes, bytes.slice(), { metadata: { patient: MARKER } })
    await clear.store(ids.json, { report: MARKER }, { pin: true })
    const clearExport = new Uint8Array(await (await clear.exportDatabase()).arrayBuffer())
    await clear.destroy()
    const sealing = await lib.openCache({ name: 'exp-sealing', storage: 'opfs', encryption: { key: keyB! } })
    const sealingReport = await sealing.importDatabase(clearExport)
    const sealingValues = await read(sealing)
    await sealing.close()
    const b64 = (u: Uint8Array) => {
      let s = ''
      for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000))
      return btoa(s)
    }
    return {
      digest: await h.digest(bytes), report, lockedReport, sameValues, lockedValues, againValues, otherRefused, otherEntries, clearRefused, clearEntries,
      sealingReport, sealingValues, sealedExport: b64(sealedExport), lockedExport: b64(lockedExport), raw: b64(bytes),
    }
  }, MARKER)
  const values = { bytes: got.digest, json: { report: MARKER }, meta: { patient: MARKER }, pinned: true }
  expect(got.report).toEqual({ imported: 2, skipped: 0, rejected: [] })
  expect(got.lockedReport).toEqual({ imported: 2, skipped: 0, rejected: [] })
  expect(got.sealingReport).toEqual({ imported: 2, skipped: 0, rejected: [] })
  expect(got.sameValues).toEqual(values)
  expect(got.lockedValues).toEqual(values)
  expect(got.againValues).toEqual(values)
  expect(got.sealingValues).toEqual(values)
  expect(got.otherRefused).toBe('KeyMismatchError')
  expect(got.otherEntries).toBe(0)
  expect(got.clearRefused).toBe('KeyMismatchError')
  expect(got.clearEntries).toBe(0)
  // The exports hold no marker and no 8-byte block of the random bytes.
  const raw = Buffer.from(got.raw, 'base64')
  const blocks = new Set<string>()
  for (let at = 0; at + 8 <= raw.length; at += 8) blocks.add(raw.subarray(at, at + 8).toString('hex'))
  for (const name of ['sealedExport', 'lockedExport'] as const) {
    const file = Buffer.from(got[name], 'base64')
    expect(file.includes(MARKER), `marker in ${name}`).toBe(false)
    let hits = 0
    for (let at = 0; at + 8 <= file.length; at++) if (blocks.has(file.subarray(at, at + 8).toString('hex'))) hits++
    expect(hits, `random bytes in ${name}`).toBe(0)
  }
  // The clear export's values went in sealed.
  for (const [path, bytes] of await readCacheFiles(page, 'exp-sealing')) expect(bytes.includes(MARKER), `marker in ${path}`).toBe(false)
})

test('a context that opened a cache clear writes nothing in clear once another protects it: its store is refused as locked', async ({ page }) => {
  const got = await page.evaluate(async () => {
    const lib: Lib = window.voxcacheLib!
    const { keyA } = window as unknown as Record<string, CryptoKey>
    const outcome = (p: Promise<unknown>) => p.then(() => 'stored', (e: Error) => (e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : `${e.name}: ${e.message}`))
    const clear = await lib.openCache({ name: 'rekey-late', storage: 'opfs' })
    const keyed = await lib.openCache({ name: 'rekey-late', storage: 'opfs', encryption: { key: keyA! } })
    const id = await lib.operationId('late', 1)
    const small = await outcome(clear.store(id, { note: 'clear?' }))
    const large = await outcome(clear.store(await lib.operationId('late', 2), new Uint8Array(300_000 * 1024).fill(1)))
    const stats = (await clear.stats()).protection
    const entries = (await keyed.stats()).entries
    await clear.close()
    await keyed.close()
    return { small, large, stats, entries }
  })
  expect(got).toEqual({ small: 'KeyMismatchError', large: 'KeyMismatchError', stats: { keyId: expect.stringMatching(/^[0-9a-f]{32}$/), locked: true }, entries: 0 })
})

test('a protected value past 16 MiB is written in chunks of 16 MiB, so a sealed store holds one chunk of ciphertext; it is exported joined and imported exactly; a locked cache cannot export it', async ({ page }) => {
  const got = await page.evaluate(async () => {
    const lib: Lib = window.voxcacheLib!
    const h = window.vxHarness
    const { keyA } = window as unknown as Record<string, CryptoKey>
    const bytes = h.bytes(43, 40_000_000, 'random')
    const id = await lib.operationId('chunks', 'big')
    const cache = await lib.openCache({ name: 'chunk-src', storage: 'opfs', encryption: { key: keyA! } })
    await cache.store(id, bytes.slice(), { metadata: { big: true } })
    const exported = new Uint8Array(await (await cache.exportDatabase()).arrayBuffer())
    await cache.close()
    const dir = await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle('chunk-src')).getDirectoryHandle('payloads')
    const files: Record<string, number> = {}
    for await (const [name, handle] of dir as unknown as AsyncIterable<[string, FileSystemFileHandle]>) files[name] = (await handle.getFile()).size
    const locked = await lib.openCache({ name: 'chunk-src', storage: 'opfs' })
    const lockedExport = await locked.exportDatabase().then(() => 'exported', (e: Error) => `${e.name}: ${e.message}`)
    await locked.close()
    // Opened again with the key (reconcile keeps the chunks its header names), read, then deleted with them.
    const again = await lib.openCache({ name: 'chunk-src', storage: 'opfs', encryption: { key: keyA! } })
    const reread = await h.digest((await again.retrieve(id)) as Uint8Array)
    await again.delete(id)
    await again.close()
    const left: string[] = []
    for await (const [name] of dir as unknown as AsyncIterable<[string, FileSystemFileHandle]>) left.push(name)
    const target = await lib.openCache({ name: 'chunk-dst', storage: 'opfs', encryption: { key: keyA! } })
    const report = await target.importDatabase(exported)
    const back = (await target.retrieve(id)) as Uint8Array
    const info = await target.info(id)
    await target.close()
    return { digest: await h.digest(bytes), back: await h.digest(back), report, meta: info?.metadata, files, lockedExport, reread, left }
  })
  expect(got.back).toBe(got.digest)
  expect(got.reread).toBe(got.digest)
  expect(got.left).toEqual([])
  expect(got.report).toEqual({ imported: 1, skipped: 0, rejected: [] })
  expect(got.meta).toEqual({ big: true })
  const sizes = Object.entries(got.files)
  expect(sizes.filter(([n]) => n.endsWith('.vxb')).length, 'chunk files beside the record').toBe(2)
  for (const [name, size] of sizes) expect(size, name).toBeLessThanOrEqual(16 * 2 ** 20 + 2 ** 20)
  expect(got.lockedExport).toMatch(/^UnsupportedValueError: entry [0-9a-f]{64} is \d+ bytes in chunks; its chunks are named in its sealed header/)
})
