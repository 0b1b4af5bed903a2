// A large DICOM series (bench/dicom-series.mjs): built in the page from ch2bet resampled to any slice
// size and count (test/dicom-files.ts, the writer e2e/decode-dicom.spec.ts uses), then decoded either
// by voxcache (cache.decode of the files, in its worker) or by itk-wasm alone: the very pipeline call
// voxcache makes (worker/decode/itk.ts), in this thread, on the same files. What the first costs on top
// of the second is what voxcache adds.
import { InterfaceTypes, runPipeline, type Image } from 'itk-wasm'
import { openCache } from '../src/index.js'
import { dicomSeries, resampledSlices } from '../test/dicom-files.js'

let files: { name: string; data: Uint8Array }[] = []

function summary(image: Image) {
  const data = image.data as unknown as ArrayBufferView
  return { size: [...image.size], componentType: image.imageType.componentType, voxelBytes: data.byteLength }
}

export const seriesBench = {
  /** Builds `slices` files of `columns` × `rows` int16 in page memory; returns their total size. */
  async seriesBuild(slices: number, columns: number, rows: number): Promise<{ files: number; bytes: number; ms: number }> {
    const t0 = performance.now()
    const meta = (await (await fetch('/data/ch2bet.json')).json()) as { size: number[]; spacing: number[] }
    const voxels = new Uint8Array(await (await fetch('/data/ch2bet.raw')).arrayBuffer())
    const template = new Uint8Array(await (await fetch('/testdata/MR_small.dcm')).arrayBuffer())
    const source = resampledSlices({ size: meta.size, spacing: meta.spacing, voxels }, columns, rows, slices, [-90, -126, -72])
    files = []
    let k = 0
    for (const data of dicomSeries(template, source, `2.25.${slices}${columns}${rows}`)) files.push({ name: `slice-${++k}.dcm`, data })
    return { files: files.length, bytes: files.reduce((n, f) => n + f.data.byteLength, 0), ms: performance.now() - t0 }
  },

  /**
   * cache.decode of the built files (transferred to the worker, so they are gone from the page after);
   * `cache` names an OPFS cache that persists between calls, so a second build and decode is a hit.
   */
  async seriesDecode(cache: string): Promise<{ ms: number; hit: boolean; size?: number[]; componentType?: string; voxelBytes?: number; error?: string }> {
    const c = await openCache({ name: cache, storage: 'opfs', maxBytes: 64 * 2 ** 30 })
    const input = files
    files = []
    try {
      const before = await c.stats()
      const t0 = performance.now()
      const image = await c.decode(input)
      const ms = performance.now() - t0
      const after = await c.stats()
      return { ms, hit: after.decodeHits > before.decodeHits, ...summary(image) }
    } catch (e) {
      return { ms: NaN, hit: false, error: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 400) : String(e) }
    } finally {
      await c.close()
    }
  },

  /** itk-wasm alone: read-image-dicom-file-series in this thread, with the arguments voxcache gives it. */
  async seriesItk(): Promise<{ ms: number; size?: number[]; componentType?: string; voxelBytes?: number; error?: string }> {
    const input = files
    files = []
    const names = input.map((_, n) => `series-${String(n).padStart(5, '0')}.dcm`)
    try {
      const t0 = performance.now()
      const result = await runPipeline(
        'read-image-dicom-file-series',
        ['0', '1', '--memory-io', '--input-images', ...names],
        [{ type: InterfaceTypes.Image }, { type: InterfaceTypes.JsonCompatible }],
        input.map((f, n) => ({ type: InterfaceTypes.BinaryFile, data: { path: names[n]!, data: f.data } })),
        { pipelineBaseUrl: new URL('/itk/dicom', location.href).href, webWorker: false },
      )
      const ms = performance.now() - t0
      if (result.returnValue !== 0) return { ms, error: result.stderr.slice(0, 400) }
      return { ms, ...summary(result.outputs[0]!.data as Image) }
    } catch (e) {
      return { ms: NaN, error: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 400) : String(e) }
    }
  },
}
