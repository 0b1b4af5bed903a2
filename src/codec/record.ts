// The payload record: one self-describing, versioned, checksummed binary value. voxcache writes
// format 2 (record2.ts, layout in layout.ts) and reads format 1 as well (record1.ts). Decoding builds
// only plain data and typed arrays, and validates every field before use. Bodies are decoded in
// body.ts, regions in region.ts.
import type { Codec, JsonValue, Value } from '../types.js'
import type { FrameEntry } from './layout.js'
import { headerExtent1, parseHeader1, PREFIX1_BYTES, verifiesAsFormat1, type RecordHeader1 } from './record1.js'
import { encodeRecord2, headerExtent2, openHeader2, parseHeader2, verifiesAsFormat2, type EncodedChunk, type RecordHeader2, type Sealing } from './record2.js'
import type { Keyring, Keyrings } from './seal.js'
import { fail, magicVersion, newer } from './shared.js'

export { fail } from './shared.js'
export { MAX_HEADER_BYTES } from './shared.js'
export type { RecordHeader1 } from './record1.js'
export type { ChunkInfo, EncodedChunk, RecordHeader2, Sealing } from './record2.js'
export type { FrameEntry } from './layout.js'

/** The newest record format this voxcache writes and reads. */
export const FORMAT = 2
/** Bytes every record has before anything format-specific: enough to tell the format and the header's extent. */
export const PREFIX_BYTES = 64

export type RecordHeader = RecordHeader1 | RecordHeader2

/** A record's header as parsed, with what its body needs: where it starts and (format 2) its frames. */
export interface ParsedRecord {
  header: RecordHeader
  bodyOffset: number
  /** Format 2: the frame table. */
  frames?: FrameEntry[]
  /** Format 2, sealed: what its frames are opened with. */
  sealed?: Sealing
}

export interface EncodedRecord {
  header: RecordHeader2
  /** The record, as parts to be written one after another (the body parts are not copied). */
  parts: Uint8Array[]
  byteLength: number
}

export interface EncodeOptions {
  operationId: string
  codec?: Codec
  metadata?: JsonValue
  createdAt?: string
  /** When the value expires (ISO 8601 UTC, from expiryTime); absent: never. */
  expiresAt?: string
  /** Stored bytes per chunk at most (tests make it small). */
  chunkBytes?: number
  /** Seal the record under this key (record format 2's sealing: header and every frame, AES-GCM). */
  seal?: Keyring
  /** Called after each frame is encoded (the worker's watchdog progress). */
  onFrame?: () => void
  /** Runs a step that reports nothing while it runs (a chunk's SHA-256): see Encode2Options. */
  quiet?: <T>(step: () => Promise<T>) => Promise<T>
}

/**
 * Encodes a value as a record (format 2). Stored-raw frames view the value's own bytes. Chunks after
 * the first go to `sink` as they fill; without one, a value past one chunk is refused.
 * @throws {UnsupportedValueError} when the value is not storable.
 */
export function encodeRecord(value: Value, options: EncodeOptions, sink?: (chunk: EncodedChunk) => Promise<void>): Promise<EncodedRecord> {
  return encodeRecord2(value, options, sink)
}

/**
 * How many leading bytes of a record come before its body (prefix, header and, in format 2, the frame
 * table), from the first PREFIX_BYTES (or the whole record when shorter); for reading it in pieces.
 * @throws {CorruptEntryError} when the prefix is not a record's.
 * @throws {SchemaVersionError} for a newer record whose header length this version cannot place.
 */
export function headerExtent(id: string, prefix: Uint8Array): number {
  if (prefix.byteLength < PREFIX1_BYTES) fail(id, 'shorter than a record prefix')
  const version = magicVersion(prefix)
  if (version === 0) fail(id, 'bad magic (not a voxcache record)')
  if (version === 2) return headerExtent2(id, prefix)
  if (version === 1) {
    const extent = headerExtent1(prefix)
    if (extent === undefined) fail(id, 'header length out of bounds')
    return extent
  }
  // A newer magic: enough to tell a newer record from one of ours with a flipped magic bit (parseHeader),
  // when either of our layouts can place its header; a newer layout may put anything here.
  let extent2: number | undefined
  try {
    extent2 = prefix.byteLength >= PREFIX_BYTES ? headerExtent2(id, prefix) : undefined
  } catch {
    extent2 = undefined
  }
  const extent = Math.max(headerExtent1(prefix) ?? 0, extent2 ?? 0)
  if (!extent) throw newer(id, `record magic VXC${version}`)
  return Math.max(extent, PREFIX_BYTES)
}

/**
 * Parses and validates a record's header from its first bytes (at least headerExtent()).
 * `joined`: every chunk follows the table (a record in memory), not only the first (a record file).
 * @throws {CorruptEntryError} naming the entry and the first field that is wrong.
 * @throws {SchemaVersionError} naming the entry when a newer voxcache wrote the record.
 */
export function parseHeader(id: string, head: Uint8Array, recordLength: number, joined = false): ParsedRecord {
  const version = magicVersion(head)
  if (version > FORMAT) {
    // A magic with one bit flipped reads VXC3 (from VXC2 or VXC1) or 0, 5, 9: a record whose header
    // still verifies as format 1 or 2 is such a flip, and corrupt. Anything else is a newer record.
    if (verifiesAsFormat1(head, recordLength) || verifiesAsFormat2(head)) fail(id, `bad magic (VXC${version} on a record of this voxcache)`)
    throw newer(id, `record magic VXC${version}`)
  }
  headerExtent(id, head)
  if (version === 2) return parseHeader2(id, head, recordLength, joined)
  const parsed = parseHeader1(id, head, recordLength)
  if ('newerFormat' in parsed) throw newer(id, `record format ${parsed.newerFormat}`)
  return parsed
}

export { concatParts } from './shared.js'

/**
 * parseHeader for a record that may be sealed: a format-2 record goes through openHeader2, which opens a
 * sealed header with `keyring` (and parses an unsealed one as parseHeader2 does).
 * @throws {KeyMismatchError} for a sealed record without its key. @throws {CorruptEntryError} @throws {SchemaVersionError}
 */
export async function openHeader(id: string, head: Uint8Array, recordLength: number, joined: boolean, keyring: Keyrings | undefined): Promise<ParsedRecord> {
  return magicVersion(head) === 2 ? openHeader2(id, head, recordLength, joined, keyring) : parseHeader(id, head, recordLength, joined)
}
