// What a value is, in terms a record can describe: its data type, its raw bytes, and for images the
// geometry. Used on the main thread (to find the buffer to transfer) and in the worker (to encode).
import type { Image, JsonValue, StorableTypedArray, Value } from '../types.js'
import { UnsupportedValueError } from '../errors.js'
import { jsonProblem } from '../json-check.js'

export const TYPED_ARRAYS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const
export type TypedArrayName = keyof typeof TYPED_ARRAYS

/** itk-wasm component types and the typed array each one is stored in. */
export const COMPONENT_ARRAYS = {
  int8: 'Int8Array',
  uint8: 'Uint8Array',
  int16: 'Int16Array',
  uint16: 'Uint16Array',
  int32: 'Int32Array',
  uint32: 'Uint32Array',
  int64: 'BigInt64Array',
  uint64: 'BigUint64Array',
  float32: 'Float32Array',
  float64: 'Float64Array',
} as const satisfies Record<string, TypedArrayName>
export type ComponentType = keyof typeof COMPONENT_ARRAYS

export const PIXEL_TYPES = [
  'Unknown', 'Scalar', 'RGB', 'RGBA', 'Offset', 'Vector', 'Point', 'CovariantVector',
  'SymmetricSecondRankTensor', 'DiffusionTensor3D', 'Complex', 'FixedArray', 'Array', 'Matrix',
  'VariableLengthVector', 'VariableSizeMatrix',
] as const

export const DATA_TYPES = ['Image', 'json', 'ArrayBuffer', ...Object.keys(TYPED_ARRAYS)] as readonly string[]

/** An image's description without its pixels, as kept in a record header (plain JSON). */
export interface ImageHeader {
  imageType: { dimension: number; componentType: ComponentType; pixelType: string; components: number }
  name: string
  origin: number[]
  spacing: number[]
  direction: number[]
  size: number[]
  metadata: [string, JsonValue][]
}

export type Classified =
  | { dataType: 'json'; json: JsonValue }
  | { dataType: 'ArrayBuffer'; bytes: Uint8Array }
  | { dataType: TypedArrayName; bytes: Uint8Array; array: StorableTypedArray }
  | { dataType: 'Image'; bytes: Uint8Array; array: StorableTypedArray; image: ImageHeader }

export function typedArrayName(value: ArrayBufferView): TypedArrayName | undefined {
  for (const [name, ctor] of Object.entries(TYPED_ARRAYS)) {
    if (Object.getPrototypeOf(value) === ctor.prototype) return name as TypedArrayName
  }
  return undefined
}

/** Looks like an itk-wasm Image (class instance or the plain object that crosses a worker boundary). */
export function isImage(value: unknown): value is Image {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Partial<Image>
  return typeof v.imageType === 'object' && v.imageType !== null && Array.isArray(v.size) && 'data' in v
}

/**
 * Keys a record header may not hold, refused at store time as the decoder refuses them: they are how
 * a naive deep merge of the metadata would reach Object.prototype.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

const VALUE_HINT = () => 'store images, typed arrays, ArrayBuffers or plain JSON'

/**
 * @param inHeader the value goes into a record header (metadata): RESERVED_KEYS are refused too.
 * @throws {UnsupportedValueError} naming the first part of `value` that is not plain JSON.
 */
export function assertJsonValue(value: unknown, path = 'value', inHeader = false): asserts value is JsonValue {
  const problem = jsonProblem(value, path, { hint: VALUE_HINT, reservedKeys: inHeader ? RESERVED_KEYS : undefined })
  if (problem) throw new UnsupportedValueError(problem)
}

/** A whole, safe, non-negative number: a size or a count. */
export const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
const isFiniteList = (v: unknown, length: number) =>
  Array.isArray(v) && v.length === length && v.every((n) => typeof n === 'number' && Number.isFinite(n))

/**
 * Why `image` is not an image header a record may hold, or undefined when it is: the one check of an
 * image's description, made by the encoder on what it is given and by the decoder on what it reads,
 * so that what is stored is always what is read back. With `rawLength`, the size must account for it.
 */
export function imageHeaderProblem(image: unknown, rawLength?: number): string | undefined {
  if (typeof image !== 'object' || image === null || Array.isArray(image)) return 'image header is not an object'
  const im = image as Record<string, unknown>
  const t = im.imageType as Record<string, unknown> | null
  if (typeof t !== 'object' || t === null) return 'imageType missing'
  const d = t.dimension
  if (!Number.isInteger(d) || (d as number) < 1 || (d as number) > 16) return `image dimension ${String(d)} is not an integer from 1 to 16`
  if (typeof t.componentType !== 'string' || !Object.hasOwn(COMPONENT_ARRAYS, t.componentType)) {
    return `image componentType ${String(t.componentType)} is not supported`
  }
  if (!(PIXEL_TYPES as readonly unknown[]).includes(t.pixelType)) return `image pixelType ${String(t.pixelType)} is not supported`
  if (!Number.isInteger(t.components) || (t.components as number) < 1) return `image components ${String(t.components)} is not a positive integer`
  if (typeof im.name !== 'string') return 'image name is not a string'
  const n = d as number
  if (!isFiniteList(im.size, n) || !(im.size as number[]).every(isCount)) return `image size must be ${n} whole numbers`
  for (const [what, length] of [['origin', n], ['spacing', n], ['direction', n * n]] as const) {
    if (!isFiniteList(im[what], length)) return `image ${what} must be ${length} finite numbers`
  }
  const md = im.metadata
  if (!Array.isArray(md) || !md.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')) {
    return 'image metadata must be [key, value] pairs with string keys'
  }
  for (const [key, value] of md as [string, unknown][]) {
    const problem = jsonProblem(value, `image metadata ${key}`, { reservedKeys: RESERVED_KEYS })
    if (problem) return problem
  }
  if (rawLength === undefined) return undefined
  const perVoxel = (t.components as number) * TYPED_ARRAYS[COMPONENT_ARRAYS[t.componentType as ComponentType]].BYTES_PER_ELEMENT
  const expected = (im.size as number[]).reduce((a, b) => a * b, 1) * perVoxel
  return expected === rawLength ? undefined : `image size says ${expected} bytes, record holds ${rawLength}`
}

/** The bytes a typed array views, without copying. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
}

/** Plain lists out of whatever array-likes an itk-wasm Image holds (Float64Array directions, …). */
const list = (v: unknown): unknown => (v !== null && typeof v === 'object' && 'length' in v ? Array.from(v as ArrayLike<unknown>) : v)

function describeImage(image: Image): { header: ImageHeader; array: StorableTypedArray } {
  const t = (image.imageType ?? {}) as Partial<Image['imageType']>
  const metadata: [unknown, unknown][] = image.metadata instanceof Map ? [...image.metadata] : []
  const candidate = {
    imageType: { dimension: t.dimension, componentType: t.componentType, pixelType: t.pixelType, components: t.components },
    name: typeof image.name === 'string' ? image.name : '',
    origin: list(image.origin),
    spacing: list(image.spacing),
    direction: list(image.direction),
    size: list(image.size),
    metadata,
  }
  const problem = imageHeaderProblem(candidate)
  if (problem) throw new UnsupportedValueError(problem)
  const header = candidate as unknown as ImageHeader
  const arrayName = COMPONENT_ARRAYS[header.imageType.componentType]
  const data = image.data
  if (!data || !ArrayBuffer.isView(data) || typedArrayName(data) !== arrayName) {
    throw new UnsupportedValueError(`image data must be a ${arrayName} for componentType ${header.imageType.componentType}`)
  }
  const expected = header.size.reduce((a, b) => a * b, 1) * header.imageType.components
  if (data.length !== expected) {
    throw new UnsupportedValueError(`image data has ${data.length} components; size × components is ${expected}`)
  }
  return { header, array: data as StorableTypedArray }
}

/**
 * Sorts a value into what a record stores. Views the caller's bytes; copies nothing.
 * @throws {UnsupportedValueError} for undefined, functions, class instances, NaN and the like.
 */
export function classify(value: Value): Classified {
  if (value instanceof ArrayBuffer) return { dataType: 'ArrayBuffer', bytes: new Uint8Array(value) }
  if (ArrayBuffer.isView(value)) {
    const name = typedArrayName(value)
    if (!name) throw new UnsupportedValueError(`${value.constructor.name} is not stored; use a typed array`)
    return { dataType: name, bytes: bytesOf(value), array: value as StorableTypedArray }
  }
  if (isImage(value)) {
    const { header, array } = describeImage(value)
    return { dataType: 'Image', bytes: bytesOf(array), array, image: header }
  }
  if (value === undefined) throw new UnsupportedValueError('undefined is not stored; store null for "no result"')
  assertJsonValue(value)
  return { dataType: 'json', json: value }
}

/** Rebuilds a value from its data type, header and raw bytes. `raw` must own its buffer for typed data. */
export function reconstruct(dataType: string, raw: Uint8Array, image?: ImageHeader): Value {
  if (dataType === 'json') return JSON.parse(new TextDecoder().decode(raw)) as JsonValue
  if (dataType === 'ArrayBuffer') return sliceOwned(raw)
  const arrayName = dataType === 'Image' ? COMPONENT_ARRAYS[image!.imageType.componentType] : (dataType as TypedArrayName)
  const Ctor = TYPED_ARRAYS[arrayName]
  const array = new Ctor(sliceOwned(raw), 0, raw.byteLength / Ctor.BYTES_PER_ELEMENT) as StorableTypedArray
  if (dataType !== 'Image') return array
  return { ...imageInfoOf(image!), data: array as Image['data'] }
}

/** An image's description as the public types have it (direction a Float64Array, metadata a Map), without pixels. */
export function imageInfoOf(h: ImageHeader): Omit<Image, 'data'> {
  return {
    imageType: { ...h.imageType } as Image['imageType'],
    name: h.name,
    origin: [...h.origin],
    spacing: [...h.spacing],
    direction: new Float64Array(h.direction) as Image['direction'],
    size: [...h.size],
    metadata: new Map(h.metadata) as Image['metadata'],
  }
}

/** An ArrayBuffer holding exactly these bytes: the view's own buffer when it spans it, else a copy. */
function sliceOwned(raw: Uint8Array): ArrayBuffer {
  if (raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer) {
    return raw.buffer
  }
  return raw.slice().buffer as ArrayBuffer
}

/**
 * The description of a value sent ahead of its bytes (a store in pieces): a data type with bytes, a
 * whole raw length of whole elements, and for an image a header that says that many bytes.
 * @throws {UnsupportedValueError}
 */
export function checkShape(shape: { dataType: unknown; rawLength: unknown; image?: unknown }): void {
  const { dataType, rawLength } = shape ?? {}
  if (typeof dataType !== 'string' || dataType === 'json' || !DATA_TYPES.includes(dataType)) throw new UnsupportedValueError(`a store in pieces is of bytes, not ${String(dataType)}`)
  if (!isCount(rawLength)) throw new UnsupportedValueError('a store in pieces needs its raw length')
  if (dataType === 'Image') {
    const problem = imageHeaderProblem(shape.image, rawLength)
    if (problem) throw new UnsupportedValueError(problem)
  } else if (shape.image !== undefined) {
    throw new UnsupportedValueError('an image header on a value that is not an image')
  } else if (dataType !== 'ArrayBuffer' && rawLength % TYPED_ARRAYS[dataType as TypedArrayName].BYTES_PER_ELEMENT !== 0) {
    throw new UnsupportedValueError(`${rawLength} bytes are not whole ${dataType} elements`)
  }
}
