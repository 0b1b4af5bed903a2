// The demo pipeline's arithmetic, on plain arrays: pure, so it runs in the pipeline worker and in Vitest.
// Volumes are x-fastest: index = x + nx * (y + ny * z).

export type Size3 = [number, number, number]
export type Progress = (fraction: number) => void
export type Scalars = ArrayLike<number>

const noProgress: Progress = () => undefined

/** Separable Gaussian blur with sigma in millimetres per axis; a sigma under a tenth of a voxel skips that axis. */
export function gaussianSmooth(input: Scalars, size: Size3, spacing: Size3, sigmaMm: number, progress = noProgress): Float32Array {
  let current = Float32Array.from(input)
  let scratch = new Float32Array(current.length)
  for (let axis = 0; axis < 3; axis++) {
    const sigma = sigmaMm / spacing[axis]!
    if (sigma >= 0.1 && size[axis]! > 1) {
      blurAxis(current, scratch, size, axis, kernel(sigma), (f) => progress((axis + f) / 3))
      ;[current, scratch] = [scratch, current]
    }
    progress((axis + 1) / 3)
  }
  return current
}

function kernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma))
  const k = new Float32Array(2 * radius + 1)
  let sum = 0
  for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp((-i * i) / (2 * sigma * sigma))
  for (let i = 0; i < k.length; i++) k[i]! /= sum
  return k
}

function blurAxis(src: Float32Array, dst: Float32Array, size: Size3, axis: number, k: Float32Array, progress: Progress): void {
  const [nx, ny, nz] = size
  const n = size[axis]!
  const stride = axis === 0 ? 1 : axis === 1 ? nx : nx * ny
  const radius = (k.length - 1) / 2
  const line = new Float32Array(n)
  // The lines along `axis` are indexed by the other two coordinates.
  const [outer, inner] = axis === 0 ? [nz, ny] : axis === 1 ? [nz, nx] : [ny, nx]
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const start = axis === 0 ? nx * (b + ny * a) : axis === 1 ? b + nx * ny * a : b + nx * a
      for (let i = 0; i < n; i++) line[i] = src[start + i * stride]!
      for (let i = 0; i < n; i++) {
        let acc = 0
        for (let j = -radius; j <= radius; j++) {
          const at = Math.min(n - 1, Math.max(0, i + j)) // replicate the edge
          acc += k[j + radius]! * line[at]!
        }
        dst[start + i * stride] = acc
      }
    }
    if (a % 16 === 0) progress(a / outer)
  }
}

/** 1 where low ≤ value ≤ high, else 0. */
export function thresholdMask(input: Scalars, low: number, high = Infinity): Uint8Array {
  const mask = new Uint8Array(input.length)
  for (let i = 0; i < input.length; i++) {
    const v = input[i]!
    mask[i] = v >= low && v <= high ? 1 : 0
  }
  return mask
}

/**
 * 6-connected components of a mask, labelled 1, 2, … from the largest down; components smaller than
 * `minVoxels` and those beyond `keep` become background.
 */
export function connectedComponents(mask: Scalars, size: Size3, minVoxels = 1, keep = 255, progress = noProgress): Uint8Array {
  const [nx, ny, nz] = size
  const plane = nx * ny
  const raw = new Int32Array(mask.length) // provisional labels, 0 = background
  const stack = new Int32Array(mask.length)
  const sizes: number[] = [0]
  for (let seed = 0; seed < mask.length; seed++) {
    if (!mask[seed] || raw[seed]) continue
    const label = sizes.length
    let top = 0
    let count = 0
    stack[top++] = seed
    raw[seed] = label
    while (top > 0) {
      const i = stack[--top]!
      count++
      const x = i % nx
      const y = ((i - x) / nx) % ny
      const z = Math.floor(i / plane)
      if (x > 0) top = visit(i - 1, top)
      if (x < nx - 1) top = visit(i + 1, top)
      if (y > 0) top = visit(i - nx, top)
      if (y < ny - 1) top = visit(i + nx, top)
      if (z > 0) top = visit(i - plane, top)
      if (z < nz - 1) top = visit(i + plane, top)
    }
    sizes.push(count)
    if (label % 64 === 0) progress(seed / mask.length)
    function visit(j: number, t: number): number {
      if (mask[j] && !raw[j]) {
        raw[j] = label
        stack[t++] = j
      }
      return t
    }
  }
  // Relabel by decreasing size so label 1 is always the largest component.
  const order = sizes.map((s, label) => ({ s, label })).slice(1).sort((a, b) => b.s - a.s || a.label - b.label)
  const final = new Uint8Array(sizes.length)
  order.forEach(({ s, label }, rank) => {
    if (s >= minVoxels && rank < Math.min(keep, 255)) final[label] = rank + 1
  })
  const out = new Uint8Array(mask.length)
  for (let i = 0; i < raw.length; i++) out[i] = final[raw[i]!]!
  progress(1)
  return out
}

/** Block mean over factor³ voxels (partial blocks at the far edges average what they have). */
export function downsampleMean(input: Scalars, size: Size3, factor: number, progress = noProgress): { data: Float32Array; size: Size3 } {
  const [nx, ny, nz] = size
  const out: Size3 = [Math.ceil(nx / factor), Math.ceil(ny / factor), Math.ceil(nz / factor)]
  const sum = new Float64Array(out[0] * out[1] * out[2])
  const count = new Uint32Array(sum.length)
  for (let z = 0; z < nz; z++) {
    const oz = Math.floor(z / factor)
    for (let y = 0; y < ny; y++) {
      const row = out[0] * (Math.floor(y / factor) + out[1] * oz)
      const base = nx * (y + ny * z)
      for (let x = 0; x < nx; x++) {
        const o = row + Math.floor(x / factor)
        sum[o]! += input[base + x]!
        count[o]!++
      }
    }
    if (z % 16 === 0) progress(z / nz)
  }
  const data = new Float32Array(sum.length)
  for (let i = 0; i < data.length; i++) data[i] = sum[i]! / count[i]!
  progress(1)
  return { data, size: out }
}

/**
 * Value range and the 1st and 99th percentiles, from a 1024-bin histogram. When one value fills more
 * than a fifth of the image (the background of a skull-stripped brain, air around a CT) the
 * percentiles leave it out, so the window fits the tissue rather than the empty space.
 */
export function intensityStats(input: Scalars): { min: number; max: number; p1: number; p99: number } {
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < input.length; i++) {
    const v = input[i]!
    if (v < min) min = v
    if (v > max) max = v
  }
  if (!Number.isFinite(min)) return { min: 0, max: 0, p1: 0, p99: 0 }
  const bins = new Uint32Array(1024)
  const scale = max > min ? (bins.length - 1) / (max - min) : 0
  for (let i = 0; i < input.length; i++) bins[Math.floor((input[i]! - min) * scale)]!++
  const background = bins.indexOf(Math.max(...bins))
  const skip = bins[background]! > input.length / 5 && bins[background]! < input.length ? background : -1
  const counted = input.length - (skip >= 0 ? bins[skip]! : 0)
  const at = (q: number): number => {
    let seen = 0
    for (let b = 0; b < bins.length; b++) {
      if (b !== skip) seen += bins[b]!
      if (seen > 0 && seen >= q * counted) return min + b / (scale || 1)
    }
    return max
  }
  return { min, max, p1: at(0.01), p99: at(0.99) }
}
