// Test support: the box of an image cut voxel by voxel, written independently of src/codec/region.ts,
// as the reference region reads are compared with.
import type { Image } from '../src/types.js'

export function cropByLoops(im: Image, region: { index: readonly number[]; size: readonly number[] }): Uint8Array {
  const data = im.data as unknown as ArrayBufferView
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  const pixel = data.byteLength / im.size.reduce((a, b) => a * b, 1)
  const count = region.size.reduce((a, b) => a * b, 1)
  const out = new Uint8Array(count * pixel)
  const n = im.size.length
  for (let k = 0; k < count; k++) {
    let rest = k
    let linear = 0
    let stride = 1
    for (let axis = 0; axis < n; axis++) {
      const j = rest % region.size[axis]!
      rest = Math.floor(rest / region.size[axis]!)
      linear += (region.index[axis]! + j) * stride
      stride *= im.size[axis]!
    }
    out.set(bytes.subarray(linear * pixel, (linear + 1) * pixel), k * pixel)
  }
  return out
}
