// Region reads and values in chunks (record format 2), through the worker, on OPFS and IndexedDB:
// retrieveRegion returns a box bit for bit with its origin moved, reads only the frames it needs (damage
// elsewhere does not reach it), and a value past one chunk (256 MiB stored) lives in chunk files beside
// its record: read whole and by region across chunks, kept across a reload, and removed with its entry
// (deleted, evicted, or orphaned by a store that never finished).
import type { Page } from '@playwright/test'
import { listCacheFiles } from './cache-files.js'
import { expect, openPage, test } from './fixtures.js'

test.beforeEach(async ({ page }) => {
  await openPage(page, 'cache=rg-page&storage=memory')
})

/** Installs helpers in the page: a test volume, a box cropped from it voxel by voxel, a digest. */
async function installHelpers(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>
    w.rgVolume = (size: number[], Typed: typeof Uint8Array | typeof Uint16Array, direction?: number[]) => {
      const n = size.reduce((a, b) => a * b, 1)
      const data = new Typed(n)
      let x = 12345
      for (let i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) >>> 0
        data[i] = ((i >> 6) + (x >>> 29)) & (Typed === Uint8Array ? 0xff : 0xfff)
      }
      return {
        imageType: { dimension: 3, componentType: Typed === Uint8Array ? 'uint8' : 'uint16', pixelType: 'Scalar', components: 1 },
        name: 'volume', origin: [10, -20, 30], spacing: [0.5, 0.75, 2],
        direction: new Float64Array(direction ?? [1, 0, 0, 0, 1, 0, 0, 0, 1]), size, metadata: new Map(), data,
      }
    }
    w.rgCrop = (data: Uint8Array | Uint16Array, size: number[], index: number[], box: number[]) => {
      const out = new (data.constructor as typeof Uint16Array)(box[0]! * box[1]! * box[2]!)
      let k = 0
      for (let z = 0; z < box[2]!; z++) {
        for (let y = 0; y < box[1]!; y++) {
          for (let x = 0; x < box[0]!; x++) out[k++] = data[((index[2]! + z) * size[1]! + index[1]! + y) * size[0]! + index[0]! + x]!
        }
      }
      return out
    }
    w.rgSame = (a: ArrayBufferView, b: ArrayBufferView) => {
      if (a.byteLength !== b.byteLength) return false
      const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
      const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
      return true
    }
  })
}

type Helpers = {
  rgVolume(size: number[], Typed: typeof Uint8Array | typeof Uint16Array, direction?: number[]): import('../src/types.js').Image
  rgCrop(data: ArrayBufferView, size: number[], index: number[], box: number[]): ArrayBufferView
  rgSame(a: ArrayBufferView, b: ArrayBufferView): boolean
}

for (const storage of ['opfs', 'idb'] as const) {
  test(`retrieveRegion returns boxes bit for bit with their origin moved, both codecs (${storage})`, async ({ page }) => {
    await installHelpers(page)
    const got = await page.evaluate(async (storage) => {
      const h = window as unknown as Helpers
      const lib = window.voxcacheLib!
      const cache = await lib.openCache({ name: `rg-boxes-${storage}`, storage })
      await cache.clear()
      const c = Math.cos(0.3)
      const s = Math.sin(0.3)
      const size = [160, 144, 48]
      const results: unknown[] = []
      for (const codec of ['none', 'zstd'] as const) {
        const volume = h.rgVolume(size, Uint16Array, [c, 0, s, 0, 1, 0, -s, 0, c])
        const original = (volume.data as Uint16Array).slice()
        const id = await lib.operationId('region', { codec })
        await cache.store(id, volume, { codec })
        const boxes: [number[], number[]][] = [
          [[0, 0, 24], [160, 144, 1]], // axial
          [[80, 0, 0], [1, 144, 48]], // sagittal
          [[0, 70, 0], [160, 1, 48]], // coronal
          [[17, 33, 5], [61, 40, 29]],
          [[0, 0, 0], size],
          [[159, 143, 47], [1, 1, 1]],
        ]
        for (const [index, box] of boxes) {
          const region = (await cache.retrieveRegion(id, { index, size: box }))!
          const world = [0, 1, 2].map((r) => volume.origin[r]! + [0, 1, 2].reduce((n, k) => n + Number(volume.direction[r * 3 + k]) * volume.spacing[k]! * index[k]!, 0))
          results.push({
            codec, index,
            same: h.rgSame(region.data as Uint16Array, h.rgCrop(original, size, index, box)),
            size: region.size, type: region.data!.constructor.name, ownBuffer: (region.data as Uint16Array).buffer.byteLength === (region.data as Uint16Array).byteLength,
            originError: Math.max(...region.origin.map((o, r) => Math.abs(o - world[r]!))),
            spacing: region.spacing, direction: Array.from(region.direction as Float64Array),
          })
        }
      }
      const errors: string[] = []
      const json = await lib.operationId('region', 'json')
      await cache.store(json, { not: 'an image' })
      const volumeId = await lib.operationId('region', { codec: 'none' })
      const bad: [string, string, { index: number[]; size: number[] }][] = [
        ['not an image', json, { index: [0], size: [1] }],
        ['outside', volumeId, { index: [0, 0, 40], size: [1, 1, 9] }],
      ]
      for (const [what, id, region] of bad) {
        try {
          await cache.retrieveRegion(id, region)
          errors.push(`${what}: no error`)
        } catch (e) {
          errors.push(`${what}: ${e instanceof lib.UnsupportedValueError ? 'UnsupportedValueError' : String(e)}`)
        }
      }
      const miss = await cache.retrieveRegion('0'.repeat(64), { index: [0, 0, 0], size: [1, 1, 1] })
      // imageInfo: the description without pixels, from the header alone (no hit counted).
      const hitsBefore = (await cache.stats()).hits
      const described = (await cache.imageInfo(volumeId))!
      const hitsAfter = (await cache.stats()).hits
      const notImage = await cache.imageInfo(json).then(() => 'described', (e: Error) => (e instanceof lib.UnsupportedValueError ? 'UnsupportedValueError' : String(e)))
      const info = {
        size: described.size, spacing: described.spacing, origin: described.origin, direction: Array.from(described.direction as Float64Array),
        componentType: described.imageType.componentType, hasData: 'data' in described, hitsCounted: hitsAfter - hitsBefore,
        notImage, miss: (await cache.imageInfo('0'.repeat(64))) === undefined,
      }
      await cache.destroy()
      return { results, errors, miss: miss === undefined, info }
    }, storage)
    for (const r of got.results as { same: boolean; originError: number; index: number[] }[]) {
      expect(r, JSON.stringify(r.index)).toMatchObject({ same: true, type: 'Uint16Array', ownBuffer: true, spacing: [0.5, 0.75, 2] })
      expect(r.originError, JSON.stringify(r.index)).toBeLessThan(1e-9)
    }
    expect(got.results).toHaveLength(12)
    expect(got.errors).toEqual(['not an image: UnsupportedValueError', 'outside: UnsupportedValueError'])
    expect(got.miss).toBe(true)
    const c = Math.cos(0.3)
    const s = Math.sin(0.3)
    expect(got.info).toEqual({
      size: [160, 144, 48], spacing: [0.5, 0.75, 2], origin: [10, -20, 30], direction: [c, 0, s, 0, 1, 0, -s, 0, c],
      componentType: 'uint16', hasData: false, hitsCounted: 0, notImage: 'UnsupportedValueError', miss: true,
    })
  })
}

test('a region is read from its own frames: damage elsewhere leaves it readable, while retrieve refuses the entry', async ({ page }) => {
  await installHelpers(page)
  const got = await page.evaluate(async () => {
    const h = window as unknown as Helpers
    const lib = window.voxcacheLib!
    const name = 'rg-damage'
    const cache = await lib.openCache({ name, storage: 'opfs' })
    await cache.clear()
    const size = [256, 256, 64] // 64 KiB slices, 16 a frame: four frames of 1 MiB
    const volume = h.rgVolume(size, Uint8Array)
    const original = (volume.data as Uint8Array).slice()
    const id = await lib.operationId('region', 'damage')
    await cache.store(id, volume, { codec: 'none' })
    await cache.close()
    // Behind voxcache's back: one byte of frame 3 (slices 48–63) flipped in the record file.
    const dir = await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle(name)).getDirectoryHandle('payloads')
    const handle = await dir.getFileHandle(`${id}.vxc`)
    const file = await handle.getFile()
    const prefix = new DataView(await file.slice(0, 64).arrayBuffer())
    const bodyOffset = Math.ceil((64 + prefix.getUint32(8, true)) / 8) * 8 + 48 * prefix.getUint32(44, true)
    const at = bodyOffset + 3 * 1024 * 1024 + 1000
    const byte = new Uint8Array(await file.slice(at, at + 1).arrayBuffer())
    const writable = await handle.createWritable({ keepExistingData: true })
    await writable.write({ type: 'write', position: at, data: new Uint8Array([byte[0]! ^ 0x20]) })
    await writable.close()

    const again = await lib.openCache({ name, storage: 'opfs' })
    const outcome = async (call: () => Promise<unknown>) => {
      try {
        const v = (await call()) as { data?: ArrayBufferView } | undefined
        return v === undefined ? 'miss' : v
      } catch (e) {
        return e instanceof lib.CorruptEntryError ? 'CorruptEntryError' : String(e)
      }
    }
    const early = await outcome(() => again.retrieveRegion(id, { index: [0, 0, 5], size: [256, 256, 40] }))
    const earlySame = typeof early === 'object' && h.rgSame((early as { data: ArrayBufferView }).data, h.rgCrop(original, size, [0, 0, 5], [256, 256, 40]))
    const late = await outcome(() => again.retrieveRegion(id, { index: [0, 0, 50], size: [256, 256, 1] }))
    const after = await outcome(() => again.retrieve(id))
    const stats = await again.stats()
    await again.destroy()
    return { earlySame, late, after, quarantined: stats.quarantined }
  })
  expect(got).toEqual({ earlySame: true, late: 'CorruptEntryError', after: 'miss', quarantined: 1 })
})

// Region reads take the cache's shared lock when it is free and read through read-only access handles,
// which block any move or removal of the file while open; they also keep parsed headers, checked against
// the file's prefix. Here one tab reads boxes while another replaces (with a version of the same size,
// so that only the prefix tells the records apart), deletes and stores the same entries.
test('region reads in one tab while another replaces and deletes the entries: every read is a whole version or a miss, and no write fails', async ({ page, context }) => {
  const other = await context.newPage()
  await openPage(other, 'cache=rg-page-b&storage=memory')
  const IDS = 4
  const size = [256, 256, 40] // 64 KiB slices, 16 a frame: frames of 1 MiB, 1 MiB, 512 KiB
  const setup = async (p: Page) =>
    p.evaluate(({ size }) => {
      const w = window as unknown as Record<string, unknown>
      // Version v of a volume: voxel i holds (7i + 13v + i/512) mod 256, so any voxel tells its version.
      w.rgVersion = (v: number) => {
        const data = new Uint8Array(size[0]! * size[1]! * size[2]!)
        for (let i = 0; i < data.length; i++) data[i] = (i * 7 + v * 13 + (i >> 9)) & 0xff
        return {
          imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
          name: 'v', origin: [0, 0, 0], spacing: [1, 1, 1], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), size, metadata: new Map(), data,
        }
      }
    }, { size })
  await setup(page)
  await setup(other)
  // Both tabs open the same cache; the writer stores version 0 of every entry first.
  const open = (p: Page) => p.evaluate(async () => {
    ;(window as unknown as Record<string, unknown>).rgShared = await window.voxcacheLib!.openCache({ name: 'rg-tabs', storage: 'opfs' })
  })
  await open(other)
  await open(page)
  await other.evaluate(async (IDS) => {
    const lib = window.voxcacheLib!
    const cache = (window as unknown as { rgShared: import('../src/client.js').VoxCache }).rgShared
    const version = (window as unknown as { rgVersion(v: number): import('../src/types.js').Image }).rgVersion
    await cache.clear()
    for (let k = 0; k < IDS; k++) await cache.store(await lib.operationId('rg-tabs', k), version(0), { codec: 'none' })
  }, IDS)

  const writer = other.evaluate(async (IDS) => {
    const lib = window.voxcacheLib!
    const cache = (window as unknown as { rgShared: import('../src/client.js').VoxCache }).rgShared
    const version = (window as unknown as { rgVersion(v: number): import('../src/types.js').Image }).rgVersion
    const errors: string[] = []
    const done = { stores: 0, deletes: 0 }
    for (let op = 0; op < 120; op++) {
      const id = await lib.operationId('rg-tabs', op % IDS)
      try {
        if (op % 5 === 4) {
          await cache.delete(id)
          done.deletes++
        } else {
          await cache.store(id, version(1 + (op % 9)), { codec: 'none' })
          done.stores++
        }
      } catch (e) {
        errors.push(`${(e as Error).name}: ${(e as Error).message}`)
      }
    }
    return { errors, done }
  }, IDS)
  const reader = page.evaluate(async ({ IDS, size }) => {
    const lib = window.voxcacheLib!
    const cache = (window as unknown as { rgShared: import('../src/client.js').VoxCache }).rgShared
    const errors: string[] = []
    const wrong: string[] = []
    let hits = 0
    let misses = 0
    // Two lanes: reads of this worker run concurrently too (each borrows its own read buffer).
    const lane = async (lane: number) => {
      for (let op = lane; op < 300; op += 2) {
        const z = (op * 7) % (size[2]! - 3)
        const y = (op * 13) % 200
        const box = { index: [0, y, z], size: [size[0]!, 56, 3] }
        try {
          const got = await cache.retrieveRegion(await lib.operationId('rg-tabs', op % IDS), box)
          if (!got) {
            misses++
            continue
          }
          hits++
          const data = got.data as Uint8Array
          // The version, from the box's first voxel; then every voxel must be of that version.
          const first = (z * size[1]! + y) * size[0]!
          let v = 0
          while (v < 20 && ((first * 7 + v * 13 + (first >> 9)) & 0xff) !== data[0]) v++
          let k = 0
          let same = data.length === box.size[0]! * box.size[1]! * box.size[2]!
          for (let zz = 0; zz < 3 && same; zz++) {
            for (let yy = 0; yy < 56 && same; yy++) {
              for (let x = 0; x < size[0]!; x++) {
                const i = ((z + zz) * size[1]! + y + yy) * size[0]! + x
                if (data[k++] !== ((i * 7 + v * 13 + (i >> 9)) & 0xff)) {
                  same = false
                  break
                }
              }
            }
          }
          if (!same) wrong.push(`op ${op}: not one version (first voxel says ${v})`)
        } catch (e) {
          errors.push(`${(e as Error).name}: ${(e as Error).message}`)
        }
      }
    }
    await Promise.all([lane(0), lane(1)])
    const stats = await cache.stats()
    return { errors, wrong, hits, misses, quarantined: stats.quarantined }
  }, { IDS, size })
  const [w, r] = await Promise.all([writer, reader])
  expect(w.errors).toEqual([])
  expect(w.done).toEqual({ stores: 96, deletes: 24 })
  expect(r.errors).toEqual([])
  expect(r.wrong).toEqual([])
  expect(r.quarantined).toBe(0)
  expect(r.hits).toBeGreaterThan(0)
  expect(r.hits + r.misses).toBe(300)
  test.info().annotations.push({ type: 'region-tabs', description: JSON.stringify({ hits: r.hits, misses: r.misses }) })
  await other.evaluate(async () => (window as unknown as { rgShared: import('../src/client.js').VoxCache }).rgShared.destroy())
  await other.close()
})

const BIG = [1000, 1000, 300] // 300 MB of uint8: 300 frames of one 1,000,000-byte slice; 268 fit chunk 0

for (const storage of ['opfs', 'idb'] as const) {
  test(`a value past one chunk is stored in chunks, read whole and across chunks, kept across a reload, and its chunks go with it (${storage})`, async ({ page }) => {
    test.setTimeout(180_000)
    await installHelpers(page)
    const name = `rg-chunks-${storage}`
    const stored = await page.evaluate(async ({ name, storage, BIG }) => {
      const h = window as unknown as Helpers & Record<string, unknown>
      const lib = window.voxcacheLib!
      const cache = await lib.openCache({ name, storage, maxBytes: 450e6 })
      await cache.clear()
      const volume = h.rgVolume(BIG, Uint8Array)
      const original = volume.data as Uint8Array
      h.rgOriginal = original.slice()
      const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('')
      const chunk1 = hex(await crypto.subtle.digest('SHA-256', original.subarray(268 * 1e6) as Uint8Array<ArrayBuffer>))
      const id = await lib.operationId('region', 'big')
      const info = await cache.store(id, volume, { codec: 'none' })
      await cache.close()
      return { id, chunk1, info }
    }, { name, storage, BIG })
    expect(stored.info).toMatchObject({ rawBytes: 300e6, codec: 'none', inline: false })
    expect(stored.info.sizeBytes).toBeGreaterThan(300e6)
    const files = await listCacheFiles(page, name, storage)
    const payloads = Object.entries(files).filter(([path]) => path.startsWith('payloads/'))
    expect(payloads.map(([path]) => path).sort()).toEqual([`payloads/${stored.id}.${stored.chunk1}.vxb`, `payloads/${stored.id}.vxc`])
    expect(files[`payloads/${stored.id}.${stored.chunk1}.vxb`]).toBe(32e6)
    expect(payloads.reduce((n, [, size]) => n + size, 0)).toBe(stored.info.sizeBytes)

    // A reload: a new page, the cache opened again.
    await page.reload()
    await page.waitForFunction(() => document.body.dataset.ready === 'true')
    await installHelpers(page)
    const read = await page.evaluate(async ({ name, storage, id, BIG }) => {
      const h = window as unknown as Helpers
      const lib = window.voxcacheLib!
      const cache = await lib.openCache({ name, storage, maxBytes: 450e6 })
      const listed = (await cache.list()).map((e) => [e.id, e.sizeBytes])
      const whole = (await cache.retrieveImage(id))!
      const original = whole.data as Uint8Array
      const boxes: [number[], number[]][] = [[[0, 0, 260], [1000, 1000, 15]], [[100, 200, 0], [300, 1, 300]], [[999, 999, 299], [1, 1, 1]]]
      const same = []
      for (const [index, box] of boxes) {
        const region = (await cache.retrieveRegion(id, { index, size: box }))!
        same.push(h.rgSame(region.data as Uint8Array, h.rgCrop(original, BIG, index, box)))
      }
      await cache.close()
      // What the first page stored: regenerate it the same way and compare the whole volume.
      const again = h.rgVolume(BIG, Uint8Array).data as Uint8Array
      return { listed, wholeSame: h.rgSame(original, again), same }
    }, { name, storage, id: stored.id, BIG })
    expect(read).toEqual({ listed: [[stored.id, stored.info.sizeBytes]], wholeSame: true, same: [true, true, true] })

    // Removed with its entry: evicted by the budget for a newer value, and an orphan chunk (a store
    // killed before its record was written) removed at the next open.
    const orphan = `payloads/${'7'.repeat(64)}.${'a'.repeat(64)}.vxb`
    const evicted = await page.evaluate(async ({ name, storage, orphan }) => {
      const lib = window.voxcacheLib!
      const cache = await lib.openCache({ name, storage, maxBytes: 450e6 })
      await cache.store(await lib.operationId('region', 'newer'), new Uint8Array(200e6), { codec: 'none' })
      const evictions = (await cache.evictions()).map((e) => e.reason)
      const entries = (await cache.stats()).entries
      await cache.close()
      return { evictions, entries, orphan }
    }, { name, storage, orphan })
    expect(evicted).toMatchObject({ evictions: ['budget'], entries: 1 })
    const left = Object.keys(await listCacheFiles(page, name, storage)).filter((p) => p.startsWith('payloads/'))
    expect(left.filter((p) => p.startsWith(`payloads/${stored.id}`)), 'the evicted value left no file').toEqual([])
    await page.evaluate(async ({ name, storage, orphan }) => {
      const lib = window.voxcacheLib!
      // An orphan chunk written the way the backend writes files, then the cache opened again.
      if (storage === 'opfs') {
        const dir = await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle(name)).getDirectoryHandle('payloads')
        const w = await (await dir.getFileHandle(orphan.slice('payloads/'.length), { create: true })).createWritable()
        await w.write(new Uint8Array(100))
        await w.close()
      } else {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const request = indexedDB.open(`voxcache:${name}`)
          request.onsuccess = () => resolve(request.result)
          request.onerror = () => reject(request.error)
        })
        await new Promise<void>((resolve, reject) => {
          const tx = db.transaction('files', 'readwrite')
          tx.objectStore('files').put(new Blob([new Uint8Array(100)]), orphan)
          tx.oncomplete = () => resolve()
          tx.onerror = () => reject(tx.error)
        })
        db.close()
      }
      await (await lib.openCache({ name, storage })).close()
    }, { name, storage, orphan })
    const after = Object.keys(await listCacheFiles(page, name, storage))
    expect(after.filter((p) => p.endsWith('.vxb')), 'the orphan chunk was removed').toEqual([])
    expect(after.filter((p) => p.startsWith('payloads/'))).toHaveLength(1)
    await page.evaluate(async ({ name, storage }) => (await window.voxcacheLib!.openCache({ name, storage })).destroy(), { name, storage })
  })
}
