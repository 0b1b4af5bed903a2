import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, UnsupportedValueError } from '../errors.js'
import type { Image } from '../types.js'
import { encodeRecord1 } from '../../test/format1.js'
import { cropByLoops } from '../../test/crop.js'
import { Rng } from '../../test/fuzz-cases.js'
import { concatParts, decodeRecord, encodeRecord, initCodec, parseHeader, readBody, readRegion, type EncodedChunk, type Region } from './index.js'
import { CHUNK0_UNNAMED, RecordWriter } from './record2.js'
import type { ChunkReader } from './body.js'

const ID = 'e'.repeat(64)
const MIB = 1024 * 1024

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
})

type Ctor = new (n: number) => Image['data']
/** A test image whose voxel values encode their position, smooth enough to compress. */
function image(size: number[], componentType: Image["imageType"]["componentType"], Typed: Ctor, components = 1, direction?: number[]): Image {
  const n = size.reduce((a, b) => a * b, components)
  const data = new Typed(n) as unknown as { [i: number]: number | bigint; length: number }
  for (let i = 0; i < n; i++) data[i] = typeof data[0] === 'bigint' ? BigInt(i % 5000) : (i * 7 + (i >> 12)) % 251
  const d = size.length
  return {
    imageType: { dimension: d, componentType, pixelType: components === 3 ? 'RGB' : 'Scalar', components },
    name: 'test', origin: size.map((_, i) => 10 * i - 5), spacing: size.map((_, i) => 0.5 + i),
    direction: new Float64Array(direction ?? Array.from({ length: d * d }, (_, k) => (k % (d + 1) === 0 ? 1 : 0))),
    size, metadata: new Map(), data: data as unknown as Image['data'],
  } as Image
}

async function encoded(value: Image, codec: 'none' | 'zstd', chunkBytes?: number) {
  const chunks: EncodedChunk[] = []
  const enc = await encodeRecord(value, { operationId: ID, codec, chunkBytes }, async (c) => void chunks.push({ ...c, parts: [concatParts(c.parts, c.byteLength)] }))
  const bytes = concatParts(enc.parts, enc.byteLength)
  const parsed = parseHeader(ID, bytes, bytes.byteLength)
  const reads: { chunk: number; at: number; length: number }[] = []
  const read: ChunkReader = async (chunk, at, length) => {
    reads.push({ chunk, at, length })
    const source = chunk === 0 ? bytes.subarray(parsed.bodyOffset) : chunks[chunk - 1]!.parts[0]!
    return source.slice(at, at + length)
  }
  return { enc, bytes, parsed, chunks, reads, read }
}

const bytesOf = (im: Image) => {
  const d = im.data as unknown as ArrayBufferView
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

describe('region reads', () => {
  it('reads boxes bit for bit from every kind of frame, both codecs', async () => {
    const rng = new Rng(41)
    const cases: [string, Image][] = [
      ['3-D uint8, slabs of slices', image([181, 217, 60], 'uint8', Uint8Array)],
      ['3-D int16 RGB', image([40, 30, 20], 'int16', Int16Array, 3)],
      ['4-D float32', image([24, 20, 16, 5], 'float32', Float32Array)],
      ['2-D uint16, slices of 2 MiB cut by rows', image([1024, 1100], 'uint16', Uint16Array)],
      ['2-D float64, rows of 1.2 MiB cut by pixels', image([160_000, 3], 'float64', Float64Array)],
      ['1-D int64', image([70_000], 'int64', BigInt64Array)],
    ]
    for (const [what, im] of cases) {
      for (const codec of ['none', 'zstd'] as const) {
        const { read, parsed } = await encoded(im, codec)
        const boxes: Region[] = [
          { index: im.size.map(() => 0), size: [...im.size] },
          { index: im.size.map((s) => s - 1), size: im.size.map(() => 1) },
        ]
        for (let b = 0; b < 6; b++) {
          const index = im.size.map((s) => rng.int(s))
          boxes.push({ index, size: index.map((i, axis) => 1 + rng.int(im.size[axis]! - i)) })
        }
        for (const region of boxes) {
          const label = `${what}, ${codec}, ${JSON.stringify(region)}`
          const got = await readRegion(parsed, read, region)
          expect(got.size, label).toEqual(region.size)
          expect(got.data!.constructor, label).toBe(im.data!.constructor)
          expect(Buffer.compare(Buffer.from(bytesOf(got)), Buffer.from(cropByLoops(im, region))), label).toBe(0)
        }
      }
    }
  })

  it('reads only the frames of the box: one axial slice of 512² uint8 is one frame', async () => {
    const im = image([512, 512, 64], 'uint8', Uint8Array)
    for (const codec of ['none', 'zstd'] as const) {
      const { read, reads, parsed } = await encoded(im, codec)
      const frames = parsed.frames!
      expect(frames[0]!.sliceCount, 'four 256 KiB slices a frame').toBe(4)
      reads.length = 0
      const slice = await readRegion(parsed, read, { index: [0, 0, 33], size: [512, 512, 1] })
      expect(Buffer.compare(Buffer.from(bytesOf(slice)), Buffer.from(bytesOf(im).subarray(33 * 512 * 512, 34 * 512 * 512))), codec).toBe(0)
      const frame = frames.find((f) => f.firstSlice <= 33 && 33 < f.firstSlice + f.sliceCount)!
      expect(reads, codec).toEqual([{ chunk: 0, at: frame.storedOffset, length: frame.storedLength }])
      // A sagittal slice touches every frame, and neighbours are read together (8 MiB at most a read).
      reads.length = 0
      await readRegion(parsed, read, { index: [100, 0, 0], size: [1, 512, 64] })
      expect(reads.reduce((n, r) => n + r.length, 0), codec).toBe(parsed.header.storedLength)
      expect(reads.every((r) => r.length <= 8 * MIB), codec).toBe(true)
    }
  })

  it('moves the origin to the box along an oblique direction, keeping spacing and direction', async () => {
    const c = Math.cos(0.4)
    const s = Math.sin(0.4)
    const im = image([20, 16, 12], 'uint8', Uint8Array, 1, [c, -s, 0, s, c, 0, 0, 0, -1])
    const { read, parsed } = await encoded(im, 'none')
    const index = [3, 5, 7]
    const got = await readRegion(parsed, read, { index, size: [4, 4, 4] })
    const world = (i: number[]) =>
      [0, 1, 2].map((r) => im.origin[r]! + [0, 1, 2].reduce((n, k) => n + Number(im.direction[r * 3 + k]) * im.spacing[k]! * i[k]!, 0))
    got.origin.forEach((o, r) => expect(o).toBeCloseTo(world(index)[r]!, 12))
    expect(got.spacing).toEqual(im.spacing)
    expect(got.direction).toEqual(im.direction)
  })

  it('refuses a box outside the image, a malformed one, and an entry that is not an image', async () => {
    const im = image([10, 10, 10], 'uint8', Uint8Array)
    const { read, parsed } = await encoded(im, 'none')
    const bad: unknown[] = [
      { index: [0, 0, 5], size: [10, 10, 6] }, { index: [0, 0], size: [1, 1] }, { index: [0, 0, -1], size: [1, 1, 1] },
      { index: [0, 0, 0], size: [1, 1, 0] }, { index: [0, 0, 0.5], size: [1, 1, 1] }, { index: [0, 0, 0] }, null,
    ]
    for (const region of bad) {
      await expect(readRegion(parsed, read, region as Region), JSON.stringify(region)).rejects.toBeInstanceOf(UnsupportedValueError)
    }
    const other = await encoded(new Uint8Array(100) as never, 'none')
    await expect(readRegion(other.parsed, other.read, { index: [0], size: [1] })).rejects.toThrow(/not an image/)
  })

  it('refuses a damaged frame it reads, and does not read (or judge) the frames it does not need', async () => {
    const im = image([256, 256, 64], 'uint8', Uint8Array) // four frames of 16 slices
    for (const codec of ['none', 'zstd'] as const) {
      const { bytes, parsed } = await encoded(im, codec)
      const frames = parsed.frames!
      const damaged = bytes.slice()
      damaged[parsed.bodyOffset + frames[2]!.storedOffset + 10]! ^= 0x04
      const read: ChunkReader = async (_chunk, at, length) => damaged.slice(parsed.bodyOffset + at, parsed.bodyOffset + at + length)
      const inFrame2 = frames[2]!.firstSlice
      await expect(readRegion(parsed, read, { index: [0, 0, inFrame2], size: [256, 256, 1] }), codec).rejects.toThrow(CorruptEntryError)
      await expect(readRegion(parsed, read, { index: [0, 0, inFrame2], size: [256, 256, 1] }), codec).rejects.toThrow(/frame 2 checksum mismatch/)
      const elsewhere = await readRegion(parsed, read, { index: [0, 0, 0], size: [256, 256, 2] })
      expect(Buffer.compare(Buffer.from(bytesOf(elsewhere)), Buffer.from(bytesOf(im).subarray(0, 2 * 256 * 256))), codec).toBe(0)
      await expect(readBody(parsed, read), codec).rejects.toThrow(CorruptEntryError)
    }
  })

  it('crops a format-1 record after decoding it whole (its checksum covers the whole body)', async () => {
    const im = image([64, 64, 16], 'uint16', Uint16Array)
    for (const codec of ['none', 'zstd'] as const) {
      const { bytes } = encodeRecord1(im, { operationId: ID, codec })
      const parsed = parseHeader(ID, bytes, bytes.byteLength)
      const region = { index: [5, 6, 7], size: [30, 20, 3] }
      const read: ChunkReader = async (_chunk, at, length) => bytes.slice(parsed.bodyOffset + at, parsed.bodyOffset + at + length)
      const got = await readRegion(parsed, read, region)
      expect(Buffer.compare(Buffer.from(bytesOf(got)), Buffer.from(cropByLoops(im, region))), codec).toBe(0)
    }
  })
})

describe('values in chunks', () => {
  it("leaves a one-chunk record's chunk 0 unnamed: no SHA-256 is taken of it, both codecs", async () => {
    const im = image([256, 256, 20], 'uint8', Uint8Array)
    ;(im.data as Uint8Array).set(new Rng(9).bytes(256 * 256 * 20).map((b) => b & 0x3f))
    for (const codec of ['none', 'zstd'] as const) {
      const { parsed, bytes, chunks } = await encoded(im, codec)
      if (parsed.header.format !== 2) throw new Error('format 2 expected')
      expect(chunks.length, codec).toBe(0)
      expect(parsed.header.chunks[0]!.storedLength, codec).toBe(bytes.byteLength - parsed.bodyOffset)
      expect(parsed.header.chunks[0]!.sha256, codec).toBe(CHUNK0_UNNAMED)
    }
  })

  it('cuts the stored bytes into chunks at frame boundaries, each named by its SHA-256, and reads across them', async () => {
    const im = image([256, 256, 48], 'uint8', Uint8Array) // 3 MiB: 3 frames of 16 slices
    ;(im.data as Uint8Array).set(new Rng(5).bytes(3 * MIB).map((b) => b & 0x3f)) // compresses, but not to nothing
    for (const codec of ['none', 'zstd'] as const) {
      const limit = codec === 'none' ? MIB + 1 : 800 * 1024 // one frame a chunk, either way
      const { enc, chunks, read, parsed, bytes } = await encoded(im, codec, limit)
      const header = parsed.header
      if (header.format !== 2) throw new Error('format 2 expected')
      expect(header.chunks.length, codec).toBe(chunks.length + 1)
      expect(header.chunks.length, codec).toBeGreaterThan(2)
      const chunk0 = bytes.subarray(parsed.bodyOffset)
      for (const [i, c] of header.chunks.entries()) {
        const stored = i === 0 ? chunk0 : chunks[i - 1]!.parts[0]!
        expect(c.storedLength, `${codec} chunk ${i}`).toBe(stored.byteLength)
        expect(c.sha256, `${codec} chunk ${i}`).toBe(i === 0 ? CHUNK0_UNNAMED : createHash('sha256').update(stored).digest('hex'))
        expect(c.storedLength, `${codec} chunk ${i}`).toBeLessThanOrEqual(limit)
      }
      expect(enc.byteLength, codec).toBe(bytes.byteLength)
      const whole = (await readBody(parsed, read)) as Image
      expect(Buffer.compare(Buffer.from(bytesOf(whole)), Buffer.from(bytesOf(im))), codec).toBe(0)
      const region = { index: [10, 20, 3], size: [200, 200, 40] }
      const box = await readRegion(parsed, read, region)
      expect(Buffer.compare(Buffer.from(bytesOf(box)), Buffer.from(cropByLoops(im, region))), codec).toBe(0)
      // Held in memory with every chunk after it (as an export would), the record decodes whole too.
      const joined = concatParts([bytes, ...chunks.map((c) => c.parts[0]!)])
      expect(Buffer.compare(Buffer.from(bytesOf(decodeRecord(ID, joined).value as Image)), Buffer.from(bytesOf(im))), codec).toBe(0)
      // A record file names its other chunks: read as one without them, it is refused.
      expect(() => decodeRecord(ID, bytes), codec).toThrow(CorruptEntryError)
    }
  })

  it('writes the same record from pieces of any size as from the whole value, and refuses too few or too many bytes', async () => {
    const im = image([300, 200, 30], 'uint16', Uint16Array) // 3.6 MB: frames of 8 slices (960,000 bytes)
    ;(im.data as Uint16Array).set(new Uint16Array(new Rng(9).bytes(3_600_000).buffer).map((v) => v & 0x3ff))
    const raw = bytesOf(im)
    const options = { operationId: ID, codec: 'zstd' as const, createdAt: '2026-11-30T00:00:00.000Z', chunkBytes: 700_000 }
    const collect = () => {
      const chunks: Uint8Array[] = []
      return { chunks, sink: async (c: EncodedChunk) => void chunks.push(concatParts(c.parts, c.byteLength)) }
    }
    const whole = collect()
    const one = await encodeRecord(im, options, whole.sink)
    const shape = { dataType: 'Image', rawLength: raw.byteLength, image: parseHeader(ID, concatParts(one.parts), one.byteLength).header.image! }
    for (const cuts of [[1], [7, 1_048_577, 3], [999_999, 2_000_001], [raw.byteLength - 1, 1]]) {
      const pieces = collect()
      const writer = new RecordWriter(shape, options, pieces.sink)
      let at = 0
      for (const n of [...cuts, Infinity]) {
        const piece = raw.slice(at, Math.min(raw.byteLength, at + n)) // copies, as pieces from the page are
        if (piece.byteLength) await writer.push(piece)
        at += piece.byteLength
        if (at >= raw.byteLength) break
      }
      const got = await writer.finish()
      expect(Buffer.compare(Buffer.from(concatParts(got.parts)), Buffer.from(concatParts(one.parts))), JSON.stringify(cuts)).toBe(0)
      expect(pieces.chunks.map((c) => Buffer.from(c).toString('base64')), JSON.stringify(cuts)).toEqual(whole.chunks.map((c) => Buffer.from(c).toString('base64')))
    }
    const short = new RecordWriter(shape, options, collect().sink)
    await short.push(raw.subarray(0, raw.byteLength - 5))
    await expect(short.finish()).rejects.toThrow(/ended after 3599995 of its 3600000 bytes/)
    const long = new RecordWriter(shape, options, collect().sink)
    await expect(long.push(concatParts([raw, new Uint8Array(3)]))).rejects.toThrow(UnsupportedValueError)
  })

  it('refuses a value past one chunk when there is nowhere to put the other chunks', async () => {
    await expect(encodeRecord(new Uint8Array(3 * MIB), { operationId: ID, chunkBytes: MIB })).rejects.toThrow(UnsupportedValueError)
  })
})
