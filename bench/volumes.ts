// Synthetic head phantoms with the structure of real scans (skull shell, tissue texture, ventricles,
// noise), so that compression and copies see realistic bytes rather than zeros.
import type { Image } from '../src/index.js'

export type VolumeKind = 'u8' | 'f32'

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 4294967296
  }
}

/** An MRI-like uint8 or CT-like float32 head of n³ voxels. */
export function phantom(n: number, kind: VolumeKind): Image {
  const data = kind === 'u8' ? new Uint8Array(n * n * n) : new Float32Array(n * n * n)
  const rand = xorshift(0x9e3779b9 ^ n)
  const c = (n - 1) / 2
  const a = [0.42 * n, 0.48 * n, 0.4 * n]
  // Separable texture, so the inner loop calls no trig functions.
  const tx = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.21) + 0.5 * Math.sin(i * 0.047))
  const ty = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.17) + 0.5 * Math.cos(i * 0.061))
  const tz = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.13 + 1) + 0.5 * Math.sin(i * 0.029))
  let at = 0
  for (let z = 0; z < n; z++) {
    const dz = (z - c) / a[2]!
    for (let y = 0; y < n; y++) {
      const dy = (y - c) / a[1]!
      for (let x = 0; x < n; x++, at++) {
        const dx = (x - c) / a[0]!
        const r = dx * dx + dy * dy + dz * dz
        const noise = rand() - 0.5
        let v: number
        if (r > 1) {
          v = kind === 'u8' ? (noise > 0.45 ? 3 : 0) : -1000 + noise * 40
        } else if (r > 0.8) {
          v = kind === 'u8' ? 190 + noise * 30 : 1100 + noise * 200
        } else {
          const ventricle = (dx * dx) / 0.04 + (dy * dy) / 0.12 + (dz * dz) / 0.05 < 1
          const texture = tx[x]! * ty[y]! * tz[z]!
          v = ventricle
            ? kind === 'u8' ? 25 + noise * 10 : 5 + noise * 8
            : kind === 'u8' ? 100 + 35 * texture + noise * 14 : 35 + 8 * texture + noise * 12
        }
        data[at] = v
      }
    }
  }
  return imageOf(data, [n, n, n], [1, 1, 1], `phantom ${n}³ ${kind}`)
}

export function imageOf(data: Uint8Array | Float32Array, size: number[], spacing: number[], name: string): Image {
  return {
    imageType: {
      dimension: 3,
      componentType: data instanceof Uint8Array ? 'uint8' : 'float32',
      pixelType: 'Scalar',
      components: 1,
    },
    name,
    origin: [0, 0, 0],
    spacing,
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    size,
    metadata: new Map(),
    data,
  } as unknown as Image
}

/** A copy of an image with a pixel buffer of its own (store() transfers and detaches the buffer). */
export function copyImage(image: Image): Image {
  return { ...image, data: (image.data as Uint8Array).slice() } as Image
}

/** A small JSON value of about `chars` characters, different for each `i` (the layout section's entries). */
export function smallValue(i: number, chars: number): { i: number; label: string } {
  return { i, label: `entry ${i} `.padEnd(chars, 'x') }
}
