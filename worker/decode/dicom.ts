// DICOM files walked element by element, so that a truncated file (which GDCM decodes into
// zero-padded pixels) is refused, and a series can be checked before it reaches itk-wasm; old files
// without preamble (ACR-NEMA style) are recognised and given to GDCM as the Part 10 files it reads.
import { UnsupportedFormatError } from '../../src/errors.js'
import { ascii, fail } from './input.js'
import { voxelBytes } from './limits.js'

export interface DicomInfo {
  transferSyntax: string
  rows: number
  columns: number
  frames: number
  samples: number
  bitsAllocated: number
  seriesUid: string | undefined
  /** ImagePositionPatient (0020,0032) and ImageOrientationPatient (0020,0037), when present and numeric. */
  position: number[] | undefined
  orientation: number[] | undefined
  /** Native pixel data length; undefined when encapsulated (compressed) or not walked (deflated). */
  pixelBytes: number | undefined
  encapsulated: boolean
  /** 'DICM' after a preamble; false for a bare data set (ACR-NEMA style). */
  part10: boolean
  /** Whether a file meta group (0002) named the transfer syntax; without one it was guessed. */
  fileMeta: boolean
  /** SOP Class UID (0008,0016), SOP Instance UID (0008,0018) and Modality (0008,0060), when present. */
  sopClass: string | undefined
  sopInstance: string | undefined
  modality: string | undefined
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'])
const IMPLICIT_LE = '1.2.840.10008.1.2'
const EXPLICIT_LE = '1.2.840.10008.1.2.1'
const EXPLICIT_BE = '1.2.840.10008.1.2.2'
const DEFLATED = '1.2.840.10008.1.2.1.99'
const UNDEFINED = 0xffffffff
const PIXEL_DATA = 0x7fe00010

/** A DICOM Part 10 file: 'DICM' after its 128-byte preamble, whatever the preamble holds. */
export function isPart10(head: Uint8Array): boolean {
  return head.length >= 132 && ascii(head.subarray(128, 132)) === 'DICM'
}

const VRS = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
])

/** How a data set without preamble is encoded, guessed from its first element (as DCMTK and GDCM do). */
export interface BareEncoding {
  little: boolean
  explicit: boolean
  /** It starts with a file meta group (0002), which then names the transfer syntax. */
  meta: boolean
}

/**
 * A data set that starts at byte 0, without preamble and 'DICM': an ACR-NEMA style file, or a Part 10
 * file stripped of its preamble. Its first element must be in group 0002 (file meta) or 0008
 * (identification, where every data set of an image starts), with a known VR (explicit VR, either byte
 * order) or an even 32-bit length (implicit VR little endian, the default of files without meta).
 */
export function bareEncoding(head: Uint8Array): BareEncoding | undefined {
  if (head.length < 8) return undefined
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  for (const little of [true, false]) {
    const group = dv.getUint16(0, little)
    // The file meta group is explicit VR little endian whatever follows it.
    if (!(group === 0x0008 || (group === 0x0002 && little)) || dv.getUint16(2, little) > 0x00ff) continue
    if (VRS.has(ascii(head.subarray(4, 6)))) return { little, explicit: true, meta: group === 0x0002 }
    const length = dv.getUint32(4, little)
    // Implicit big endian is no transfer syntax of the standard: such a file is not taken for DICOM.
    if (little && group === 0x0008 && length % 2 === 0 && (length < 0x10000 || length === UNDEFINED)) {
      return { little, explicit: false, meta: false }
    }
  }
  return undefined
}

/**
 * Walks a DICOM file (Part 10, or a bare data set) and checks that every element, and the pixel data,
 * lies within it.
 * @throws {DecodeError} naming `file` when the file is truncated, lacks the image's size, or claims absurd sizes.
 * @throws {UnsupportedFormatError} when it is not DICOM, or a DICOM object without pixel data.
 */
export function parseDicom(file: string, bytes: Uint8Array): DicomInfo {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const part10 = isPart10(bytes)
  const bare = part10 ? undefined : bareEncoding(bytes)
  if (!part10 && !bare) throw new UnsupportedFormatError(`${file}: is not a DICOM file (no 'DICM' after a preamble, and no data set at its start)`)
  let at = part10 ? 132 : 0
  const info: DicomInfo = {
    // Without file meta, the encoding guessed from the first element (the standard's default for
    // such files is implicit VR little endian).
    transferSyntax: bare && !bare.meta ? (!bare.explicit ? IMPLICIT_LE : bare.little ? EXPLICIT_LE : EXPLICIT_BE) : '',
    rows: 0,
    columns: 0,
    frames: 1,
    samples: 1,
    bitsAllocated: 0,
    seriesUid: undefined,
    position: undefined,
    orientation: undefined,
    pixelBytes: undefined,
    encapsulated: false,
    part10,
    fileMeta: false,
    sopClass: undefined,
    sopInstance: undefined,
    modality: undefined,
  }
  const str = (off: number, len: number) => ascii(bytes.subarray(off, off + len)).replace(/[\0 ]+$/, '').trim()
  const truncated = (what: string) => fail(file, `DICOM file is truncated: ${what} runs past the end of the file`)

  // Returns the offset after the element; records the tags decode needs.
  const element = (pos: number, explicit: boolean, little: boolean, depth: number): number => {
    if (pos + 8 > bytes.length) throw truncated(`an element header at byte ${pos}`)
    const group = dv.getUint16(pos, little)
    const elem = dv.getUint16(pos + 2, little)
    const tag = ((group << 16) | elem) >>> 0
    let vr = ''
    let length: number
    let value: number
    if (group === 0xfffe) {
      length = dv.getUint32(pos + 4, little)
      value = pos + 8
    } else if (explicit && /^[A-Z]{2}$/.test(ascii(bytes.subarray(pos + 4, pos + 6)))) {
      vr = ascii(bytes.subarray(pos + 4, pos + 6))
      if (LONG_VRS.has(vr)) {
        if (pos + 12 > bytes.length) throw truncated(`element (${hex(group)},${hex(elem)})`)
        length = dv.getUint32(pos + 8, little)
        value = pos + 12
      } else {
        length = dv.getUint16(pos + 6, little)
        value = pos + 8
      }
    } else {
      length = dv.getUint32(pos + 4, little)
      value = pos + 8
    }
    if (length === UNDEFINED) {
      if (tag === PIXEL_DATA && depth === 0) {
        info.encapsulated = true
        return items(value, little, 'the compressed pixel data', (p) => {
          throw fail(file, `DICOM compressed pixel data has a malformed fragment at byte ${p}`)
        })
      }
      return items(value, little, `sequence (${hex(group)},${hex(elem)})`, (p) => element(p, explicit, little, depth + 1))
    }
    if (value + length > bytes.length) {
      throw truncated(tag === PIXEL_DATA ? `the pixel data (${length} bytes)` : `element (${hex(group)},${hex(elem)})`)
    }
    if (depth === 0) {
      const us = () => (length >= 2 ? dv.getUint16(value, little) : 0)
      switch (tag) {
        case 0x00020010: info.transferSyntax = str(value, length); break
        case 0x00280010: info.rows = us(); break
        case 0x00280011: info.columns = us(); break
        case 0x00280100: info.bitsAllocated = us(); break
        case 0x00280002: info.samples = us(); break
        case 0x00280008: info.frames = Number(str(value, length)) || 1; break
        case 0x0020000e: info.seriesUid = str(value, length); break
        case 0x00080016: info.sopClass = str(value, length) || undefined; break
        case 0x00080018: info.sopInstance = str(value, length) || undefined; break
        case 0x00080060: info.modality = str(value, length) || undefined; break
        case 0x00200032: info.position = numbers(str(value, length), 3); break
        case 0x00200037: info.orientation = numbers(str(value, length), 6); break
        case PIXEL_DATA: info.pixelBytes = length; break
      }
    }
    return value + length
  }

  // Items of an undefined-length sequence (or fragments of encapsulated pixel data) up to the delimiter.
  const items = (pos: number, little: boolean, what: string, nested: (p: number) => number): number => {
    for (;;) {
      if (pos + 8 > bytes.length) throw truncated(what)
      const group = dv.getUint16(pos, little)
      const elem = dv.getUint16(pos + 2, little)
      const length = dv.getUint32(pos + 4, little)
      if (group !== 0xfffe) throw fail(file, `DICOM ${what} has a malformed item at byte ${pos}`)
      pos += 8
      if (elem === 0xe0dd) return pos
      if (elem !== 0xe000) throw fail(file, `DICOM ${what} has a malformed item at byte ${pos - 8}`)
      if (length === UNDEFINED) {
        for (;;) {
          if (pos + 8 > bytes.length) throw truncated(what)
          if (dv.getUint16(pos, little) === 0xfffe && dv.getUint16(pos + 2, little) === 0xe00d) {
            pos += 8
            break
          }
          pos = nested(pos)
        }
      } else {
        if (pos + length > bytes.length) throw truncated(what)
        pos += length
      }
    }
  }

  // The file meta group is always explicit VR little endian.
  while (at + 8 <= bytes.length && dv.getUint16(at, true) === 0x0002) {
    at = element(at, true, true, 0)
    info.fileMeta = true
  }
  const ts = info.transferSyntax
  if (ts === DEFLATED) return info
  const explicit = ts !== IMPLICIT_LE
  const little = ts !== EXPLICIT_BE
  while (at < bytes.length) {
    if (bytes.length - at < 8 && bytes.subarray(at).every((b) => b === 0)) break // trailing padding
    at = element(at, explicit, little, 0)
  }
  if (info.pixelBytes === undefined && !info.encapsulated) {
    // A valid object of another kind (a plan, a structure set, a report): not an image, not damage.
    const what = [info.modality && `Modality ${info.modality}`, info.sopClass && `SOP class ${info.sopClass}`].filter(Boolean).join(', ')
    throw new UnsupportedFormatError(`${file}: is a DICOM object without pixel data${what ? ` (${what})` : ''}, not an image`)
  }
  if (!info.rows || !info.columns || !info.bitsAllocated) throw fail(file, 'DICOM file lacks Rows, Columns or Bits Allocated')
  const needed = voxelBytes(file, [info.columns, info.rows, info.frames], (info.samples * info.bitsAllocated) / 8)
  if (info.pixelBytes !== undefined && info.pixelBytes < needed && info.bitsAllocated % 8 === 0) {
    throw fail(file, `DICOM pixel data is truncated: ${info.rows}×${info.columns}×${info.frames} needs ${needed} bytes, the file has ${info.pixelBytes}`)
  }
  return info
}

// The transfer syntax of a data set found without file meta, guessed by bareEncoding().
const IMPLEMENTATION_UID = '2.25.141541740694623113782866762129518263940' // voxcache's, from a random UUID

/**
 * The bytes GDCM is given: itk-wasm's GDCM reads Part 10 files only (a bare data set fails in it with
 * a native error, or is "not readable"), so a file without preamble gets one, 'DICM', and, when it has
 * no file meta group, one that names the transfer syntax guessed from its first element. The data set
 * itself is not touched. A Part 10 file is returned as it is.
 */
export function asPart10(info: DicomInfo, bytes: Uint8Array): Uint8Array {
  if (info.part10) return bytes
  const meta = info.fileMeta ? new Uint8Array() : fileMetaGroup(info)
  const out = new Uint8Array(132 + meta.length + bytes.length)
  out.set(new TextEncoder().encode('DICM'), 128)
  out.set(meta, 132)
  out.set(bytes, 132 + meta.length)
  return out
}

/** A file meta group (explicit VR little endian): version, SOP class and instance when known, transfer syntax. */
function fileMetaGroup(info: DicomInfo): Uint8Array {
  const parts: Uint8Array[] = []
  const element = (elem: number, vr: string, value: Uint8Array) => {
    const long = vr === 'OB'
    const head = new Uint8Array(long ? 12 : 8)
    const dv = new DataView(head.buffer)
    dv.setUint16(0, 0x0002, true)
    dv.setUint16(2, elem, true)
    head.set([vr.charCodeAt(0), vr.charCodeAt(1)], 4)
    if (long) dv.setUint32(8, value.length, true)
    else dv.setUint16(6, value.length, true)
    parts.push(head, value)
  }
  const uid = (text: string) => {
    const bytes = new TextEncoder().encode(text)
    const padded = new Uint8Array(bytes.length + (bytes.length % 2)) // UIDs are padded with \0 to even length
    padded.set(bytes)
    return padded
  }
  element(0x0001, 'OB', new Uint8Array([0, 1]))
  if (info.sopClass) element(0x0002, 'UI', uid(info.sopClass))
  if (info.sopInstance) element(0x0003, 'UI', uid(info.sopInstance))
  element(0x0010, 'UI', uid(info.transferSyntax))
  element(0x0012, 'UI', uid(IMPLEMENTATION_UID))
  const body = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(12 + body)
  const dv = new DataView(out.buffer)
  dv.setUint16(0, 0x0002, true)
  dv.setUint16(2, 0x0000, true)
  out.set([0x55, 0x4c], 4) // UL
  dv.setUint16(6, 4, true)
  dv.setUint32(8, body, true)
  let at = 12
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A DS multi-value (backslash-separated) of exactly `n` finite numbers, else undefined. */
function numbers(text: string, n: number): number[] | undefined {
  const values = text.split('\\').map((v) => Number(v.trim()))
  return values.length === n && values.every(Number.isFinite) ? values : undefined
}

const hex = (n: number) => n.toString(16).padStart(4, '0')
