// The only module that runs itk-wasm: its pipelines in this worker's thread (`webWorker: false`),
// loaded from the app's own origin (openCache's `pipelinesUrl`; the Vite plugin copies them into the
// build), one format at a time.
import {
  metaWriteImage,
  niftiWriteImage,
  nrrdWriteImage,
  setPipelinesBaseUrl,
  wasmWriteImage,
} from '@itk-wasm/image-io'
import { InterfaceTypes, runPipeline, type Image, type JsonCompatible } from 'itk-wasm'
import { DecodeError, UnsupportedFormatError } from '../../src/errors.js'
import { describeThrown } from '../../src/thrown.js'
import { fail } from './input.js'
import type { Prepared, Reader } from './plan.js'
import { createStack, seriesInputName } from './series.js'


let bases = { imageIo: '', dicom: '' }

/** Where the pipelines are served (openCache's `pipelinesUrl`, absolute): `image-io/` and `dicom/` under it. */
export function usePipelines(root: string): void {
  bases = { imageIo: new URL('image-io', root).href, dicom: new URL('dicom', root).href }
  setPipelinesBaseUrl(bases.imageIo)
}

const PIPELINES: Record<Reader, { base: keyof typeof bases; path: string }> = {
  nifti: { base: 'imageIo', path: 'nifti-read-image' },
  nrrd: { base: 'imageIo', path: 'nrrd-read-image' },
  meta: { base: 'imageIo', path: 'meta-read-image' },
  gdcm: { base: 'imageIo', path: 'gdcm-read-image' },
  wasm: { base: 'imageIo', path: 'wasm-read-image' },
  'dicom-series': { base: 'dicom', path: 'read-image-dicom-file-series' },
}

/**
 * Runs the reader on prepared inputs. Every file is written into the pipeline's in-memory file
 * system; the first is the one read (or, for a series, all of them).
 * @throws {DecodeError} (or {UnsupportedFormatError}) naming the file, with itk-wasm's failure as cause.
 */
export async function read(p: Prepared): Promise<Image> {
  if (!p.series) return readOnce(p)
  // A long series, block by block: each call holds one block's files and volume, not the whole, and
  // each block's image is copied into the volume and dropped before the next is read. itk-wasm writes
  // the inputs into its in-memory file system and never removes them, so every block uses the same
  // names: each block's files replace the last one's instead of piling up beside them.
  const stack = createStack(p.name, p.series)
  for (const block of p.series.blocks) {
    const inputs = block.map((i, j) => ({ name: seriesInputName(j), data: p.inputs[i]!.data }))
    stack.add(await readOnce({ ...p, series: undefined, inputs }))
  }
  return stack.result() as Image
}

async function readOnce(p: Prepared): Promise<Image> {
  const { base, path } = PIPELINES[p.reader]
  const files = p.inputs.map((f) => ({ type: InterfaceTypes.BinaryFile, data: { path: f.name, data: f.data } }))
  const series = p.reader === 'dicom-series'
  const args = series
    ? ['0', '1', '--memory-io', '--input-images', ...p.inputs.map((f) => f.name)]
    : [p.inputs[0]!.name, '0', '1', '--memory-io']
  const outputs = series
    ? [{ type: InterfaceTypes.Image }, { type: InterfaceTypes.JsonCompatible }]
    : [{ type: InterfaceTypes.JsonCompatible }, { type: InterfaceTypes.Image }]
  let result: Awaited<ReturnType<typeof runPipeline>>
  try {
    result = await runPipeline(path, args, outputs, files, { pipelineBaseUrl: bases[base], webWorker: false })
  } catch (error) {
    const reason = describeThrown(error)
    // The pipeline never ran: its files are not where pipelinesUrl says (a 404, or a page served instead).
    if (LOAD_FAILURE.test(reason)) throw fail(p.name, `itk-wasm could not load its pipeline ${bases[base]}/${path} (is openCache's pipelinesUrl right?): ${reason}`, error)
    throw failure(p, reason, error)
  }
  const image = result.outputs[series ? 0 : 1]?.data as Image | undefined
  const couldRead = series || (result.outputs[0]?.data as JsonCompatible | undefined) === true
  if (result.returnValue !== 0 || !couldRead || !image) {
    throw failure(p, result.stderr.trim() || `the ${path} reader could not read it`)
  }
  return check(p, image)
}

/** How a pipeline's .js or .wasm failing to load reads, in itk-wasm's and Chromium's words. */
const LOAD_FAILURE = /status code \d+|Failed to fetch|dynamically imported module|MIME type|NetworkError|Failed to load/i

function failure(p: Prepared, reason: string, cause?: unknown): DecodeError | UnsupportedFormatError {
  if (p.unsupportedIfFails) {
    return new UnsupportedFormatError(`${p.name}: ${p.unsupportedIfFails} (reader: ${reason})`, { cause })
  }
  return fail(p.name, `itk-wasm could not decode it: ${reason}`, cause)
}

/** The image must hold every voxel its size says, in a buffer of its own that can be transferred. */
function check(p: Prepared, image: Image): Image {
  const components = image.imageType.components
  const voxels = image.size.reduce((a, b) => a * b, 1)
  const data = image.data as ArrayBufferView | null
  if (!data || data.byteLength === 0 || (data as unknown as { length: number }).length !== voxels * components) {
    throw fail(p.name, `itk-wasm returned ${data ? (data as unknown as { length: number }).length : 0} values for ${image.size.join('×')}×${components}`)
  }
  if (p.expectedBytes !== undefined && data.byteLength !== p.expectedBytes && !image.imageType.componentType.startsWith('float') ) {
    // A reader that widens types (e.g. complex) changes byteLength; only integer types are compared.
    throw fail(p.name, `itk-wasm returned ${data.byteLength} bytes of voxels, the header describes ${p.expectedBytes}`)
  }
  image.name = p.name
  return image
}

/** Export formats and the itk-wasm writer of each. */
export const EXPORT_FORMATS = {
  'nii.gz': niftiWriteImage,
  nrrd: nrrdWriteImage,
  mha: metaWriteImage,
  'iwi.cbor': wasmWriteImage,
} as const
export type ExportFormat = keyof typeof EXPORT_FORMATS

/**
 * Serializes `image` with itk-wasm's writer for `format` (compressed where the format allows).
 * @throws {UnsupportedFormatError} for an unknown format. @throws {DecodeError} when the writer fails.
 */
export async function write(image: Image, format: ExportFormat, baseName: string): Promise<{ name: string; data: Uint8Array }> {
  const writer = EXPORT_FORMATS[format]
  if (!writer) throw new UnsupportedFormatError(`cannot export to "${String(format)}" (supported: ${Object.keys(EXPORT_FORMATS).join(', ')})`)
  const name = `${baseName}.${format}`
  try {
    const { serializedImage } = await writer(image, name, { webWorker: false, useCompression: format !== 'iwi.cbor' })
    return { name, data: serializedImage.data }
  } catch (error) {
    throw new DecodeError(`${name}: itk-wasm could not write it: ${describeThrown(error)}`, { cause: error })
  }
}
