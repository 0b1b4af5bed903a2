// Reference values for e2e/decode.spec.ts, worked out in Node from the raw file bytes with code of
// their own (zlib, DataView), independent of worker/decode and of itk-wasm.
import type { Page } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

export const TESTDATA = new URL('../../shared/testdata/', import.meta.url)
export const fixture = (name: string): Buffer => readFileSync(new URL(name, TESTDATA))

// Fixtures reach the page through page.route from disk (or from memory), never through Vite's server:
// it would send *.gz with Content-Encoding: gzip and the browser would inflate them on the way.
export async function serve(page: Page, files: Record<string, Buffer>): Promise<void> {
  await page.route('**/__fixtures/**', async (route) => {
    const name = decodeURIComponent(new URL(route.request().url()).pathname.replace('/__fixtures/', ''))
    const body = files[name]
    await (body ? route.fulfill({ body, contentType: 'application/octet-stream' }) : route.fulfill({ status: 404 }))
  })
}

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

/** Overwrites an explicit-VR element's value in place; the new value must keep its length (and so every offset). */
export function setDicomValue(b: Buffer, group: number, element: number, value: string | Buffer): void {
  const at = dicomTag(b, group, element)
  if (!at) throw new Error(`no element (${group.toString(16)},${element.toString(16)})`)
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value
  if (bytes.length !== at.length) throw new Error(`(${group.toString(16)},${element.toString(16)}) holds ${at.length} bytes, not ${bytes.length}`)
  bytes.copy(at)
}

/**
 * One small int16 volume (4×5×6, value 100z + 10y + x − 37) written twice, as NIfTI-2 and as NIfTI-1,
 * with the same geometry (nifti2.h / nifti1.h layouts): spacing 0.75, 1.25, 2.5; qform and sform
 * (codes 1 and 2) both an axis-aligned RAS transform with offset (−10.5, 20.25, −30.125), so ITK's
 * LPS origin is (10.5, −20.25, −30.125). Every value is exact in float32.
 */
export function niftiPair(): { v1: Buffer; v2: Buffer; ref: Reference } {
  const size = [4, 5, 6]
  const spacing = [0.75, 1.25, 2.5]
  const offset = [-10.5, 20.25, -30.125]
  const vox = Buffer.alloc(size[0]! * size[1]! * size[2]! * 2)
  for (let z = 0, i = 0; z < size[2]!; z++) {
    for (let y = 0; y < size[1]!; y++) for (let x = 0; x < size[0]!; x++, i++) vox.writeInt16LE(100 * z + 10 * y + x - 37, 2 * i)
  }
  const srow = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (r === c ? spacing[r]! : 0)).concat(offset[r]!))

  const h2 = Buffer.alloc(544)
  h2.writeInt32LE(540, 0)
  h2.write('n+2\0\r\n\x1a\n', 4, 'latin1')
  h2.writeInt16LE(4, 12) // datatype int16
  h2.writeInt16LE(16, 14) // bitpix
  ;[3, ...size, 1, 1, 1, 1].forEach((d, i) => h2.writeBigInt64LE(BigInt(d), 16 + 8 * i))
  ;[1, ...spacing, 1, 1, 1, 1].forEach((d, i) => h2.writeDoubleLE(d, 104 + 8 * i))
  h2.writeBigInt64LE(544n, 168) // vox_offset
  h2.writeDoubleLE(1, 176) // scl_slope
  h2.writeInt32LE(1, 344) // qform_code scanner
  h2.writeInt32LE(2, 348) // sform_code aligned
  offset.forEach((v, i) => h2.writeDoubleLE(v, 376 + 8 * i)) // qoffset; quatern b = c = d = 0
  srow.forEach((row, r) => row.forEach((v, c) => h2.writeDoubleLE(v, 400 + 32 * r + 8 * c)))
  h2.writeInt32LE(10, 500) // xyzt_units mm, s

  const h1 = Buffer.alloc(352)
  h1.writeInt32LE(348, 0)
  ;[3, ...size, 1, 1, 1, 1].forEach((d, i) => h1.writeInt16LE(d, 40 + 2 * i))
  h1.writeInt16LE(4, 70)
  h1.writeInt16LE(16, 72)
  ;[1, ...spacing, 1, 1, 1, 1].forEach((d, i) => h1.writeFloatLE(d, 76 + 4 * i))
  h1.writeFloatLE(352, 108)
  h1.writeFloatLE(1, 112)
  h1.writeUInt8(10, 123)
  h1.writeInt16LE(1, 252)
  h1.writeInt16LE(2, 254)
  offset.forEach((v, i) => h1.writeFloatLE(v, 268 + 4 * i))
  srow.forEach((row, r) => row.forEach((v, c) => h1.writeFloatLE(v, 280 + 16 * r + 4 * c)))
  h1.write('n+1\0', 344, 'latin1')

  const count = vox.length / 2
  const ref = { size, spacing, origin: [-offset[0]!, -offset[1]!, offset[2]!], ...voxels(vox, 0, count, 'i16') }
  return { v1: Buffer.concat([h1, vox]), v2: Buffer.concat([h2, vox]), ref }
}

/**
 * Five copies of MR_small.dcm (explicit VR little endian, 64×64 int16, axial) as one series: file k
 * gets its own SOP instance UID, InstanceNumber k + 1, ImagePositionPatient z from Z[k] (the slice
 * normal is +z) and 1000 + k as its first pixel. Every value is edited in place at its own length.
 */
export function mrSeries() {
  const source = fixture('MR_small.dcm')
  const Z = ['15.000', '10.000', '20.000', '12.500', '17.500']
  const files: Record<string, Buffer> = {}
  for (const [k, z] of Z.entries()) {
    const b = Buffer.from(source)
    const uid = `1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.${5460 + k}`
    setDicomValue(b, 0x0002, 0x0003, uid)
    setDicomValue(b, 0x0008, 0x0018, uid)
    setDicomValue(b, 0x0020, 0x0013, `${k + 1} `)
    setDicomValue(b, 0x0020, 0x0032, `-83.9063\\-91.2000\\${z}`)
    dicomTag(b, 0x7fe0, 0x0010)!.writeInt16LE(1000 + k, 0)
    files[`s${k}.dcm`] = b
  }
  const pixels = dicomTag(source, 0x7fe0, 0x0010)!
  const base = { pixel: (i: number) => pixels.readInt16LE(2 * i), sum: voxels(pixels, 0, 64 * 64, 'i16').sum }
  // The files in ascending z.
  const order = [...Z.keys()].sort((a, b) => Number(Z[a]) - Number(Z[b]))
  return { files, order, base }
}
