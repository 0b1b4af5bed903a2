// Reference values for e2e/decode.spec.ts, worked out in Node from the raw file bytes with code of
// their own (zlib, DataView), independent of worker/decode and of itk-wasm.
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

export const TESTDATA = new URL('../../shared/testdata/', import.meta.url)
export const fixture = (name: string): Buffer => readFileSync(new URL(name, TESTDATA))

export interface Reference {
  size: number[]
  spacing?: number[]
  origin?: number[]
  sum: number
  /** [linear index into image.data, value] */
  samples: [number, number][]
  min?: number
  max?: number
}

type Reader = (b: Buffer, at: number) => number
const readers = (le: boolean): Record<string, [number, Reader]> => ({
  u8: [1, (b, at) => b.readUInt8(at)],
  i8: [1, (b, at) => b.readInt8(at)],
  i16: [2, (b, at) => (le ? b.readInt16LE(at) : b.readInt16BE(at))],
  u16: [2, (b, at) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at))],
  f64: [8, (b, at) => (le ? b.readDoubleLE(at) : b.readDoubleBE(at))],
})

/** Sum and samples of `count` values of `type` from `offset`, scaled by slope/intercept. */
export function voxels(b: Buffer, offset: number, count: number, type: string, le = true, slope = 1, inter = 0) {
  const [bytes, read] = readers(le)[type]!
  let sum = 0
  let min = Infinity
  let max = -Infinity
  const values = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const v = read(b, offset + i * bytes) * slope + inter
    values[i] = v
    sum += v
    min = Math.min(min, v)
    max = Math.max(max, v)
  }
  // fixed positions, and the brightest voxel (so a sample is never only background)
  const picks = [0, 1, Math.floor(count / 3), Math.floor(count / 2), count - 7, count - 1, values.indexOf(max)]
  return { sum, samples: picks.map((i) => [i, values[i]!] as [number, number]), min, max }
}

/** NIfTI-1, little or big endian, .nii or .nii.gz. Origin in ITK's LPS from sform (or qform offsets). */
export function niftiReference(file: Buffer): Reference & { slope: number; inter: number; datatype: number } {
  const b = file[0] === 0x1f ? gunzipSync(file) : file
  const le = b.readInt32LE(0) === 348
  const i16 = (at: number) => (le ? b.readInt16LE(at) : b.readInt16BE(at))
  const f32 = (at: number) => (le ? b.readFloatLE(at) : b.readFloatBE(at))
  const ndim = i16(40)
  const size = Array.from({ length: ndim }, (_, i) => i16(42 + 2 * i))
  const datatype = i16(70)
  const type = ({ 2: 'u8', 4: 'i16', 256: 'i8', 512: 'u16', 64: 'f64' } as Record<number, string>)[datatype]!
  const rawSlope = f32(112)
  const slope = rawSlope === 0 ? 1 : rawSlope
  const inter = rawSlope === 0 ? 0 : f32(116)
  const spacing = Array.from({ length: ndim }, (_, i) => f32(80 + 4 * i))
  const sformCode = i16(254)
  const ras = sformCode > 0 ? [f32(280 + 12), f32(280 + 28), f32(280 + 44)] : [f32(268), f32(272), f32(276)]
  const origin = [-ras[0]!, -ras[1]!, ras[2]!]
  const count = size.reduce((a, c) => a * c, 1)
  return { size, spacing, origin, datatype, slope, inter, ...voxels(b, f32(108), count, type, le, slope, inter) }
}

/** A MetaImage header's fields. */
export function metaFields(text: string): Map<string, string> {
  return new Map(text.split(/\r?\n/).filter((l) => l.includes('=')).map((l) => l.split('=').map((s) => s.trim()) as [string, string]))
}

/** First occurrence of an explicit-VR little-endian element's value in a DICOM file. */
export function dicomTag(b: Buffer, group: number, element: number): Buffer | undefined {
  const tag = Buffer.alloc(4)
  tag.writeUInt16LE(group, 0)
  tag.writeUInt16LE(element, 2)
  const at = b.indexOf(tag, 132)
  if (at < 0) return undefined
  const vr = b.toString('latin1', at + 4, at + 6)
  if (['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr)) return b.subarray(at + 12, at + 12 + b.readUInt32LE(at + 8))
  return b.subarray(at + 8, at + 8 + b.readUInt16LE(at + 6))
}
