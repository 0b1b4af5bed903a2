// A record's body: checked against the header's checksum, decompressed (whole, or frame by frame as
// it is read) and rebuilt into a value. The header and the layout are in record.ts.
import { CorruptEntryError } from '../errors.js'
import { describeThrown } from '../thrown.js'
import type { Value } from '../types.js'
import { checksumParts, createBodyHasher } from './checksum.js'
import { fail, parseHeader, type RecordHeader } from './record.js'
import { reconstruct } from './values.js'
import { checkFrameHeader, decompressFrameInto, decompressFrames, FRAME_HEADER_MAX } from './zstd.js'

/**
 * Checks the body against the header's checksum, decompresses it and rebuilds the value.
 * For codec 'none' the value takes over `body`'s buffer when the body spans it.
 * @throws {CorruptEntryError} on a checksum mismatch or a body that does not decode.
 */
export function decodeBody(header: RecordHeader, body: Uint8Array): Value {
  const id = header.operationId
  if (body.byteLength !== header.storedLength) fail(id, 'body length differs from header')
  if (checksumParts(body.byteLength ? [body] : []) !== header.checksum) fail(id, 'body checksum mismatch')
  let raw = body
  if (header.codec === 'zstd') {
    try {
      raw = decompressFrames(body, header.frames!, header.rawLength, header.frameSize!)
    } catch (error) {
      throw new CorruptEntryError(id, `compressed body does not decode: ${describeThrown(error)}`, { cause: error })
    }
  }
  try {
    return reconstruct(header.dataType, raw, header.image)
  } catch (error) {
    throw new CorruptEntryError(id, 'body does not decode as its data type', { cause: error })
  }
}

/**
 * Body bytes are read in pieces of about this size: a Blob read costs milliseconds in a worker, and one
 * read per 1 MiB frame doubled a 256³ retrieve (benchmark); 8 MiB keeps a retrieve's peak near its output.
 */
const READ_CHUNK = 8 * 1024 * 1024
/**
 * A zstd body claiming to inflate past PREFLIGHT_RATIO × its size + PREFLIGHT_SLACK gets every frame
 * header checked before the output is allocated. The slack is a constant (the writer's frame size),
 * not the record's own frameSize, which a forged header can set to 64 MiB.
 */
const PREFLIGHT_RATIO = 8
const PREFLIGHT_SLACK = 1024 * 1024

/** Serves [at, at + length) of the body from reads of READ_CHUNK; views stay valid until the next call. */
function chunkedReader(read: (offset: number, length: number) => Promise<Uint8Array>, storedLength: number) {
  let start = 0
  let buffer: Uint8Array = new Uint8Array(0)
  return async (at: number, length: number): Promise<Uint8Array> => {
    if (at < start || at + length > start + buffer.byteLength) {
      buffer = await read(at, Math.max(length, Math.min(READ_CHUNK, storedLength - at)))
      start = at
    }
    return buffer.subarray(at - start, at - start + length)
  }
}

/**
 * decodeBody for a body read piece by piece: zstd frames are read (in 8 MiB pieces), hashed and
 * decompressed one at a time, so decoding holds the output and one piece rather than the whole
 * compressed body as well.
 * `read(offset, length)` returns bytes of the body.
 * @throws {CorruptEntryError} on a checksum mismatch or a frame that does not decode.
 */
export async function decodeBodyInFrames(
  header: RecordHeader,
  read: (offset: number, length: number) => Promise<Uint8Array>,
): Promise<Value> {
  if (header.codec !== 'zstd') return decodeBody(header, await read(0, header.storedLength))
  const id = header.operationId
  const frames = header.frames!
  const frameSize = header.frameSize!
  const checkFrame = (head: Uint8Array, i: number) => {
    try {
      checkFrameHeader(head, frames[i]!, Math.min(frameSize, header.rawLength - i * frameSize))
    } catch (error) {
      throw new CorruptEntryError(id, `compressed body does not decode: ${describeThrown(error)}`, { cause: error })
    }
  }
  // A header (hashes and all) can be forged, and frames of a few bytes could claim 64 MiB each. A body
  // that claims to inflate past PREFLIGHT_RATIO has every frame header checked before the output is
  // allocated (reading the small compressed body twice); below it, the allocation is bounded by the
  // body's size (8 × it + 1 MiB) and each frame is checked as it comes.
  if (header.rawLength > PREFLIGHT_RATIO * header.storedLength + PREFLIGHT_SLACK) {
    const peek = chunkedReader(read, header.storedLength)
    let at = 0
    for (let i = 0; i < frames.length; i++) {
      checkFrame(await peek(at, Math.min(frames[i]!, FRAME_HEADER_MAX)), i)
      at += frames[i]!
    }
  }
  const body = chunkedReader(read, header.storedLength)
  const hasher = await createBodyHasher()
  const out = new Uint8Array(header.rawLength)
  let inAt = 0
  let outAt = 0
  for (let i = 0; i < frames.length; i++) {
    const size = frames[i]!
    const frame = await body(inAt, size)
    if (frame.byteLength !== size) fail(id, 'body is shorter than its frame table')
    checkFrame(frame, i)
    hasher.update(frame)
    try {
      outAt += decompressFrameInto(frame, out, outAt, frameSize)
    } catch (error) {
      throw new CorruptEntryError(id, `compressed body does not decode: ${describeThrown(error)}`, { cause: error })
    }
    inAt += size
  }
  if (hasher.digest('hex') !== header.checksum) fail(id, 'body checksum mismatch')
  try {
    return reconstruct(header.dataType, out, header.image)
  } catch (error) {
    throw new CorruptEntryError(id, 'body does not decode as its data type', { cause: error })
  }
}

/** Decodes a whole record held in memory (inline index values, imports). */
export function decodeRecord(id: string, bytes: Uint8Array): { header: RecordHeader; value: Value } {
  const { header, bodyOffset } = parseHeader(id, bytes, bytes.byteLength)
  return { header, value: decodeBody(header, bytes.subarray(bodyOffset)) }
}
