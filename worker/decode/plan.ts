// What to decode and how: formats sniffed from content (never trusted from names), the files of a
// multi-file image paired up, every header checked, and the bytes itk-wasm will see made whole.
import { UnsupportedFormatError } from '../../src/errors.js'
import { asPart10, bareEncoding, isPart10, parseDicom, type DicomInfo } from './dicom.js'
import { inflate, isGzip, streamOf } from './gzip.js'
import { ascii, fail, type DecodeFile } from './input.js'
import { fmtBytes, MAX_FILE_BYTES, MAX_VOXEL_BYTES, VOXEL_LIMIT_TEXT } from './limits.js'
import { isMeta, joinMeta, parseMetaHeader } from './meta.js'
import { checkVoxelsPresent, niftiExtent, parseNiftiHeader, sniffAnalyze, sniffNifti, type NiftiHeader } from './nifti.js'
import { isNrrd, joinNrrd, parseNrrdHeader } from './nrrd.js'
import { checkSliceSpacing, seriesBlocks, seriesInputName, type SeriesBlocks } from './series.js'

export type Format = 'nifti' | 'nrrd' | 'meta' | 'dicom' | 'dicom-series' | 'iwi'
/** The itk-wasm pipeline that reads a format. */
export type Reader = 'nifti' | 'nrrd' | 'meta' | 'gdcm' | 'wasm' | 'dicom-series'

/** The files of one image, in the order their bytes are hashed, and the format that reads them. */
export interface Roles {
  format: Format
  /** The name the image is known by: the header's, or the first file of a series. */
  name: string
  /** Every given file, in role order (header first; a series sorted by content hash later). */
  files: DecodeFile[]
}

/** What the reader gets: files with fixed names (so nothing stale in its file system is ever read). */
export interface Prepared {
  reader: Reader
  name: string
  inputs: DecodeFile[]
  /** For the checks after reading. */
  expectedBytes: number | undefined
  /**
   * Set when a failure of the reader means "itk-wasm cannot read this variant", not "bad file": the
   * message of the UnsupportedFormatError, after the file's name.
   */
  unsupportedIfFails?: string
  /** A long DICOM series: read block by block, then stacked (worker/decode/series.ts). */
  series?: SeriesBlocks
}

// @itk-wasm/image-io 1.6's nifti-read-image is built with nifti1_io, not nifti2_io (its wasm has
// nifti_convert_nhdr2nim and no NIfTI-2 code), and refuses a valid NIfTI-2 file (e2e/decode.spec.ts).
// It is still tried after the header checks, so a release that reads NIfTI-2 needs no change here.
const NIFTI2_UNREADABLE = 'itk-wasm cannot read NIfTI-2 files (its NIfTI reader reads NIfTI-1 and Analyze 7.5 only); convert it to NIfTI-1'
const ANALYZE_UNREADABLE = 'this Analyze 7.5 variant is not read by itk-wasm'

const HEAD = 64 * 1024
type Kind = 'gzip' | 'nifti' | 'nrrd' | 'meta' | 'dicom' | 'iwi' | 'text' | 'unknown'

/**
 * The format of `head` (the first bytes of a file) by content alone, magic numbers first: a DICOM
 * file's 128-byte preamble is free-form and real files carry anything there (TIFF headers, other
 * formats' headers, a length field that reads as 348), so 'DICM' at byte 128 wins over everything; then
 * gzip, the NIfTI magics, NRRD, MetaImage keys and itk-wasm's CBOR; then a DICOM data set without
 * preamble (ACR-NEMA style). Analyze 7.5 has no magic, only sizeof_hdr 348: it comes last.
 */
export function sniff(head: Uint8Array): Kind {
  if (isPart10(head)) return 'dicom'
  if (isGzip(head)) return 'gzip'
  if (sniffNifti(head)) return 'nifti'
  if (isNrrd(head)) return 'nrrd'
  if (isMeta(head)) return 'meta'
  // CBOR map (major type 5) whose first key is itk-wasm's "imageType": the .iwi.cbor format.
  if (head.length > 12 && head[0]! >> 5 === 5 && ascii(head.subarray(0, 32)).includes('imageType')) return 'iwi'
  if (bareEncoding(head)) return 'dicom'
  if (sniffAnalyze(head)) return 'nifti'
  const sample = head.subarray(0, 4096)
  if (sample.length && sample.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 160)) return 'text'
  return 'unknown'
}

async function headOf(file: DecodeFile): Promise<{ kind: Kind; head: Uint8Array }> {
  const head = file.data.subarray(0, HEAD)
  const kind = sniff(head)
  if (kind === 'gzip') {
    // Enough of the inflated start to see what is inside; the whole stream is checked in prepare().
    const inflated = await inflatePrefix(file.data, HEAD)
    const inner = sniff(inflated)
    return { kind: inner === 'gzip' ? 'unknown' : inner, head: inflated }
  }
  return { kind, head }
}

async function inflatePrefix(bytes: Uint8Array, n: number): Promise<Uint8Array> {
  const reader = streamOf(bytes, 16 * 1024).pipeThrough(new DecompressionStream('gzip')).getReader()
  const parts: Uint8Array[] = []
  let total = 0
  try {
    while (total < n) {
      const step = await reader.read()
      if (step.done) break
      parts.push(step.value)
      total += step.value.byteLength
    }
  } catch {
    // a stream corrupt from its start shows up in prepare(), with the file's name
  } finally {
    reader.cancel().catch(() => undefined)
  }
  const out = new Uint8Array(Math.min(total, n))
  let at = 0
  for (const p of parts) {
    out.set(p.subarray(0, out.length - at), at)
    at += p.byteLength
    if (at >= out.length) break
  }
  return out
}

const base = (name: string) => name.replace(/^.*[\\/]/, '')
const stem = (name: string) => base(name).replace(/\.gz$/i, '').replace(/\.[^.]*$/, '')

function unsupported(file: DecodeFile, kind: Kind): never {
  if (kind === 'text') throw new UnsupportedFormatError(`${file.name}: is a text file, not an image in a format voxcache reads (NIfTI, NRRD, MetaImage, DICOM)`)
  throw new UnsupportedFormatError(`${file.name}: is not in a format voxcache reads (NIfTI, NRRD, MetaImage, DICOM); its content matches none of them`)
}

/**
 * Which file is which: the header of a pair and its data file, or the files of a DICOM series.
 * Cheap (headers only), so a cached image is found without inflating or validating anything.
 * @throws {DecodeError} for empty files, missing companions and files that belong to no image.
 * @throws {UnsupportedFormatError} when a file's content is in no supported format.
 */
export async function assignRoles(files: DecodeFile[]): Promise<Roles> {
  if (!files.length) throw fail('decode', 'no file given')
  for (const f of files) if (!f.data.byteLength) throw fail(f.name, 'the file is empty (0 bytes)')
  const heads = await Promise.all(files.map(headOf))
  const byName = (wanted: string, except: DecodeFile) => {
    const others = files.filter((f) => f !== except)
    return others.find((f) => base(f.name) === wanted) ?? others.find((f) => base(f.name).toLowerCase() === wanted.toLowerCase())
  }
  const finish = (format: Format, header: DecodeFile, companion: DecodeFile | undefined): Roles => {
    const used = companion ? [header, companion] : [header]
    const extra = files.find((f) => !used.includes(f))
    if (extra) throw fail(extra.name, `is not part of the image ${header.name} describes`)
    return { format, name: header.name, files: used }
  }
  if (files.length > 1 && heads.every((h) => h.kind === 'dicom')) {
    return { format: 'dicom-series', name: files[0]!.name, files }
  }
  // The header decides: the first file, in the order given, that is a header of a known format.
  const i = heads.findIndex((h) => h.kind === 'nifti' || h.kind === 'nrrd' || h.kind === 'meta')
  if (i < 0) {
    if (files.length > 1) {
      const odd = heads.findIndex((h) => h.kind !== 'dicom')
      if (heads.some((h) => h.kind === 'dicom')) throw fail(files[odd]!.name, 'is not a DICOM file, but the other files are a DICOM series')
      return unsupported(files[0]!, heads[0]!.kind)
    }
    const kind = heads[0]!.kind
    if (kind === 'dicom') return { format: 'dicom', name: files[0]!.name, files }
    if (kind === 'iwi') return { format: 'iwi', name: files[0]!.name, files }
    return unsupported(files[0]!, kind)
  }
  const header = files[i]!
  const { kind, head } = heads[i]!
  if (kind === 'nifti') {
    const h = parseNiftiHeader(header.name, head)
    if (h.layout === 'single') return finish('nifti', header, undefined)
    const img = files.find((f) => f !== header && stem(f.name) === stem(header.name) && /\.img(\.gz)?$/i.test(f.name))
      ?? (files.length === 2 ? files[1 - i] : undefined)
    if (!img) throw fail(header.name, `is a NIfTI/Analyze header (.hdr) whose voxel file (${stem(header.name)}.img) was not given`)
    return finish('nifti', header, img)
  }
  if (kind === 'nrrd') {
    const h = parseNrrdHeader(header.name, head)
    if (!h.dataFile) return finish('nrrd', header, undefined)
    const data = byName(base(h.dataFile), header)
    if (!data) throw fail(header.name, `names the data file ${h.dataFile}, which was not given`)
    return finish('nrrd', header, data)
  }
  const h = parseMetaHeader(header.name, head)
  if (h.dataFile === 'LOCAL') return finish('meta', header, undefined)
  const data = byName(base(h.dataFile), header)
  if (!data) throw fail(header.name, `MetaImage header names the data file ${h.dataFile}, which was not given`)
  return finish('meta', header, data)
}

/** The whole file, inflated and checked when it is gzip; `limitFrom` bounds the output from its header. */
async function whole(file: DecodeFile, limitFrom?: (head: Uint8Array) => number): Promise<Uint8Array> {
  if (sniff(file.data.subarray(0, 132)) !== 'gzip') return file.data // a DICOM preamble may start like gzip
  return inflate(file.name, file.data, 'gzip', {
    limit: MAX_FILE_BYTES,
    peek: limitFrom && { bytes: 540, limitFrom },
  })
}

/**
 * Validates everything and builds the reader's inputs.
 * @throws {DecodeError} for truncated, incomplete or inconsistent data.
 */
export async function prepare(roles: Roles): Promise<Prepared> {
  const [header, companion] = roles.files as [DecodeFile, DecodeFile | undefined]
  switch (roles.format) {
    case 'nifti': {
      let parsed: NiftiHeader | undefined
      const headBytes = await whole(header, (head) => {
        parsed = parseNiftiHeader(header.name, head)
        return parsed.layout === 'single' ? niftiExtent(parsed) + (64 << 20) : 64 << 10
      })
      const h = parsed ?? parseNiftiHeader(header.name, headBytes)
      if (!companion) {
        checkVoxelsPresent(header.name, niftiExtent(h), headBytes.length)
        return {
          reader: 'nifti',
          name: roles.name,
          inputs: [{ name: 'input.nii', data: headBytes }],
          expectedBytes: h.voxelBytes,
          unsupportedIfFails: h.version === 2 ? NIFTI2_UNREADABLE : undefined,
        }
      }
      const img = await whole(companion, () => niftiExtent(h) + (64 << 20))
      checkVoxelsPresent(companion.name, niftiExtent(h), img.length)
      return {
        reader: 'nifti',
        name: roles.name,
        inputs: [{ name: 'input.hdr', data: headBytes }, { name: 'input.img', data: img }],
        expectedBytes: h.voxelBytes,
        unsupportedIfFails: h.version === 2 ? NIFTI2_UNREADABLE : h.layout === 'analyze' ? ANALYZE_UNREADABLE : undefined,
      }
    }
    case 'nrrd': {
      const bytes = await whole(header)
      const h = parseNrrdHeader(header.name, bytes)
      const data = companion && { name: companion.name, data: await whole(companion) }
      const joined = await joinNrrd({ name: header.name, data: bytes }, h, data)
      return { reader: 'nrrd', name: roles.name, inputs: [{ name: 'input.nrrd', data: joined }], expectedBytes: h.voxelBytes }
    }
    case 'meta': {
      const bytes = await whole(header)
      const h = parseMetaHeader(header.name, bytes)
      const data = companion && { name: companion.name, data: await whole(companion) }
      const joined = await joinMeta({ name: header.name, data: bytes }, h, data)
      return { reader: 'meta', name: roles.name, inputs: [{ name: 'input.mha', data: joined }], expectedBytes: h.voxelBytes }
    }
    case 'dicom': {
      const bytes = await whole(header)
      const info = parseDicom(header.name, bytes)
      return { reader: 'gdcm', name: roles.name, inputs: [{ name: 'input.dcm', data: asPart10(info, bytes) }], expectedBytes: undefined }
    }
    case 'dicom-series': {
      const infos: DicomInfo[] = []
      const inputs: DecodeFile[] = []
      for (const [n, f] of roles.files.entries()) {
        const bytes = await whole(f)
        const info = parseDicom(f.name, bytes)
        infos.push(info)
        inputs.push({ name: seriesInputName(n), data: asPart10(info, bytes) })
      }
      const uids = new Set(infos.map((x) => x.seriesUid))
      if (uids.size > 1) throw fail(roles.name, `the ${roles.files.length} DICOM files belong to ${uids.size} different series; decode one series at a time`)
      // The size most files have is the series' own (files are in hash order: the first may be the odd one).
      const sizeOf = (x: DicomInfo) => `${x.columns}×${x.rows}`
      const counts = new Map<string, number>()
      for (const x of infos) counts.set(sizeOf(x), (counts.get(sizeOf(x)) ?? 0) + 1)
      const usual = [...counts].sort((a, b) => b[1] - a[1])[0]![0]
      const odd = infos.findIndex((x) => sizeOf(x) !== usual)
      if (odd >= 0) throw fail(roles.files[odd]!.name, `is ${sizeOf(infos[odd]!)}, unlike the rest of the series (${usual})`)
      const first = infos[0]!
      // The whole volume within the limit before anything is read (each file was checked alone).
      const slices = infos.reduce((n, x) => n + x.frames, 0)
      const total = first.columns * first.rows * slices * ((first.samples * first.bitsAllocated) / 8)
      if (total > MAX_VOXEL_BYTES) {
        throw fail(roles.name, `the series' ${roles.files.length} files hold ${first.columns}×${first.rows}×${slices} voxels (${fmtBytes(total)}), over the ${VOXEL_LIMIT_TEXT} limit`)
      }
      const order = checkSliceSpacing(roles.files.map((f) => f.name), infos)
      return { reader: 'dicom-series', name: roles.name, inputs, expectedBytes: undefined, series: seriesBlocks(roles.name, infos, order) }
    }
    case 'iwi':
      return { reader: 'wasm', name: roles.name, inputs: [{ name: 'input.iwi.cbor', data: header.data }], expectedBytes: undefined }
  }
}
