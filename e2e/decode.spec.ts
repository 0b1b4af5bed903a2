import type { Page } from '@playwright/test'
import { gzipSync } from 'node:zlib'
import { dicomTag, fixture, metaFields, mrSeries, niftiPair, niftiReference, serve, setDicomValue, voxels, type Reference } from './decode-reference.js'
import { expect, HARNESS, openPage, test } from './fixtures.js'

interface Summary {
  size: number[]
  spacing: number[]
  origin: number[]
  direction: number[]
  componentType: string
  pixelType: string
  components: number
  length: number
  sum: number
  samples: [number, number][]
  min: number
  max: number
  name: string
  ms: number
}

/** Decodes the named fixtures (one image) in the page and summarizes the result there. */
async function decodeIn(page: Page, names: string[], picks: number[] = []): Promise<Summary> {
  return page.evaluate(
    async ({ names, picks }) => {
      const files = await Promise.all(
        names.map(async (name) => ({ name, data: new Uint8Array(await (await fetch(`/__fixtures/${encodeURIComponent(name)}`)).arrayBuffer()) })),
      )
      const t0 = performance.now()
      const image = await window.voxcache!.decode(files)
      const ms = performance.now() - t0
      const data = image.data as unknown as ArrayLike<number>
      let sum = 0
      let min = Infinity
      let max = -Infinity
      for (let i = 0; i < data.length; i++) {
        const v = Number(data[i])
        sum += v
        if (v < min) min = v
        if (v > max) max = v
      }
      return {
        size: [...image.size],
        spacing: [...image.spacing],
        origin: [...image.origin],
        direction: Array.from(image.direction as unknown as ArrayLike<number>),
        componentType: image.imageType.componentType,
        pixelType: image.imageType.pixelType,
        components: image.imageType.components,
        length: data.length,
        sum,
        samples: picks.map((i) => [i, Number(data[i])] as [number, number]),
        min,
        max,
        name: image.name,
        ms,
      }
    },
    { names, picks },
  )
}

function expectMatches(got: Summary, ref: Reference, tolerance = 0): void {
  expect(got.size).toEqual(ref.size)
  expect(got.length).toBe(ref.size.reduce((a, b) => a * b, 1) * got.components)
  if (ref.spacing) ref.spacing.forEach((v, i) => expect(got.spacing[i]).toBeCloseTo(v, 4))
  if (ref.origin) ref.origin.forEach((v, i) => expect(got.origin[i]).toBeCloseTo(v, 3))
  if (tolerance) expect(Math.abs(got.sum - ref.sum)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(ref.sum)))
  else expect(got.sum).toBe(ref.sum)
  for (const [i, v] of ref.samples) {
    const g = got.samples.find(([j]) => j === i)![1]
    if (tolerance) expect(g).toBeCloseTo(v, 2)
    else expect(g).toBe(v)
  }
}

const picksOf = (ref: Reference) => ref.samples.map(([i]) => i)

// The demo's offline service worker would answer /__fixtures/ requests itself, past page.route.
test.use({ serviceWorkers: 'block' })

test.describe('decode', () => {
  test.beforeEach(async ({ page }) => {
    await openPage(page, `cache=decode-${test.info().title.replace(/\W+/g, '-').slice(0, 40)}&storage=memory`)
  })

  for (const name of ['ch2bet.nii.gz', 'KmeansTest_T1UCharRaw.nii.gz', 'standard.nii.gz', 'functional.nii']) {
    test(`NIfTI-1 ${name}: voxels and geometry match the file bytes`, async ({ page }) => {
      const bytes = fixture(name)
      const ref = niftiReference(bytes)
      await serve(page, { [name]: bytes })
      const got = await decodeIn(page, [name], picksOf(ref))
      expectMatches(got, ref, ref.slope === 1 && ref.inter === 0 ? 0 : 1e-6)
      expect(got.name).toBe(name)
    })
  }

  for (const [header, stem] of [['BrainProtonDensity3Slices.mha', 'BrainProtonDensity3Slices'], ['RatLungSlice1.mha', 'RatLungSlice1']] as const) {
    test(`MetaImage ${header} with its .raw: voxels and geometry match the file bytes`, async ({ page }) => {
      const fields = metaFields(fixture(header).toString('latin1'))
      const raw = fixture(`${stem}.raw`)
      const size = fields.get('DimSize')!.split(/\s+/).map(Number)
      const ref = { size, spacing: fields.get('ElementSpacing')!.split(/\s+/).map(Number), ...voxels(raw, 0, raw.length, 'u8') }
      // The header is given as .mhd too: the name does not matter, the content does.
      await serve(page, { [header]: fixture(header), [`${stem}.mhd`]: fixture(header), [`${stem}.raw`]: raw })
      expectMatches(await decodeIn(page, [`${stem}.raw`, header], picksOf(ref)), ref)
      expectMatches(await decodeIn(page, [`${stem}.mhd`, `${stem}.raw`], picksOf(ref)), ref)
    })
  }

  for (const name of ['MR_small.dcm', 'CT_small.dcm']) {
    test(`DICOM ${name}: voxels and geometry match the pixel data element`, async ({ page }) => {
      const b = fixture(name)
      const rows = dicomTag(b, 0x0028, 0x0010)!.readUInt16LE(0)
      const cols = dicomTag(b, 0x0028, 0x0011)!.readUInt16LE(0)
      const spacing = dicomTag(b, 0x0028, 0x0030)!.toString('latin1').trim().split('\\').map(Number)
      const ipp = dicomTag(b, 0x0020, 0x0032)!.toString('latin1').trim().split('\\').map(Number)
      const inter = Number(dicomTag(b, 0x0028, 0x1052)?.toString('latin1').trim() ?? 0)
      const slope = Number(dicomTag(b, 0x0028, 0x1053)?.toString('latin1').trim() ?? 1)
      const pixels = dicomTag(b, 0x7fe0, 0x0010)!
      const ref = { size: [cols, rows, 1], spacing: [spacing[1]!, spacing[0]!], origin: ipp, ...voxels(pixels, 0, rows * cols, 'i16', true, slope, inter) }
      await serve(page, { [name]: b, noext: b })
      const got = await decodeIn(page, [name], picksOf(ref))
      expect(got.size.slice(0, 2)).toEqual([cols, rows])
      expectMatches({ ...got, size: [...got.size.slice(0, 2), 1] }, ref)
      // A DICOM file without an extension is found by its content.
      expect((await decodeIn(page, ['noext'])).sum).toBe(ref.sum)
    })
  }

  test('DICOM series: shuffled files become one volume sorted by position, spacing and origin from the positions', async ({ page }) => {
    const { files, order, base } = mrSeries()
    await serve(page, files)
    const cols = 64
    const slice = cols * 64
    // Files handed over neither in position nor in instance order; the instance numbers disagree with
    // the positions too, so only sorting by ImagePositionPatient gives the expected order.
    const names = ['s3.dcm', 's0.dcm', 's4.dcm', 's2.dcm', 's1.dcm']
    const picks = order.map((_, i) => i * slice)
    const got = await decodeIn(page, names, [...picks, 1, slice * 2 + 77])
    expect(got.size).toEqual([64, 64, 5])
    expect(got.spacing[0]).toBeCloseTo(0.3125, 6)
    expect(got.spacing[1]).toBeCloseTo(0.3125, 6)
    expect(got.spacing[2]).toBeCloseTo(2.5, 6)
    ;[-83.9063, -91.2, 10].forEach((v, i) => expect(got.origin[i]).toBeCloseTo(v, 4))
    expect(got.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1])
    // The marker (first pixel) of each slice, in ascending z: files 1 (z 10), 3, 0, 4, 2 (z 20).
    expect(got.samples.slice(0, 5).map(([, v]) => v)).toEqual(order.map((k) => 1000 + k))
    expect(got.samples[5]).toEqual([1, base.pixel(1)])
    expect(got.samples[6]).toEqual([slice * 2 + 77, base.pixel(77)])
    expect(got.sum).toBe(5 * (base.sum - base.pixel(0)) + order.reduce((a, k) => a + 1000 + k, 0))
    // Same files in another order: the same content, so the same cached image.
    const again = await decodeIn(page, [...names].reverse())
    expect(again.sum).toBe(got.sum)
    const stats = await page.evaluate(() => window.voxcache!.stats())
    expect(stats.decodeMisses).toBe(1)
    expect(stats.decodeHits).toBe(1)
  })

  test('DICOM series with a file of another series or size, a missing or a duplicated slice: a DecodeError naming it', async ({ page }) => {
    const { files } = mrSeries()
    const stranger = Buffer.from(files['s2.dcm']!)
    setDicomValue(stranger, 0x0020, 0x000e, '1.3.6.1.4.1.5962.1.3.4.1.20040826185059.9999')
    // Another instance at s2's position (z 20).
    const dup = Buffer.from(files['s2.dcm']!)
    setDicomValue(dup, 0x0008, 0x0018, '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.9999')
    // Rows 32 with the pixel data of 64 rows: a file of its own would decode; in this series it does not fit.
    // Each of s0..s4 in turn, so that the odd one is found wherever it falls in the (hash) order.
    const short = Object.fromEntries(['s0.dcm', 's1.dcm', 's2.dcm', 's3.dcm', 's4.dcm'].map((n) => {
      const b = Buffer.from(files[n]!)
      setDicomValue(b, 0x0028, 0x0010, Buffer.from([32, 0]))
      return [`short-${n}`, b]
    }))
    await serve(page, { ...files, 'stranger.dcm': stranger, 'dup.dcm': dup, ...short })
    const attempt = (names: string[]) => page.evaluate(async (names) => {
      const list = await Promise.all(names.map(async (name) => ({ name, data: new Uint8Array(await (await fetch(`/__fixtures/${name}`)).arrayBuffer()) })))
      try {
        await window.voxcache!.decode(list)
        return { isDecodeError: false, message: 'decoded' }
      } catch (e) {
        return { isDecodeError: e instanceof window.voxcacheLib!.DecodeError, message: String((e as Error).message) }
      }
    }, names)
    const mixed = await attempt(['s0.dcm', 's1.dcm', 'stranger.dcm', 's3.dcm'])
    expect(mixed.isDecodeError, mixed.message).toBe(true)
    expect(mixed.message).toMatch(/: the 4 DICOM files belong to 2 different series; decode one series at a time$/)
    for (const odd of ['s0.dcm', 's1.dcm', 's2.dcm', 's3.dcm', 's4.dcm']) {
      const names = ['s0.dcm', 's1.dcm', 's2.dcm', 's3.dcm', 's4.dcm'].map((n) => (n === odd ? `short-${n}` : n))
      const got = await attempt(names)
      expect(got.isDecodeError, got.message).toBe(true)
      expect(got.message).toBe(`short-${odd}: is 64×32, unlike the rest of the series (64×64)`)
    }
    // Without s3 (z 12.5) itk-wasm would stack z 10, 15, 17.5, 20 at 3.33 mm apart: refused instead.
    const gap = await attempt(['s0.dcm', 's1.dcm', 's2.dcm', 's4.dcm'])
    expect(gap.isDecodeError, gap.message).toBe(true)
    expect(gap.message).toBe("s0.dcm: the series' slices are not evenly spaced: 5 mm from s1.dcm to s0.dcm, 2.5 mm between the others (a slice missing?)")
    const twice = await attempt(['s0.dcm', 's1.dcm', 's2.dcm', 'dup.dcm', 's3.dcm', 's4.dcm'])
    expect(twice.isDecodeError, twice.message).toBe(true)
    expect(twice.message).toMatch(/^(s2\.dcm|dup\.dcm): is at the same position as (s2\.dcm|dup\.dcm) in the series \(a duplicated slice, or two series\)$/)
    const stats = await page.evaluate(() => window.voxcache!.stats())
    expect(stats.entries).toBe(0)
    expect(stats.decodeMisses).toBe(0)
  })

  test('simultaneous decodes of the same new bytes run itk-wasm once; each caller gets the whole image', async ({ page }) => {
    const bytes = fixture('ch2bet.nii.gz')
    const ref = niftiReference(bytes)
    const dcm = fixture('CT_small.dcm')
    await serve(page, { 'ch2bet.nii.gz': bytes, 'cut.dcm': dcm.subarray(0, dcm.length - 2000) })
    const got = await page.evaluate(async () => {
      const load = async (name: string) => new Uint8Array(await (await fetch(`/__fixtures/${name}`)).arrayBuffer())
      const data = await load('ch2bet.nii.gz')
      const sum = (image: { data: unknown }) => Array.from(image.data as Uint8Array).reduce((a, b) => a + b, 0)
      const cache = window.voxcache!
      // Copies: each call transfers its input to the worker.
      const images = await Promise.all([
        cache.decode({ name: 'a.nii.gz', data: data.slice() }),
        cache.decode({ name: 'b.nii.gz', data: data.slice() }),
        cache.decode({ name: 'c.nii.gz', data: data.slice() }),
      ])
      const after = await cache.stats()
      const cut = await load('cut.dcm')
      const failures = await Promise.allSettled([cache.decode({ name: 'cut.dcm', data: cut.slice() }), cache.decode({ name: 'cut.dcm', data: cut.slice() })])
      return {
        sums: images.map(sum),
        sizes: images.map((i) => [...i.size]),
        after: { decodeMisses: after.decodeMisses, decodeHits: after.decodeHits, entries: after.entries },
        failures: failures.map((f) => f.status === 'rejected' && f.reason instanceof window.voxcacheLib!.DecodeError ? String(f.reason.message) : f.status),
        final: await cache.stats(),
      }
    })
    expect(got.sums).toEqual([ref.sum, ref.sum, ref.sum])
    expect(got.sizes).toEqual([ref.size, ref.size, ref.size])
    expect(got.after).toEqual({ decodeMisses: 1, decodeHits: 2, entries: 1 })
    for (const f of got.failures) expect(f).toMatch(/^cut\.dcm: DICOM file is truncated/)
    expect(got.final.decodeMisses).toBe(1)
    expect(got.final.entries).toBe(1)
  })

  test('DICOM JPEG2000.dcm (compressed): size, spacing and pixel range match its header', async ({ page }) => {
    const b = fixture('JPEG2000.dcm')
    const rows = dicomTag(b, 0x0028, 0x0010)!.readUInt16LE(0)
    const cols = dicomTag(b, 0x0028, 0x0011)!.readUInt16LE(0)
    const spacing = dicomTag(b, 0x0028, 0x0030)!.toString('latin1').trim().split('\\').map(Number)
    const largest = dicomTag(b, 0x0028, 0x0107)!.readInt16LE(0)
    const smallest = dicomTag(b, 0x0028, 0x0106)!.readInt16LE(0)
    await serve(page, { 'JPEG2000.dcm': b })
    const got = await decodeIn(page, ['JPEG2000.dcm'])
    expect(got.size.slice(0, 2)).toEqual([cols, rows])
    expect(got.spacing[0]).toBeCloseTo(spacing[1]!, 5)
    expect(got.spacing[1]).toBeCloseTo(spacing[0]!, 5)
    // Lossy JPEG 2000 (no second decoder to compare with): the brightest voxel near the largest pixel
    // value the header declares (ringing moves the extremes a little), and a real image, not zeros.
    expect(Math.abs(got.max - largest)).toBeLessThanOrEqual(0.15 * (largest - smallest))
    expect(got.min).toBeLessThan(got.max)
  })

  test('a second decode of the same bytes after a reload comes from the cache without itk-wasm', async ({ page }) => {
    const bytes = fixture('ch2bet.nii.gz')
    const ref = niftiReference(bytes)
    await page.goto(`${HARNESS}?cache=decode-reload`)
    await openPage(page, 'cache=decode-reload')
    await page.evaluate(() => window.voxcache!.clear())
    await serve(page, { 'ch2bet.nii.gz': bytes, 'renamed.dat': bytes })
    const first = await decodeIn(page, ['ch2bet.nii.gz'], picksOf(ref))
    expectMatches(first, ref)
    expect((await page.evaluate(() => window.voxcache!.stats())).decodeMisses).toBe(1)

    await page.reload()
    await openPage(page, 'cache=decode-reload')
    const itkRequests: string[] = []
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/itk/')) itkRequests.push(r.url())
    })
    const second = await decodeIn(page, ['ch2bet.nii.gz'], picksOf(ref))
    const third = await decodeIn(page, ['renamed.dat'], picksOf(ref)) // same bytes, another name
    expectMatches(second, ref)
    expectMatches(third, ref)
    const stats = await page.evaluate(() => window.voxcache!.stats())
    expect(stats.decodeHits).toBe(2)
    expect(stats.decodeMisses).toBe(0)
    expect(itkRequests).toEqual([])
    // decodeEntry names the stored entry: the same id for the same bytes under any name.
    const entries = await page.evaluate(async () => {
      const cache = window.voxcache!
      const fetchAs = async (path: string, name: string) => ({ name, data: new Uint8Array(await (await fetch(path)).arrayBuffer()) })
      const a = await cache.decodeEntry(await fetchAs('/__fixtures/ch2bet.nii.gz', 'ch2bet.nii.gz'))
      const b = await cache.decodeEntry(await fetchAs('/__fixtures/renamed.dat', 'other-name.nii.gz'))
      const info = await cache.info(a.id)
      return { same: a.id === b.id, dataType: info?.dataType, rawBytes: info?.rawBytes, size: a.image.size }
    })
    expect(entries).toEqual({ same: true, dataType: 'Image', rawBytes: ref.size.reduce((a, b) => a * b, 1), size: ref.size })
    console.log(`ch2bet.nii.gz: first decode ${first.ms.toFixed(0)} ms, cached decode after reload ${second.ms.toFixed(0)} ms`)
  })

  test('generated variants: .hdr/.img pair, big-endian, NIfTI named .dat, NRRD, .nhdr, float64 vectors', async ({ page }) => {
    const nii = fixture('functional.nii')
    const ref = niftiReference(nii)
    const le = Buffer.from(nii)
    // .hdr/.img pair: magic ni1, vox_offset 0 in the .img
    const hdr = Buffer.from(le.subarray(0, 348))
    hdr.write('ni1\0', 344, 'latin1')
    hdr.writeFloatLE(0, 108)
    const img = le.subarray(352)
    // big endian: every header field and voxel byte-swapped
    const be = Buffer.from(le)
    const swap = (at: number, n: number) => be.subarray(at, at + n).reverse()
    swap(0, 4)
    for (let i = 0; i < 8; i++) swap(40 + 2 * i, 2)
    for (const at of [70, 72, 252, 254]) swap(at, 2)
    for (let at = 76; at < 124; at += 4) swap(at, 4)
    for (let at = 256; at < 328; at += 4) swap(at, 4)
    for (let at = 352; at < be.length; at += 2) swap(at, 2)
    // NRRD with gzip data, and a detached .nhdr + .raw of the MetaImage fixture
    const ch2 = fixture('ch2bet.nii.gz')
    const ch2ref = niftiReference(ch2)
    const { gunzipSync } = await import('node:zlib')
    const ch2vox = gunzipSync(ch2).subarray(352)
    const nrrd = Buffer.concat([
      Buffer.from(`NRRD0004\ntype: uint8\ndimension: 3\nsizes: ${ch2ref.size.join(' ')}\nspacings: 1 1 1\nencoding: gzip\n\n`),
      gzipSync(ch2vox),
    ])
    const raw = fixture('RatLungSlice1.raw')
    const nhdr = Buffer.from('NRRD0004\ntype: uchar\ndimension: 2\nsizes: 128 128\nencoding: raw\ndata file: lung.raw\n')
    // MetaImage of float64 3-vectors
    const vec = Buffer.alloc(4 * 3 * 2 * 3 * 8)
    for (let i = 0; i < vec.length / 8; i++) vec.writeDoubleLE(i * 0.5 - 3.25, i * 8)
    const vecMha = Buffer.concat([
      Buffer.from('ObjectType = Image\nNDims = 3\nDimSize = 4 3 2\nElementNumberOfChannels = 3\nElementType = MET_DOUBLE\nElementSpacing = 0.5 0.5 2\nElementDataFile = LOCAL\n'),
      vec,
    ])
    await serve(page, {
      'f.hdr': hdr, 'f.img': img, 'be.nii': be, 'f.dat': le, 'ch2.nrrd': nrrd, 'lung.nhdr': nhdr, 'lung.raw': raw, 'vec.mha': vecMha,
    })
    const tol = 1e-6
    expectMatches(await decodeIn(page, ['f.img', 'f.hdr'], picksOf(ref)), ref, tol)
    expectMatches(await decodeIn(page, ['be.nii'], picksOf(ref)), ref, tol)
    expectMatches(await decodeIn(page, ['f.dat'], picksOf(ref)), ref, tol)
    expectMatches(await decodeIn(page, ['ch2.nrrd'], picksOf(ch2ref)), { ...ch2ref, origin: undefined })
    const lung = { size: [128, 128], ...voxels(raw, 0, raw.length, 'u8') }
    expectMatches(await decodeIn(page, ['lung.nhdr', 'lung.raw'], picksOf(lung)), lung)
    const v = await decodeIn(page, ['vec.mha'], [0, 1, 71])
    expect(v.components).toBe(3)
    expect(v.componentType).toBe('float64')
    expect(v.size).toEqual([4, 3, 2])
    expect(v.samples).toEqual([[0, -3.25], [1, -2.75], [71, 32.25]])
  })

  test('NIfTI-2 is an UnsupportedFormatError saying itk-wasm cannot read it; the same image as NIfTI-1 decodes exactly', async ({ page }) => {
    const { v1, v2, ref } = niftiPair()
    await serve(page, {
      'one.nii': v1, 'two.nii': v2, 'two.nii.gz': gzipSync(v2), 'cut2.nii': v2.subarray(0, v2.length - 10),
    })
    // The NIfTI-1 twin (same voxels and geometry) decodes: what fails below is the NIfTI-2 header alone.
    const one = await decodeIn(page, ['one.nii'], picksOf(ref))
    expectMatches(one, ref)
    expect(one.componentType).toBe('int16')
    expect(one.direction.map((v) => v + 0)).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]) // + 0: -0 is 0
    const errors = await page.evaluate(async () => {
      const out: Record<string, { unsupported: boolean; decodeError: boolean; message: string }> = {}
      for (const name of ['two.nii', 'two.nii.gz', 'cut2.nii']) {
        const data = new Uint8Array(await (await fetch(`/__fixtures/${name}`)).arrayBuffer())
        try {
          await window.voxcache!.decode({ name, data })
          out[name] = { unsupported: false, decodeError: false, message: 'decoded' }
        } catch (e) {
          out[name] = {
            unsupported: e instanceof window.voxcacheLib!.UnsupportedFormatError,
            decodeError: e instanceof window.voxcacheLib!.DecodeError,
            message: String((e as Error).message),
          }
        }
      }
      return out
    })
    for (const name of ['two.nii', 'two.nii.gz']) {
      expect(errors[name]!.unsupported, errors[name]!.message).toBe(true)
      expect(errors[name]!.message).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')}: itk-wasm cannot read NIfTI-2 files \\(its NIfTI reader reads NIfTI-1 and Analyze 7\\.5 only\\); convert it to NIfTI-1`))
    }
    // The NIfTI-2 header is still checked before itk-wasm sees the file.
    expect(errors['cut2.nii']!.decodeError, errors['cut2.nii']!.message).toBe(true)
    expect(errors['cut2.nii']!.message).toMatch(/^cut2\.nii: voxel data is truncated: the header describes 784 bytes but the file has 774 bytes/)
    const stats = await page.evaluate(() => window.voxcache!.stats())
    expect(stats.entries).toBe(1)
    expect(stats.decodeMisses).toBe(1)
  })

  test('bad inputs are typed errors naming the file; nothing is cached and the worker keeps working', async ({ page }) => {
    const gz = fixture('ch2bet.nii.gz')
    const dcm = fixture('CT_small.dcm')
    const huge = Buffer.from(fixture('functional.nii'))
    huge.writeInt16LE(3, 40)
    for (const i of [1, 2, 3]) huge.writeInt16LE(30000, 40 + 2 * i)
    const shortNii = fixture('functional.nii').subarray(0, 20000)
    await serve(page, {
      'empty.nii': Buffer.alloc(0),
      'noise.bin': Buffer.from(Array.from({ length: 10000 }, (_, i) => (i * 2654435761) >>> 24)),
      'notes.txt': Buffer.from('patient notes, not an image\n'.repeat(40)),
      'RatLungSlice1.mha': fixture('RatLungSlice1.mha'),
      'cut.nii.gz': gz.subarray(0, Math.floor(gz.length * 0.6)),
      'cut.dcm': dcm.subarray(0, dcm.length - 2000),
      'huge.nii': huge,
      'short.nii': shortNii,
      'standard.nii.gz': fixture('standard.nii.gz'),
    })
    const cases: [string, string, RegExp][] = [
      ['empty.nii', 'DecodeError', /empty\.nii: the file is empty/],
      ['noise.bin', 'UnsupportedFormatError', /noise\.bin: is not in a format/],
      ['notes.txt', 'UnsupportedFormatError', /notes\.txt: is a text file/],
      ['RatLungSlice1.mha', 'DecodeError', /RatLungSlice1\.mha: .*RatLungSlice1\.raw, which was not given/],
      ['cut.nii.gz', 'DecodeError', /cut\.nii\.gz: gzip stream is truncated/],
      ['cut.dcm', 'DecodeError', /cut\.dcm: DICOM file is truncated/],
      ['huge.nii', 'DecodeError', /huge\.nii: header claims 30000×30000×30000 .* over the 2032 MiB limit/],
      ['short.nii', 'DecodeError', /short\.nii: voxel data is truncated/],
    ]
    for (const [name, cls, message] of cases) {
      const got = await page.evaluate(async ({ name, cls }) => {
        const data = new Uint8Array(await (await fetch(`/__fixtures/${name}`)).arrayBuffer())
        try {
          await window.voxcache!.decode({ name, data })
          return { ok: true, message: '', isClass: false }
        } catch (e) {
          const Class = window.voxcacheLib![cls as 'DecodeError']
          return { ok: false, message: String((e as Error).message), isClass: e instanceof Class }
        }
      }, { name, cls })
      expect(got.ok, name).toBe(false)
      expect(got.isClass, `${name} → ${cls}: ${got.message}`).toBe(true)
      expect(got.message).toMatch(message)
    }
    const after = await page.evaluate(async () => ({ stats: await window.voxcache!.stats() }))
    expect(after.stats.entries).toBe(0)
    expect(after.stats.decodeMisses).toBe(0)
    const ok = await decodeIn(page, ['standard.nii.gz'])
    expect(ok.size).toEqual([4, 5, 7])
  })

  // The worker sets DecodeError's cause (the DecompressionStream's TypeError); the error channel
  // carries it to the main thread (Comlink alone keeps only name, message and stack).
  test('a DecodeError keeps its cause across the worker boundary', async ({ page }) => {
    const gz = fixture('ch2bet.nii.gz')
    await serve(page, { 'cut.nii.gz': gz.subarray(0, Math.floor(gz.length * 0.6)) })
    const got = await page.evaluate(async () => {
      const data = new Uint8Array(await (await fetch('/__fixtures/cut.nii.gz')).arrayBuffer())
      try {
        await window.voxcache!.decode({ name: 'cut.nii.gz', data })
        return null
      } catch (e) {
        const cause = (e as Error).cause as Error | undefined
        return { decodeError: e instanceof window.voxcacheLib!.DecodeError, cause: cause instanceof Error ? cause.name : String(cause) }
      }
    })
    expect(got).toEqual({ decodeError: true, cause: 'TypeError' })
  })

  // The worker imports its decode modules at the first decode, as a chunk of its own (worker/service.ts,
  // decoder): a chunk the server does not give is a DecodeError saying so, the cache goes on working,
  // and the next decode loads it.
  test('a decode chunk that does not load is a DecodeError; the next decode loads it', async ({ page }) => {
    await serve(page, { 's.nii.gz': fixture('standard.nii.gz') })
    let refused = 0
    await page.route(/\/assets\/lazy-[\w-]+\.js$/, (route) => (refused++, route.fulfill({ status: 404, body: 'gone' })))
    const first = await page.evaluate(async () => {
      const lib = window.voxcacheLib!
      const cache = await lib.openCache({ name: 'decode-chunk', storage: 'memory' })
      const data = new Uint8Array(await (await fetch('/__fixtures/s.nii.gz')).arrayBuffer())
      const failed = await cache.decode({ name: 's.nii.gz', data: data.slice() }).then(
        () => null,
        (e: Error) => ({ decodeError: e instanceof lib.DecodeError, message: e.message }),
      )
      await cache.store('0'.repeat(64), { still: 'working' })
      ;(window as unknown as { chunkCache: unknown }).chunkCache = cache
      return { failed, stored: await cache.retrieve('0'.repeat(64)) }
    })
    await page.unroute(/\/assets\/lazy-[\w-]+\.js$/)
    const size = await page.evaluate(async () => {
      const cache = (window as unknown as { chunkCache: import('../src/index.js').VoxCache }).chunkCache
      const data = new Uint8Array(await (await fetch('/__fixtures/s.nii.gz')).arrayBuffer())
      const image = await cache.decode({ name: 's.nii.gz', data })
      await cache.close()
      return image.size
    })
    expect(refused).toBeGreaterThan(0)
    expect(first.failed?.decodeError).toBe(true)
    expect(first.failed?.message).toMatch(/^decode: voxcache could not load its decode module/)
    expect(first.stored).toEqual({ still: 'working' })
    expect(size).toEqual([4, 5, 7])
  })

  // openCache's pipelinesUrl says where decode loads itk-wasm from: a folder without them fails the
  // decode and names where it looked; a relative URL resolves against the page.
  test('pipelinesUrl: decode loads its pipelines from there, relative to the page', async ({ page }) => {
    await serve(page, { 's.nii.gz': fixture('standard.nii.gz') })
    const got = await page.evaluate(async () => {
      const lib = window.voxcacheLib!
      const data = new Uint8Array(await (await fetch('/__fixtures/s.nii.gz')).arrayBuffer())
      const elsewhere = await lib.openCache({ name: 'pipelines-elsewhere', storage: 'memory', pipelinesUrl: '/elsewhere/' })
      const wrong = await elsewhere.decode({ name: 's.nii.gz', data: data.slice() }).then(
        () => null,
        (e: Error) => ({ decodeError: e instanceof lib.DecodeError, message: e.message }),
      )
      await elsewhere.close()
      // The page is /test/harness/index.html; the pipelines are at /itk/.
      const relative = await lib.openCache({ name: 'pipelines-relative', storage: 'memory', pipelinesUrl: '../../itk/' })
      const image = await relative.decode({ name: 's.nii.gz', data })
      await relative.close()
      return { wrong, size: image.size }
    })
    expect(got.wrong?.decodeError).toBe(true)
    expect(got.wrong?.message).toContain('/elsewhere/image-io/nifti-read-image')
    expect(got.size).toEqual([4, 5, 7])
  })

  test('exportImage round trips through .nii.gz, .nrrd, .mha and .iwi.cbor keep pixels and geometry', async ({ page }) => {
    const bytes = fixture('KmeansTest_T1UCharRaw.nii.gz')
    const ref = niftiReference(bytes)
    await serve(page, { 'k.nii.gz': bytes })
    const original = await decodeIn(page, ['k.nii.gz'], picksOf(ref))
    expectMatches(original, ref)
    const results = await page.evaluate(async () => {
      const cache = window.voxcache!
      const [entry] = await cache.list()
      const out: Record<string, unknown> = {}
      for (const format of ['nii.gz', 'nrrd', 'mha', 'iwi.cbor'] as const) {
        const file = (await cache.exportImage(entry!.id, format))!
        const image = await cache.decode(file)
        const data = image.data as Int16Array
        let sum = 0
        for (const v of data) sum += v
        out[format] = {
          name: file.name,
          size: [...image.size],
          spacing: [...image.spacing],
          origin: [...image.origin],
          direction: Array.from(image.direction as unknown as ArrayLike<number>),
          componentType: image.imageType.componentType,
          sum,
        }
      }
      return out
    })
    for (const [format, r] of Object.entries(results)) {
      expect(r, format).toMatchObject({ name: `k.${format}`, size: original.size, componentType: original.componentType, sum: original.sum })
      const g = r as { spacing: number[]; origin: number[]; direction: number[] }
      g.spacing.forEach((v, i) => expect(v, `${format} spacing`).toBeCloseTo(original.spacing[i]!, 5))
      g.origin.forEach((v, i) => expect(v, `${format} origin`).toBeCloseTo(original.origin[i]!, 4))
      g.direction.forEach((v, i) => expect(v, `${format} direction`).toBeCloseTo(original.direction[i]!, 5))
    }
  })
})

// Decodes share memoize's compute-once lock, so two tabs decoding the same bytes at once run itk-wasm
// once between them: the other waits and reads the stored image back.
test('two tabs decoding the same file at once run itk-wasm once between them', async ({ context }) => {
  const bytes = fixture('ch2bet.nii.gz')
  const ref = niftiReference(bytes)
  const pages = [await context.newPage(), await context.newPage()]
  for (const page of pages) {
    await serve(page, { 'ch2bet.nii.gz': bytes })
    await openPage(page, 'cache=decode-two-tabs')
  }
  await pages[0]!.evaluate(() => window.voxcache!.clear())
  // Both pages hold the bytes before either starts, so the two decodes overlap.
  for (const page of pages) {
    await page.evaluate(async () => {
      ;(window as unknown as { bytes: Uint8Array }).bytes = new Uint8Array(await (await fetch('/__fixtures/ch2bet.nii.gz')).arrayBuffer())
    })
  }
  const got = await Promise.all(
    pages.map((page) =>
      page.evaluate(async () => {
        const image = await window.voxcache!.decode({ name: 'ch2bet.nii.gz', data: (window as unknown as { bytes: Uint8Array }).bytes })
        const { decodeMisses, decodeHits } = await window.voxcache!.stats()
        return { sum: Array.from(image.data as Uint8Array).reduce((a, b) => a + b, 0), decodeMisses, decodeHits }
      }),
    ),
  )
  expect(got.map((g) => g.sum)).toEqual([ref.sum, ref.sum])
  expect(got[0]!.decodeMisses + got[1]!.decodeMisses, 'itk-wasm runs across both tabs').toBe(1)
  expect(got[0]!.decodeHits + got[1]!.decodeHits).toBe(1)
})
