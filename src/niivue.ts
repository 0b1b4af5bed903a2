// voxcache/niivue: an itk-wasm Image shown in NiiVue, and a NiiVue volume stored as an Image, with no file
// in between. An Image's world is LPS (ITK's); NiiVue's, like NIfTI's, is RAS: the affine's first two rows
// change sign. Voxel order is the same in both (x fastest, then y, z, time), so pixels pass unchanged.
import { NVImage } from '@niivue/niivue'
import { UnsupportedValueError } from './errors.js'
import type { Image } from './types.js'
import { componentTypeOf, type PixelArray } from './image.js'

/** NIfTI-1 datatype codes NiiVue shows. */
const DT = { uint8: 2, int16: 4, float32: 16, float64: 64, rgb24: 128, uint16: 512, rgba32: 2304 } as const
/** NiiVue's ImageType.NII. */
const NII = 1
/** LPS ↔ RAS: x and y change sign, z does not. */
const FLIP = [-1, -1, 1] as const

export interface ToNVImageOptions {
  /** The volume's name in NiiVue (default: the Image's name, else 'image.nii'). */
  name?: string
  /** A NiiVue colormap name (default 'gray'). */
  colormap?: string
  /** 0 to 1 (default 1). */
  opacity?: number
  /** The display range (default: NiiVue's robust range of the data). */
  calMin?: number
  calMax?: number
}

/**
 * A NiiVue volume showing `image`, for `niivue.addVolume()`. Scalar uint8, int16, uint16, float32 and
 * float64 pixels are shared, not copied, when they fill their buffer (as a retrieved or decoded Image's
 * do); int8 becomes int16, (u)int32 and (u)int64 become float64 (what NiiVue does with them itself; 64-bit
 * values above 2^53 lose precision). RGB and RGBA uint8 show in colour. Other multi-component images
 * (vectors, tensors) show one component per frame. A 4-D image's fourth axis becomes NiiVue's frames.
 * @throws {UnsupportedValueError} for an image NiiVue cannot hold: not 2-, 3- or 4-D, or 4-D with several
 *   components per voxel; or pixels missing or not as many as the size says.
 */
export function toNVImage(image: Image, options: ToNVImageOptions = {}): NVImage {
  const { dimension, components, componentType, pixelType } = image.imageType
  if (dimension < 2 || dimension > 4) throw new UnsupportedValueError(`NiiVue shows 2-, 3- and 4-D images, not ${dimension}-D`)
  const size = [0, 1, 2, 3].map((i) => image.size[i] ?? 1) as [number, number, number, number]
  const voxels = size.reduce((a, b) => a * b, 1)
  if (!image.data || image.data.length !== voxels * components) {
    throw new UnsupportedValueError(`the Image's pixels (${image.data?.length ?? 'none'}) are not ${size.join('×')} voxels × ${components} components`)
  }
  const colour = componentType === 'uint8' && ((components === 3 && pixelType === 'RGB') || (components === 4 && pixelType === 'RGBA'))
  let data: PixelArray
  let datatype: number
  if (components === 1) [data, datatype] = scalar(image.data as PixelArray)
  else if (colour) [data, datatype] = [image.data as Uint8Array, components === 3 ? DT.rgb24 : DT.rgba32]
  else if (dimension === 4) throw new UnsupportedValueError(`NiiVue cannot show a 4-D image with ${components} components per voxel`)
  else {
    ;[data, datatype] = scalar(planar(image.data as PixelArray, components))
    size[3] = components
  }

  const at = (r: number, c: number): number => (r < dimension && c < dimension ? Number(image.direction[r * dimension + c]) : r === c ? 1 : 0)
  const spacing = [0, 1, 2, 3].map((i) => image.spacing[i] ?? 1)
  const affine: number[] = []
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) affine.push(FLIP[r]! * at(r, c) * spacing[c]!)
    affine.push(FLIP[r]! * (image.origin[r] ?? 0))
  }
  affine.push(0, 0, 0, 1)

  const dims = size[3] > 1 ? size : size.slice(0, 3)
  const hdr = NVImage.createNiftiHeader(dims, spacing.slice(0, dims.length), affine, DT.uint8)
  for (let i = dims.length + 1; i < 8; i++) hdr.dims[i] = 1 // as NIfTI writers leave unused dimensions
  hdr.datatypeCode = datatype
  hdr.numBitsPerVoxel = datatype === DT.rgb24 ? 24 : datatype === DT.rgba32 ? 32 : data.BYTES_PER_ELEMENT * 8
  hdr.sform_code = 1 // scanner-anatomical, as ITK writes it; no qform, so NiiVue reads this affine
  hdr.qform_code = 0
  hdr.xyzt_units = 2 + 8 // millimetres, seconds

  const nv = new NVImage()
  nv.hdr = hdr
  const buffer = ownBuffer(data)
  const { name = image.name || 'image.nii', colormap = 'gray', opacity = 1, calMin = NaN, calMax = NaN } = options
  nv.init(buffer, name, colormap, opacity, null, calMin, calMax, true, 0.02, false, false, '', 0, NII, NaN, NaN, true, null, 0, buffer)
  return nv
}

export interface FromNVImageOptions {
  /**
   * Copy the voxels (default true). Storing an Image transfers its buffer to the cache's worker, which
   * would leave NiiVue's volume empty; pass false only for a volume you no longer show.
   */
  copy?: boolean
}

/**
 * The Image a NiiVue volume holds, for `cache.store()` or a pipeline step: geometry from the affine
 * NiiVue uses (its choice of sform or qform), converted to LPS; voxels in the file's order. A volume with
 * a scale slope or intercept becomes float32 (float64 if it was) holding the scaled values. Several frames
 * make a 4-D Image whose fourth axis has spacing `pixDims[4]`.
 * @throws {UnsupportedValueError} when the volume has no header or voxels yet.
 */
export function fromNVImage(nv: NVImage, { copy = true }: FromNVImageOptions = {}): Image {
  const { hdr, img } = nv
  if (!hdr || !img) throw new UnsupportedValueError('the NiiVue volume has no header or voxels')
  const size3 = [1, 2, 3].map((i) => Math.max(1, hdr.dims[i] ?? 1))
  const colour = hdr.datatypeCode === DT.rgb24 ? 3 : hdr.datatypeCode === DT.rgba32 ? 4 : 0
  const components = colour || 1
  const frames = img.length / (size3[0]! * size3[1]! * size3[2]! * components)
  if (!Number.isInteger(frames) || frames < 1) throw new UnsupportedValueError(`the NiiVue volume's ${img.length} values do not fill ${size3.join('×')} voxels`)
  const dimension = frames > 1 ? 4 : 3

  const slope = Number.isFinite(hdr.scl_slope) && hdr.scl_slope !== 0 ? hdr.scl_slope : 1
  const inter = Number.isFinite(hdr.scl_inter) ? hdr.scl_inter : 0
  let data: PixelArray
  if (!colour && (slope !== 1 || inter !== 0)) {
    data = img instanceof Float64Array ? new Float64Array(img.length) : new Float32Array(img.length)
    for (let i = 0; i < img.length; i++) data[i] = img[i]! * slope + inter
  } else data = copy ? (img.slice() as PixelArray) : (img as PixelArray)
  const componentType = componentTypeOf(data)
  if (!componentType) throw new UnsupportedValueError(`a NiiVue volume of ${data.constructor.name} cannot be an Image`)

  const spacing: number[] = []
  const direction = new Float64Array(dimension * dimension)
  for (let c = 0; c < 3; c++) {
    const column = [0, 1, 2].map((r) => FLIP[r]! * hdr.affine[r]![c]!)
    const length = Math.hypot(...column)
    spacing.push(length || hdr.pixDims[c + 1] || 1)
    for (let r = 0; r < 3; r++) direction[r * dimension + c] = length ? column[r]! / length : r === c ? 1 : 0
  }
  const origin = [0, 1, 2].map((r) => FLIP[r]! * hdr.affine[r]![3]!)
  if (dimension === 4) {
    spacing.push(hdr.pixDims[4] || 1)
    origin.push(0)
    direction[15] = 1
  }
  return {
    imageType: { dimension, componentType, pixelType: colour === 3 ? 'RGB' : colour === 4 ? 'RGBA' : 'Scalar', components },
    name: nv.name,
    origin,
    spacing,
    direction,
    size: dimension === 4 ? [...size3, frames] : size3,
    metadata: new Map(),
    data,
  } as Image
}


/** Pixels in a type NiiVue keeps as they are, with their NIfTI datatype. */
function scalar(data: PixelArray): [PixelArray, number] {
  if (data instanceof Uint8Array) return [data, DT.uint8]
  if (data instanceof Int16Array) return [data, DT.int16]
  if (data instanceof Uint16Array) return [data, DT.uint16]
  if (data instanceof Float32Array) return [data, DT.float32]
  if (data instanceof Float64Array) return [data, DT.float64]
  if (data instanceof Int8Array) return [Int16Array.from(data), DT.int16]
  // NiiVue widens (u)int32 to float64 itself, but its loop stops one voxel short (0.69); widen here.
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return [Float64Array.from(data, Number), DT.float64]
  return [Float64Array.from(data as Int32Array | Uint32Array), DT.float64]
}

/** Interleaved components (ITK) as consecutive volumes (NIfTI's vector layout). */
function planar(data: PixelArray, components: number): PixelArray {
  const voxels = data.length / components
  const out = new (data.constructor as new (n: number) => PixelArray)(data.length)
  for (let c = 0; c < components; c++) for (let v = 0; v < voxels; v++) out[c * voxels + v] = data[v * components + c]!
  return out
}

/** An ArrayBuffer holding exactly `data`'s bytes, as NiiVue views its voxels: the array's own if it can be. */
function ownBuffer(data: PixelArray): ArrayBuffer {
  const { buffer } = data
  if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer
  return data.slice().buffer as ArrayBuffer
}
