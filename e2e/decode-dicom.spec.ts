// Real-world DICOM files in Chromium: preambles that carry other formats' headers, old encodings and
// files without preamble or file meta (pydicom's test files, fetched at test time), and a series of
// hundreds of slices written from a real brain volume.
import type { Page } from '@playwright/test'
import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { bareDataSet, dicomSeries, preambles, resampledSlices, withNiftiMagicAt344, withoutSopUids, withPreamble } from '../test/dicom-files.js'
import { pydicom } from '../test/pydicom.js'
import { readCacheFiles, removeCache } from './cache-files.js'
import { fixture, mrSeries, serve } from './decode-reference.js'
import { expect, HARNESS, openPage, test } from './fixtures.js'

/** What decode gave for one file (or series): the image's geometry and a digest of every voxel, or the error. */
type Outcome =
  | { ok: true; size: number[]; spacing: number[]; origin: number[]; direction: number[]; componentType: string; components: number; sum: number; sha256: string }
  | { ok: false; unsupported: boolean; decodeError: boolean; message: string }

/** Decodes each entry of `inputs` (one file name, or the names of a series) in the page, one after the other. */
async function decodeAll(page: Page, inputs: Record<string, string[]>): Promise<Record<string, Outcome>> {
  return page.evaluate(async (inputs) => {
    const lib = window.voxcacheLib!
    const out: Record<string, Outcome> = {}
    for (const [key, names] of Object.entries(inputs)) {
      const files = await Promise.all(names.map(async (name) => ({ name, data: new Uint8Array(await (await fetch(`/__fixtures/${encodeURIComponent(name)}`)).arrayBuffer()) })))
      try {
        const image = await window.voxcache!.decode(files)
        const data = image.data as unknown as ArrayLike<number> & ArrayBufferView<ArrayBuffer>
        let sum = 0
        for (let i = 0; i < data.length; i++) sum += Number(data[i])
        const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        out[key] = {
          ok: true,
          size: [...image.size],
          spacing: [...image.spacing],
          origin: [...image.origin],
          direction: Array.from(image.direction as unknown as ArrayLike<number>),
          componentType: image.imageType.componentType,
          components: image.imageType.components,
          sum,
          sha256: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join(''),
        }
      } catch (e) {
        out[key] = { ok: false, unsupported: e instanceof lib.UnsupportedFormatError, decodeError: e instanceof lib.DecodeError, message: String((e as Error).message) }
      }
    }
    return out
  }, inputs)
}

const buf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
const one = (names: string[]) => Object.fromEntries(names.map((n) => [n, [n]]))

test.use({ serviceWorkers: 'block' })

test.describe('decode DICOM', () => {
  test.beforeEach(async ({ page }) => {
    await openPage(page, `cache=dicom-${test.info().title.replace(/\W+/g, '-').slice(0, 40)}&storage=memory`)
  })

  test("a preamble holding another format's header or magic number decodes as the DICOM file it is", async ({ page }) => {
    const mr = new Uint8Array(fixture('MR_small.dcm'))
    const nifti = new Uint8Array(fixture('functional.nii'))
    const files: Record<string, Buffer> = { 'MR_small.dcm': fixture('MR_small.dcm') }
    for (const [what, preamble] of Object.entries(preambles(nifti))) files[`preamble ${what}`] = buf(withPreamble(mr, preamble))
    files['preamble NIfTI-1 and n+1 at 344'] = buf(withPreamble(withNiftiMagicAt344(mr), nifti))
    await serve(page, files)
    const got = await decodeAll(page, one(Object.keys(files)))
    const reference = got['MR_small.dcm']!
    expect(reference).toMatchObject({ ok: true, size: [64, 64, 1], componentType: 'int16' })
    expect(Object.keys(got)).toHaveLength(11)
    for (const [name, outcome] of Object.entries(got)) {
      // n+1 at 344 replaced 4 bytes of ImageType, which GDCM reads but does not put in the image.
      expect(outcome, name).toEqual(reference)
    }
  })

  test('implicit VR, big endian, and data sets without preamble or file meta decode to the same image; non-images are refused', async ({ page }) => {
    const mr = new Uint8Array(fixture('MR_small.dcm'))
    const implicit = pydicom('MR_small_implicit.dcm')
    const bigEndian = pydicom('MR_small_bigendian.dcm')
    const noMeta = pydicom('no_meta.dcm')
    const series = mrSeries()
    const bareSeries = Object.fromEntries(Object.entries(series.files).map(([n, b]) => [`bare-${n}`, buf(bareDataSet(new Uint8Array(b)))]))
    await serve(page, {
      'MR_small.dcm': buf(mr),
      'MR_small_implicit.dcm': buf(implicit),
      'MR_small_bigendian.dcm': buf(bigEndian),
      'bare explicit LE': buf(bareDataSet(mr)),
      'bare implicit LE': buf(bareDataSet(implicit)),
      'bare explicit BE': buf(bareDataSet(bigEndian)),
      'ACR-NEMA (implicit LE, no SOP UIDs)': buf(withoutSopUids(bareDataSet(implicit))),
      'file meta without preamble': buf(implicit.subarray(132)),
      'CT_small.dcm': fixture('CT_small.dcm'),
      'no_meta.dcm without its stray first byte': buf(noMeta.subarray(1)),
      'no_meta.dcm': buf(noMeta),
      'ExplVR_BigEnd.dcm': buf(pydicom('ExplVR_BigEnd.dcm')),
      'ExplVR_LitEndNoMeta.dcm': buf(pydicom('ExplVR_LitEndNoMeta.dcm')),
      'ExplVR_BigEndNoMeta.dcm': buf(pydicom('ExplVR_BigEndNoMeta.dcm')),
      'rtstruct.dcm': buf(pydicom('rtstruct.dcm')),
      ...series.files,
      ...bareSeries,
    })
    const got = await decodeAll(page, {
      ...one([
        'MR_small.dcm', 'MR_small_implicit.dcm', 'MR_small_bigendian.dcm', 'bare explicit LE', 'bare implicit LE', 'bare explicit BE',
        'ACR-NEMA (implicit LE, no SOP UIDs)', 'file meta without preamble', 'CT_small.dcm', 'no_meta.dcm without its stray first byte',
        'no_meta.dcm', 'ExplVR_BigEnd.dcm', 'ExplVR_LitEndNoMeta.dcm', 'ExplVR_BigEndNoMeta.dcm', 'rtstruct.dcm',
      ]),
      series: Object.keys(series.files),
      'bare series': Object.keys(bareSeries),
    })
    const mrImage = got['MR_small.dcm']!
    expect(mrImage).toMatchObject({ ok: true, size: [64, 64, 1], componentType: 'int16' })
    for (const name of ['MR_small_implicit.dcm', 'MR_small_bigendian.dcm', 'bare explicit LE', 'bare implicit LE', 'bare explicit BE', 'ACR-NEMA (implicit LE, no SOP UIDs)', 'file meta without preamble']) {
      expect(got[name], name).toEqual(mrImage)
    }
    expect(got['CT_small.dcm']).toMatchObject({ ok: true, size: [128, 128, 1] })
    expect(got['no_meta.dcm without its stray first byte']).toEqual(got['CT_small.dcm'])
    // A series of bare data sets is the series of the Part 10 files.
    expect(got.series).toMatchObject({ ok: true, size: [64, 64, 5] })
    expect(got['bare series']).toEqual(got.series)
    // Explicit VR big endian RGB, 8 bits a sample, planar (PlanarConfiguration 1: all R, then G, then B,
    // at the end of the file): the image holds the samples interleaved.
    const planes = pydicom('ExplVR_BigEnd.dcm').subarray(-60 * 80 * 3)
    const interleaved = new Uint8Array(planes.length)
    for (let i = 0; i < 60 * 80; i++) for (let c = 0; c < 3; c++) interleaved[3 * i + c] = planes[c * 60 * 80 + i]!
    expect(got['ExplVR_BigEnd.dcm']).toMatchObject({
      ok: true, size: [80, 60, 1], components: 3, componentType: 'uint8', sha256: createHash('sha256').update(interleaved).digest('hex'),
    })
    const refused = (name: string) => got[name] as Extract<Outcome, { ok: false }>
    expect(refused('no_meta.dcm')).toMatchObject({ ok: false, unsupported: true })
    expect(refused('no_meta.dcm').message).toMatch(/^no_meta\.dcm: is not in a format voxcache reads/)
    for (const [name, what] of [['ExplVR_LitEndNoMeta.dcm', 'RTPLAN'], ['ExplVR_BigEndNoMeta.dcm', 'RTPLAN'], ['rtstruct.dcm', 'RTSTRUCT']] as const) {
      expect(refused(name), name).toMatchObject({ ok: false, unsupported: true })
      expect(refused(name).message).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')}: is a DICOM object without pixel data \\(Modality ${what}, SOP class [\\d.]+\\), not an image$`))
    }
  })

  test('a series of 543 slices written from ch2bet decodes, is cached, and comes back from the cache after a reload', async ({ page }) => {
    test.setTimeout(300_000)
    // ch2bet (181×217×181 uint8, 1 mm) resampled to 543 slices (180/542 mm apart), written as int16 DICOM.
    const nii = gunzipSync(fixture('ch2bet.nii.gz'))
    const size = [1, 2, 3].map((i) => nii.readInt16LE(40 + 2 * i))
    const voxels = new Uint8Array(nii.buffer, nii.byteOffset + nii.readFloatLE(108), size[0]! * size[1]! * size[2]!)
    const source = resampledSlices({ size, spacing: [1, 1, 1], voxels }, 181, 217, 543, [-90, -126, -72])
    const files: Record<string, Buffer> = {}
    const expected = createHash('sha256')
    let k = 0
    for (const file of dicomSeries(new Uint8Array(fixture('MR_small.dcm')), source, '2.25.1616')) {
      files[`slice-${String(++k).padStart(4, '0')}.dcm`] = buf(file)
      const pixels = source.slice(k - 1)
      expected.update(new Uint8Array(pixels.buffer))
    }
    const sha256 = expected.digest('hex')
    await serve(page, files)
    const names = Object.keys(files)
    const cache = 'cache=dicom-large-series'
    await openPage(page, cache)
    await page.evaluate(() => window.voxcache!.clear())
    const first = await decodeAll(page, { series: names })
    expect(first.series).toMatchObject({ ok: true, size: [181, 217, 543], componentType: 'int16', sha256 })
    const image = first.series as Extract<Outcome, { ok: true }>
    source.spacing.forEach((v, i) => expect(image.spacing[i]).toBeCloseTo(v, 5))
    source.origin.forEach((v, i) => expect(image.origin[i]).toBeCloseTo(v, 4))
    const stored = await page.evaluate(async () => {
      const cache = window.voxcache!
      const [entry] = await cache.list()
      return { stats: await cache.stats(), entry: entry && { dataType: entry.dataType, rawBytes: entry.rawBytes } }
    })
    expect(stored.stats).toMatchObject({ entries: 1, decodeMisses: 1, decodeHits: 0 })
    expect(stored.entry).toEqual({ dataType: 'Image', rawBytes: 181 * 217 * 543 * 2 })

    // After a reload, the same files (in another order) come from the cache, without itk-wasm.
    await page.goto(`${HARNESS}?${cache}`)
    await openPage(page, cache)
    const itk: string[] = []
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/itk/')) itk.push(r.url())
    })
    const again = await decodeAll(page, { series: [...names].reverse() })
    expect(again.series).toEqual(first.series)
    expect(await page.evaluate(async () => window.voxcache!.stats())).toMatchObject({ entries: 1, decodeMisses: 0, decodeHits: 1 })
    expect(itk).toEqual([])
  })

  // itk-wasm's series reader copies every file name onto a 64 KiB stack and aborts past about a
  // thousand files, whatever their size: voxcache reads a long series in blocks and stacks them.
  test('a series of 2,000 files, past what one itk-wasm call takes, decodes to the voxels written', async ({ page }) => {
    test.setTimeout(300_000)
    const nii = gunzipSync(fixture('ch2bet.nii.gz'))
    const size = [1, 2, 3].map((i) => nii.readInt16LE(40 + 2 * i))
    const voxels = new Uint8Array(nii.buffer, nii.byteOffset + nii.readFloatLE(108), size[0]! * size[1]! * size[2]!)
    const source = resampledSlices({ size, spacing: [1, 1, 1], voxels }, 64, 64, 2000, [10, -20, -30.5])
    const files: Record<string, Buffer> = {}
    const expected = createHash('sha256')
    let k = 0
    for (const file of dicomSeries(new Uint8Array(fixture('MR_small.dcm')), source, '2.25.2000')) {
      files[`s${++k}`] = buf(file)
      expected.update(new Uint8Array(source.slice(k - 1).buffer))
    }
    await serve(page, files)
    const got = await decodeAll(page, { series: Object.keys(files) })
    expect(got.series).toMatchObject({ ok: true, size: [64, 64, 2000], componentType: 'int16', sha256: expected.digest('hex') })
    const image = got.series as Extract<Outcome, { ok: true }>
    source.spacing.forEach((v, i) => expect(image.spacing[i]).toBeCloseTo(v, 5))
    source.origin.forEach((v, i) => expect(image.origin[i]).toBeCloseTo(v, 4))
    expect(image.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1])
  })
})

// decode's `metadata: 'strip-phi'` (worker/decode/deidentify.ts): what it hands back, what it lists,
// what it leaves on disk, and that it never shares an entry with 'keep'.
test.describe("decode with metadata: 'strip-phi'", () => {
  const PATIENT = 'CompressedSamples^MR1'
  const STUDY_UID = '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457'
  // MR_small.dcm's decode id from before the option existed: a cache made then must still hit.
  const KEEP_ID = '98b3dd553d83fbb842be4c60db2c11f5db7e52254c726a8c512a6b4ac6f5cb95'

  test('strips the PHI from the image, the list and the OPFS files; keep is cached apart and keeps it', async ({ page }) => {
    const series = mrSeries()
    await serve(page, { 'MR_small.dcm': fixture('MR_small.dcm'), ...series.files })
    await openPage(page, 'cache=phi-page&storage=memory')
    const decodeIn = (cache: string, names: string[], options?: object) =>
      page.evaluate(
        async ({ cache, names, options }) => {
          const files = await Promise.all(names.map(async (name) => ({ name, data: new Uint8Array(await (await fetch(`/__fixtures/${encodeURIComponent(name)}`)).arrayBuffer()) })))
          const c = await window.voxcacheLib!.openCache({ name: cache, storage: 'opfs' })
          try {
            const { id, image } = await c.decodeEntry(files, options)
            const entry = (await c.list()).find((e) => e.id === id)
            const { decodeHits, decodeMisses } = await c.stats()
            return { id, name: image.name, metadata: Object.fromEntries(image.metadata), size: image.size, listed: entry?.metadata, decodeHits, decodeMisses }
          } finally {
            await c.close()
          }
        },
        { cache, names, options },
      )
    await removeCache(page, 'phi-a')

    const stripped = await decodeIn('phi-a', ['MR_small.dcm'], { metadata: 'strip-phi' })
    expect(stripped).toMatchObject({ name: '', size: [64, 64, 1], decodeMisses: 1 })
    expect(stripped.listed).toEqual({ op: 'decode', format: 'dicom', files: 1, metadata: 'strip-phi' })
    expect(stripped.id).not.toBe(KEEP_ID)
    for (const tag of ['0010|0010', '0010|0020', '0008|0020', '0020|000d', '0020|000e', '0008|0018', '0008|0080', 'fffc|fffc']) expect(stripped.metadata, tag).not.toHaveProperty(tag)
    // What a viewer needs stays.
    expect(stripped.metadata).toMatchObject({ '0008|0060': 'MR', '0028|0030': '0.3125\\0.3125 ', '0020|0037': '1.0000\\0.0000\\0.0000\\0.0000\\1.0000\\0.0000 ' })

    // Every byte the cache wrote: no patient name, ID, study UID or file name; the kept tags are
    // there in clear (so the search reads the record's header, it is not compressed away).
    const files = await readCacheFiles(page, 'phi-a')
    const all = Buffer.concat([...files.values()])
    expect(all.includes('0028|0030'), 'a kept tag on disk').toBe(true)
    for (const needle of [PATIENT, '4MR1', STUDY_UID, 'MR_small']) expect(all.includes(needle), `${needle} on disk`).toBe(false)

    // 'keep' after 'strip-phi' decodes again, under the id it always had, with the name.
    const kept = await decodeIn('phi-a', ['MR_small.dcm'])
    expect(kept).toMatchObject({ id: KEEP_ID, name: 'MR_small.dcm', listed: { name: 'MR_small.dcm' }, decodeMisses: 1, decodeHits: 0 })
    expect(kept.metadata['0010|0010']).toBe(`${PATIENT} `)
    // … and 'strip-phi' again is a hit, still stripped.
    const again = await decodeIn('phi-a', ['MR_small.dcm'], { metadata: 'strip-phi' })
    expect(again).toEqual({ ...stripped, decodeHits: 1, decodeMisses: 0 })

    // A series: no file name anywhere.
    const seriesOut = await decodeIn('phi-a', Object.keys(series.files), { metadata: 'strip-phi' })
    expect(seriesOut).toMatchObject({ name: '', size: [64, 64, 5] })
    expect(seriesOut.listed).toEqual({ op: 'decode', format: 'dicom-series', files: 5, metadata: 'strip-phi' })
    expect(Object.keys(seriesOut.metadata).filter((k) => k.startsWith('0010|'))).toEqual([])
  })

  test('a hit is stripped even when the entry holds an unstripped image; a bad option is an UnsupportedValueError', async ({ page }) => {
    await serve(page, { 'MR_small.dcm': fixture('MR_small.dcm') })
    await openPage(page, 'cache=phi-hit&storage=memory')
    const got = await page.evaluate(async () => {
      const cache = window.voxcache!
      const lib = window.voxcacheLib!
      const file = async () => ({ name: 'MR_small.dcm', data: new Uint8Array(await (await fetch('/__fixtures/MR_small.dcm')).arrayBuffer()) })
      const { id } = await cache.decodeEntry(await file(), { metadata: 'strip-phi' })
      // An image with the patient's name under the 'strip-phi' id, as an import from elsewhere could bring.
      const kept = await cache.decode(await file())
      await cache.store(id, kept)
      const hit = await cache.decodeEntry(await file(), { metadata: 'strip-phi' })
      const refused = await Promise.all(
        [{ metadata: 'strip' }, { metdata: 'strip-phi' }, 'strip-phi'].map(async (bad) =>
          cache.decode(await file(), bad as never).then(() => 'decoded', (e: unknown) => (e instanceof lib.UnsupportedValueError ? 'UnsupportedValueError' : String(e))),
        ),
      )
      return { same: hit.id === id, name: hit.image.name, tag: hit.image.metadata.get('0010|0010') ?? null, refused }
    })
    expect(got).toEqual({ same: true, name: '', tag: null, refused: ['UnsupportedValueError', 'UnsupportedValueError', 'UnsupportedValueError'] })
  })
})
