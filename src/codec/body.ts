// A record's body: checked against the header's checksums, decompressed (whole, or frame by frame as
// it is read) and rebuilt into a value. The header and the layout are in record.ts; regions in region.ts.
import { CorruptEntryError } from '../errors.js'
import { describeThrown } from '../thrown.js'
import type { Value } from '../types.js'
import { checksumParts, createBodyHasher, frameHash } from './checksum.js'
import { FRAME_ZSTD, type FrameEntry } from './layout.js'
import { fail, headerExtent, openHeader, parseHeader, type ParsedRecord, type RecordHeader } from './record.js'
import type { RecordHeader1 } from './record1.js'
import type { RecordHeader2 } from './record2.js'
import { frameAad, TAG_BYTES, unseal, type Keyring, type Keyrings } from './seal.js'
import { reconstruct } from './values.js'
import { checkFrameHeader, decompressFrameInto, decompressFrames, FRAME_HEADER_MAX } from './zstd.js'

/**
 * Reads bytes [at, at + length) of chunk `chunk`'s stored bytes (chunk 0 starts at the record's body
 * offset). A format-1 record has one chunk, its body. With `transient`, the caller is done with the
 * bytes before its next call, so a reader may return them in a buffer it reuses.
 */
export type ChunkReader = (chunk: number, at: number, length: number, transient?: boolean) => Promise<Uint8Array>

/**
 * Body bytes are read in pieces of about this size: a Blob read costs milliseconds in a worker, and one
 * read per 1 MiB frame doubled a 256³ retrieve (benchmark); 8 MiB keeps a retrieve's peak near its output.
 */
export const READ_CHUNK = 8 * 1024 * 1024
/**
 * A zstd body claiming to inflate past PREFLIGHT_RATIO × its size + PREFLIGHT_SLACK gets every frame
 * header checked before the output is allocated. The slack is a constant (the writer's frame size),
 * not the record's own frame size, which a forged header can set to 64 MiB.
 */
const PREFLIGHT_RATIO = 8
const PREFLIGHT_SLACK = 1024 * 1024

function corruptFrames(id: string, error: unknown): CorruptEntryError {
  if (error instanceof CorruptEntryError) return error
  return new CorruptEntryError(id, `compressed body does not decode: ${describeThrown(error)}`, { cause: error })
}

function rebuild(header: RecordHeader, raw: Uint8Array): Value {
  try {
    return reconstruct(header.dataType, raw, header.image)
  } catch (error) {
    throw new CorruptEntryError(header.operationId, 'body does not decode as its data type', { cause: error })
  }
}

/** Whether a claimed output is large enough against the stored bytes that frame headers are checked first. */
export function needsPreflight(header: RecordHeader): boolean {
  return header.codec === 'zstd' && header.rawLength > PREFLIGHT_RATIO * header.storedLength + PREFLIGHT_SLACK
}

/** Checks a format-2 frame's stored bytes against its table entry: the hash, then a zstd frame's header. */
export function checkFrame2(id: string, e: FrameEntry, stored: Uint8Array, index: number): void {
  if (stored.byteLength !== e.storedLength) fail(id, `frame ${index} is cut short`)
  if (frameHash(stored) !== e.hash) fail(id, `frame ${index} checksum mismatch`)
  if (e.flags & FRAME_ZSTD) {
    try {
      checkFrameHeader(stored.subarray(0, FRAME_HEADER_MAX), e.storedLength, e.rawLength)
    } catch (error) {
      throw corruptFrames(id, error)
    }
  }
}

/**
 * A format-2 frame's stored bytes as inflateFrame2 takes them: checked (checkFrame2), or, in a sealed
 * record, opened (the tag checks them; a buffer of their own) and then their zstd header checked.
 * @throws {CorruptEntryError}
 */
export async function openFrame2(parsed: ParsedRecord, e: FrameEntry, stored: Uint8Array, index: number): Promise<Uint8Array> {
  const id = parsed.header.operationId
  if (!parsed.sealed) {
    checkFrame2(id, e, stored, index)
    return stored
  }
  if (stored.byteLength !== e.storedLength) fail(id, `frame ${index} is cut short`)
  const { keyring, nonceBase } = parsed.sealed
  const plain = await unseal(id, keyring, nonceBase, index + 1, frameAad(id, index, e), stored, `frame ${index}`)
  if (e.flags & FRAME_ZSTD) {
    try {
      checkFrameHeader(plain.subarray(0, FRAME_HEADER_MAX), plain.byteLength, e.rawLength)
    } catch (error) {
      throw corruptFrames(id, error)
    }
  } else if (plain.byteLength !== e.storedLength - TAG_BYTES) {
    fail(id, `frame ${index} opens to ${plain.byteLength} bytes`)
  }
  return plain
}

/** A checked format-2 frame's raw bytes, into `out` at `outAt` (a view of `stored` is copied). */
export function inflateFrame2(id: string, e: FrameEntry, stored: Uint8Array, out: Uint8Array, outAt: number): void {
  if (!(e.flags & FRAME_ZSTD)) {
    out.set(stored, outAt)
    return
  }
  try {
    decompressFrameInto(stored, out.subarray(0, outAt + e.rawLength), outAt, e.rawLength)
  } catch (error) {
    throw corruptFrames(id, error)
  }
}

/** Where each chunk starts in a joined body (all chunks one after another). */
function chunkStarts(header: RecordHeader2): number[] {
  const starts: number[] = []
  let at = 0
  for (const c of header.chunks) {
    starts.push(at)
    at += c.storedLength
  }
  return starts
}

/**
 * Checks a whole body held in memory (every chunk, joined) against the header, decompresses it and
 * rebuilds the value. For a body stored raw the value takes over `body`'s buffer when the body spans it.
 * @throws {CorruptEntryError} on a checksum mismatch or a body that does not decode.
 */
export function decodeBody(parsed: ParsedRecord, body: Uint8Array): Value {
  const { header } = parsed
  const id = header.operationId
  if (body.byteLength !== header.storedLength) fail(id, 'body length differs from header')
  if (header.format === 1) return decodeBody1(header, body)
  const frames = parsed.frames!
  const starts = chunkStarts(header)
  const stored = (i: number) => {
    const e = frames[i]!
    const at = starts[e.chunk]! + e.storedOffset
    return body.subarray(at, at + e.storedLength)
  }
  // Every frame is checked (hash, zstd header) before the output is allocated.
  for (let i = 0; i < frames.length; i++) checkFrame2(id, frames[i]!, stored(i), i)
  if (header.codec === 'none') return rebuild(header, body)
  const out = new Uint8Array(header.rawLength)
  for (let i = 0; i < frames.length; i++) inflateFrame2(id, frames[i]!, stored(i), out, frames[i]!.rawOffset)
  return rebuild(header, out)
}

function decodeBody1(header: RecordHeader1, body: Uint8Array): Value {
  const id = header.operationId
  if (checksumParts(body.byteLength ? [body] : []) !== header.checksum) fail(id, 'body checksum mismatch')
  let raw = body
  if (header.codec === 'zstd') {
    try {
      raw = decompressFrames(body, header.frames!, header.rawLength, header.frameSize!)
    } catch (error) {
      throw corruptFrames(id, error)
    }
  }
  return rebuild(header, raw)
}

/** Serves [at, at + length) of one chunk from reads of READ_CHUNK; views stay valid until the next call. */
export function chunkedReader(read: ChunkReader, chunk: number, storedLength: number) {
  let start = 0
  let buffer: Uint8Array = new Uint8Array(0)
  return async (at: number, length: number): Promise<Uint8Array> => {
    if (at < start || at + length > start + buffer.byteLength) {
      buffer = await read(chunk, at, Math.max(length, Math.min(READ_CHUNK, storedLength - at)))
      start = at
    }
    return buffer.subarray(at - start, at - start + length)
  }
}

/** Sealed frames being opened at once by readBody. */
const OPENING_AHEAD = 4
/**
 * Stored bytes a sealed read asks for at once: a whole chunk (sealed records are written in chunks of
 * 16 MiB). Each read of a Blob is a round trip to the browser process; in 8 MiB pieces those were about
 * a third of a sealed read's time.
 */
const SEALED_PIECE = 16 * 1024 * 1024 + 64 * 1024

/**
 * decodeBody for a body read piece by piece: frames are read (in 8 MiB pieces), checked and
 * decompressed one at a time, so decoding holds the output and one piece rather than the whole stored
 * body as well. A format-2 body stored raw in one chunk is read whole, as the value's own buffer.
 * @throws {CorruptEntryError} on a checksum mismatch or a frame that does not decode.
 */
export async function readBody(parsed: ParsedRecord, read: ChunkReader): Promise<Value> {
  const { header } = parsed
  if (header.format === 1) return readBody1(header, (at, length) => read(0, at, length))
  const id = header.operationId
  const frames = parsed.frames!
  if (header.codec === 'none' && header.chunks.length === 1 && !parsed.sealed) return decodeBody(parsed, await read(0, 0, header.storedLength))
  const readers = header.chunks.map((c, i) => chunkedReader(read, i, c.storedLength))
  const frameAt = (e: FrameEntry) => readers[e.chunk]!(e.storedOffset, e.storedLength)
  // A sealed header is authentic (its tag held), so its raw size is no forged claim.
  if (needsPreflight(header) && !parsed.sealed) {
    // A forged header of a few bytes could claim gigabytes: every compressed frame's header is checked
    // (reading the small body twice) before the output is allocated.
    const peek = header.chunks.map((c, i) => chunkedReader(read, i, c.storedLength))
    for (let i = 0; i < frames.length; i++) {
      const e = frames[i]!
      if (!(e.flags & FRAME_ZSTD)) continue
      try {
        checkFrameHeader(await peek[e.chunk]!(e.storedOffset, Math.min(e.storedLength, FRAME_HEADER_MAX)), e.storedLength, e.rawLength)
      } catch (error) {
        throw corruptFrames(id, error)
      }
    }
  }
  const out = new Uint8Array(header.rawLength)
  if (!parsed.sealed) {
    for (let i = 0; i < frames.length; i++) {
      const e = frames[i]!
      inflateFrame2(id, e, await openFrame2(parsed, e, await frameAt(e), i), out, e.rawOffset)
    }
    return rebuild(header, out)
  }
  return rebuild(header, await openSealedBody(parsed, read, out))
}

/**
 * A sealed body into `out`: read in pieces of whole frames (a chunk at most, the next piece read while
 * this one's frames are opened), its frames opened a few at a time. Each WebCrypto call goes to another
 * thread and back, and one after the other those round trips, not AES, were most of a sealed read's
 * cost. decrypt() copies its input when called, so a piece may go once its frames are handed over.
 */
async function openSealedBody(parsed: ParsedRecord, read: ChunkReader, out: Uint8Array): Promise<Uint8Array> {
  const id = parsed.header.operationId
  const frames = parsed.frames!
  const pieces: { chunk: number; from: number; to: number; first: number; end: number }[] = []
  for (let i = 0; i < frames.length; i++) {
    const e = frames[i]!
    const last = pieces.at(-1)
    if (last && last.chunk === e.chunk && e.storedOffset === last.to && e.storedOffset + e.storedLength - last.from <= SEALED_PIECE) {
      last.to += e.storedLength
      last.end = i + 1
    } else {
      pieces.push({ chunk: e.chunk, from: e.storedOffset, to: e.storedOffset + e.storedLength, first: i, end: i + 1 })
    }
  }
  const readPiece = (k: number) => {
    const p = pieces[k]!
    const reading = read(p.chunk, p.from, p.to - p.from)
    reading.catch(() => undefined) // awaited in turn below
    return reading
  }
  const opening: Promise<Uint8Array>[] = []
  const settle = async (i: number) => {
    const e = frames[i]!
    inflateFrame2(id, e, await opening[i]!, out, e.rawOffset)
    delete opening[i]
  }
  let next = pieces.length ? readPiece(0) : undefined
  for (let k = 0; k < pieces.length; k++) {
    const piece = pieces[k]!
    const bytes = await next!
    next = k + 1 < pieces.length ? readPiece(k + 1) : undefined
    for (let i = piece.first; i < piece.end; i++) {
      if (i >= OPENING_AHEAD) await settle(i - OPENING_AHEAD)
      const e = frames[i]!
      const opened = openFrame2(parsed, e, bytes.subarray(e.storedOffset - piece.from, e.storedOffset - piece.from + e.storedLength), i)
      // Observed at once: a frame that fails while an earlier one is awaited must not surface as an
      // unhandled rejection (the failure still reaches whoever awaits it, in order).
      opened.catch(() => undefined)
      opening[i] = opened
    }
  }
  for (let i = Math.max(0, frames.length - OPENING_AHEAD); i < frames.length; i++) await settle(i)
  return out
}

async function readBody1(header: RecordHeader1, read: (offset: number, length: number) => Promise<Uint8Array>): Promise<Value> {
  if (header.codec !== 'zstd') return decodeBody1(header, await read(0, header.storedLength))
  const id = header.operationId
  const frames = header.frames!
  const frameSize = header.frameSize!
  const checkFrame = (head: Uint8Array, i: number) => {
    try {
      checkFrameHeader(head, frames[i]!, Math.min(frameSize, header.rawLength - i * frameSize))
    } catch (error) {
      throw corruptFrames(id, error)
    }
  }
  const chunkRead = (_chunk: number, at: number, length: number) => read(at, length)
  if (needsPreflight(header)) {
    const peek = chunkedReader(chunkRead, 0, header.storedLength)
    let at = 0
    for (let i = 0; i < frames.length; i++) {
      checkFrame(await peek(at, Math.min(frames[i]!, FRAME_HEADER_MAX)), i)
      at += frames[i]!
    }
  }
  const body = chunkedReader(chunkRead, 0, header.storedLength)
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
      throw corruptFrames(id, error)
    }
    inAt += size
  }
  if (hasher.digest('hex') !== header.checksum) fail(id, 'body checksum mismatch')
  return rebuild(header, out)
}

/**
 * Decodes a whole record held in memory, every chunk joined after it (inline index values, imports).
 * @throws {SchemaVersionError} for a sealed record: openRecord opens those.
 */
export function decodeRecord(id: string, bytes: Uint8Array): { header: RecordHeader; value: Value } {
  const parsed = parseHeader(id, bytes, bytes.byteLength, true)
  return { header: parsed.header, value: decodeBody(parsed, bytes.subarray(parsed.bodyOffset)) }
}

/**
 * decodeRecord for a record that may be sealed: a sealed one is opened with `keyring`.
 * @throws {KeyMismatchError} for a sealed record and no keyring, or a keyring of another key.
 * @throws {CorruptEntryError} @throws {SchemaVersionError}
 */
export async function openRecord(id: string, bytes: Uint8Array, keyring: Keyrings | undefined): Promise<{ header: RecordHeader; value: Value }> {
  const parsed = await openHeader(id, bytes, bytes.byteLength, true, keyring)
  if (parsed.header.format === 1) return { header: parsed.header, value: decodeBody(parsed, bytes.subarray(parsed.bodyOffset)) }
  const starts = chunkStarts(parsed.header).map((at) => parsed.bodyOffset + at)
  const read: ChunkReader = async (chunk, from, length) => bytes.subarray(starts[chunk]! + from, starts[chunk]! + from + length)
  return { header: parsed.header, value: await readBody(parsed, read) }
}
