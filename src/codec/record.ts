// The payload record: one self-describing, versioned, checksummed binary value.
//
//   "VXC1" | u32 LE header length | u32 LE xxhash32 of header | u32 zero | header (UTF-8 JSON)
//   | zero padding to a multiple of 8 | body
//
// The header hash is ours, beyond DESIGN.md's layout: geometry lives in the header, and a flipped
// digit in an origin must be an error, not a shifted image. Decoding builds only plain data and
// typed arrays, and validates every field before use. The body is decoded in body.ts.
import { CorruptEntryError, SchemaVersionError, UnsupportedValueError } from '../errors.js'
import { describeThrown } from '../thrown.js'
import { isOperationId } from '../operation-id.js'
import type { Codec, JsonValue, Value } from '../types.js'
import { checksumParts, headerHash } from './checksum.js'
import {
  assertJsonValue,
  classify,
  DATA_TYPES,
  imageHeaderProblem,
  isCount,
  RESERVED_KEYS,
  TYPED_ARRAYS,
  type ImageHeader,
  type TypedArrayName,
} from './values.js'
import { compressFrames, FRAME_SIZE, MAX_FRAME_SIZE, MIN_FRAME_SIZE } from './zstd.js'

export const MAGIC = [0x56, 0x58, 0x43, 0x31] as const // "VXC1"
export const FORMAT = 1
export const PREFIX_BYTES = 16
export const MAX_HEADER_BYTES = 1 << 20
/** Compression is kept only when it saves at least this fraction. */
const MIN_SAVING = 0.1

export interface RecordHeader {
  format: 1
  operationId: string
  dataType: string
  codec: Codec
  rawLength: number
  storedLength: number
  checksum: string
  createdAt: string
  metadata: JsonValue
  /** zstd only: raw bytes per frame (the last may hold fewer). */
  frameSize?: number
  /** zstd only: the stored size of each frame. */
  frames?: number[]
  image?: ImageHeader
}

export interface EncodedRecord {
  header: RecordHeader
  /** The record, as parts to be written one after another (the body parts are not copied). */
  parts: Uint8Array[]
  byteLength: number
}

const align8 = (n: number) => (n + 7) & ~7

export interface EncodeOptions {
  operationId: string
  codec?: Codec
  metadata?: JsonValue
  createdAt?: string
}

/**
 * Encodes a value as a record. For codec 'none' the body parts view the value's own bytes.
 * @throws {UnsupportedValueError} when the value is not storable.
 */
export function encodeRecord(value: Value, options: EncodeOptions): EncodedRecord {
  assertJsonValue(options.metadata ?? null, 'metadata', true)
  const classified = classify(value)
  const raw =
    classified.dataType === 'json' ? new TextEncoder().encode(JSON.stringify(classified.json)) : classified.bytes
  let codec: Codec = options.codec ?? 'none'
  let body: Uint8Array[] = raw.byteLength ? [raw] : []
  let frames: number[] | undefined
  if (codec === 'zstd') {
    const compressed = compressFrames(raw)
    const storedLength = compressed.reduce((n, f) => n + f.byteLength, 0)
    if (storedLength <= raw.byteLength * (1 - MIN_SAVING)) {
      body = compressed
      frames = compressed.map((f) => f.byteLength)
    } else {
      codec = 'none'
    }
  } else if (codec !== 'none') {
    throw new UnsupportedValueError(`unknown codec ${String(codec)}`)
  }
  const metadata = options.metadata ?? null
  const header: RecordHeader = {
    format: FORMAT,
    operationId: options.operationId,
    dataType: classified.dataType,
    codec,
    rawLength: raw.byteLength,
    storedLength: body.reduce((n, p) => n + p.byteLength, 0),
    checksum: checksumParts(body),
    createdAt: options.createdAt ?? new Date().toISOString(),
    metadata,
    ...(frames ? { frameSize: FRAME_SIZE, frames } : {}),
    ...(classified.dataType === 'Image' ? { image: classified.image } : {}),
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify(header))
  if (headerBytes.byteLength > MAX_HEADER_BYTES) {
    throw new UnsupportedValueError(`record header is ${headerBytes.byteLength} bytes; metadata must stay under 1 MiB`)
  }
  const bodyOffset = align8(PREFIX_BYTES + headerBytes.byteLength)
  const head = new Uint8Array(bodyOffset)
  head.set(MAGIC, 0)
  const dv = new DataView(head.buffer)
  dv.setUint32(4, headerBytes.byteLength, true)
  dv.setUint32(8, headerHash(headerBytes), true)
  head.set(headerBytes, PREFIX_BYTES)
  return { header, parts: [head, ...body], byteLength: bodyOffset + header.storedLength }
}

/**
 * The version a record's magic names: 1 for "VXC1", 2–9 for "VXC2".."VXC9" (a newer voxcache's), 0
 * for anything else. Format 1 is the only record version there has ever been: there is no older one.
 */
function magicVersion(prefix: Uint8Array): number {
  for (let i = 0; i < 3; i++) if (prefix[i] !== MAGIC[i]) return 0
  const digit = prefix[3]! - 0x30
  return digit >= 1 && digit <= 9 ? digit : 0
}

function newer(id: string, what: string): SchemaVersionError {
  return new SchemaVersionError(`was written by a newer voxcache (${what}); upgrade voxcache to read it. It is left as it is.`, {
    entryId: id,
  })
}

/**
 * How many leading bytes of a record hold its header, from the first 16; for reading it in pieces.
 * @throws {CorruptEntryError} when the prefix is not a record's.
 * @throws {SchemaVersionError} for a newer record whose header length this version cannot place.
 */
export function headerExtent(id: string, prefix: Uint8Array): number {
  if (prefix.byteLength < PREFIX_BYTES) throw new CorruptEntryError(id, 'shorter than a record prefix')
  const version = magicVersion(prefix)
  if (version === 0) throw new CorruptEntryError(id, 'bad magic (not a VXC1 record)')
  const length = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getUint32(4, true)
  if (length < 2 || length > MAX_HEADER_BYTES) {
    // A newer layout may put anything here; only parseHeader can tell a newer record from a damaged one.
    if (version > FORMAT) throw newer(id, `record magic VXC${version}`)
    throw new CorruptEntryError(id, `header length ${length} out of bounds`)
  }
  return align8(PREFIX_BYTES + length)
}


export function fail(id: string, reason: string): never {
  throw new CorruptEntryError(id, reason)
}

/** Header JSON must be what encodeRecord lets in (no deeper, no reserved keys): else it was forged. */
function jsonAsStored(id: string, value: unknown, what: string): void {
  try {
    assertJsonValue(value, what, true)
  } catch (error) {
    throw new CorruptEntryError(id, `${what} is not what voxcache stores: ${describeThrown(error)}`, { cause: error })
  }
}

function validateImage(id: string, image: unknown, rawLength: number): ImageHeader {
  const problem = imageHeaderProblem(image, rawLength)
  if (problem) fail(id, problem)
  return image as ImageHeader
}

/** True when a record's prefix and header hold together as format 1 (hash and `"format":1`). */
function verifiesAsFormat1(head: Uint8Array, recordLength: number, bodyOffset: number): boolean {
  if (head.byteLength < bodyOffset || recordLength < bodyOffset) return false
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const headerBytes = head.subarray(PREFIX_BYTES, PREFIX_BYTES + dv.getUint32(4, true))
  if (dv.getUint32(12, true) !== 0 || headerHash(headerBytes) !== dv.getUint32(8, true)) return false
  try {
    return (JSON.parse(new TextDecoder().decode(headerBytes)) as { format?: unknown }).format === FORMAT
  } catch {
    return false
  }
}

/**
 * Parses and validates a record header from the record's first bytes (at least headerExtent()).
 * @throws {CorruptEntryError} naming the entry and the first field that is wrong.
 * @throws {SchemaVersionError} naming the entry when a newer voxcache wrote the record.
 */
export function parseHeader(
  id: string,
  head: Uint8Array,
  recordLength: number,
): { header: RecordHeader; bodyOffset: number } {
  const bodyOffset = headerExtent(id, head)
  const version = magicVersion(head)
  if (version > FORMAT) {
    // "VXC1" with one bit flipped reads "VXC3" (or 0, 5, 9): a record whose format-1 header still
    // verifies is such a flip, and corrupt. Anything else under a newer magic is a newer record.
    if (!verifiesAsFormat1(head, recordLength, bodyOffset)) throw newer(id, `record magic VXC${version}`)
    fail(id, `bad magic (VXC${version} on a format 1 record)`)
  }
  if (head.byteLength < bodyOffset || recordLength < bodyOffset) fail(id, 'record ends inside its header')
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const length = dv.getUint32(4, true)
  if (dv.getUint32(12, true) !== 0) fail(id, 'reserved prefix bytes are not zero')
  const headerBytes = head.subarray(PREFIX_BYTES, PREFIX_BYTES + length)
  if (headerHash(headerBytes) !== dv.getUint32(8, true)) fail(id, 'header checksum mismatch')
  for (let i = PREFIX_BYTES + length; i < bodyOffset; i++) if (head[i] !== 0) fail(id, 'padding is not zero')
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes), (key, value: unknown) => {
      if (RESERVED_KEYS.has(key)) throw new Error(`forbidden key ${key}`)
      return value
    })
  } catch (error) {
    throw new CorruptEntryError(id, 'header is not valid JSON', { cause: error })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(id, 'header is not an object')
  const h = parsed as Record<string, unknown>
  // The header hash held, so a larger format number was written on purpose, by a newer voxcache.
  if (Number.isSafeInteger(h.format) && (h.format as number) > FORMAT) throw newer(id, `record format ${String(h.format)}`)
  if (h.format !== FORMAT) fail(id, `unknown format ${String(h.format)}`)
  if (!isOperationId(h.operationId)) fail(id, 'header operationId is not an id')
  if (h.operationId !== id) fail(id, `record belongs to ${h.operationId}`)
  if (typeof h.dataType !== 'string' || !DATA_TYPES.includes(h.dataType)) fail(id, `dataType ${String(h.dataType)} not allowed`)
  if (h.codec !== 'none' && h.codec !== 'zstd') fail(id, `codec ${String(h.codec)} not allowed`)
  if (!isCount(h.rawLength) || !isCount(h.storedLength)) fail(id, 'bad lengths')
  if (bodyOffset + h.storedLength !== recordLength) {
    fail(id, `body should be ${h.storedLength} bytes, record holds ${recordLength - bodyOffset}`)
  }
  if (typeof h.checksum !== 'string' || !/^[0-9a-f]{16}$/.test(h.checksum)) fail(id, 'bad checksum field')
  if (typeof h.createdAt !== 'string' || Number.isNaN(Date.parse(h.createdAt))) fail(id, 'bad createdAt')
  if (!('metadata' in h)) fail(id, 'metadata missing')
  jsonAsStored(id, h.metadata, 'metadata')
  if (h.codec === 'none') {
    if (h.storedLength !== h.rawLength) fail(id, 'uncompressed body length differs from raw length')
    if ('frames' in h || 'frameSize' in h) fail(id, 'frames on an uncompressed record')
  } else {
    const frameSize = h.frameSize
    if (!isCount(frameSize) || frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) fail(id, 'bad frame size')
    const frames = h.frames
    const count = Math.ceil(h.rawLength / frameSize)
    if (!Array.isArray(frames) || frames.length !== count || !frames.every((n) => isCount(n) && n > 0)) {
      fail(id, 'bad frame table')
    }
    if ((frames as number[]).reduce((a, b) => a + b, 0) !== h.storedLength) fail(id, 'frame table does not sum to body')
  }
  if (h.dataType === 'Image') {
    validateImage(id, h.image, h.rawLength)
  } else {
    if ('image' in h) fail(id, 'image header on a non-image record')
    if (h.dataType !== 'json' && h.dataType !== 'ArrayBuffer') {
      const size = TYPED_ARRAYS[h.dataType as TypedArrayName].BYTES_PER_ELEMENT
      if (h.rawLength % size !== 0) fail(id, `rawLength is not a multiple of ${size}`)
    }
  }
  return { header: h as unknown as RecordHeader, bodyOffset }
}

/** Joins parts into one new buffer (for inline values and exports; payload files are written in parts). */
export function concatParts(
  parts: readonly Uint8Array[],
  byteLength = parts.reduce((n, p) => n + p.byteLength, 0),
): Uint8Array {
  const out = new Uint8Array(byteLength)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}
