// Images as the viewer sees them: always 3-D, scalar, with their geometry and intensity range at hand.
import type { Image, ImageInfo } from 'voxcache'
import { intensityStats, type Scalars, type Size3 } from './volume-math.js'

export interface Volume {
  image: Image
  data: Scalars
  size: Size3
  spacing: Size3
  origin: Size3
  /** Row-major 3×3: column j is the world (LPS) direction of index axis j. */
  direction: number[]
  range: { min: number; max: number; p1: number; p99: number }
}

/** Wraps a decoded or cached image; 2-D images become one-slice volumes. @throws {Error} on vector or 4-D+ images */
export function toVolume(image: Image, options: { statsOf?: Scalars } = {}): Volume {
  const dim = image.imageType.dimension
  if (image.imageType.components !== 1) throw new Error(`the viewer shows scalar images; this one has ${image.imageType.components} components per pixel`)
  if (dim < 2 || dim > 4 || !image.data) throw new Error(`the viewer shows 2-D and 3-D images; this one has ${dim} dimensions`)
  const pad = (v: number[], fill: number): Size3 => [v[0] ?? fill, v[1] ?? fill, v[2] ?? fill]
  const size = pad(image.size, 1)
  const count = size[0] * size[1] * size[2]
  // A 4-D series shows its first volume.
  const data = dim === 4 ? (image.data as unknown as { subarray(a: number, b: number): Scalars }).subarray(0, count) : (image.data as Scalars)
  const direction = [1, 0, 0, 0, 1, 0, 0, 0, 1]
  const d = Array.from(image.direction as ArrayLike<number>)
  for (let r = 0; r < Math.min(dim, 3); r++) for (let c = 0; c < Math.min(dim, 3); c++) direction[r * 3 + c] = d[r * dim + c] ?? direction[r * 3 + c]!
  return { image, data, size, spacing: pad(image.spacing, 1), origin: pad(image.origin, 0), direction, range: intensityStats(options.statsOf ?? data) }
}

/**
 * A volume of which only some of three slices are known (axial at the middle z, coronal at the middle
 * y, sagittal at the middle x, as region reads return them), the rest zero: the first picture of a
 * large image, drawn before the whole has been read. Its intensity range comes from the known slices.
 */
export function previewVolume(info: ImageInfo, [axial, coronal, sagittal]: (Image | undefined)[]): Volume {
  const [nx, ny, nz] = info.size as Size3
  const [cx, cy, cz] = [nx >> 1, ny >> 1, nz >> 1]
  // Any numeric typed array (the viewer shows scalar images), written through one type.
  type Typed = Float64Array
  const [a, c, s] = [axial, coronal, sagittal].map((slice) => slice?.data as unknown as Typed | undefined)
  const known = [a, c, s].filter((x): x is Typed => x !== undefined)
  const make = (n: number) => new (known[0]!.constructor as new (n: number) => Typed)(n)
  const data = make(nx * ny * nz)
  if (a) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) data[x + nx * (y + ny * cz)] = a[x + nx * y]!
  if (c) for (let z = 0; z < nz; z++) for (let x = 0; x < nx; x++) data[x + nx * (cy + ny * z)] = c[x + nx * z]!
  if (s) for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) data[cx + nx * (y + ny * z)] = s[y + ny * z]!
  const values = make(known.reduce((n, x) => n + x.length, 0))
  let at = 0
  for (const x of known) {
    values.set(x, at)
    at += x.length
  }
  return toVolume({ ...info, data: data as unknown as Image['data'] }, { statsOf: values })
}

type ComponentType = Image['imageType']['componentType']

/** An image with `like`'s geometry (or the given one) and new pixels. */
export function imageLike(
  like: Volume,
  data: Float32Array | Uint8Array | Int16Array,
  name: string,
  geometry: { size: Size3; spacing: Size3; origin: Size3 } = like,
): Image {
  const componentType = (data instanceof Float32Array ? 'float32' : data instanceof Uint8Array ? 'uint8' : 'int16') as ComponentType
  return {
    imageType: { dimension: 3, componentType, pixelType: 'Scalar', components: 1 } as Image['imageType'],
    name,
    origin: [...geometry.origin],
    spacing: [...geometry.spacing],
    direction: new Float64Array(like.direction) as Image['direction'],
    size: [...geometry.size],
    metadata: new Map() as Image['metadata'],
    data: data as Image['data'],
  }
}

/**
 * A synthetic head-like phantom (int16, 1 mm, LPS): a skull shell, brain, two ventricles and a bright
 * lesion. Used when no file has been opened yet, and by tests that must not depend on a decoder.
 */
export function makePhantom(n = 96): Image {
  const data = new Int16Array(n * n * n)
  const c = (n - 1) / 2
  const r = n * 0.42
  let i = 0
  for (let z = 0; z < n; z++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++, i++) {
        const dx = (x - c) / r
        const dy = (y - c) / (r * 1.15)
        const dz = (z - c) / (r * 0.95)
        const e = Math.hypot(dx, dy, dz)
        let v = 0
        if (e < 1) v = e > 0.9 ? 900 : 420 + Math.round(60 * Math.sin(x * 0.35) * Math.cos(y * 0.3))
        const vent = Math.hypot((Math.abs(x - c) - n * 0.08) / (n * 0.05), (y - c) / (n * 0.16), (z - c - n * 0.05) / (n * 0.08))
        if (vent < 1) v = 120
        if (Math.hypot(x - c - n * 0.18, y - c + n * 0.12, z - c - n * 0.12) < n * 0.06) v = 1000
        data[i] = v + ((x * 7 + y * 13 + z * 29) % 23) - 11 // deterministic texture, no Math.random
      }
    }
  }
  return {
    imageType: { dimension: 3, componentType: 'int16', pixelType: 'Scalar', components: 1 } as Image['imageType'],
    name: `phantom-${n}`,
    origin: [0, 0, 0],
    spacing: [1, 1, 1],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]) as Image['direction'],
    size: [n, n, n],
    metadata: new Map() as Image['metadata'],
    data: data as Image['data'],
  }
}

export type ViewName = 'axial' | 'coronal' | 'sagittal'

/** Which index axis runs across (h) and down (v) the screen, which one is sliced, and whether h/v are flipped. */
export type Axis = 0 | 1 | 2

export interface ViewAxes {
  h: Axis
  v: Axis
  slice: Axis
  flipH: boolean
  flipV: boolean
  /** Patient directions at the left, right, top and bottom edges. */
  labels: [string, string, string, string]
}

const WORLD_NAMES = [['R', 'L'], ['A', 'P'], ['I', 'S']] as const

/**
 * Radiological convention in LPS: axial shows L on the screen's right and P at the bottom; coronal L on
 * the right and S on top; sagittal P on the right and S on top. Each index axis goes to the world axis
 * its direction column is closest to, so oblique and flipped acquisitions still come out upright.
 */
export function viewAxes(volume: Volume, view: ViewName): ViewAxes {
  const worldOf = [0, 1, 2].map((j) => {
    const col = [0, 1, 2].map((r) => volume.direction[r * 3 + j]!)
    const w = col.reduce((best, v, k) => (Math.abs(v) > Math.abs(col[best]!) ? k : best), 0)
    return { w, sign: Math.sign(col[w]!) || 1 }
  })
  const indexFor = (world: Axis): Axis => {
    const j = worldOf.findIndex((a) => a.w === world)
    return (j >= 0 ? j : world) as Axis // a degenerate direction falls back to identity
  }
  // [world axis across, screen-right is +world?, world axis down, screen-down is +world?]
  const plan = { axial: [0, true, 1, true], coronal: [0, true, 2, false], sagittal: [1, true, 2, false] } as const
  const [wh, hPlus, wv, vPlus] = plan[view]
  const h = indexFor(wh)
  const v = indexFor(wv)
  const slice = (3 - h - v) as Axis
  const flipH = (worldOf[h]!.sign > 0) !== hPlus
  const flipV = (worldOf[v]!.sign > 0) !== vPlus
  const name = (w: number, plus: boolean): string => WORLD_NAMES[w]![plus ? 1 : 0]!
  return { h, v, slice, flipH, flipV, labels: [name(wh, !hPlus), name(wh, hPlus), name(wv, !vPlus), name(wv, vPlus)] }
}

/** World (LPS, mm) position of a voxel index. */
export function indexToWorld(volume: Volume, index: Size3): Size3 {
  const p = [0, 1, 2].map((j) => index[j]! * volume.spacing[j]!)
  return [0, 1, 2].map((r) => volume.origin[r]! + [0, 1, 2].reduce((acc, j) => acc + volume.direction[r * 3 + j]! * p[j]!, 0)) as Size3
}
