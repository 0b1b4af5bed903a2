import { describe, expect, it } from 'vitest'
import { DecodeError } from '../../src/errors.js'
import type { Image } from '../../src/types.js'
import type { DicomInfo } from './dicom.js'
import { checkSliceSpacing, createStack, SERIES_BLOCK, seriesBlocks } from './series.js'

/** An axial slice at z (0.5 mm pixels), as parseDicom reports it. */
const slice = (z: number): DicomInfo => ({
  transferSyntax: '1.2.840.10008.1.2.1', rows: 2, columns: 3, frames: 1, samples: 1, bitsAllocated: 16, seriesUid: '1.2.3',
  position: [-10, 20, z], orientation: [1, 0, 0, 0, 1, 0], pixelBytes: 12, encapsulated: false, part10: true, fileMeta: true,
  sopClass: undefined, sopInstance: undefined, modality: 'MR',
})

/** A block's image as itk-wasm returns it: 3×2×n int16, voxel values from `first` on. */
const block = (n: number, z: number, first: number): Image => ({
  imageType: { dimension: 3, componentType: 'int16', pixelType: 'Scalar', components: 1 },
  name: '', origin: [-10, 20, z], spacing: [0.5, 0.5, 1.3], // a block's own spacing, not the series'
  direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  size: [3, 2, n], metadata: new Map(), data: Int16Array.from({ length: 6 * n }, (_, i) => first + i),
})

/** The stack of `images`, added one by one as itk.ts adds them. */
function stackBlocks(name: string, images: Image[], plan: Parameters<typeof createStack>[1]): Image {
  const stack = createStack(name, plan)
  for (const image of images) stack.add(image)
  return stack.result()
}

describe('long DICOM series', () => {
  it('a series of SERIES_BLOCK files is read in one call; one more is split into near-equal blocks of consecutive slices', () => {
    const infos = (n: number) => Array.from({ length: n }, (_, i) => slice(1.25 * (n - 1 - i))) // given in descending z
    const names = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`)
    const n = SERIES_BLOCK
    expect(seriesBlocks('s', infos(n), checkSliceSpacing(names(n), infos(n)))).toBeUndefined()
    const long = infos(2 * n + 2)
    const order = checkSliceSpacing(names(2 * n + 2), long)!
    expect(order.slice(0, 3)).toEqual([2 * n + 1, 2 * n, 2 * n - 1]) // ascending z
    const plan = seriesBlocks('s', long, order)!
    expect(SERIES_BLOCK).toBe(256)
    expect(plan.blocks.map((b) => b.length)).toEqual([172, 171, 171])
    expect(plan.blocks.flat()).toEqual(order)
    expect(plan.starts.map((p) => p[2])).toEqual(plan.blocks.map((b) => long[b[0]!]!.position![2]))
    expect(plan.spacing).toBeCloseTo(1.25, 12)
  })

  it('a long series whose files cannot be put in order is refused before itk-wasm runs', () => {
    const infos = Array.from({ length: SERIES_BLOCK + 1 }, (_, i) => ({ ...slice(i), position: undefined }))
    const order = checkSliceSpacing(infos.map((_, i) => `f${i}`), infos)
    expect(order).toBeUndefined()
    expect(() => seriesBlocks('first.dcm', infos, order)).toThrow(DecodeError)
    expect(() => seriesBlocks('first.dcm', infos, order)).toThrow(/^first\.dcm: a series of 257 files is read in blocks of at most 256 .*some lack them$/)
  })

  it('stacks blocks along z: voxels one block after another, the first origin, the whole series spacing', () => {
    const plan = { blocks: [[0, 1], [2, 3, 4]], starts: [[-10, 20, 0], [-10, 20, 2.5]], spacing: 1.25 }
    const image = stackBlocks('s', [block(2, 0, 0), block(3, 2.5, 12)], plan)
    expect(image.size).toEqual([3, 2, 5])
    expect(image.origin).toEqual([-10, 20, 0])
    expect(image.spacing).toEqual([0.5, 0.5, 1.25])
    expect(Array.from(image.data as Int16Array)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(image.data).toBeInstanceOf(Int16Array)
  })

  it('refuses a block that does not continue the first: another start, slice count or type', () => {
    const plan = { blocks: [[0, 1], [2, 3, 4]], starts: [[-10, 20, 0], [-10, 20, 2.5]], spacing: 1.25 }
    expect(() => stackBlocks('s', [block(2, 0, 0), block(3, 3.75, 12)], plan)).toThrow(/^s: block 2 of the series \(3 slices\) does not continue the first one/)
    expect(() => stackBlocks('s', [block(2, 0, 0), block(2, 2.5, 12)], plan)).toThrow(DecodeError)
    const float = { ...block(3, 2.5, 12), data: new Float32Array(18) }
    expect(() => stackBlocks('s', [block(2, 0, 0), float], plan)).toThrow(DecodeError)
    expect(() => stackBlocks('s', [block(2, 0, 0)], plan)).toThrow(/^s: itk-wasm returned 1 of the series' 2 blocks$/)
  })
})
