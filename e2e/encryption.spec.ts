// Encryption at rest (the `encryption: { key }` option): a protected cache seals every record and every
// entry's metadata; what is on disk holds no marker and no 64-byte window of a random image; the key
// opens it exactly after a reopen; another key is refused at open with nothing changed; no key opens it
// locked; a changed ciphertext byte is a CorruptEntryError.
import { readCacheFiles } from './cache-files.js'
import { expect, openPage, test } from './fixtures.js'
import { niftiFile } from './nifti-file.js'

const MARKER = 'DOE^JANE^7f3a91'

test.beforeEach(async ({ page }) => {
  await openPage(page, 'cache=enc-page&storage=memory')
})

test('a protected cache: sealed on disk, exact with its key after a reopen, another key refused at open with nothing changed, locked without a key', async ({ page }) => {
  const made = await page.evaluate(async (MARKER) => {
    const lib = window.voxcacheLib!
    const w = window as unknown as Record<string, unknown>
    w.encKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    w.otherKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const key = w.encKey as CryptoKey
    const cache = await lib.openCache({ name: 'enc-a', storage: 'opfs', encryption: { key } })
    await cache.clear()
    // A seeded random image of 64 KiB slices (several frames), JSON, and an inline-sized record.
    const size = [128, 256, 40]
    const data = new Uint16Array(size[0]! * size[1]! * size[2]!)
    let x = 99
    for (let i = 0; i < data.length; i++) data[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16
    const raw = new Uint8Array(data.slice().buffer)
    const image = {
      imageType: { dimension: 3, componentType: 'uint16', pixelType: 'Scalar', components: 1 },
      name: `${MARKER}.dcm`, origin: [1, 2, 3], spacing: [1, 1, 2], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size, metadata: new Map([['0010|0010', MARKER]]), data,
    } as unknown as import('../src/types.js').Image
    const ids = { image: await lib.operationId('enc', 'image'), json: await lib.operationId('enc', 'json'), small: await lib.operationId('enc', 'small') }
    await cache.store(ids.image, image, { metadata: { patient: MARKER }, codec: 'zstd' })
    await cache.store(ids.json, { report: `${MARKER} ${'x'.repeat(10_000)}` }, { metadata: MARKER })
    const stored = await cache.store(ids.small, { note: MARKER })
    const listed = (await cache.list({ orderBy: 'id' })).map((e) => e.metadata)
    const stats = await cache.stats()
    await cache.close()
    // The image's 8-byte blocks at multiples of 8: any 64-byte window of it holds one.
    const blocks: string[] = []
    for (let at = 0; at + 8 <= raw.length; at += 8) blocks.push(Array.from(raw.subarray(at, at + 8), (b) => b.toString(16).padStart(2, '0')).join(''))
    ;(window as unknown as Record<string, unknown>).encRaw = raw
    return { ids, blocks, inline: stored.inline, listed, protection: stats.protection }
  }, MARKER)
  expect(made.inline).toBe(true)
  expect(made.listed).toEqual(expect.arrayContaining([{ patient: MARKER }, MARKER, null]))
  expect(made.protection).toMatchObject({ locked: false })

  // Every byte of every file of the cache, as the page reads them from OPFS.
  const files = await readCacheFiles(page, 'enc-a')
  expect([...files.keys()].some((p) => p.startsWith('payloads/'))).toBe(true)
  const blocks = new Set(made.blocks)
  for (const [path, bytes] of files) {
    // No needle shorter than 6 bytes: 'DOE' (3) turns up by chance in megabytes of ciphertext (it did, once).
    for (const needle of [MARKER, '0010|0010', 'patient', 'report']) expect(bytes.includes(needle), `${needle} in ${path}`).toBe(false)
    let hits = 0
    for (let at = 0; at + 8 <= bytes.length; at++) if (blocks.has(bytes.subarray(at, at + 8).toString('hex'))) hits++
    expect(hits, `image bytes in ${path}`).toBe(0)
  }

  // Another key: refused at open, nothing changed.
  const refused = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const key = (window as unknown as { otherKey: CryptoKey }).otherKey
    return lib.openCache({ name: 'enc-a', storage: 'opfs', encryption: { key } }).then(
      () => 'opened',
      (e: Error) => `${e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : e.name}: ${e.message}`,
    )
  })
  expect(refused).toMatch(/^KeyMismatchError: this cache is protected by key [0-9a-f]{32}, not by this key/)
  const after = await readCacheFiles(page, 'enc-a')
  expect([...after.keys()]).toEqual([...files.keys()])
  for (const [path, bytes] of files) expect(after.get(path)!.equals(bytes), path).toBe(true)

  // No key: locked. Listing, stats and clearing work; values can be neither read nor written.
  const nifti = [...niftiFile({ dims: [4, 4, 2], pixdim: [1, 1, 1], datatype: 'uint8', data: new Uint8Array(32).fill(3) })]
  const locked = await page.evaluate(async ({ ids, nifti }) => {
    const lib = window.voxcacheLib!
    const cache = await lib.openCache({ name: 'enc-a', storage: 'opfs' })
    const outcome = (p: Promise<unknown>) => p.then(() => 'done', (e: Error) => (e instanceof lib.KeyMismatchError ? 'KeyMismatchError' : `${e.name}: ${e.message}`))
    const got = {
      stats: (await cache.stats()).protection,
      list: (await cache.list()).map((e) => e.metadata),
      retrieve: await outcome(cache.retrieve(ids.image)),
      region: await outcome(cache.retrieveRegion(ids.image, { index: [0, 0, 0], size: [1, 1, 1] })),
      imageInfo: await outcome(cache.imageInfo(ids.image)),
      store: await outcome(cache.store(ids.json, { other: 1 })),
      memoize: await outcome(cache.memoize('enc', ['m'], () => ({ computed: true }))),
      decode: await outcome(cache.decode({ name: 'x.nii', data: new Uint8Array(nifti) })),
      deleted: await cache.delete(ids.small),
    }
    await cache.close()
    return got
  }, { ids: made.ids, nifti })
  expect(locked).toEqual({
    stats: { keyId: expect.stringMatching(/^[0-9a-f]{32}$/), locked: true },
    list: [null, null, null],
    retrieve: 'KeyMismatchError', region: 'KeyMismatchError', imageInfo: 'KeyMismatchError', store: 'KeyMismatchError', memoize: 'KeyMismatchError',
    decode: 'KeyMismatchError', deleted: true,
  })

  // The key again, in a new worker: every value and its metadata exactly.
  const back = await page.evaluate(async ({ ids, MARKER }) => {
    const lib = window.voxcacheLib!
    const key = (window as unknown as { encKey: CryptoKey }).encKey
    const raw = (window as unknown as { encRaw: Uint8Array }).encRaw
    const cache = await lib.openCache({ name: 'enc-a', storage: 'opfs', encryption: { key } })
    const image = (await cache.retrieve(ids.image)) as import('../src/types.js').Image
    const got = new Uint8Array((image.data as Uint16Array).buffer)
    let same = got.length === raw.length
    for (let i = 0; same && i < raw.length; i++) same = got[i] === raw[i]
    const box = (await cache.retrieveRegion(ids.image, { index: [0, 0, 17], size: [128, 256, 1] }))!
    const slice = new Uint8Array((box.data as Uint16Array).buffer)
    let boxSame = slice.length === 128 * 256 * 2
    for (let i = 0; boxSame && i < slice.length; i++) boxSame = slice[i] === raw[17 * 128 * 256 * 2 + i]
    const info = (await cache.info(ids.image))!
    const out = {
      same, boxSame,
      name: image.name, tag: image.metadata.get('0010|0010'),
      metadata: info.metadata,
      json: ((await cache.retrieve(ids.json)) as { report: string }).report.startsWith(MARKER),
      small: (await cache.retrieve(ids.small)) ?? 'deleted while locked',
      imageInfo: (await cache.imageInfo(ids.image))!.size,
    }
    await cache.close()
    return out
  }, { ids: made.ids, MARKER })
  expect(back).toEqual({
    same: true, boxSame: true, name: `${MARKER}.dcm`, tag: MARKER, metadata: { patient: MARKER }, json: true, small: 'deleted while locked', imageInfo: [128, 256, 40],
  })
})

test('a changed ciphertext byte is a CorruptEntryError, never other pixels; a clear cache with entries refuses a key', async ({ page }) => {
  const got = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const cache = await lib.openCache({ name: 'enc-b', storage: 'opfs', encryption: { key } })
    await cache.clear()
    const id = await lib.operationId('enc', 'damage')
    await cache.store(id, new Uint8Array(300_000).fill(5), { codec: 'none' })
    await cache.close()
    // One byte of the body, behind voxcache's back (past the header and the table).
    const dir = await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle('enc-b')).getDirectoryHandle('payloads')
    const handle = await dir.getFileHandle(`${id}.vxc`)
    const file = await handle.getFile()
    const at = file.size - 1000
    const byte = new Uint8Array(await file.slice(at, at + 1).arrayBuffer())
    const writable = await handle.createWritable({ keepExistingData: true })
    await writable.write({ type: 'write', position: at, data: new Uint8Array([byte[0]! ^ 1]) })
    await writable.close()
    const again = await lib.openCache({ name: 'enc-b', storage: 'opfs', encryption: { key } })
    const damaged = await again.retrieve(id).then(() => 'read', (e: Error) => (e instanceof lib.CorruptEntryError ? `CorruptEntryError: ${e.message}` : String(e)))
    await again.destroy()

    const clear = await lib.openCache({ name: 'enc-c', storage: 'opfs' })
    await clear.clear()
    await clear.store(await lib.operationId('enc', 'clear'), { a: 1 })
    await clear.close()
    const refused = await lib.openCache({ name: 'enc-c', storage: 'opfs', encryption: { key } }).then(() => 'opened', (e: Error) => `${e.name}: ${e.message}`)
    const plain = await lib.openCache({ name: 'enc-c', storage: 'opfs' })
    const still = await plain.retrieve(await lib.operationId('enc', 'clear'))
    await plain.destroy()
    return { damaged, refused, still }
  })
  expect(got.damaged).toMatch(/^CorruptEntryError: .*frame \d+ fails its authentication tag/)
  expect(got.refused).toMatch(/^KeyMismatchError: this cache holds 1 entries stored without a key/)
  expect(got.still).toEqual({ a: 1 })
})

test('on IndexedDB too: every stored Blob sealed, exact with the key after a reopen, locked without it (and clearable)', async ({ page }) => {
  const got = await page.evaluate(async (MARKER) => {
    const lib = window.voxcacheLib!
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const cache = await lib.openCache({ name: 'enc-idb', storage: 'idb', encryption: { key } })
    await cache.clear()
    const data = new Uint8Array(200_000)
    for (let at = 0; at < data.length; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(at + 65536, data.length)))
    const raw = data.slice()
    const ids = { big: await lib.operationId('enc-idb', 'big'), small: await lib.operationId('enc-idb', 'small') }
    await cache.store(ids.big, data, { metadata: { patient: MARKER }, codec: 'none' })
    await cache.store(ids.small, { note: MARKER })
    await cache.close()
    // Every value of the cache's IndexedDB store, read from the page.
    const texts: Uint8Array[] = await new Promise((resolve, reject) => {
      const open = indexedDB.open('voxcache:enc-idb')
      open.onerror = () => reject(open.error)
      open.onsuccess = () => {
        const all = open.result.transaction('files').objectStore('files').getAll()
        all.onerror = () => reject(all.error)
        all.onsuccess = async () => {
          const values = all.result as unknown[]
          resolve(await Promise.all(values.map(async (v) => (v instanceof Blob ? new Uint8Array(await v.arrayBuffer()) : new TextEncoder().encode(JSON.stringify(v))))))
          open.result.close()
        }
      }
    })
    const marker = new TextEncoder().encode(MARKER)
    const has = (hay: Uint8Array, needle: Uint8Array) => {
      outer: for (let i = 0; i + needle.length <= hay.length; i++) {
        for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
        return true
      }
      return false
    }
    const leaks = texts.filter((t) => has(t, marker) || has(t, raw.subarray(1000, 1064))).length
    const again = await lib.openCache({ name: 'enc-idb', storage: 'idb', encryption: { key } })
    const back = (await again.retrieve(ids.big)) as Uint8Array
    const same = back.length === raw.length && back.every((b, i) => b === raw[i])
    const metadata = (await again.info(ids.big))!.metadata
    await again.close()
    const locked = await lib.openCache({ name: 'enc-idb', storage: 'idb' })
    const lockedRead = await locked.retrieve(ids.small).then(() => 'read', (e: Error) => e.name)
    const lockedList = (await locked.list()).map((e) => e.metadata)
    await locked.clear()
    const afterClear = (await locked.stats()).entries
    await locked.destroy()
    return { files: texts.length, leaks, same, metadata, lockedRead, lockedList, afterClear }
  }, MARKER)
  expect(got.files).toBeGreaterThan(1)
  expect(got).toMatchObject({ leaks: 0, same: true, metadata: { patient: MARKER }, lockedRead: 'KeyMismatchError', lockedList: [null, null], afterClear: 0 })
})

test('wipeAll removes every cache of the origin, OPFS and IndexedDB, key ids included, while another tab holds caches open: they then throw ClosedError', async ({ page, context }) => {
  const other = await context.newPage()
  await openPage(other, 'cache=enc-other&storage=memory')
  // The other tab: a protected cache on OPFS and a cache on IndexedDB, open, with entries.
  await other.evaluate(async () => {
    const lib = window.voxcacheLib!
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const w = window as unknown as Record<string, unknown>
    const a = await lib.openCache({ name: 'wipe-a', storage: 'opfs', encryption: { key } })
    const b = await lib.openCache({ name: 'wipe-b', storage: 'idb' })
    await a.store(await lib.operationId('wipe', 1), new Uint8Array(50_000).fill(1))
    await b.store(await lib.operationId('wipe', 2), new Uint8Array(50_000).fill(2))
    w.wipeCaches = [a, b]
  })
  const before = await page.evaluate(async () => {
    const top = await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')
    const names: string[] = []
    for await (const [name] of top as unknown as AsyncIterable<[string, FileSystemHandle]>) names.push(name)
    return { opfs: names.sort(), idb: (await indexedDB.databases()).map((d) => d.name).filter((n) => n?.startsWith('voxcache:')).sort() }
  })
  expect(before.opfs).toEqual(expect.arrayContaining(['wipe-a']))
  expect(before.idb).toEqual(expect.arrayContaining(['voxcache:wipe-b']))

  await page.evaluate(() => window.voxcacheLib!.wipeAll())

  const after = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory()
    const names: string[] = []
    for await (const [name] of root as unknown as AsyncIterable<[string, FileSystemHandle]>) names.push(name)
    return { opfs: names, idb: (await indexedDB.databases()).map((d) => d.name).filter((n) => n?.startsWith('voxcache:')) }
  })
  expect(after).toEqual({ opfs: [], idb: [] })
  const seen = await other.evaluate(async () => {
    const lib = window.voxcacheLib!
    const [a, b] = (window as unknown as { wipeCaches: import('../src/client.js').VoxCache[] }).wipeCaches
    const outcome = (p: Promise<unknown>) => p.then(() => 'done', (e: Error) => (e instanceof lib.ClosedError ? 'ClosedError' : `${e.name}: ${e.message}`))
    const got = [await outcome(a!.retrieve(await lib.operationId('wipe', 1))), await outcome(b!.store(await lib.operationId('wipe', 3), { x: 1 })), await outcome(a!.list())]
    // Opened again: empty, and no longer protected.
    const again = await lib.openCache({ name: 'wipe-a', storage: 'opfs' })
    const fresh = { entries: (await again.stats()).entries, protection: (await again.stats()).protection }
    await again.destroy()
    return { got, fresh }
  })
  expect(seen).toEqual({ got: ['ClosedError', 'ClosedError', 'ClosedError'], fresh: { entries: 0, protection: null } })
  await other.close()
})

test('a damaged key.json is refused at open, with or without a key, rather than guessed; nothing is changed', async ({ page }) => {
  const got = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const cache = await lib.openCache({ name: 'enc-d', storage: 'opfs', encryption: { key } })
    await cache.clear()
    const id = await lib.operationId('enc', 'keyfile')
    await cache.store(id, { kept: true })
    await cache.close()
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle('enc-d')
    const file = await dir.getFileHandle('key.json')
    const original = await (await file.getFile()).text()
    const damaged = original.replace(/"keyId":"[0-9a-f]{4}/, '"keyId":"zz')
    const writable = await file.createWritable()
    await writable.write(damaged)
    await writable.close()
    const attempt = (options: Parameters<typeof lib.openCache>[0]) =>
      lib.openCache(options).then(async (c) => (await c.close(), 'opened'), (e: Error) => `${e.name}: ${e.message}`)
    const withKey = await attempt({ name: 'enc-d', storage: 'opfs', encryption: { key } })
    const withoutKey = await attempt({ name: 'enc-d', storage: 'opfs' })
    const untouched = damaged !== original && (await (await file.getFile()).text()) === damaged
    // Restored, the cache opens with its key and its entry is there.
    const back = await file.createWritable()
    await back.write(original)
    await back.close()
    const again = await lib.openCache({ name: 'enc-d', storage: 'opfs', encryption: { key } })
    const value = await again.retrieve(id)
    await again.destroy()
    return { withKey, withoutKey, untouched, value }
  })
  expect(got.withKey).toMatch(/^KeyMismatchError: this cache's key.json is damaged/)
  expect(got.withoutKey).toMatch(/^KeyMismatchError: this cache's key.json is damaged/)
  expect(got).toMatchObject({ untouched: true, value: { kept: true } })
})
