import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { concatParts, decodeRecord, encodeRecord, initCodec } from './codec/index.js'
import { UnsupportedValueError } from './errors.js'
import { deriveImage, pixels } from './image.js'
import type { Image } from './types.js'

const ID = 'd'.repeat(64)

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
})

/** An oblique 4×3×2 int16 image with metadata, as itk-wasm decodes one. */
function source(): Image {
  return {
    imageType: { dimension: 3, componentType: 'int16', pixelType: 'Scalar', components: 1 },
    name: 'source',
    origin: [-10.5, 2, 7],
    spacing: [0.5, 0.75, 2],
    direction: new Float64Array([0, 1, 0, -1, 0, 0, 0, 0, 1]),
    size: [4, 3, 2],
    metadata: new Map<string, unknown>([['modality', 'CT']]),
    data: Int16Array.from({ length: 24 }, (_, i) => i - 12),
  } as Image
}

describe('deriveImage', () => {
  it("keeps the source's geometry, as copies, and takes the component type from the new pixels", () => {
    const src = source()
    const mask = Uint8Array.from(src.data as Int16Array, (v) => (v > 0 ? 1 : 0))
    const out = deriveImage(src, mask)
    expect(out.imageType).toEqual({ dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 })
    expect({ name: out.name, origin: out.origin, spacing: out.spacing, size: out.size }).toEqual({
      name: 'source',
      origin: [-10.5, 2, 7],
      spacing: [0.5, 0.75, 2],
      size: [4, 3, 2],
    })
    expect([...out.direction]).toEqual([0, 1, 0, -1, 0, 0, 0, 0, 1])
    expect(out.metadata.get('modality')).toBe('CT')
    expect(out.data).toBe(mask)
    // Copies: changing the derived geometry leaves the source's alone.
    out.origin[0] = 99
    out.direction[0] = 99
    out.size[0] = 99
    out.metadata.set('modality', 'MR')
    expect([src.origin[0], src.direction[0], src.size[0], src.metadata.get('modality')]).toEqual([-10.5, 0, 4, 'CT'])
  })

  it('sets components and a vector pixel type when a voxel holds several values', () => {
    const out = deriveImage(source(), new Float32Array(24 * 3), { components: 3 })
    expect(out.imageType).toEqual({ dimension: 3, componentType: 'float32', pixelType: 'VariableLengthVector', components: 3 })
  })

  it('takes the pixel type it is given, RGB for example', () => {
    const out = deriveImage(source(), new Uint8Array(24 * 3), { components: 3, pixelType: 'RGB' })
    expect(out.imageType).toEqual({ dimension: 3, componentType: 'uint8', pixelType: 'RGB', components: 3 })
  })

  it('refuses pixels that do not fit the geometry, and arrays an Image cannot hold', () => {
    expect(() => deriveImage(source(), new Float32Array(23))).toThrow(UnsupportedValueError)
    expect(() => deriveImage(source(), new Float32Array(24), { components: 2 })).toThrow(/24 values for 4×3×2 voxels × 2 components/)
    expect(() => deriveImage(source(), new Float32Array(24), { components: 0 })).toThrow(UnsupportedValueError)
    expect(() => deriveImage(source(), new Uint8ClampedArray(24) as unknown as Uint8Array)).toThrow(/Uint8ClampedArray/)
  })

  it('is an Image the record codec stores and reads back exactly', async () => {
    const out = deriveImage(source(), Float64Array.from({ length: 24 }, (_, i) => i / 3))
    const record = await encodeRecord(out, { operationId: ID, codec: 'zstd' })
    const back = decodeRecord(ID, concatParts(record.parts, record.byteLength)).value as Image
    expect(back.imageType).toEqual(out.imageType)
    expect([...(back.data as Float64Array)]).toEqual([...(out.data as Float64Array)])
    expect({ origin: back.origin, spacing: back.spacing, size: back.size }).toEqual({ origin: out.origin, spacing: out.spacing, size: out.size })
  })
})

describe('pixels', () => {
  it('gives the pixels typed as asked, the same array', () => {
    const image = source()
    const data: Int16Array = pixels(image, Int16Array)
    expect(data).toBe(image.data)
  })

  it('refuses another array type, and an Image without pixels', () => {
    expect(() => pixels(source(), Uint8Array)).toThrow(/pixels are Int16Array, not Uint8Array/)
    expect(() => pixels({ ...source(), data: null }, Float32Array)).toThrow(UnsupportedValueError)
  })
})
