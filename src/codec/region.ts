// Region reads: a box of an image, read from only the frames that hold it. A format-2 record's frames
// are whole slices (or rows) with a table of where each is stored, so a box touches its own frames and
// no others; a format-1 record (one checksum over its whole body) is decoded whole and cropped.
import { UnsupportedValueError } from '../errors.js'
import type { Image } from '../types.js'
import { inflateFrame2, openFrame2, READ_CHUNK, readBody, type ChunkReader } from './body.js'
import { FRAME_ZSTD, type FrameEntry } from './layout.js'
import { fail, type ParsedRecord } from './record.js'
import { COMPONENT_ARRAYS, reconstruct, TYPED_ARRAYS, type ImageHeader } from './values.js'

/** A box of an image: its first index and its size along each axis (x first). */
export interface Region {
  index: readonly number[]
  size: readonly number[]
}

/**
 * @throws {UnsupportedValueError} when the region is not a box inside the image.
 */
export function checkRegion(image: ImageHeader, region: Region): void {
  const n = image.size.length
  const ok = (v: unknown): v is readonly number[] => Array.isArray(v) && v.length === n && v.every((x) => Number.isSafeInteger(x) && x >= 0)
  if (!ok(region?.index) || !ok(region?.size)) {
    throw new UnsupportedValueError(`a region of this ${n}-D image is { index, size }, each ${n} whole numbers`)
  }
  for (let axis = 0; axis < n; axis++) {
    const [i, s] = [region.index[axis]!, region.size[axis]!]
    if (s < 1 || i + s > image.size[axis]!) {
      throw new UnsupportedValueError(`region axis ${axis}: index ${i} and size ${s} do not fit in the image's ${image.size[axis]}`)
    }
  }
}

export function pixelBytes(image: ImageHeader): number {
  return image.imageType.components * TYPED_ARRAYS[COMPONENT_ARRAYS[image.imageType.componentType]].BYTES_PER_ELEMENT
}

/**
 * The raw byte ranges of a box, in order, neighbours merged: rows of the box, or whole slices when
 * the box spans the image's rows.
 */
export function* regionRuns(image: ImageHeader, region: Region): Generator<[number, number]> {
  const n = image.size.length
  const pixel = pixelBytes(image)
  const strides = [pixel]
  for (let axis = 1; axis < n; axis++) strides.push(strides[axis - 1]! * image.size[axis - 1]!)
  const rowBytes = region.size[0]! * pixel
  const j = new Array<number>(n).fill(0)
  let runStart = -1
  let runEnd = -1
  for (;;) {
    let start = region.index[0]! * pixel
    for (let axis = 1; axis < n; axis++) start += (region.index[axis]! + j[axis]!) * strides[axis]!
    if (start === runEnd) {
      runEnd += rowBytes
    } else {
      if (runStart >= 0) yield [runStart, runEnd]
      runStart = start
      runEnd = start + rowBytes
    }
    let axis = 1
    while (axis < n && ++j[axis]! === region.size[axis]!) j[axis++] = 0
    if (axis >= n) break
  }
  yield [runStart, runEnd]
}

/** The Image of a box: the box's pixels, origin moved to its first voxel, spacing and direction kept. */
export function regionImage(image: ImageHeader, region: Region, raw: Uint8Array): Image {
  const n = image.size.length
  const origin = image.origin.map((o, r) => {
    let shift = 0
    for (let c = 0; c < n; c++) shift += image.direction[r * n + c]! * image.spacing[c]! * region.index[c]!
    return o + shift
  })
  return reconstruct('Image', raw, { ...image, origin, size: [...region.size] }) as Image
}

/** The box's bytes out of a whole image's raw bytes. */
export function cropRaw(image: ImageHeader, region: Region, raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(region.size.reduce((a, b) => a * b, pixelBytes(image)))
  let at = 0
  for (const [start, end] of regionRuns(image, region)) {
    out.set(raw.subarray(start, end), at)
    at += end - start
  }
  return out
}

/**
 * Reads a box of the image a record holds. Format 2: reads, checks and decompresses only the frames
 * the box touches (neighbouring frames in one read of up to 8 MiB), holding the box and one read.
 * Format 1: decodes the whole body (its checksum covers it whole), then crops.
 * @throws {UnsupportedValueError} when the record is not an image or the region does not fit it.
 * @throws {CorruptEntryError} when a frame it reads fails its checks.
 */
export async function readRegion(parsed: ParsedRecord, read: ChunkReader, region: Region): Promise<Image> {
  const { header } = parsed
  if (header.dataType !== 'Image' || !header.image) {
    throw new UnsupportedValueError(`entry ${header.operationId} holds ${header.dataType}, not an image: regions are of images`)
  }
  const image = header.image
  checkRegion(image, region)
  if (header.format === 1) {
    const whole = (await readBody(parsed, read)) as Image
    const data = whole.data as unknown as ArrayBufferView
    return regionImage(image, region, cropRaw(image, region, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)))
  }
  const id = header.operationId
  const frames = parsed.frames!
  const frameBytes = header.frameBytes
  const runs = [...regionRuns(image, region)]
  const needed = neededFrames(runs, frameBytes)
  const out = new Uint8Array(region.size.reduce((a, b) => a * b, pixelBytes(image)))
  // The current read (several neighbouring needed frames) and the current frame's raw bytes.
  let batch: { first: number; last: number; bytes: Uint8Array; at: number } | undefined
  let current: { index: number; raw: Uint8Array } | undefined
  let scratch: Uint8Array | undefined
  const load = async (f: number): Promise<Uint8Array> => {
    if (!batch || f < batch.first || f > batch.last) batch = await readBatch(read, frames, needed, f)
    const e = frames[f]!
    const stored = await openFrame2(parsed, e, batch.bytes.subarray(e.storedOffset - batch.at, e.storedOffset - batch.at + e.storedLength), f)
    if (!(e.flags & FRAME_ZSTD)) return stored
    if (!scratch || scratch.byteLength < e.rawLength) scratch = new Uint8Array(e.rawLength)
    inflateFrame2(id, e, stored, scratch, 0)
    return scratch.subarray(0, e.rawLength)
  }
  let outAt = 0
  for (const [start, end] of runs) {
    let p = start
    while (p < end) {
      const f = Math.floor(p / frameBytes)
      const e = frames[f]
      if (!e) fail(id, `region reaches frame ${f}, past the table`)
      if (current?.index !== f) current = { index: f, raw: await load(f) }
      const n = Math.min(end, e.rawOffset + e.rawLength) - p
      out.set(current.raw.subarray(p - e.rawOffset, p - e.rawOffset + n), outAt)
      outAt += n
      p += n
    }
  }
  return regionImage(image, region, out)
}

/** The frames a set of raw byte runs touches, ascending, each once. */
function neededFrames(runs: readonly [number, number][], frameBytes: number): Set<number> {
  const needed = new Set<number>()
  for (const [start, end] of runs) {
    for (let f = Math.floor(start / frameBytes); f <= Math.floor((end - 1) / frameBytes); f++) needed.add(f)
  }
  return needed
}

/** One read covering frame `f` and the needed frames after it in the same chunk, up to READ_CHUNK. */
async function readBatch(
  read: ChunkReader,
  frames: readonly FrameEntry[],
  needed: ReadonlySet<number>,
  f: number,
): Promise<{ first: number; last: number; bytes: Uint8Array; at: number }> {
  const first = frames[f]!
  let last = f
  while (
    needed.has(last + 1) &&
    frames[last + 1]!.chunk === first.chunk &&
    frames[last + 1]!.storedOffset + frames[last + 1]!.storedLength - first.storedOffset <= READ_CHUNK
  ) {
    last++
  }
  const length = frames[last]!.storedOffset + frames[last]!.storedLength - first.storedOffset
  // The batch's bytes are done with (checked, inflated or copied out) before the next batch is read.
  return { first: f, last, bytes: await read(first.chunk, first.storedOffset, length, true), at: first.storedOffset }
}
