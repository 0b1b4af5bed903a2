// voxcache/niivue against NiiVue's own NIfTI reader, in Chromium: the same file decoded by voxcache
// (itk-wasm) and shown through toNVImage, or read by NVImage.new, must put every voxel at the same world
// position with the same value; fromNVImage must give back the Image voxcache decoded.
import type { Page } from '@playwright/test'
import { fixture } from './decode-reference.js'
import { expect, openPage, test } from './fixtures.js'
import { niftiFile, qformRows, type NiftiSpec, type QForm } from './nifti-file.js'

interface Report {
  dims: number[][]
  frames: number[]
  /** Largest distance (mm) between the two volumes' world positions of one voxel, over every voxel. */
  affine: number
  /** The same between NiiVue's reader and the Image's own geometry (LPS, flipped to RAS here). */
  image: number
  /** Voxels (of every frame) whose values differ, in file order. */
  values: number
  /** Voxels whose values differ when looked up by world position through NiiVue's RAS voxel grid. */
  lookups: number
  lookupsDone: number
  matRAS: number
  /** fromNVImage(reader's volume) against the decoded Image. */
  back: { size: boolean; geometry: number; values: number; type: string; decodedType: string }
  /** The decoded Image stored, retrieved and shown: values differing from the reader's. */
  cached: number
}

/** Decodes `file` with voxcache and reads it with NiiVue in the page; compares the two everywhere. */
async function compare(page: Page, name: string, file: Buffer): Promise<Report> {
  return page.evaluate(
    async ({ name, bytes }) => {
      const { NVImage, toNVImage, fromNVImage } = await window.loadNiivue!()
      const cache = window.voxcache!
      const data = new Uint8Array(bytes)
      const image = await cache.decode({ name, data: data.slice() })
      // NiiVue's reader, as its loaders call it (its TypeScript signature lists all 20 parameters).
      const read = NVImage.new as unknown as (bytes: ArrayBuffer, name: string) => Promise<InstanceType<typeof NVImage>>
      const ref = await read(data.slice().buffer, name)
      const mine = toNVImage(image)
      const dim = image.imageType.dimension
      const [nx, ny, nz] = [1, 2, 3].map((i) => ref.hdr!.dims[i]!)
      const frames = ref.nFrame4D!
      const apply = (A: number[][], v: number[]) => [0, 1, 2].map((r) => A[r]![0]! * v[0]! + A[r]![1]! * v[1]! + A[r]![2]! * v[2]! + A[r]![3]!)
      const itkWorld = (v: number[]) =>
        [0, 1, 2].map((r) => {
          let lps = image.origin[r]!
          for (let c = 0; c < 3; c++) lps += Number(image.direction[r * dim + c]) * image.spacing[c]! * v[c]!
          return r < 2 ? -lps : lps
        })
      const dist = (a: number[], b: number[]) => Math.hypot(...a.map((x, i) => x - b[i]!))
      // Values as NiiVue shows them (scale slope and intercept applied), equal to float32 precision:
      // itk-wasm applies a file's scaling when it decodes, NiiVue when it shows.
      const shownValue = (nv: InstanceType<typeof NVImage>, n: number) => nv.img![n]! * (nv.hdr!.scl_slope || 1) + (nv.hdr!.scl_inter || 0)
      const same = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a))
      let affine = 0
      let world = 0
      let values = 0
      let lookups = 0
      let lookupsDone = 0
      const nvox = nx! * ny! * nz!
      for (let k = 0; k < nz!; k++)
        for (let j = 0; j < ny!; j++)
          for (let i = 0; i < nx!; i++) {
            const w = apply(ref.hdr!.affine, [i, j, k])
            affine = Math.max(affine, dist(w, apply(mine.hdr!.affine, [i, j, k])))
            world = Math.max(world, dist(w, itkWorld([i, j, k])))
            const n = i + nx! * (j + ny! * k)
            for (let t = 0; t < frames; t++) if (!same(shownValue(ref, n + t * nvox), shownValue(mine, n + t * nvox))) values++
            // NiiVue's own lookup: world position → RAS voxel → value, in both volumes.
            if ((i + j + k) % 3 === 0) {
              const t = (i + j + k) % frames
              const a = ref.getValue(...(Array.from(ref.mm2vox(w)) as [number, number, number]), t)
              const b = mine.getValue(...(Array.from(mine.mm2vox(w)) as [number, number, number]), t)
              if (!same(a, b)) lookups++
              lookupsDone++
            }
          }
      const matRAS = Math.max(...Array.from(ref.matRAS!, (v, i) => Math.abs(v - mine.matRAS![i]!)))

      const back = fromNVImage(ref)
      const geometry = Math.max(
        ...['origin', 'spacing'].flatMap((key) => (back[key as 'origin'] as number[]).map((v, i) => Math.abs(v - (image[key as 'origin'] as number[])[i]!))),
        ...Array.from(back.direction as Float64Array, (v, i) => Math.abs(v - Number(image.direction[i]))),
      )
      let backValues = 0
      for (let i = 0; i < image.data!.length; i++) if (!same(Number(back.data![i]), Number(image.data![i]))) backValues++

      // The flow a viewer has: a cached Image, retrieved and shown.
      const id = await cache.operationId('niivue-spec', { name })
      await cache.store(id, image)
      const shown = toNVImage((await cache.retrieveImage(id))!)
      let cached = 0
      for (let n = 0; n < ref.img!.length; n++) if (!same(shownValue(ref, n), shownValue(shown, n))) cached++

      return {
        dims: [Array.from(ref.hdr!.dims), Array.from(mine.hdr!.dims)],
        frames: [frames, mine.nFrame4D!],
        affine,
        image: world,
        values,
        lookups,
        lookupsDone,
        matRAS,
        back: {
          size: JSON.stringify(back.size) === JSON.stringify(image.size),
          geometry,
          values: backValues,
          type: back.imageType.componentType,
          decodedType: image.imageType.componentType,
        },
        cached,
      }
    },
    { name, bytes: [...file] },
  )
}

function expectSame(report: Report): void {
  expect(report.dims[1]!.slice(0, 5)).toEqual(report.dims[0]!.slice(0, 5))
  expect(report.frames[1]).toBe(report.frames[0])
  expect(report.affine, 'world positions, toNVImage vs NiiVue (mm)').toBeLessThan(1e-3)
  expect(report.image, 'world positions, the Image vs NiiVue (mm)').toBeLessThan(1e-3)
  expect(report.matRAS).toBeLessThan(1e-4)
  expect(report.values, 'voxels whose values differ').toBe(0)
  expect(report.lookupsDone).toBeGreaterThan(10)
  expect(report.lookups, 'world-position lookups that differ').toBe(0)
  expect(report.back.size).toBe(true)
  expect(report.back.geometry, 'fromNVImage geometry vs the decoded Image').toBeLessThan(1e-4)
  expect(report.back.values).toBe(0)
  expect(report.cached, 'a cached Image shown in NiiVue').toBe(0)
}

/** Values a reader cannot get right by accident: they differ voxel to voxel and frame to frame. */
function ramp(length: number, type: 'uint8' | 'int16' | 'float32'): NiftiSpec['data'] {
  const out = type === 'uint8' ? new Uint8Array(length) : type === 'int16' ? new Int16Array(length) : new Float32Array(length)
  for (let i = 0; i < length; i++) out[i] = type === 'float32' ? Math.sin(i * 0.37) * 100 + i / 7 : type === 'uint8' ? (i * 37) % 251 : ((i * 7919) % 30011) - 15000
  return out
}

/** A file whose qform and sform say the same thing. */
function agreeing(dims: number[], pixdim: number[], datatype: NiftiSpec['datatype'], qform: QForm): Buffer {
  return niftiFile({ dims, pixdim, datatype, data: ramp(dims.reduce((a, b) => a * b), datatype), qform, sform: { code: 1, rows: qformRows(qform, pixdim) } })
}

test.describe('voxcache/niivue', () => {
  test.beforeEach(async ({ page }) => openPage(page, 'cache=niivue&storage=memory'))

  test('an oblique 4-D file: every voxel at the same place with the same value, in every frame', async ({ page }) => {
    // 25° about (0.3, 0.5, 0.8), anisotropic voxels, a time axis of 3 frames.
    const h = Math.sin((25 * Math.PI) / 360)
    const axis = [0.3, 0.5, 0.8].map((v) => v / Math.hypot(0.3, 0.5, 0.8))
    const quatern = axis.map((v) => v * h) as [number, number, number]
    const file = agreeing([12, 10, 8, 3], [1.5, 2, 2.5, 0.8], 'float32', { code: 1, quatern, qfac: 1, offset: [-10, 20.5, 5.25] })
    const report = await compare(page, 'oblique4d.nii', file)
    expect(report.frames[0]).toBe(3)
    expectSame(report)
  })

  test('x pointing left (LAS, qfac -1) and right (RAS): the same world positions and values', async ({ page }) => {
    // LAS: 180° about y is diag(-1, 1, -1); qfac -1 turns z back: x runs right to left.
    const las = agreeing([9, 7, 5], [2, 1, 1.5], 'int16', { code: 1, quatern: [0, 1, 0], qfac: -1, offset: [8, -3, 2] })
    const ras = agreeing([9, 7, 5], [2, 1, 1.5], 'uint8', { code: 1, quatern: [0, 0, 0], qfac: 1, offset: [-8, -3, 2] })
    const left = await compare(page, 'las.nii', las)
    expectSame(left)
    const right = await compare(page, 'ras.nii', ras)
    expectSame(right)
  })

  test('real files: a 4-D fMRI run and a 3-D brain', async ({ page }) => {
    for (const name of ['functional.nii', 'standard.nii.gz']) expectSame(await compare(page, name, fixture(name)))
  })
})

test.describe('voxcache/niivue pixel types', () => {
  test.beforeEach(async ({ page }) => openPage(page, 'cache=niivue&storage=memory'))

  test('every component type NiiVue can show, RGB in colour, vectors as frames, and back', async ({ page }) => {
    const result = await page.evaluate(async (bytes) => {
      const { toNVImage, fromNVImage } = await window.loadNiivue!()
      const { deriveImage } = window.voxcacheLib!
      const source = await window.voxcache!.decode({ name: 'standard.nii.gz', data: new Uint8Array(bytes) })
      const n = source.data!.length
      const fill = <T extends { length: number; [i: number]: number | bigint }>(out: T, f: (i: number) => number | bigint): T => {
        for (let i = 0; i < out.length; i++) out[i] = f(i)
        return out
      }
      const scalars = {
        int8: fill(new Int8Array(n), (i) => (i * 37) % 256 - 128),
        uint8: fill(new Uint8Array(n), (i) => (i * 37) % 256),
        int16: fill(new Int16Array(n), (i) => i * 311 - 20000),
        uint16: fill(new Uint16Array(n), (i) => i * 311),
        // The last voxel is the one NiiVue's own int32 widening skips.
        int32: fill(new Int32Array(n), (i) => (i === n - 1 ? 2_000_000_001 : i * 1_000_003 - 70_000_000)),
        uint32: fill(new Uint32Array(n), (i) => (i === n - 1 ? 4_000_000_001 : i * 1_000_003)),
        int64: fill(new BigInt64Array(n), (i) => BigInt(i * 1_000_003 - 70_000_000)),
        float32: fill(new Float32Array(n), (i) => Math.fround(Math.sin(i) * 1e4)),
        float64: fill(new Float64Array(n), (i) => Math.sin(i) * 1e12),
      }
      const wrong: string[] = []
      const types: Record<string, string> = {}
      for (const [type, data] of Object.entries(scalars)) {
        const nv = toNVImage(deriveImage(source, data))
        types[type] = nv.img!.constructor.name
        for (let i = 0; i < n; i++) if (nv.img![i] !== Number(data[i])) wrong.push(`${type}[${i}]: ${nv.img![i]} for ${data[i]}`)
      }
      // RGB: three uint8 per voxel, shown as colour, and back to an RGB Image.
      const rgbData = fill(new Uint8Array(n * 3), (i) => (i * 53) % 256)
      const rgb = deriveImage(source, rgbData, { components: 3, pixelType: 'RGB' })
      const rgbNv = toNVImage(rgb)
      const rgbBack = fromNVImage(rgbNv)
      // A vector image: components become frames, component c of voxel v at frame c.
      const vecData = fill(new Float32Array(n * 3), (i) => i * 0.5)
      const vecNv = toNVImage(deriveImage(source, vecData, { components: 3 }))
      let vecWrong = 0
      for (let v = 0; v < n; v++) for (let c = 0; c < 3; c++) if (vecNv.img![c * n + v] !== vecData[v * 3 + c]) vecWrong++
      const refusals = [{ ...source, data: null }, { ...source, data: new Uint8Array(n - 1) }].map((bad) => {
        try {
          toNVImage(bad)
          return 'shown'
        } catch (error) {
          return (error as Error).name
        }
      })
      return {
        refusals,
        wrong: wrong.slice(0, 5),
        types,
        rgb: { datatype: rgbNv.hdr!.datatypeCode, same: rgbNv.img!.every((v, i) => v === rgbData[i]), back: rgbBack.imageType, backSame: (rgbBack.data as Uint8Array).every((v, i) => v === rgbData[i]) },
        vector: { frames: vecNv.nFrame4D, wrong: vecWrong },
      }
    }, [...fixture('standard.nii.gz')])
    expect(result.refusals).toEqual(['UnsupportedValueError', 'UnsupportedValueError'])
    expect(result.wrong).toEqual([])
    expect(result.types).toEqual({
      int8: 'Int16Array',
      uint8: 'Uint8Array',
      int16: 'Int16Array',
      uint16: 'Uint16Array',
      int32: 'Float64Array',
      uint32: 'Float64Array',
      int64: 'Float64Array',
      float32: 'Float32Array',
      float64: 'Float64Array',
    })
    expect(result.rgb).toEqual({ datatype: 128, same: true, back: { dimension: 3, componentType: 'uint8', pixelType: 'RGB', components: 3 }, backSame: true })
    expect(result.vector).toEqual({ frames: 3, wrong: 0 })
  })
})

// What the README says about files whose qform and sform disagree, pinned: which transform each reader
// takes ('q' or 's'). toNVImage shows voxcache's (itk-wasm's) geometry, so these are the cases where a
// cached image and NiiVue's own reading of the same file differ.
test.describe('qform and sform that disagree', () => {
  test.beforeEach(async ({ page }) => openPage(page, 'cache=niivue&storage=memory'))

  test('itk-wasm takes a scanner (code 1) rigid sform, else the qform; NiiVue the sform unless qform_code is higher', async ({ page }) => {
    const rigid = [[0, -2, 0, 50], [2, 0, 0, 50], [0, 0, 2, 50]]
    const sheared = [[2, 0.5, 0, 50], [0, 2, 0, 50], [0, 0, 2, 50]]
    const cases = [
      ['rigid', 1, 1, 's', 's'],
      ['rigid', 2, 1, 's', 'q'],
      ['rigid', 1, 2, 'q', 's'],
      ['rigid', 2, 2, 'q', 's'],
      ['rigid', 1, 4, 'q', 's'],
      ['rigid', 0, 2, 's', 's'],
      ['rigid', 1, 0, 'q', 'q'],
      ['sheared', 1, 1, 'q', 's'],
      ['sheared', 0, 1, 'DecodeError', 's'],
    ] as const
    for (const [kind, q, s, itk, niivue] of cases) {
      const qform: QForm = { code: q, quatern: [0, 0, 0], qfac: 1, offset: [-100, -100, -100] }
      const rows = kind === 'rigid' ? rigid : sheared
      const file = niftiFile({ dims: [4, 4, 4], pixdim: [2, 2, 2], datatype: 'uint8', data: ramp(64, 'uint8'), qform, sform: { code: s, rows } })
      const took = await page.evaluate(
        async ({ bytes }) => {
          const { NVImage } = await window.loadNiivue!()
          const data = new Uint8Array(bytes)
          const read = NVImage.new as unknown as (bytes: ArrayBuffer, name: string) => Promise<InstanceType<typeof NVImage>>
          const ref = await read(data.slice().buffer, 'x.nii')
          const which = (rasX: number) => (rasX === -100 ? 'q' : rasX === 50 ? 's' : String(rasX))
          try {
            const image = await window.voxcache!.decode({ name: 'x.nii', data: data.slice() })
            return { itk: which(-image.origin[0]!), niivue: which(ref.hdr!.affine[0]![3]!) }
          } catch (error) {
            return { itk: (error as Error).name, niivue: which(ref.hdr!.affine[0]![3]!) }
          }
        },
        { bytes: [...file] },
      )
      expect(took, `${kind} sform, qform_code ${q}, sform_code ${s}`).toEqual({ itk, niivue })
    }
  })
})
