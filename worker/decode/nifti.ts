// NIfTI-1 / NIfTI-2 / Analyze 7.5 headers, checked before itk-wasm sees the file: it trusts them.
import { UnsupportedFormatError } from '../../src/errors.js'
import { ascii, fail } from './input.js'
import { fmtBytes, voxelBytes } from './limits.js'

/** NIfTI datatype code → bytes per voxel (all components). Codes itk-wasm cannot represent are absent. */
const DATATYPES: Record<number, { bytes: number; name: string }> = {
  2: { bytes: 1, name: 'uint8' },
  4: { bytes: 2, name: 'int16' },
  8: { bytes: 4, name: 'int32' },
  16: { bytes: 4, name: 'float32' },
  32: { bytes: 8, name: 'complex64' },
  64: { bytes: 8, name: 'float64' },
  128: { bytes: 3, name: 'rgb24' },
  256: { bytes: 1, name: 'int8' },
  512: { bytes: 2, name: 'uint16' },
  768: { bytes: 4, name: 'uint32' },
  1024: { bytes: 8, name: 'int64' },
  1280: { bytes: 8, name: 'uint64' },
  1792: { bytes: 16, name: 'complex128' },
  2304: { bytes: 4, name: 'rgba32' },
}

export interface NiftiHeader {
  version: 1 | 2
  /** 'single' is .nii (n+1/n+2); 'pair' is .hdr + .img (ni1/ni2); 'analyze' is a pair without magic. */
  layout: 'single' | 'pair' | 'analyze'
  littleEndian: boolean
  sizes: number[]
  datatype: string
  bytesPerVoxel: number
  voxOffset: number
  voxelBytes: number
}

/**
 * A NIfTI header by its magic: NIfTI-1 (sizeof_hdr 348 and `n+1\0` or `ni1\0` at byte 344) or NIfTI-2
 * (sizeof_hdr 540 and `n+2\0` or `ni2\0` at byte 4), in either byte order; undefined if neither.
 */
export function sniffNifti(head: Uint8Array): { version: 1 | 2; littleEndian: boolean } | undefined {
  if (head.length < 8) return undefined
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  for (const littleEndian of [true, false]) {
    const n = dv.getInt32(0, littleEndian)
    if (n === 348 && head.length >= 348 && /^n[+i]1\0/.test(ascii(head.subarray(344, 348)))) return { version: 1, littleEndian }
    if (n === 540 && head.length >= 540 && /^n[+i]2\0/.test(ascii(head.subarray(4, 8)))) return { version: 2, littleEndian }
  }
  return undefined
}

/**
 * An Analyze 7.5 header: sizeof_hdr 348, in either byte order, and nothing more to go by (it has no
 * magic), so only what no other format claims is taken for one.
 */
export function sniffAnalyze(head: Uint8Array): { littleEndian: boolean } | undefined {
  if (head.length < 348) return undefined
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  for (const littleEndian of [true, false]) if (dv.getInt32(0, littleEndian) === 348) return { littleEndian }
  return undefined
}

/**
 * Parses and checks a NIfTI header. `file` names the file in errors.
 * @throws {DecodeError} when a field is out of range or claims an absurd size.
 * @throws {UnsupportedFormatError} for datatypes itk-wasm does not read.
 */
export function parseNiftiHeader(file: string, head: Uint8Array): NiftiHeader {
  const analyze = sniffAnalyze(head)
  const kind = sniffNifti(head) ?? (analyze && { version: 1 as const, littleEndian: analyze.littleEndian })
  if (!kind) throw fail(file, 'not a NIfTI header (sizeof_hdr is neither 348 nor 540)')
  const { version, littleEndian } = kind
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  let dims: number[]
  let datatype: number
  let bitpix: number
  let voxOffset: number
  let magic: string
  if (version === 1) {
    dims = Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, littleEndian))
    datatype = dv.getInt16(70, littleEndian)
    bitpix = dv.getInt16(72, littleEndian)
    voxOffset = dv.getFloat32(108, littleEndian)
    magic = ascii(head.subarray(344, 348))
  } else {
    dims = Array.from({ length: 8 }, (_, i) => Number(dv.getBigInt64(16 + 8 * i, littleEndian)))
    datatype = dv.getInt16(12, littleEndian)
    bitpix = dv.getInt16(14, littleEndian)
    voxOffset = Number(dv.getBigInt64(168, littleEndian))
    magic = ascii(head.subarray(4, 8))
  }
  const layout = magic.startsWith('n+') ? 'single' : magic.startsWith('ni') ? 'pair' : version === 1 ? 'analyze' : undefined
  if (!layout || (layout !== 'analyze' && magic[2] !== String(version))) {
    throw fail(file, `NIfTI-${version} header has an invalid magic ${JSON.stringify(magic)}`)
  }
  const ndim = dims[0]!
  if (!(ndim >= 1 && ndim <= 7)) throw fail(file, `NIfTI header claims ${ndim} dimensions (dim[0] must be 1 to 7)`)
  const type = DATATYPES[datatype]
  if (!type) {
    throw new UnsupportedFormatError(`${file}: NIfTI datatype ${datatype} is not supported (supported: ${Object.values(DATATYPES).map((t) => t.name).join(', ')})`)
  }
  if (bitpix !== type.bytes * 8) throw fail(file, `NIfTI bitpix ${bitpix} does not match datatype ${type.name}`)
  const sizes = dims.slice(1, ndim + 1)
  const bytes = voxelBytes(file, sizes, type.bytes)
  const minOffset = version === 1 ? 348 : 540
  if (!Number.isFinite(voxOffset) || voxOffset < 0 || (layout === 'single' && voxOffset < minOffset) || voxOffset > 2 ** 31) {
    throw fail(file, `NIfTI vox_offset ${voxOffset} is invalid`)
  }
  return {
    version,
    layout,
    littleEndian,
    sizes,
    datatype: type.name,
    bytesPerVoxel: type.bytes,
    voxOffset: Math.floor(voxOffset),
    voxelBytes: bytes,
  }
}

/** Bytes the file holding the voxels (the .nii itself, or the .img of a pair) must have. */
export function niftiExtent(h: NiftiHeader): number {
  return h.voxOffset + h.voxelBytes
}

/** @throws {DecodeError} when `available` bytes cannot hold the voxels the header describes. */
export function checkVoxelsPresent(file: string, needed: number, available: number, what = 'voxel data'): void {
  if (available < needed) {
    throw fail(file, `${what} is truncated: the header describes ${fmtBytes(needed)} but the file has ${fmtBytes(available)}`)
  }
}
