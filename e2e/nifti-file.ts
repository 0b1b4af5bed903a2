// NIfTI-1 files written in the test process, with the geometry a spec asks for: an oblique qform (from a
// quaternion) and an sform that agree, or that disagree on purpose. The spec then compares readers.

/** NIfTI's rotation for quaternion (b, c, d); a = sqrt(1 - b² - c² - d²). Row-major 3×3. */
export function quaternRotation(b: number, c: number, d: number): number[][] {
  const a = Math.sqrt(Math.max(0, 1 - b * b - c * c - d * d))
  return [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ]
}

export interface QForm {
  code: number
  quatern: [number, number, number]
  /** ±1: the sign of the third column (pixdim[0]). */
  qfac: 1 | -1
  offset: [number, number, number]
}

/** The 3×4 affine a qform means, as NIfTI defines it: R · diag(pixdim) · diag(1, 1, qfac) + offset. */
export function qformRows(q: QForm, pixdim: number[]): number[][] {
  const R = quaternRotation(...q.quatern)
  return [0, 1, 2].map((r) => [0, 1, 2].map((c) => R[r]![c]! * pixdim[c]! * (c === 2 ? q.qfac : 1)).concat(q.offset[r]!))
}

const DATATYPE = { uint8: [2, 8], int16: [4, 16], float32: [16, 32] } as const

export interface NiftiSpec {
  /** x, y, z and optionally t. */
  dims: number[]
  /** Voxel sizes for each of dims. */
  pixdim: number[]
  datatype: keyof typeof DATATYPE
  data: Uint8Array | Int16Array | Float32Array
  qform?: QForm
  sform?: { code: number; rows: number[][] }
}

/** A single-file NIfTI-1 (.nii), little-endian, no extensions. */
export function niftiFile(spec: NiftiSpec): Buffer {
  const h = Buffer.alloc(352)
  h.writeInt32LE(348, 0)
  ;[spec.dims.length, ...spec.dims, 1, 1, 1, 1, 1, 1, 1].slice(0, 8).forEach((d, i) => h.writeInt16LE(d, 40 + 2 * i))
  const [code, bits] = DATATYPE[spec.datatype]
  h.writeInt16LE(code, 70)
  h.writeInt16LE(bits, 72)
  ;[spec.qform?.qfac ?? 1, ...spec.pixdim, 1, 1, 1, 1, 1, 1, 1].slice(0, 8).forEach((d, i) => h.writeFloatLE(d, 76 + 4 * i))
  h.writeFloatLE(352, 108) // vox_offset
  h.writeFloatLE(1, 112) // scl_slope
  h.writeUInt8(10, 123) // xyzt_units: mm, s
  if (spec.qform) {
    h.writeInt16LE(spec.qform.code, 252)
    spec.qform.quatern.forEach((v, i) => h.writeFloatLE(v, 256 + 4 * i))
    spec.qform.offset.forEach((v, i) => h.writeFloatLE(v, 268 + 4 * i))
  }
  if (spec.sform) {
    h.writeInt16LE(spec.sform.code, 254)
    spec.sform.rows.forEach((row, r) => row.forEach((v, c) => h.writeFloatLE(v, 280 + 16 * r + 4 * c)))
  }
  h.write('n+1\0', 344, 'latin1')
  return Buffer.concat([h, Buffer.from(spec.data.buffer, spec.data.byteOffset, spec.data.byteLength)])
}
