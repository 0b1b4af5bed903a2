// DICOM test files made from real ones at test time, for worker/decode's unit tests and
// e2e/decode.spec.ts: preambles full of other formats' headers, data sets stripped of preamble and
// file meta (ACR-NEMA style), and a series written from a real volume. Plain Uint8Array and DataView, so
// that the benchmark page can build series with it too.

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))

/**
 * Preambles real DICOM files could carry (the 128 bytes before 'DICM' are free-form: TIFF headers of
 * dual-personality files, leftovers of other formats), each a header or magic number that another
 * reader looks for at the start of a file. `nifti1` is a NIfTI-1 header's first 128 bytes (its magic,
 * at byte 344, is past the preamble: see `withNiftiMagicAt344`).
 */
export function preambles(nifti1: Uint8Array): Record<string, Uint8Array> {
  const pad = (bytes: Uint8Array) => {
    const out = new Uint8Array(128)
    out.set(bytes.subarray(0, 128))
    return out
  }
  const be348 = new Uint8Array(128)
  new DataView(be348.buffer).setInt32(0, 348, false)
  // NIfTI-2's start: sizeof_hdr 540, its 8-byte magic, datatype int16, bitpix 16, dim[0] 3.
  const nifti2 = new Uint8Array(128)
  const dv2 = new DataView(nifti2.buffer)
  dv2.setInt32(0, 540, true)
  nifti2.set(latin1('n+2\0\r\n\x1a\n'), 4)
  dv2.setInt16(12, 4, true)
  dv2.setInt16(14, 16, true)
  dv2.setBigInt64(16, 3n, true)
  // A CBOR map (0xa6: 6 pairs) whose first key is "imageType", as itk-wasm's .iwi.cbor starts.
  const cbor = Uint8Array.from([0xa6, 0x69, ...latin1('imageType'), 0xa4])
  return {
    'NIfTI-1 header (sizeof_hdr 348, little endian)': pad(nifti1),
    'sizeof_hdr 348, big endian (Analyze 7.5)': be348,
    'NIfTI-2 header (sizeof_hdr 540, n+2 magic)': nifti2,
    NRRD: pad(latin1('NRRD0004\ntype: short\ndimension: 2\nsizes: 64 64\nencoding: raw\n\n')),
    MetaImage: pad(latin1('ObjectType = Image\nNDims = 2\nDimSize = 64 64\nElementType = MET_SHORT\nElementDataFile = LOCAL\n')),
    gzip: pad(Uint8Array.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3])),
    'itk-wasm CBOR': pad(cbor),
    'TIFF (a dual-personality file)': pad(Uint8Array.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0])),
    'a bare DICOM data set': pad(Uint8Array.from([8, 0, 5, 0, ...latin1('CS'), 10, 0, ...latin1('ISO_IR 100')])),
  }
}

/** `dicom` (a Part 10 file) with its preamble replaced. */
export function withPreamble(dicom: Uint8Array, preamble: Uint8Array): Uint8Array {
  const out = new Uint8Array(dicom)
  out.set(preamble.subarray(0, 128))
  return out
}

/**
 * MR_small.dcm's bytes 344–347, inside its ImageType value (DERIVED\SECONDARY\OTHER from byte 342),
 * replaced by NIfTI-1's magic `n+1\0`: with a NIfTI-1 preamble the file carries both formats' magics.
 */
export function withNiftiMagicAt344(dicom: Uint8Array): Uint8Array {
  const out = new Uint8Array(dicom)
  if (String.fromCharCode(...out.subarray(342, 349)) !== 'DERIVED') throw new Error('expected MR_small.dcm (ImageType at byte 342)')
  out.set(latin1('n+1\0'), 344)
  return out
}

/** Offset of the data set of a Part 10 file: after the preamble, 'DICM' and the file meta group. */
export function dataSetOffset(dicom: Uint8Array): number {
  const dv = new DataView(dicom.buffer, dicom.byteOffset, dicom.byteLength)
  if (String.fromCharCode(...dicom.subarray(128, 132)) !== 'DICM') throw new Error('not a Part 10 file')
  let at = 132
  while (dv.getUint16(at, true) === 0x0002) {
    const vr = String.fromCharCode(dicom[at + 4]!, dicom[at + 5]!)
    at += ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr) ? 12 + dv.getUint32(at + 8, true) : 8 + dv.getUint16(at + 6, true)
  }
  return at
}

/** The data set alone, as an ACR-NEMA style file has it: no preamble, no 'DICM', no file meta. */
export function bareDataSet(dicom: Uint8Array): Uint8Array {
  return dicom.slice(dataSetOffset(dicom))
}

/**
 * An implicit VR little endian data set without the elements ACR-NEMA files predate: SOP Class UID
 * (0008,0016) and SOP Instance UID (0008,0018).
 */
export function withoutSopUids(implicitDataSet: Uint8Array): Uint8Array {
  const dv = new DataView(implicitDataSet.buffer, implicitDataSet.byteOffset, implicitDataSet.byteLength)
  const kept: Uint8Array[] = []
  for (let at = 0; at < implicitDataSet.length; ) {
    const group = dv.getUint16(at, true)
    const element = dv.getUint16(at + 2, true)
    const end = at + 8 + dv.getUint32(at + 4, true)
    if (!(group === 0x0008 && (element === 0x0016 || element === 0x0018))) kept.push(implicitDataSet.subarray(at, end))
    at = end
  }
  return concat(kept)
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const TEXT_PAD: Record<string, number> = { UI: 0 } // UIDs are padded with \0, other strings with a space
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'])

/**
 * A copy of an explicit VR little endian Part 10 file (top-level elements of defined length, as
 * MR_small.dcm has them) with some values replaced, at any length: a string is padded to even length,
 * bytes are taken as they are; the file meta group's length is recomputed. Keys are tags as numbers,
 * 0xggggeeee.
 */
export function rewriteDicom(template: Uint8Array, values: Map<number, string | Uint8Array>): Uint8Array {
  const dv = new DataView(template.buffer, template.byteOffset, template.byteLength)
  const elements: { tag: number; vr: string; value: Uint8Array }[] = []
  for (let at = firstElement(template); at < template.length; ) {
    const tag = ((dv.getUint16(at, true) << 16) | dv.getUint16(at + 2, true)) >>> 0
    const vr = String.fromCharCode(template[at + 4]!, template[at + 5]!)
    const long = LONG_VRS.has(vr)
    const length = long ? dv.getUint32(at + 8, true) : dv.getUint16(at + 6, true)
    if (length === 0xffffffff) throw new Error(`rewriteDicom: (${tag.toString(16)}) has an undefined length`)
    const start = at + (long ? 12 : 8)
    elements.push({ tag, vr, value: template.subarray(start, start + length) })
    at = start + length
  }
  for (const e of elements) {
    const v = values.get(e.tag)
    if (v === undefined) continue
    if (typeof v !== 'string') e.value = v
    else e.value = latin1(v.length % 2 ? v + String.fromCharCode(TEXT_PAD[e.vr] ?? 0x20) : v)
  }
  const missing = [...values.keys()].filter((t) => !elements.some((e) => e.tag === t))
  if (missing.length) throw new Error(`rewriteDicom: the template has no ${missing.map((t) => t.toString(16)).join(', ')}`)
  const size = (e: { vr: string; value: Uint8Array }) => (LONG_VRS.has(e.vr) ? 12 : 8) + e.value.length
  const metaLength = elements.filter((e) => e.tag >>> 16 === 0x0002 && e.tag !== 0x00020000).reduce((n, e) => n + size(e), 0)
  const out = new Uint8Array(132 + elements.reduce((n, e) => n + size(e), 0))
  const odv = new DataView(out.buffer)
  out.set(latin1('DICM'), 128)
  let at = 132
  for (const e of elements) {
    odv.setUint16(at, e.tag >>> 16, true)
    odv.setUint16(at + 2, e.tag & 0xffff, true)
    out.set(latin1(e.vr), at + 4)
    const value = e.tag === 0x00020000 ? new Uint8Array(new Uint32Array([metaLength]).buffer) : e.value
    if (LONG_VRS.has(e.vr)) odv.setUint32(at + 8, value.length, true)
    else odv.setUint16(at + 6, value.length, true)
    at += LONG_VRS.has(e.vr) ? 12 : 8
    out.set(value, at)
    at += value.length
  }
  return out
}

function firstElement(dicom: Uint8Array): number {
  if (String.fromCharCode(...dicom.subarray(128, 132)) !== 'DICM') throw new Error('not a Part 10 file')
  return 132
}

/** A stack of axial int16 slices, each made on demand (a large series need not be held twice). */
export interface SliceSource {
  columns: number
  rows: number
  slices: number
  /** x, y, z in mm: column spacing, row spacing, distance between slices. */
  spacing: [number, number, number]
  /** ImagePositionPatient of the first slice (LPS, mm); slice k lies k × spacing[2] above it. */
  origin: [number, number, number]
  slice(k: number): Int16Array
}

const ds = (n: number) => String(Number(n.toFixed(6)))

/**
 * One Part 10 file per slice of `source`, written over `template` (MR_small.dcm: explicit VR little
 * endian, 16-bit signed, axial): slice k gets its own SOP instance UID `${seriesUid}.${k + 1}`,
 * InstanceNumber k + 1, and ImagePositionPatient origin + k × spacing[2] along +z.
 */
export function* dicomSeries(template: Uint8Array, source: SliceSource, seriesUid: string): Generator<Uint8Array> {
  const [sx, sy, sz] = source.spacing
  const [ox, oy, oz] = source.origin
  const us = (n: number) => new Uint8Array(new Uint16Array([n]).buffer)
  for (let k = 0; k < source.slices; k++) {
    const pixels = source.slice(k)
    if (pixels.length !== source.columns * source.rows) throw new Error(`slice ${k} has ${pixels.length} pixels, not ${source.columns}×${source.rows}`)
    const uid = `${seriesUid}.${k + 1}`
    yield rewriteDicom(template, new Map<number, string | Uint8Array>([
      [0x00020003, uid],
      [0x00080018, uid],
      [0x0020000e, seriesUid],
      [0x00200013, String(k + 1)],
      [0x00200032, `${ds(ox)}\\${ds(oy)}\\${ds(oz + k * sz)}`],
      [0x00200037, '1\\0\\0\\0\\1\\0'],
      [0x00201041, ds(oz + k * sz)],
      [0x00180050, ds(sz)],
      [0x00280010, us(source.rows)],
      [0x00280011, us(source.columns)],
      [0x00280030, `${ds(sy)}\\${ds(sx)}`], // PixelSpacing is row spacing (y), then column spacing (x)
      [0x7fe00010, new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength)],
    ]))
  }
}

/**
 * Slices of a real uint8 volume (x fastest, then y, then z) resampled to `columns` × `rows` × `slices`:
 * nearest neighbour in the slice plane, linear between the source's slices along z, so that a
 * series of any length is made of real anatomy. Voxel spacing shrinks as the count grows, keeping the
 * volume's extent.
 */
export function resampledSlices(
  volume: { size: number[]; spacing: number[]; voxels: Uint8Array },
  columns: number,
  rows: number,
  slices: number,
  origin: [number, number, number],
): SliceSource {
  const [nx, ny, nz] = volume.size as [number, number, number]
  const [vx, vy, vz] = volume.spacing as [number, number, number]
  const xs = Int32Array.from({ length: columns }, (_, i) => Math.min(nx - 1, Math.floor(((i + 0.5) * nx) / columns)))
  const ys = Int32Array.from({ length: rows }, (_, j) => Math.min(ny - 1, Math.floor(((j + 0.5) * ny) / rows)))
  return {
    columns,
    rows,
    slices,
    spacing: [(vx * nx) / columns, (vy * ny) / rows, slices > 1 ? (vz * (nz - 1)) / (slices - 1) : vz],
    origin,
    slice(k) {
      const z = slices > 1 ? (k * (nz - 1)) / (slices - 1) : 0
      const z0 = Math.floor(z)
      const z1 = Math.min(nz - 1, z0 + 1)
      const t = z - z0
      const out = new Int16Array(columns * rows)
      for (let j = 0; j < rows; j++) {
        for (let i = 0; i < columns; i++) {
          const at = ys[j]! * nx + xs[i]!
          out[j * columns + i] = Math.round(volume.voxels[z0 * nx * ny + at]! * (1 - t) + volume.voxels[z1 * nx * ny + at]! * t)
        }
      }
      return out
    },
  }
}
