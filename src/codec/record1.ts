// Record format 1, read only (voxcache up to 0.x wrote it; format 2 is written now):
//
//   "VXC1" | u32 LE header length | u32 LE xxhash32 of header | u32 zero | header (UTF-8 JSON)
//   | zero padding to a multiple of 8 | body (codec none: the raw bytes; zstd: 1 MiB frames)
import { headerHash } from './checksum.js'
import { checkCommonFields } from './record2.js'
import { fail, MAX_HEADER_BYTES, parseHeaderJson, type HeaderCommon } from './shared.js'
import { isCount } from './values.js'
import { MAX_FRAME_SIZE, MIN_FRAME_SIZE } from './zstd.js'

export const PREFIX1_BYTES = 16

/** Format 1's header: `checksum` is the xxhash64 of the body. */
export interface RecordHeader1 extends HeaderCommon {
  format: 1
  /** zstd only: raw bytes per frame (the last may hold fewer). */
  frameSize?: number
  /** zstd only: the stored size of each frame. */
  frames?: number[]
}

const align8 = (n: number) => (n + 7) & ~7

/** Bytes of a format-1 record before its body, from its first 16; undefined when the length is out of bounds. */
export function headerExtent1(prefix: Uint8Array): number | undefined {
  const length = new DataView(prefix.buffer, prefix.byteOffset, PREFIX1_BYTES).getUint32(4, true)
  return length < 2 || length > MAX_HEADER_BYTES ? undefined : align8(PREFIX1_BYTES + length)
}

/** True when a record's prefix and header hold together as format 1 (hash and `"format":1`), whatever its magic. */
export function verifiesAsFormat1(head: Uint8Array, recordLength: number): boolean {
  if (head.byteLength < PREFIX1_BYTES) return false
  const bodyOffset = headerExtent1(head)
  if (bodyOffset === undefined || head.byteLength < bodyOffset || recordLength < bodyOffset) return false
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const headerBytes = head.subarray(PREFIX1_BYTES, PREFIX1_BYTES + dv.getUint32(4, true))
  if (dv.getUint32(12, true) !== 0 || headerHash(headerBytes) !== dv.getUint32(8, true)) return false
  try {
    return (JSON.parse(new TextDecoder().decode(headerBytes)) as { format?: unknown }).format === 1
  } catch {
    return false
  }
}

/**
 * Parses and checks a format-1 header (the magic was checked by the caller).
 * @throws {CorruptEntryError} naming the first field that is wrong.
 * @returns the header, and `newer` set when the hash holds over a header claiming a later format.
 */
export function parseHeader1(
  id: string,
  head: Uint8Array,
  recordLength: number,
): { header: RecordHeader1; bodyOffset: number } | { newerFormat: number } {
  const bodyOffset = headerExtent1(head)
  if (bodyOffset === undefined) fail(id, 'header length out of bounds')
  if (head.byteLength < bodyOffset || recordLength < bodyOffset) fail(id, 'record ends inside its header')
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const length = dv.getUint32(4, true)
  if (dv.getUint32(12, true) !== 0) fail(id, 'reserved prefix bytes are not zero')
  const headerBytes = head.subarray(PREFIX1_BYTES, PREFIX1_BYTES + length)
  if (headerHash(headerBytes) !== dv.getUint32(8, true)) fail(id, 'header checksum mismatch')
  for (let i = PREFIX1_BYTES + length; i < bodyOffset; i++) if (head[i] !== 0) fail(id, 'padding is not zero')
  const h = parseHeaderJson(id, headerBytes)
  // The header hash held, so a format past 2 was written on purpose, by a newer voxcache.
  if (Number.isSafeInteger(h.format) && (h.format as number) > 2) return { newerFormat: h.format as number }
  if (h.format !== 1) fail(id, `format ${String(h.format)} under a VXC1 magic`)
  checkCommonFields(id, h)
  const header = h as unknown as RecordHeader1
  if (bodyOffset + header.storedLength !== recordLength) {
    fail(id, `body should be ${header.storedLength} bytes, record holds ${recordLength - bodyOffset}`)
  }
  if (header.codec === 'none') {
    if (header.storedLength !== header.rawLength) fail(id, 'uncompressed body length differs from raw length')
    if ('frames' in h || 'frameSize' in h) fail(id, 'frames on an uncompressed record')
  } else {
    const frameSize = h.frameSize
    if (!isCount(frameSize) || frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) fail(id, 'bad frame size')
    const frames = h.frames
    const count = Math.ceil(header.rawLength / frameSize)
    if (!Array.isArray(frames) || frames.length !== count || !frames.every((n) => isCount(n) && n > 0)) {
      fail(id, 'bad frame table')
    }
    if ((frames as number[]).reduce((a, b) => a + b, 0) !== header.storedLength) fail(id, 'frame table does not sum to body')
  }
  return { header, bodyOffset }
}
