// MetaImage (.mha, and .mhd with its .raw): header checked, data made whole and joined into one .mha
// with `ElementDataFile = LOCAL` (itk-wasm throws a bare number when a data file is missing).
import { UnsupportedFormatError } from '../../src/errors.js'
import { inflate } from './gzip.js'
import { concatParts as concat } from '../../src/codec/record.js'
import { ascii, fail, type DecodeFile } from './input.js'
import { voxelBytes } from './limits.js'
import { checkVoxelsPresent } from './nifti.js'

const ELEMENT_BYTES: Record<string, number> = {
  MET_CHAR: 1, MET_UCHAR: 1, MET_SHORT: 2, MET_USHORT: 2, MET_INT: 4, MET_UINT: 4, MET_LONG: 4, MET_ULONG: 4,
  MET_LONG_LONG: 8, MET_ULONG_LONG: 8, MET_FLOAT: 4, MET_DOUBLE: 8,
}
const KEYS = /^(ObjectType|NDims|DimSize|ElementType|ElementDataFile|Comment|ObjectSubType|TransformType|HeaderSize|BinaryData|CompressedData)\s*=/m

export interface MetaHeader {
  lines: [key: string, value: string][]
  fields: Map<string, string>
  /** Offset of the first byte after the ElementDataFile line. */
  dataOffset: number
  sizes: number[]
  voxelBytes: number
  dataFile: string
  compressed: boolean
  headerSize: number
}

export function isMeta(head: Uint8Array): boolean {
  const text = ascii(head.subarray(0, 1024))
  return KEYS.test(text) && /^\s*\w+\s*=/.test(text) && /NDims\s*=|ObjectType\s*=/.test(text)
}

/**
 * Parses and checks a MetaImage header.
 * @throws {DecodeError} when a required field is missing or invalid.
 * @throws {UnsupportedFormatError} for element types or data layouts itk-wasm cannot be given.
 */
export function parseMetaHeader(file: string, bytes: Uint8Array): MetaHeader {
  const text = ascii(bytes.subarray(0, Math.min(bytes.length, 1 << 20)))
  const lines: [string, string][] = []
  let at = 0
  let dataOffset = -1
  while (at < text.length) {
    const nl = text.indexOf('\n', at)
    const line = text.slice(at, nl < 0 ? text.length : nl).replace(/\r$/, '')
    at = nl < 0 ? text.length : nl + 1
    if (!line.trim()) continue
    const eq = line.indexOf('=')
    if (eq < 0) throw fail(file, `MetaImage header line is not "Key = Value": ${JSON.stringify(line.slice(0, 60))}`)
    const key = line.slice(0, eq).trim()
    lines.push([key, line.slice(eq + 1).trim()])
    if (key === 'ElementDataFile') {
      dataOffset = at
      break
    }
  }
  if (dataOffset < 0) throw fail(file, 'MetaImage header has no ElementDataFile line')
  const fields = new Map(lines)
  const need = (key: string) => {
    const v = fields.get(key)
    if (v === undefined) throw fail(file, `MetaImage header has no ${key}`)
    return v
  }
  const ndims = Number(need('NDims'))
  const sizes = need('DimSize').split(/\s+/).map(Number)
  if (!(Number.isInteger(ndims) && ndims >= 1 && ndims <= 16) || sizes.length !== ndims) {
    throw fail(file, `MetaImage NDims ${ndims} does not match DimSize "${fields.get('DimSize')}"`)
  }
  const type = need('ElementType').replace(/_ARRAY$/, '')
  const bytesPer = ELEMENT_BYTES[type]
  if (!bytesPer) throw new UnsupportedFormatError(`${file}: MetaImage ElementType ${type} is not supported`)
  const channels = Number(fields.get('ElementNumberOfChannels') ?? 1)
  if (!(Number.isInteger(channels) && channels >= 1 && channels <= 1024)) {
    throw fail(file, `MetaImage ElementNumberOfChannels ${channels} is invalid`)
  }
  const dataFile = need('ElementDataFile')
  if (dataFile === 'LIST' || dataFile.includes('%') || /\s\d+\s/.test(dataFile)) {
    throw new UnsupportedFormatError(`${file}: MetaImage data split over several files (ElementDataFile = ${dataFile}) is not supported`)
  }
  const headerSize = Number(fields.get('HeaderSize') ?? 0)
  if (!(Number.isInteger(headerSize) && headerSize >= -1)) throw fail(file, `MetaImage HeaderSize ${headerSize} is invalid`)
  return {
    lines,
    fields,
    dataOffset,
    sizes,
    voxelBytes: voxelBytes(file, sizes, bytesPer * channels),
    dataFile,
    compressed: /^true$/i.test(fields.get('CompressedData') ?? 'False'),
    headerSize,
  }
}

const DROPPED = new Set(['ElementDataFile', 'HeaderSize', 'CompressedData', 'CompressedDataSize'])

/**
 * One .mha holding header and voxels, uncompressed, with `ElementDataFile = LOCAL`.
 * @throws {DecodeError} when the data is missing, truncated or its compression is incomplete.
 */
export async function joinMeta(header: DecodeFile, h: MetaHeader, data: DecodeFile | undefined): Promise<Uint8Array> {
  let payload = data ? data.data : header.data.subarray(h.dataOffset)
  const where = data ? data.name : header.name
  if (h.compressed) {
    if (h.headerSize > 0) payload = payload.subarray(h.headerSize)
    payload = await inflate(where, payload, 'deflate', { limit: h.voxelBytes })
    checkVoxelsPresent(where, h.voxelBytes, payload.length, 'compressed voxel data')
  } else if (h.headerSize === -1) {
    checkVoxelsPresent(where, h.voxelBytes, payload.length)
    payload = payload.subarray(payload.length - h.voxelBytes)
  } else {
    checkVoxelsPresent(where, h.headerSize + h.voxelBytes, payload.length)
    payload = payload.subarray(h.headerSize, h.headerSize + h.voxelBytes)
  }
  const kept = h.lines.filter(([k]) => !DROPPED.has(k)).map(([k, v]) => `${k} = ${v}`)
  return concat([new TextEncoder().encode([...kept, 'CompressedData = False', 'ElementDataFile = LOCAL'].join('\n') + '\n'), payload])
}
