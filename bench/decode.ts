// Cached decodes against warm itk-wasm decodes of the same input, for every format in ../shared/testdata
// and a DICOM series made from ch2bet; and how fast SHA-256 runs here (WebCrypto against hash-wasm).
import { readImage, setPipelinesBaseUrl } from '@itk-wasm/image-io'
import { createSHA256 } from 'hash-wasm'
import { InterfaceTypes, runPipeline, type Image } from 'itk-wasm'
import { openCache, type VoxCache } from '../src/index.js'
import { dicomSeries, resampledSlices } from '../test/dicom-files.js'
import { joinMeta, parseMetaHeader } from '../worker/decode/meta.js'

/** One input of the section: testdata files, or `series:<slices>x<columns>x<rows>` (made from ch2bet). */
export type DecodeCase = string[]

export interface DecodeCaseResult {
  files: number
  bytes: number
  voxelBytes: number
  itkColdMs: number
  itkWarmMs: number[]
  cacheFirstMs: number
  /** A reload's cached decode: a new File (nothing remembered on the page), the memory tier emptied. */
  diskZstdMs: number[]
  diskNoneMs: number[]
  /** The same File again in the same page (its hash remembered, the image in the memory tier). */
  againMs: number[]
  /** The first cached decode by a cache opened anew (a new worker: what a reload pays once). */
  reopenedMs: number[]
  /** Hits of the zstd cache during the timed calls, against the calls made (a miss is not timed as a hit). */
  hits: number
  calls: number
}

type Input = { name: string; data: Uint8Array }

async function testdata(name: string): Promise<Uint8Array> {
  const response = await fetch(`/testdata/${name}`)
  if (!response.ok) throw new Error(`/testdata/${name}: ${response.status}`)
  return new Uint8Array(await response.arrayBuffer())
}

async function series(spec: string): Promise<Input[]> {
  const [slices, columns, rows] = spec.split('x').map(Number) as [number, number, number]
  const meta = (await (await fetch('/data/ch2bet.json')).json()) as { size: number[]; spacing: number[] }
  const voxels = new Uint8Array(await (await fetch('/data/ch2bet.raw')).arrayBuffer())
  const template = await testdata('MR_small.dcm')
  const source = resampledSlices({ size: meta.size, spacing: meta.spacing, voxels }, columns, rows, slices, [-90, -126, -72])
  const out: Input[] = []
  let k = 0
  for (const data of dicomSeries(template, source, `2.25.${slices}${columns}${rows}7`)) out.push({ name: `slice-${++k}.dcm`, data })
  return out
}

/**
 * What an app without voxcache hands itk-wasm: one file (readImage, in its web worker, reused while
 * warm); a .mha/.mhd with its data file joined into one .mha (readImage takes one file); a DICOM series
 * through the series pipeline voxcache runs (in this thread).
 */
async function itkReader(files: Input[]): Promise<{ run: () => Promise<Image>; terminate: () => void }> {
  setPipelinesBaseUrl(new URL('/itk/image-io', location.href).href)
  if (files.length > 2) {
    const names = files.map((_, n) => `series-${String(n).padStart(5, '0')}.dcm`)
    const run = async () => {
      const result = await runPipeline(
        'read-image-dicom-file-series',
        ['0', '1', '--memory-io', '--input-images', ...names],
        [{ type: InterfaceTypes.Image }, { type: InterfaceTypes.JsonCompatible }],
        files.map((f, n) => ({ type: InterfaceTypes.BinaryFile, data: { path: names[n]!, data: f.data.slice() } })),
        { pipelineBaseUrl: new URL('/itk/dicom', location.href).href, webWorker: false },
      )
      if (result.returnValue !== 0) throw new Error(result.stderr)
      return result.outputs[0]!.data as Image
    }
    return { run, terminate: () => undefined }
  }
  let one = files[0]!
  if (files.length === 2) {
    const header = files.find((f) => /\.mh[ad]$/i.test(f.name))!
    const h = parseMetaHeader(header.name, header.data)
    one = { name: header.name.replace(/\.mhd$/i, '.mha'), data: await joinMeta(header, h, files.find((f) => f !== header)) }
  }
  let webWorker: Worker | null = null
  const run = async () => {
    const data = one.data.slice()
    const out = await readImage({ path: one.name, data }, { webWorker: webWorker ?? undefined })
    webWorker = out.webWorker
    return out.image
  }
  return { run, terminate: () => webWorker?.terminate() }
}

const asFiles = (inputs: Input[]) => inputs.map((f) => new File([f.data as Uint8Array<ArrayBuffer>], f.name))
const voxelBytes = (image: Image) => (image.data as unknown as ArrayBufferView).byteLength

/**
 * `reps` interleaved repetitions of: a warm itk-wasm decode, a reload's cached decode from a 'zstd'
 * and from a 'none' cache, the same File decoded again; and a few decodes by a cache opened anew.
 */
export async function decodeCase(input: DecodeCase, reps: number, cacheName: string): Promise<DecodeCaseResult> {
  const files = input.length === 1 && input[0]!.startsWith('series:') ? await series(input[0]!.slice(7)) : await Promise.all(input.map(async (name) => ({ name, data: await testdata(name) })))
  const itk = await itkReader(files)
  let t0 = performance.now()
  const reference = await itk.run()
  const result: DecodeCaseResult = {
    files: files.length,
    bytes: files.reduce((n, f) => n + f.data.byteLength, 0),
    voxelBytes: voxelBytes(reference),
    itkColdMs: performance.now() - t0,
    itkWarmMs: [],
    cacheFirstMs: NaN,
    diskZstdMs: [],
    diskNoneMs: [],
    againMs: [],
    reopenedMs: [],
    hits: 0,
    calls: 0,
  }
  const open = (codec: 'zstd' | 'none') => openCache({ name: `${cacheName}-${codec}`, storage: 'opfs', codec })
  let zstd: VoxCache = await open('zstd')
  const none = await open('none')
  const check = (image: Image) => {
    if (voxelBytes(image) !== result.voxelBytes) throw new Error(`${input.join(',')}: the cached decode returned ${voxelBytes(image)} bytes of voxels, itk-wasm ${result.voxelBytes}`)
  }
  try {
    t0 = performance.now()
    check(await zstd.decode(asFiles(files)))
    result.cacheFirstMs = performance.now() - t0
    check(await none.decode(asFiles(files)))
    const same = asFiles(files)
    check(await zstd.decode(same))
    const before = (await zstd.stats()).decodeHits
    const timed = async (cache: VoxCache, given: File[]) => {
      const t = performance.now()
      const image = await cache.decode(given)
      const ms = performance.now() - t
      check(image)
      return ms
    }
    for (let rep = 0; rep < reps; rep++) {
      const order = [0, 1, 2, 3].map((k) => (k + rep) % 4)
      for (const k of order) {
        if (k === 0) {
          t0 = performance.now()
          check(await itk.run())
          result.itkWarmMs.push(performance.now() - t0)
        } else if (k === 1) {
          const given = asFiles(files)
          await zstd.trimMemory()
          result.diskZstdMs.push(await timed(zstd, given))
          result.calls++
        } else if (k === 2) {
          const given = asFiles(files)
          await none.trimMemory()
          result.diskNoneMs.push(await timed(none, given))
        } else {
          result.againMs.push(await timed(zstd, same))
          result.calls++
        }
      }
    }
    result.hits = (await zstd.stats()).decodeHits - before
    for (let rep = 0; rep < Math.min(reps, 3); rep++) {
      await zstd.close()
      zstd = await open('zstd')
      const given = asFiles(files)
      result.reopenedMs.push(await timed(zstd, given))
    }
  } finally {
    itk.terminate()
    await zstd.destroy()
    await none.destroy()
  }
  return result
}

/** SHA-256 throughput in MB/s over `mb` MB of random bytes: WebCrypto (digest) and hash-wasm (in this thread). */
export async function hashSpeed(mb: number, reps: number): Promise<{ webCryptoMBps: number[]; hashWasmMBps: number[]; fileMBps: number[] }> {
  const bytes = new Uint8Array(mb * 1e6)
  for (let at = 0; at < bytes.length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536))
  const hasher = await createSHA256()
  const out = { webCryptoMBps: [] as number[], hashWasmMBps: [] as number[], fileMBps: [] as number[] }
  const file = new File([bytes], 'random.bin')
  for (let rep = 0; rep < reps; rep++) {
    let t0 = performance.now()
    await crypto.subtle.digest('SHA-256', bytes)
    out.webCryptoMBps.push(mb / ((performance.now() - t0) / 1000))
    t0 = performance.now()
    hasher.init()
    hasher.update(bytes)
    hasher.digest('hex')
    out.hashWasmMBps.push(mb / ((performance.now() - t0) / 1000))
    // What the page does with a File it has not seen: read it, then digest.
    t0 = performance.now()
    await crypto.subtle.digest('SHA-256', await file.arrayBuffer())
    out.fileMBps.push(mb / ((performance.now() - t0) / 1000))
  }
  return out
}
