// Sizes decode refuses before it allocates. itk-wasm runs in 32-bit WebAssembly (4 GiB of memory at
// most, shared by the file, the image and the reader), so an image is refused well before that.
import { MAX_MESSAGE_BYTES } from '../../src/transfer.js'
import { fail } from './input.js'

/**
 * Largest voxel buffer decode accepts: what one buffer carries out of the worker (2 GiB − 16 MiB).
 * A larger image (up to 2 GiB) could be decoded and handed back once, but never again from the cache:
 * retrieve refuses it (a series of 4,070 slices of 512×512 int16 did exactly that).
 */
export const MAX_VOXEL_BYTES = MAX_MESSAGE_BYTES
/** Largest file decode inflates: 2 GiB − 1. */
export const MAX_FILE_BYTES = 2 ** 31 - 1
/** The voxel limit as messages say it: exact, where "2.0 GiB" would round it up. */
export const VOXEL_LIMIT_TEXT = `${MAX_VOXEL_BYTES / 2 ** 20} MiB`
/** Largest extent along one axis any header may claim. */
export const MAX_DIM = 1 << 20

/** Voxel bytes of `sizes` × `bytesPer`, refusing absurd or negative sizes before anything is allocated. */
export function voxelBytes(file: string, sizes: readonly number[], bytesPer: number): number {
  let total = bytesPer
  for (const [axis, n] of sizes.entries()) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_DIM) throw fail(file, `header claims an invalid size ${n} along axis ${axis}`)
    total *= n
  }
  if (total > MAX_VOXEL_BYTES) {
    throw fail(file, `header claims ${sizes.join('×')} voxels of ${bytesPer} bytes (${fmtBytes(total)}), over the ${VOXEL_LIMIT_TEXT} limit`)
  }
  return total
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`
  return `${n} bytes`
}
