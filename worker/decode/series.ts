// A DICOM series checked and put in order before itk-wasm reads it, and read in blocks when it is long:
// itk-wasm's series reader takes every file name on its command line, which its WebAssembly main()
// copies onto a 64 KiB stack, and it aborts ("Aborted()", or "memory access out of bounds") past about
// a thousand files whatever their size (1,500 slices of 64×64 fail; bench/dicom-series.mjs).
import type { Image } from '../../src/types.js'
import type { DicomInfo } from './dicom.js'
import { fail } from './input.js'

/** Most files one itk-wasm call is given; a longer series is read in blocks of at most this many. */
export const SERIES_BLOCK = 256

/** The name the n-th file of one itk-wasm call has in its file system (fixed: nothing stale is read). */
export const seriesInputName = (n: number) => `series-${String(n).padStart(5, '0')}.dcm`

/**
 * Checks that the slices of a series lie evenly along one normal: itk-wasm stacks them with one
 * spacing (first to last position over the count), so a missing or duplicated slice would give every
 * voxel in between a wrong position without a word. Skipped when a file lacks position or orientation,
 * or holds several frames.
 * @returns the files' indices in position order along the normal (GDCM's order), or undefined when skipped.
 * @throws {DecodeError} naming the files around a gap, a duplicate, or a file tilted unlike the rest.
 */
export function checkSliceSpacing(names: string[], infos: DicomInfo[]): number[] | undefined {
  if (infos.length < 2 || infos.some((x) => !x.position || !x.orientation || x.frames !== 1)) return undefined
  const o = infos[0]!.orientation!
  const tilted = infos.findIndex((x) => x.orientation!.some((v, i) => Math.abs(v - o[i]!) > 1e-4))
  if (tilted >= 0) throw fail(names[tilted]!, `has an ImageOrientationPatient unlike the rest of the series (${x6(infos[tilted]!.orientation!)} versus ${x6(o)})`)
  const normal = [o[1]! * o[5]! - o[2]! * o[4]!, o[2]! * o[3]! - o[0]! * o[5]!, o[0]! * o[4]! - o[1]! * o[3]!]
  const along = infos
    .map((x, i) => ({ index: i, name: names[i]!, at: x.position!.reduce((a, v, k) => a + v * normal[k]!, 0) }))
    .sort((a, b) => a.at - b.at)
  const gaps = along.slice(1).map((s, i) => s.at - along[i]!.at)
  const dup = gaps.findIndex((g) => g < 1e-4)
  if (dup >= 0) throw fail(along[dup + 1]!.name, `is at the same position as ${along[dup]!.name} in the series (a duplicated slice, or two series)`)
  const step = [...gaps].sort((a, b) => a - b)[Math.floor((gaps.length - 1) / 2)]!
  const odd = gaps.findIndex((g) => Math.abs(g - step) > 0.01 * step + 1e-3)
  if (odd >= 0) {
    const [a, b] = [along[odd]!, along[odd + 1]!]
    throw fail(b.name, `the series' slices are not evenly spaced: ${round(gaps[odd]!)} mm from ${a.name} to ${b.name}, ${round(step)} mm between the others (a slice missing?)`)
  }
  return along.map((s) => s.index)
}

/** How a long series is read: blocks of consecutive slices, and the geometry of the whole. */
export interface SeriesBlocks {
  /** Indices into the series' files, block after block, each block in position order. */
  blocks: number[][]
  /** ImagePositionPatient of each block's first slice: where its image must start. */
  starts: number[][]
  /** Distance between slices as ITK computes it for a whole series: first to last position over the count. */
  spacing: number
}

/**
 * Splits a series of more than SERIES_BLOCK files into near-equal blocks of consecutive slices (each
 * of at least two, so that each has a spacing of its own); undefined for a series read in one call.
 * @throws {DecodeError} when a long series cannot be put in order (a file without position or
 * orientation, or with several frames): it could only be read in one call, past what that call takes.
 */
export function seriesBlocks(name: string, infos: DicomInfo[], order: number[] | undefined): SeriesBlocks | undefined {
  if (infos.length <= SERIES_BLOCK) return undefined
  if (!order) {
    throw fail(name, `a series of ${infos.length} files is read in blocks of at most ${SERIES_BLOCK} consecutive slices, which needs every file to be one slice with ImagePositionPatient and ImageOrientationPatient; some lack them`)
  }
  const count = Math.ceil(order.length / SERIES_BLOCK)
  const blocks: number[][] = []
  for (let b = 0, at = 0; b < count; b++) {
    const size = Math.floor(order.length / count) + (b < order.length % count ? 1 : 0)
    blocks.push(order.slice(at, at + size))
    at += size
  }
  const first = infos[order[0]!]!.position!
  const last = infos[order[order.length - 1]!]!.position!
  const spacing = Math.hypot(...last.map((v, k) => v - first[k]!)) / (order.length - 1)
  return { blocks, starts: blocks.map((b) => infos[b[0]!]!.position!), spacing }
}

/**
 * One volume from the images of consecutive blocks, filled block by block as they are read (so that
 * only one block's image is held beside it): the first block's origin and direction, the whole series'
 * slice spacing, the voxels one block after another along the slowest axis.
 */
export function createStack(name: string, plan: SeriesBlocks): { add(image: Image): void; result(): Image } {
  let head: Image | undefined
  let data: NonNullable<Image['data']> | undefined
  let at = 0
  let b = 0
  const total = plan.blocks.reduce((n, block) => n + block.length, 0)
  return {
    /** @throws {DecodeError} when the block's image does not continue the first one (size, type, direction, or an origin other than its first slice's position). */
    add(image) {
      const first = head ?? image
      const dim = first.size.length
      const same =
        b < plan.blocks.length &&
        image.data !== null &&
        image.data.constructor === first.data?.constructor &&
        image.size.length === dim &&
        image.size.slice(0, -1).every((n, i) => n === first.size[i]) &&
        image.size[dim - 1] === plan.blocks[b]!.length &&
        Array.from(image.direction as ArrayLike<number>).every((v, i) => Math.abs(v - Number(first.direction[i])) < 1e-6) &&
        plan.starts[b]!.every((v, i) => Math.abs(v - image.origin[i]!) < 1e-3)
      if (!same) throw fail(name, `block ${b + 1} of the series (${plan.blocks[b]?.length} slices) does not continue the first one in itk-wasm's reading (${image.size.join('×')} from ${x6(image.origin)})`)
      if (!data) {
        head = image
        const Data = image.data!.constructor as new (n: number) => NonNullable<Image['data']>
        data = new Data((image.data!.length / image.size[dim - 1]!) * total)
      }
      data.set(image.data as never, at)
      at += image.data!.length
      b++
    },
    /** @throws {DecodeError} when a block is missing. */
    result() {
      if (!head || !data || b !== plan.blocks.length) throw fail(name, `itk-wasm returned ${b} of the series' ${plan.blocks.length} blocks`)
      return {
        ...head,
        size: [...head.size.slice(0, -1), total],
        spacing: [...head.spacing.slice(0, -1), plan.spacing],
        origin: [...head.origin],
        data,
      }
    },
  }
}

const round = (n: number) => String(Math.round(n * 1e4) / 1e4)
const x6 = (v: ArrayLike<number>) => Array.from(v, round).join('\\')
