// NRRD (.nrrd, and .nhdr with a detached data file): header checked, data made whole and attached.
import { UnsupportedFormatError } from '../../src/errors.js'
import { inflate } from './gzip.js'
import { concatParts as concat } from '../../src/codec/record.js'
import { ascii, fail, type DecodeFile } from './input.js'
import { voxelBytes } from './limits.js'
import { checkVoxelsPresent } from './nifti.js'

const TYPES: [number, string[]][] = [
  [1, ['signed char', 'int8', 'int8_t', 'uchar', 'unsigned char', 'uint8', 'uint8_t']],
  [2, ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t', 'ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t']],
  [4, ['int', 'signed int', 'int32', 'int32_t', 'uint', 'unsigned int', 'uint32', 'uint32_t', 'float']],
  [8, ['longlong', 'long long', 'long long int', 'signed long long', 'signed long long int', 'int64', 'int64_t', 'ulonglong', 'unsigned long long', 'unsigned long long int', 'uint64', 'uint64_t', 'double']],
]
const typeBytes = new Map(TYPES.flatMap(([n, names]) => names.map((name) => [name, n] as const)))

export interface NrrdHeader {
  /** Header lines, as written (magic first). */
  lines: string[]
  fields: Map<string, string>
  /** Offset of the attached data (after the blank line), or the header's length for a .nhdr. */
  dataOffset: number
  sizes: number[]
  bytesPerVoxel: number
  voxelBytes: number
  encoding: 'raw' | 'gzip' | 'text' | 'hex'
  dataFile: string | undefined
}

export function isNrrd(head: Uint8Array): boolean {
  return ascii(head.subarray(0, 7)) === 'NRRD000'
}

const norm = (field: string) => field.trim().toLowerCase().replace(/\s+/g, ' ')

/**
 * Parses and checks a NRRD header.
 * @throws {DecodeError} when a required field is missing or invalid.
 * @throws {UnsupportedFormatError} for block types, bzip2 data or multi-file data.
 */
export function parseNrrdHeader(file: string, bytes: Uint8Array): NrrdHeader {
  const text = ascii(bytes.subarray(0, Math.min(bytes.length, 1 << 20)))
  const end = /\r?\n\r?\n/.exec(text)
  const headerText = end ? text.slice(0, end.index) : text
  const dataOffset = end ? end.index + end[0].length : bytes.length
  if (!end && bytes.length > 1 << 20) throw fail(file, 'NRRD header does not end within 1 MiB')
  const lines = headerText.split(/\r?\n/)
  const fields = new Map<string, string>()
  for (const line of lines.slice(1)) {
    if (!line.trim() || line.startsWith('#') || line.includes(':=')) continue
    const colon = line.indexOf(': ')
    if (colon < 0) throw fail(file, `NRRD header line is not "field: value": ${JSON.stringify(line.slice(0, 60))}`)
    fields.set(norm(line.slice(0, colon)), line.slice(colon + 2).trim())
  }
  const need = (name: string): string => {
    const v = fields.get(name)
    if (v === undefined) throw fail(file, `NRRD header has no "${name}" field`)
    return v
  }
  const type = norm(need('type'))
  if (type === 'block') throw new UnsupportedFormatError(`${file}: NRRD type "block" is not supported`)
  const bytesPerVoxel = typeBytes.get(type)
  if (!bytesPerVoxel) throw fail(file, `NRRD type "${type}" is unknown`)
  const dimension = Number(need('dimension'))
  const sizes = need('sizes').split(/\s+/).map(Number)
  if (!(Number.isInteger(dimension) && dimension >= 1 && dimension <= 16) || sizes.length !== dimension) {
    throw fail(file, `NRRD dimension ${dimension} does not match sizes "${fields.get('sizes')}"`)
  }
  const encodingName = norm(need('encoding'))
  const encoding = (
    { raw: 'raw', gz: 'gzip', gzip: 'gzip', txt: 'text', text: 'text', ascii: 'text', hex: 'hex' } as const
  )[encodingName as 'raw']
  if (!encoding) throw new UnsupportedFormatError(`${file}: NRRD encoding "${encodingName}" is not supported (raw, gzip, text and hex are)`)
  const dataFile = fields.get('data file') ?? fields.get('datafile')
  if (dataFile !== undefined && (/^LIST\b/.test(dataFile) || /%/.test(dataFile) || /\s\d+\s/.test(dataFile))) {
    throw new UnsupportedFormatError(`${file}: NRRD data split over several files ("data file: ${dataFile}") is not supported`)
  }
  if (bytesPerVoxel > 1 && encoding === 'raw' && !fields.has('endian')) throw fail(file, 'NRRD header has no "endian" field')
  return {
    lines,
    fields,
    dataOffset,
    sizes,
    bytesPerVoxel,
    voxelBytes: voxelBytes(file, sizes, bytesPerVoxel),
    encoding,
    dataFile: dataFile === undefined ? undefined : dataFile.replace(/^\.\//, ''),
  }
}

const SKIP_FIELDS = new Set(['data file', 'datafile', 'encoding', 'line skip', 'lineskip', 'byte skip', 'byteskip'])

/**
 * One attached, raw-encoded NRRD holding the voxels, from a .nrrd or a .nhdr and its data file.
 * @throws {DecodeError} when the data is missing, truncated or its compression is incomplete.
 */
export async function joinNrrd(header: DecodeFile, h: NrrdHeader, data: DecodeFile | undefined): Promise<Uint8Array> {
  const source = data ? data.data : header.data.subarray(h.dataOffset)
  const where = data ? data.name : header.name
  if (h.encoding === 'text' || h.encoding === 'hex') {
    if (!data) return header.data
    const head = h.lines.filter((l) => l.trim() !== '' && !/^data ?file:/i.test(l))
    return concat([new TextEncoder().encode(head.join('\n') + '\n\n'), source])
  }
  let payload = source
  const lineSkip = Number(h.fields.get('line skip') ?? h.fields.get('lineskip') ?? 0)
  for (let i = 0; i < lineSkip; i++) {
    const nl = payload.indexOf(0x0a)
    if (nl < 0) throw fail(where, `NRRD line skip ${lineSkip} runs past the end of the data`)
    payload = payload.subarray(nl + 1)
  }
  const byteSkip = Number(h.fields.get('byte skip') ?? h.fields.get('byteskip') ?? 0)
  if (h.encoding === 'gzip') {
    payload = await inflate(where, payload, 'gzip', { limit: h.voxelBytes + Math.max(byteSkip, 0) + (1 << 20) })
  }
  if (byteSkip === -1) {
    checkVoxelsPresent(where, h.voxelBytes, payload.length)
    payload = payload.subarray(payload.length - h.voxelBytes)
  } else {
    if (!(Number.isInteger(byteSkip) && byteSkip >= 0)) throw fail(where, `NRRD byte skip ${byteSkip} is invalid`)
    checkVoxelsPresent(where, byteSkip + h.voxelBytes, payload.length)
    payload = payload.subarray(byteSkip, byteSkip + h.voxelBytes)
  }
  const kept = h.lines.filter((l, i) => i === 0 || (l.trim() !== '' && !SKIP_FIELDS.has(norm(l.split(':')[0] ?? ''))))
  return concat([new TextEncoder().encode([...kept, 'encoding: raw'].join('\n') + '\n\n'), payload])
}
