// Images derived from images: a pipeline step's output keeps its input's geometry and gets new pixels,
// without the step assembling an itk-wasm Image by hand.
import { UnsupportedValueError } from './errors.js'
import { COMPONENT_ARRAYS, typedArrayName, type ComponentType } from './codec/values.js'
import type { Image, StorableTypedArray } from './types.js'

/** The typed arrays an Image's pixels can be: every storable one but Uint8ClampedArray. */
export type PixelArray = Exclude<StorableTypedArray, Uint8ClampedArray>

const COMPONENT_OF = Object.fromEntries(Object.entries(COMPONENT_ARRAYS).map(([component, array]) => [array, component])) as Record<
  string,
  ComponentType | undefined
>

/** The component type of an Image whose pixels are `data`; undefined for an array an Image cannot hold. */
export function componentTypeOf(data: ArrayBufferView): ComponentType | undefined {
  const name = typedArrayName(data)
  return name ? COMPONENT_OF[name] : undefined
}

/**
 * An Image with `source`'s geometry — size, origin, spacing, direction, name and metadata, copied — and
 * `data` as its pixels (not copied). The component type follows `data`'s array type; `components`
 * (default: the source's) is the number of values per voxel; `pixelType` (default: the source's when the
 * components are as many, else Scalar or VariableLengthVector) says what they mean, 'RGB' for example.
 * @throws {UnsupportedValueError} when `data` is not an array an Image holds, or its length is not the
 *   number of voxels times `components`.
 */
export function deriveImage(
  source: Image,
  data: PixelArray,
  { components = source.imageType.components, pixelType }: { components?: number; pixelType?: Image['imageType']['pixelType'] } = {},
): Image {
  const componentType = componentTypeOf(data)
  if (!componentType) throw new UnsupportedValueError(`an Image's pixels cannot be a ${typedArrayName(data) ?? typeof data}`)
  if (!Number.isSafeInteger(components) || components < 1) throw new UnsupportedValueError(`components must be a positive integer, not ${components}`)
  const voxels = source.size.reduce((n, s) => n * s, 1)
  if (data.length !== voxels * components) {
    throw new UnsupportedValueError(`${data.length} values for ${source.size.join('×')} voxels × ${components} components`)
  }
  pixelType ??= components === source.imageType.components ? source.imageType.pixelType : components === 1 ? 'Scalar' : 'VariableLengthVector'
  return {
    imageType: { dimension: source.imageType.dimension, componentType, pixelType, components },
    name: source.name,
    origin: [...source.origin],
    spacing: [...source.spacing],
    direction: source.direction.slice(),
    size: [...source.size],
    metadata: new Map(source.metadata),
    data,
  }
}

/**
 * `image`'s pixels as the array type the caller expects, checked instead of cast:
 * `for (const v of pixels(image, Uint8Array))`.
 * @throws {UnsupportedValueError} when the Image has no pixels or they are of another type.
 */
export function pixels<T extends PixelArray>(image: Image, type: abstract new (length: number) => T): T {
  const { data } = image
  if (data instanceof type) return data
  throw new UnsupportedValueError(`the Image's pixels are ${data ? (typedArrayName(data) ?? typeof data) : 'missing'}, not ${type.name}`)
}
