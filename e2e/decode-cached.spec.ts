// Cached decodes found from the inputs' digests (worker/service.ts decode, worker/decode/decode.ts
// knownDecodeId): the same image as the first decode, after a reload too; the page's thread neither
// reads nor sends the bytes of a File (the worker reads it); the page's memo of a File's digest spares
// a second read and never stands for another File; bad input given as Files fails as it always did.
import type { Page } from '@playwright/test'
import { fixture, mrSeries, serve } from './decode-reference.js'
import { expect, openPage, test } from './fixtures.js'

// The demo's offline service worker would answer /__fixtures/ requests itself, past page.route.
test.use({ serviceWorkers: 'block' })

declare global {
  interface Window {
    /** Bytes of the ArrayBuffers the page transferred to workers (counted by the init script below). */
    sentBytes?: number
  }
}

/** Counts what the page transfers to any worker: the input bytes a decode sends cross this way. */
async function countTransfers(page: Page): Promise<void> {
  await page.addInitScript(() => {
    window.sentBytes = 0
    const post = Worker.prototype.postMessage
    Worker.prototype.postMessage = function (this: Worker, message: unknown, options?: Transferable[] | StructuredSerializeOptions) {
      const list = Array.isArray(options) ? options : (options?.transfer ?? [])
      for (const t of list) if (t instanceof ArrayBuffer) window.sentBytes! += t.byteLength
      return (post as (m: unknown, o?: Transferable[] | StructuredSerializeOptions) => void).call(this, message, options)
    } as typeof Worker.prototype.postMessage
  })
}

interface Case {
  label: string
  names: string[]
}

/**
 * Decodes each case from new File objects made of the served fixtures (in the order given, or reversed)
 * and summarizes every image in the page, with the bytes sent to the worker and the decode counters.
 */
async function decodeFiles(page: Page, cases: Case[], reversed = false) {
  return page.evaluate(
    async ({ cases, reversed }) => {
      const cache = window.voxcache!
      const out = []
      for (const c of cases) {
        const names = reversed ? [...c.names].reverse() : c.names
        const files = await Promise.all(
          names.map(async (name) => new File([await (await fetch(`/__fixtures/${encodeURIComponent(name)}`)).arrayBuffer()], name)),
        )
        const before = { sent: window.sentBytes!, stats: await cache.stats() }
        const { id, image } = await cache.decodeEntry(files)
        const sent = window.sentBytes! - before.sent
        const after = await cache.stats()
        const data = image.data as unknown as ArrayLike<number>
        let sum = 0
        for (let i = 0; i < data.length; i++) sum += Number(data[i])
        out.push({
          label: c.label,
          id,
          sent,
          hits: after.decodeHits - before.stats.decodeHits,
          misses: after.decodeMisses - before.stats.decodeMisses,
          image: {
            size: [...image.size],
            spacing: [...image.spacing],
            origin: [...image.origin],
            // + 0: a record keeps a direction's -0 as 0 (JSON), the same matrix.
            direction: Array.from(image.direction as unknown as ArrayLike<number>, (v) => v + 0),
            imageType: image.imageType,
            name: image.name,
            metadata: [...image.metadata.entries()].map(([k, v]) => [k, String(v)]),
            length: data.length,
            sum,
          },
        })
      }
      return out
    },
    { cases, reversed },
  )
}

test('after a reload, cached decodes of new File objects return the same images; the page sends no input bytes, the worker reads the Files', async ({ page }) => {
  const { files: series } = mrSeries()
  await serve(page, {
    ...Object.fromEntries(['ch2bet.nii.gz', 'functional.nii', 'CT_small.dcm', 'JPEG2000.dcm', 'RatLungSlice1.mha', 'RatLungSlice1.raw'].map((n) => [n, fixture(n)])),
    ...series,
  })
  await countTransfers(page)
  const cache = `decode-cached-reload-${Date.now().toString(36)}`
  await openPage(page, `cache=${cache}&storage=opfs`)
  const cases: Case[] = [
    { label: 'gzip NIfTI', names: ['ch2bet.nii.gz'] },
    { label: 'NIfTI', names: ['functional.nii'] },
    { label: 'DICOM', names: ['CT_small.dcm'] },
    { label: 'DICOM JPEG 2000', names: ['JPEG2000.dcm'] },
    { label: 'DICOM series', names: ['s3.dcm', 's0.dcm', 's4.dcm', 's2.dcm', 's1.dcm'] },
    { label: 'MetaImage and its data file', names: ['RatLungSlice1.mha', 'RatLungSlice1.raw'] },
  ]
  const first = await decodeFiles(page, cases)
  for (const f of first) expect([f.label, f.misses, f.hits]).toEqual([f.label, 1, 0])

  await page.reload()
  await openPage(page, `cache=${cache}&storage=opfs`)
  // The series in the other order: the same files, so the same image.
  const again = await decodeFiles(page, cases, true)
  for (const [i, a] of again.entries()) {
    const f = first[i]!
    expect([a.label, a.hits, a.misses]).toEqual([f.label, 1, 0])
    expect(a.id, a.label).toBe(f.id)
    expect(a.image, a.label).toEqual(f.image)
  }
  // A File crosses to the worker as a handle: no decode, a miss or a hit, transferred input bytes.
  expect([...first, ...again].map((a) => [a.label, a.sent])).toEqual([...cases, ...cases].map((c) => [c.label, 0]))
  await page.evaluate(() => window.voxcache!.destroy())
})

test('a File decoded before is not read again; another File with the same name, size and date is hashed for itself', async ({ page }) => {
  const a = fixture('functional.nii')
  // The same length, a voxel changed far past the header: only the content tells them apart.
  const b = Buffer.from(a)
  b[b.length - 100] = (b[b.length - 100]! + 1) & 0xff
  await serve(page, { 'a.nii': a, 'b.nii': b })
  await countTransfers(page)
  await openPage(page, `cache=decode-cached-memo-${Date.now().toString(36)}&storage=memory`)
  const got = await page.evaluate(async () => {
    const cache = window.voxcache!
    const bytes = async (path: string) => new Uint8Array(await (await fetch(path)).arrayBuffer())
    const sum = (image: { data: unknown }) => Array.from(image.data as ArrayLike<number>).reduce((s, v) => s + Number(v), 0)
    const run = async (file: File) => {
      const sent = window.sentBytes!
      const { id, image } = await cache.decodeEntry(file)
      return { id, sum: sum(image), sent: window.sentBytes! - sent }
    }
    // A File of a file in OPFS, which no one can read once that file has changed (NotReadableError):
    // its second decode can only come from the digest remembered at the first.
    const root = await navigator.storage.getDirectory()
    const handle = await root.getFileHandle(`memo-${Date.now().toString(36)}.nii`, { create: true })
    const write = async (data: Uint8Array) => {
      const w = await handle.createWritable()
      await w.write(data as Uint8Array<ArrayBuffer>)
      await w.close()
    }
    await write(await bytes('/__fixtures/a.nii'))
    const picked = await handle.getFile()
    // Another File of the same file, never decoded: after the change, a typed error naming it.
    const stale = await handle.getFile()
    const first = await run(picked)
    await write(await bytes('/__fixtures/b.nii'))
    const unreadable = await picked.arrayBuffer().then(() => 'read', (error: Error) => error.name)
    const again = await run(picked).catch((error: Error) => ({ id: `${error.name}: ${error.message}`, sum: NaN, sent: NaN }))
    const staleError = await run(stale).then(() => 'decoded', (error: Error) => `${error.name}: ${error.message}`)
    const changed = await run(await handle.getFile())
    await root.removeEntry(handle.name)
    // Two Files of the same name, size and date in memory: each is hashed for itself.
    const date = Date.UTC(2026, 0, 2, 3, 4, 5)
    const fa = new File([await bytes('/__fixtures/a.nii')], 'scan.nii', { lastModified: date })
    const fb = new File([await bytes('/__fixtures/b.nii')], 'scan.nii', { lastModified: date })
    const steps = [await run(fa), await run(fb), await run(fa), await run(fb)]
    const stats = await cache.stats()
    return {
      unreadable,
      staleError,
      opfs: [first, again, changed],
      same: [fa.name === fb.name, fa.size === fb.size, fa.lastModified === fb.lastModified, fa.type === fb.type],
      steps,
      stats: { decodeMisses: stats.decodeMisses, decodeHits: stats.decodeHits, entries: stats.entries },
    }
  })
  // The premise: the File picked before the change cannot be read any more.
  expect(got.unreadable).toBe('NotReadableError')
  const [first, again, changed] = got.opfs
  // Its second decode is the first one's image, found from the remembered digest without a read.
  expect([again!.id, again!.sum]).toEqual([first!.id, first!.sum])
  expect(got.staleError).toMatch(/^DecodeError: memo-\w+\.nii: the browser cannot read it \(NotReadableError\)/)
  // The file's new content is another image.
  expect(changed!.id).not.toBe(first!.id)
  expect(changed!.sum).not.toBe(first!.sum)
  expect(got.same).toEqual([true, true, true, true])
  const [a1, b1, a2, b2] = got.steps
  // Two contents, two images (the same two as the OPFS file held), each File again its own.
  expect([a1!.id, b1!.id]).toEqual([first!.id, changed!.id])
  expect([a2!.id, a2!.sum]).toEqual([a1!.id, a1!.sum])
  expect([b2!.id, b2!.sum]).toEqual([b1!.id, b1!.sum])
  expect(got.stats).toEqual({ decodeMisses: 2, decodeHits: 5, entries: 2 })
  // No input bytes crossed from the page.
  expect([first, again, changed, ...got.steps].map((s) => s!.sent)).toEqual([0, 0, 0, 0, 0, 0, 0])
})

test('bad input given as Files fails as before: typed errors naming the file, nothing cached; an empty File is refused even when an image is stored under its id', async ({ page }) => {
  const gz = fixture('ch2bet.nii.gz')
  await serve(page, {
    'notes.txt': Buffer.from('patient notes, not an image\n'.repeat(40)),
    'RatLungSlice1.mha': fixture('RatLungSlice1.mha'),
    'cut.nii.gz': gz.subarray(0, Math.floor(gz.length * 0.6)),
    'standard.nii.gz': fixture('standard.nii.gz'),
  })
  await openPage(page, `cache=decode-cached-bad-${Date.now().toString(36)}&storage=memory`)
  const got = await page.evaluate(async () => {
    const cache = window.voxcache!
    const lib = window.voxcacheLib!
    const file = async (name: string) => new File([await (await fetch(`/__fixtures/${name}`)).arrayBuffer()], name)
    const attempt = async (input: File | File[]) => {
      try {
        await cache.decode(input)
        return 'decoded'
      } catch (e) {
        const kind = e instanceof lib.UnsupportedFormatError ? 'UnsupportedFormatError' : e instanceof lib.DecodeError ? 'DecodeError' : 'other'
        return `${kind}: ${(e as Error).message}`
      }
    }
    // An image under the id a decode of the empty file would have (as an import could leave one).
    const empty = await lib.contentRef(new Uint8Array(0))
    const emptyId = await lib.operationId('decode', { decoder: '@itk-wasm/image-io@1.6.1', files: [empty] })
    const standard = await cache.decode(await file('standard.nii.gz'))
    await cache.store(emptyId, standard)
    const stored = await cache.stats()
    const out = {
      empty: await attempt(new File([], 'empty.nii')),
      text: await attempt(await file('notes.txt')),
      lonelyHeader: await attempt(await file('RatLungSlice1.mha')),
      truncated: await attempt(await file('cut.nii.gz')),
      emptyInSeries: await attempt([await file('standard.nii.gz'), new File([], 'b.dcm')]),
    }
    const after = await cache.stats()
    return { out, added: after.entries - stored.entries, misses: after.decodeMisses - stored.decodeMisses, hits: after.decodeHits - stored.decodeHits, workerAlive: (await cache.decode(await file('standard.nii.gz'))).size }
  })
  expect(got.out.empty).toMatch(/^DecodeError: empty\.nii: the file is empty/)
  expect(got.out.text).toMatch(/^UnsupportedFormatError: notes\.txt: is a text file/)
  expect(got.out.lonelyHeader).toMatch(/^DecodeError: RatLungSlice1\.mha: .*RatLungSlice1\.raw, which was not given/)
  expect(got.out.truncated).toMatch(/^DecodeError: cut\.nii\.gz: gzip stream is truncated/)
  expect(got.out.emptyInSeries).toMatch(/^DecodeError: b\.dcm: the file is empty/)
  expect([got.added, got.misses, got.hits]).toEqual([0, 0, 0])
  expect(got.workerAlive).toEqual([4, 5, 7])
})

test('bytes given as arrays are handed over on a hit too, as on a miss: detached after every decode', async ({ page }) => {
  await serve(page, { 'ch2bet.nii.gz': fixture('ch2bet.nii.gz') })
  await openPage(page, `cache=decode-cached-detach-${Date.now().toString(36)}&storage=memory`)
  const got = await page.evaluate(async () => {
    const cache = window.voxcache!
    const bytes = new Uint8Array(await (await fetch('/__fixtures/ch2bet.nii.gz')).arrayBuffer())
    const out = []
    for (let i = 0; i < 2; i++) {
      const data = bytes.slice()
      const before = await cache.stats()
      const image = await cache.decode({ name: 'ch2bet.nii.gz', data })
      const after = await cache.stats()
      out.push({ hit: after.decodeHits > before.decodeHits, left: data.byteLength, size: [...image.size] })
    }
    return out
  })
  expect(got).toEqual([
    { hit: false, left: 0, size: [181, 217, 181] },
    { hit: true, left: 0, size: [181, 217, 181] },
  ])
})
