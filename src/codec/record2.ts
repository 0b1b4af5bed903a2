// Record format 2: a prefix, a JSON header, a frame table, then the stored frames in chunks (the first
// in the record itself, any others beside it). Byte layout in layout.ts. Encoding is here; decoding the
// body (whole or a region) is in body.ts and region.ts.
import { SchemaVersionError, UnsupportedValueError } from '../errors.js'
import { isOperationId } from '../operation-id.js'
import { isExpiryText } from '../expiry-time.js'
import type { Codec, JsonValue, Value } from '../types.js'
import { checksumParts, frameHash, prefixHash } from './checksum.js'
import {
  align8,
  CHUNK_BYTES,
  ENTRY_BYTES,
  FLAG_SEALED,
  FRAME_ZSTD,
  frameLayout,
  MAGIC2,
  MAX_FRAME_BYTES,
  PREFIX2_BYTES,
  readEntry,
  readPrefix2,
  sliceRange,
  writeEntry,
  writePrefix2,
  type FrameEntry,
  type Prefix2,
} from './layout.js'
import { assertJsonValue, classify, DATA_TYPES, isCount, TYPED_ARRAYS, type ImageHeader, type TypedArrayName } from './values.js'
import { compressFrame, compressFrameInto } from './zstd.js'
import { checkKeyId, frameAad, headerAad, MAX_COUNTER, newNonceBase, seal, TAG_BYTES, unseal, ZERO_HASH, type Keyring, type Keyrings } from './seal.js'
import { concatParts, fail, MAX_HEADER_BYTES, parseHeaderJson, validateImage, type HeaderCommon } from './shared.js'

/** Compression of a frame is kept only when it saves at least this fraction. */
const MIN_SAVING = 0.1

export interface ChunkInfo {
  storedLength: number
  /**
   * SHA-256 of the chunk's stored bytes, 64 hex digits: the name of its file (chunk n ≥ 1), so that a
   * chunk can be a content-addressed blob. Chunk 0 lives in the record file, which the operation id
   * names: its field is CHUNK0_UNNAMED, and its digest is taken by whatever needs one (readers before
   * this accept either).
   */
  sha256: string
}

/**
 * Chunk 0's `sha256`: not taken at store time. It named nothing (chunk 0 is in the record file), and
 * WebCrypto's digest runs on the calling thread in Chromium (195–220 ms for 134 MB,
 * bench/digest-probe.mjs) — more than the write of the record itself (bench/results.md).
 */
export const CHUNK0_UNNAMED = '0'.repeat(64)

/**
 * Format 2's header: `codec` is 'zstd' when at least one frame is compressed, `storedLength` counts
 * every chunk, `checksum` is the xxhash64 of the frame table (which holds each frame's xxhash64).
 */
export interface RecordHeader2 extends HeaderCommon {
  format: 2
  /** Raw bytes per frame; the last frame may hold fewer. */
  frameBytes: number
  chunks: ChunkInfo[]
}

/** A chunk other than the first, as the encoder hands it to be written beside the record. */
export interface EncodedChunk {
  index: number
  parts: Uint8Array[]
  byteLength: number
  sha256: string
}

/** Frames being sealed at once by RecordWriter (readBody opens as many: see body.ts). */
const SEALING_AHEAD = 4

export interface Encode2Options {
  operationId: string
  codec?: Codec
  metadata?: JsonValue
  createdAt?: string
  /** When the value expires (ISO 8601 UTC, from expiryTime): kept in the header, sealed with it under a key. */
  expiresAt?: string
  /** Stored bytes per chunk at most (tests make it small). */
  chunkBytes?: number
  /** Seal the record (header and every frame) under this key. */
  seal?: Keyring
  /** Called after each frame is encoded: the worker tells its watchdog that a long store is moving. */
  onFrame?: () => void
  /**
   * Runs a step that reports nothing while it runs: a chunk's SHA-256, one WebCrypto call (about 1 s for
   * 256 MiB here), which the worker's watchdog must not take for a stall.
   */
  quiet?: <T>(step: () => Promise<T>) => Promise<T>
}

export interface EncodedRecord2 {
  header: RecordHeader2
  /** The record file: prefix and header, frame table, chunk 0 (body parts view the value when stored raw). */
  parts: Uint8Array[]
  byteLength: number
}

async function sha256Hex(parts: readonly Uint8Array[], byteLength: number): Promise<string> {
  const joined = parts.length === 1 ? parts[0]! : concatParts(parts, byteLength)
  // Chromium runs digest() on the calling thread (195–220 ms for 134 MB, bench/digest-probe.mjs), so
  // starting it early overlaps nothing; only chunks after the first, which it names, pay for it.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', joined as Uint8Array<ArrayBuffer>))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * Encodes a value as a format-2 record. Chunks after the first are handed to `sink` as each is full
 * (and not kept), so a value past one chunk is written without a second copy of it in memory; without
 * a sink, such a value is refused.
 * @throws {UnsupportedValueError} when the value is not storable.
 */
export async function encodeRecord2(
  value: Value,
  options: Encode2Options,
  sink?: (chunk: EncodedChunk) => Promise<void>,
): Promise<EncodedRecord2> {
  const classified = classify(value)
  const raw =
    classified.dataType === 'json' ? new TextEncoder().encode(JSON.stringify(classified.json)) : classified.bytes
  const shape: ValueShape = { dataType: classified.dataType, rawLength: raw.byteLength, ...(classified.dataType === 'Image' ? { image: classified.image } : {}) }
  const writer = new RecordWriter(shape, options, sink)
  if (raw.byteLength) await writer.push(raw)
  return writer.finish()
}

/** What a record is of, before its bytes: its data type, raw length and, for an image, its description. */
export interface ValueShape {
  dataType: string
  rawLength: number
  image?: ImageHeader
}

/**
 * A format-2 record written from a value's raw bytes as they come, in pieces of any size (whole frames
 * are encoded as soon as they are complete; a piece's frames stored raw stay views of it until their
 * chunk is handed over). finish() gives the record: its prefix, header and table, and chunk 0.
 */
export class RecordWriter {
  readonly #options: Encode2Options
  readonly #shape: ValueShape
  readonly #sink: ((chunk: EncodedChunk) => Promise<void>) | undefined
  readonly #frameBytes: number
  readonly #sliceBytes: number
  readonly #frameCount: number
  readonly #table: Uint8Array
  readonly #chunks: ChunkInfo[] = []
  #chunk0: Uint8Array[] = []
  #parts: Uint8Array[] = []
  #partsLength = 0
  #compressedAny = false
  #frame = 0
  /** The start of a frame whose bytes have not all come yet (a copy). */
  #carry: Uint8Array | undefined
  /** 'zstd' or sealed: the buffer the current chunk's stored bytes are built in. */
  #arena: Uint8Array | undefined
  /** Frames being sealed into the arena, oldest first. */
  #sealing: Promise<void>[] = []
  /** Sealed: the record's nonce base (random), zero-free in its first 8 bytes. */
  readonly #nonceBase: Uint8Array | undefined

  /** @throws {UnsupportedValueError} for an unknown codec, an expiry not in expiryTime's form, or metadata a record cannot hold. */
  constructor(shape: ValueShape, options: Encode2Options, sink?: (chunk: EncodedChunk) => Promise<void>) {
    assertJsonValue(options.metadata ?? null, 'metadata', true)
    const codec = options.codec ?? 'none'
    if (codec !== 'none' && codec !== 'zstd') throw new UnsupportedValueError(`unknown codec ${String(codec)}`)
    // Never write a header the decoder would refuse.
    if (options.expiresAt !== undefined && !isExpiryText(options.expiresAt)) throw new UnsupportedValueError(`expiresAt ${String(options.expiresAt)} is not an ISO time as expiryTime writes it`)
    this.#options = options
    this.#shape = shape
    this.#sink = sink
    ;({ frameBytes: this.#frameBytes, sliceBytes: this.#sliceBytes } = frameLayout(shape.dataType, shape.image))
    this.#frameCount = Math.ceil(shape.rawLength / this.#frameBytes)
    this.#table = new Uint8Array(this.#frameCount * ENTRY_BYTES)
    if (options.seal) {
      if (this.#frameCount >= MAX_COUNTER) throw new UnsupportedValueError(`a sealed record holds at most ${MAX_COUNTER - 1} frames`)
      this.#nonceBase = newNonceBase()
    }
  }

  #frameLength(i: number): number {
    return Math.min(this.#frameBytes, this.#shape.rawLength - i * this.#frameBytes)
  }

  /**
   * The next raw bytes of the value, in order.
   * @throws {UnsupportedValueError} when they run past the value's raw length.
   */
  async push(bytes: Uint8Array): Promise<void> {
    let at = 0
    if (this.#carry) {
      const carry = this.#carry
      const take = Math.min(this.#frameLength(this.#frame) - carry.byteLength, bytes.byteLength)
      const joined = new Uint8Array(carry.byteLength + take)
      joined.set(carry)
      joined.set(bytes.subarray(0, take), carry.byteLength)
      at = take
      this.#carry = joined
      if (joined.byteLength < this.#frameLength(this.#frame)) return
      this.#carry = undefined
      await this.#encodeFrame(joined)
    }
    while (at < bytes.byteLength) {
      if (this.#frame >= this.#frameCount) throw new UnsupportedValueError(`the value has more than the ${this.#shape.rawLength} bytes it said`)
      const length = this.#frameLength(this.#frame)
      if (bytes.byteLength - at < length) {
        this.#carry = bytes.slice(at)
        return
      }
      await this.#encodeFrame(bytes.subarray(at, at + length))
      at += length
    }
  }

  async #encodeFrame(frame: Uint8Array): Promise<void> {
    const i = this.#frame++
    const limit = this.#options.chunkBytes ?? CHUNK_BYTES
    const rawOffset = i * this.#frameBytes
    let stored = frame
    let flags = 0
    if (this.#options.seal) return this.#sealFrame(i, rawOffset, frame)
    if (this.#options.codec === 'zstd') {
      // A compressed chunk is built in one buffer (an arena), frames stored raw copied
      // in too: its SHA-256 is then taken without joining the frames first (a second copy of the chunk).
      const worth = Math.floor(frame.byteLength * (1 - MIN_SAVING))
      if (this.#partsLength > 0 && this.#partsLength + frame.byteLength > limit) {
        // It may still fit compressed; if not, the chunk closes below.
        const room = Math.min(limit - this.#partsLength, worth)
        const arena = this.#room(this.#partsLength + room, rawOffset)
        const n = compressFrameInto(frame, arena, this.#partsLength, room)
        if (n >= 0) return this.#place(i, rawOffset, frame, arena.subarray(this.#partsLength, this.#partsLength + n), FRAME_ZSTD)
        await this.#closeChunk()
      }
      const arena = this.#room(this.#partsLength + frame.byteLength, rawOffset)
      const n = compressFrameInto(frame, arena, this.#partsLength, worth)
      if (n >= 0) {
        stored = arena.subarray(this.#partsLength, this.#partsLength + n)
        flags = FRAME_ZSTD
      } else {
        arena.set(frame, this.#partsLength)
        stored = arena.subarray(this.#partsLength, this.#partsLength + frame.byteLength)
      }
      return this.#place(i, rawOffset, frame, stored, flags)
    }
    if (this.#partsLength > 0 && this.#partsLength + stored.byteLength > limit) await this.#closeChunk()
    return this.#place(i, rawOffset, frame, stored, flags)
  }

  /**
   * Frame i compressed (when that saves MIN_SAVING) and sealed, bound to its table entry, then copied
   * into the chunk's arena: WebCrypto returns a buffer per call, and one arena keeps the chunk's SHA-256
   * from needing a joined copy.
   */
  async #sealFrame(i: number, rawOffset: number, frame: Uint8Array): Promise<void> {
    const keyring = this.#options.seal!
    const limit = this.#options.chunkBytes ?? CHUNK_BYTES
    let body = frame
    let flags = 0
    if (this.#options.codec === 'zstd') {
      const packed = compressFrame(frame)
      if (packed.byteLength <= Math.floor(frame.byteLength * (1 - MIN_SAVING))) {
        body = packed
        flags = FRAME_ZSTD
      }
    }
    const storedLength = body.byteLength + TAG_BYTES
    if (this.#partsLength > 0 && this.#partsLength + storedLength > limit) await this.#closeChunk()
    const entry: FrameEntry = {
      rawOffset,
      rawLength: frame.byteLength,
      ...sliceRange(this.#sliceBytes, rawOffset, frame.byteLength),
      chunk: this.#chunks.length,
      storedOffset: this.#partsLength,
      storedLength,
      flags,
      hash: ZERO_HASH,
    }
    // The frame's place in the arena is known before it is sealed (its length is its bytes plus the tag),
    // so a few frames are sealed at once: each WebCrypto call is a round trip to another thread, and one
    // after the other those, not AES, were most of a sealed store's extra cost. encrypt() copies its
    // input when called; the arena grows only once no seal is pending (it would move the bytes).
    if (!this.#arena || this.#arena.byteLength < this.#partsLength + storedLength) await this.#drainSeals()
    const arena = this.#room(this.#partsLength + storedLength, rawOffset)
    const slot = arena.subarray(this.#partsLength, this.#partsLength + storedLength)
    const sealing = seal(keyring, this.#nonceBase!, i + 1, frameAad(this.#options.operationId, i, entry), body).then((sealed) => slot.set(sealed))
    sealing.catch(() => undefined) // observed here; the failure reaches #drainSeals in order
    this.#sealing.push(sealing)
    this.#place(i, rawOffset, frame, slot, flags)
    if (this.#sealing.length >= SEALING_AHEAD) await this.#sealing.shift()
  }

  /** Waits for every frame being sealed (before the chunk's hash, or the arena moves). */
  async #drainSeals(): Promise<void> {
    while (this.#sealing.length) await this.#sealing.shift()
  }

  /**
   * The arena with room for `need` bytes, allocated once at the most the chunk can hold (its limit, or
   * the value's raw bytes left): a large zeroed buffer's pages are only taken as they are written, so
   * the memory it costs is what the chunk holds (the benchmark's peak-memory figures). Grown (the
   * chunk's bytes moved in) only for a frame larger than that.
   */
  #room(need: number, rawOffset: number): Uint8Array {
    const arena = this.#arena
    if (arena && arena.byteLength >= need) return arena
    const limit = this.#options.chunkBytes ?? CHUNK_BYTES
    // A sealed frame stores its tag beside its bytes.
    const tags = this.#options.seal ? TAG_BYTES * (this.#frameCount - rawOffset / this.#frameBytes) : 0
    const next = new Uint8Array(Math.max(need, Math.min(limit, this.#partsLength + this.#shape.rawLength - rawOffset + tags)))
    if (arena && this.#partsLength) {
      next.set(arena.subarray(0, this.#partsLength))
      this.#parts = [next.subarray(0, this.#partsLength)]
    }
    return (this.#arena = next)
  }

  /** Enters frame i in the table and appends its stored bytes to the chunk. */
  #place(i: number, rawOffset: number, frame: Uint8Array, stored: Uint8Array, flags: number): void {
    this.#options.onFrame?.()
    if (flags & FRAME_ZSTD) this.#compressedAny = true
    writeEntry(this.#table, i, {
      rawOffset,
      rawLength: frame.byteLength,
      ...sliceRange(this.#sliceBytes, rawOffset, frame.byteLength),
      chunk: this.#chunks.length,
      storedOffset: this.#partsLength,
      storedLength: stored.byteLength,
      flags,
      hash: this.#options.seal ? ZERO_HASH : frameHash(stored),
    })
    // Neighbouring stored bytes (frames stored raw in the value, or in the arena): one view covers them.
    const parts = this.#parts
    const last = parts.at(-1)
    if (last && last.buffer === stored.buffer && last.byteOffset + last.byteLength === stored.byteOffset) {
      parts[parts.length - 1] = new Uint8Array(stored.buffer, last.byteOffset, last.byteLength + stored.byteLength)
    } else {
      parts.push(stored)
    }
    this.#partsLength += stored.byteLength
  }

  async #closeChunk(): Promise<void> {
    await this.#drainSeals()
    const parts = this.#parts
    const byteLength = this.#partsLength
    const index = this.#chunks.length
    const sha256 = index === 0 ? CHUNK0_UNNAMED : await (this.#options.quiet ? this.#options.quiet(() => sha256Hex(parts, byteLength)) : sha256Hex(parts, byteLength))
    this.#chunks.push({ storedLength: byteLength, sha256 })
    this.#parts = []
    this.#partsLength = 0
    this.#arena = undefined
    if (index === 0) this.#chunk0 = parts
    else if (this.#sink) await this.#sink({ index, parts, byteLength, sha256 })
    else {
      const what = this.#shape.dataType === 'json' ? 'JSON values are kept in one' : 'this record has nowhere to put the others'
      throw new UnsupportedValueError(`a value of ${this.#shape.rawLength} bytes needs more than one chunk of ${this.#options.chunkBytes ?? CHUNK_BYTES} bytes, and ${what}`)
    }
  }

  /**
   * The record, once every byte has come.
   * @throws {UnsupportedValueError} when bytes are missing, or the header would pass 1 MiB.
   */
  async finish(): Promise<EncodedRecord2> {
    if (this.#carry || this.#frame < this.#frameCount) {
      const got = this.#frame * this.#frameBytes + (this.#carry?.byteLength ?? 0)
      throw new UnsupportedValueError(`the value ended after ${Math.min(got, this.#shape.rawLength)} of its ${this.#shape.rawLength} bytes`)
    }
    await this.#closeChunk()
    const chunks = this.#chunks
    const { image } = this.#shape
    const header: RecordHeader2 = {
      format: 2,
      operationId: this.#options.operationId,
      dataType: this.#shape.dataType,
      codec: this.#compressedAny ? 'zstd' : 'none',
      rawLength: this.#shape.rawLength,
      storedLength: chunks.reduce((n, c) => n + c.storedLength, 0),
      checksum: checksumParts([this.#table]),
      createdAt: this.#options.createdAt ?? new Date().toISOString(),
      metadata: this.#options.metadata ?? null,
      // Only when set: a record that does not expire has the header an older voxcache writes.
      ...(this.#options.expiresAt !== undefined ? { expiresAt: this.#options.expiresAt } : {}),
      frameBytes: this.#frameBytes,
      chunks,
      ...(image ? { image } : {}),
    }
    const clear = new TextEncoder().encode(JSON.stringify(header))
    const keyring = this.#options.seal
    const headerLength = clear.byteLength + (keyring ? TAG_BYTES : 0)
    if (headerLength > MAX_HEADER_BYTES) {
      throw new UnsupportedValueError(`record header is ${headerLength} bytes; metadata must stay under 1 MiB`)
    }
    const tableOffset = align8(PREFIX2_BYTES + headerLength)
    const head = new Uint8Array(tableOffset)
    writePrefix2(head, {
      flags: keyring ? FLAG_SEALED : 0,
      headerLength,
      frameCount: this.#frameCount,
      tableOffset,
      ...(keyring ? { keyId: keyring.keyId, nonceBase: this.#nonceBase! } : {}),
    })
    // Sealed, the header is bound to the prefix (key id, nonce, lengths) and the operation id.
    const headerBytes = keyring ? await seal(keyring, this.#nonceBase!, 0, headerAad(head, this.#options.operationId), clear) : clear
    head.set(headerBytes, PREFIX2_BYTES)
    new DataView(head.buffer).setUint32(12, prefixHash(head.subarray(0, PREFIX2_BYTES), headerBytes), true)
    return {
      header,
      parts: [head, this.#table, ...this.#chunk0],
      byteLength: tableOffset + this.#table.byteLength + chunks[0]!.storedLength,
    }
  }
}

/** What a parsed format-2 record holds besides its header: where the body starts, and the frames. */
export interface Parsed2 {
  header: RecordHeader2
  bodyOffset: number
  frames: FrameEntry[]
  /** A sealed record: what its frames are opened with. */
  sealed?: Sealing
}

/** A sealed record's key and nonce base, for opening its frames. */
export interface Sealing {
  keyring: Keyring
  nonceBase: Uint8Array
}

/**
 * Bytes of a format-2 record that come before its body (prefix, header, table), from the prefix.
 * @throws {CorruptEntryError} when the prefix cannot be a record's.
 */
export function headerExtent2(id: string, prefix: Uint8Array): number {
  if (prefix.byteLength < PREFIX2_BYTES) fail(id, 'shorter than a record prefix')
  const p = readPrefix2(prefix)
  if (!p || p.headerLength < 2 || p.headerLength > MAX_HEADER_BYTES) fail(id, 'header length out of bounds')
  if (p.tableOffset !== align8(PREFIX2_BYTES + p.headerLength)) fail(id, 'table offset does not follow the header')
  return p.tableOffset + p.frameCount * ENTRY_BYTES
}

/** True when these bytes, their magic read as "VXC2", are a format-2 prefix and header whose hash holds. */
export function verifiesAsFormat2(head: Uint8Array): boolean {
  if (head.byteLength < PREFIX2_BYTES) return false
  const p = readPrefix2(head)
  if (!p || p.headerLength > MAX_HEADER_BYTES || head.byteLength < PREFIX2_BYTES + p.headerLength) return false
  const prefix = head.slice(0, PREFIX2_BYTES)
  prefix.set(MAGIC2, 0)
  return prefixHash(prefix, head.subarray(PREFIX2_BYTES, PREFIX2_BYTES + p.headerLength)) === p.hash
}

/**
 * Parses and checks a format-2 record's prefix, header and frame table from its first bytes (at least
 * headerExtent2()). `recordLength` is the record's length; `joined` says whether every chunk follows
 * the table (a record held in memory: inline, exported) or only chunk 0 does (a record file, its
 * other chunks beside it).
 * @throws {CorruptEntryError} naming the first thing that is wrong.
 * @throws {SchemaVersionError} for a sealed record (this voxcache cannot open it) or unknown flags.
 */
export function parseHeader2(id: string, head: Uint8Array, recordLength: number, joined: boolean): Parsed2 {
  const { p, extent, headerBytes } = checkPrefix2(id, head, recordLength)
  // The hash held, so these flags were written on purpose.
  if (p.flags & FLAG_SEALED) {
    throw new SchemaVersionError('is sealed (encrypted); it opens only with its key (openHeader2).', { entryId: id })
  }
  return parseTableAndHeader(id, head, p, extent, recordLength, joined, headerBytes, undefined)
}

/**
 * parseHeader2 for a record that may be sealed: a sealed header is opened with `keyring` (its key id
 * must match the prefix's), and the parse carries what the frames need to be opened.
 * @throws {KeyMismatchError} for a sealed record and no keyring, or a keyring of another key.
 * @throws {CorruptEntryError} (a sealed header whose tag fails too) @throws {SchemaVersionError}
 */
export async function openHeader2(id: string, head: Uint8Array, recordLength: number, joined: boolean, keyring: Keyrings | undefined): Promise<Parsed2> {
  const { p, extent, headerBytes } = checkPrefix2(id, head, recordLength)
  if (!(p.flags & FLAG_SEALED)) return parseTableAndHeader(id, head, p, extent, recordLength, joined, headerBytes, undefined)
  if (p.flags !== FLAG_SEALED) throw new SchemaVersionError(`has record flags ${p.flags} from a newer voxcache; upgrade voxcache to read it.`, { entryId: id })
  const key = checkKeyId(id, p.keyId, keyring)
  const nonceBase = p.nonceBase.slice()
  if (nonceBase.subarray(0, 8).every((b) => b === 0)) fail(id, 'sealed with a zero nonce base')
  const clear = await unseal(id, key, nonceBase, 0, headerAad(head, id), headerBytes, 'header')
  return parseTableAndHeader(id, head, p, extent, recordLength, joined, clear, { keyring: key, nonceBase })
}

/** The checks of the prefix and the bytes around the header, before its JSON is read. */
function checkPrefix2(id: string, head: Uint8Array, recordLength: number): { p: Prefix2; extent: number; headerBytes: Uint8Array } {
  const extent = headerExtent2(id, head)
  if (recordLength < extent || head.byteLength < extent) fail(id, 'record ends inside its header or frame table')
  const p = readPrefix2(head)!
  const headerBytes = head.subarray(PREFIX2_BYTES, PREFIX2_BYTES + p.headerLength)
  if (prefixHash(head.subarray(0, PREFIX2_BYTES), headerBytes) !== p.hash) fail(id, 'header checksum mismatch')
  for (let i = 56; i < 64; i++) if (head[i] !== 0) fail(id, 'reserved prefix bytes are not zero')
  for (let i = PREFIX2_BYTES + p.headerLength; i < p.tableOffset; i++) if (head[i] !== 0) fail(id, 'padding is not zero')
  return { p, extent, headerBytes }
}

/** The header's JSON (opened, when sealed) and the frame table, checked against each other. */
function parseTableAndHeader(
  id: string,
  head: Uint8Array,
  p: Prefix2,
  extent: number,
  recordLength: number,
  joined: boolean,
  json: Uint8Array,
  sealed: Sealing | undefined,
): Parsed2 {
  if (p.flags !== (sealed ? FLAG_SEALED : 0)) throw new SchemaVersionError(`has record flags ${p.flags} from a newer voxcache; upgrade voxcache to read it.`, { entryId: id })
  if (!sealed && (p.keyId.some((b) => b !== 0) || p.nonceBase.some((b) => b !== 0))) fail(id, 'key id or nonce on an unsealed record')
  const h = parseHeaderJson(id, json)
  if (h.format !== 2) fail(id, `format ${String(h.format)} under a VXC2 magic`)
  checkCommonFields(id, h)
  const header = h as unknown as RecordHeader2
  if (!isCount(h.frameBytes) || h.frameBytes < 1 || h.frameBytes > MAX_FRAME_BYTES) fail(id, 'bad frame size')
  const chunks = h.chunks
  if (
    !Array.isArray(chunks) || chunks.length < 1 ||
    !chunks.every((c: unknown) => {
      const k = c as Record<string, unknown>
      return typeof c === 'object' && c !== null && Object.keys(k).length === 2 && isCount(k.storedLength) && typeof k.sha256 === 'string' && /^[0-9a-f]{64}$/.test(k.sha256)
    })
  ) {
    fail(id, 'bad chunk list')
  }
  const chunkList = chunks as ChunkInfo[]
  if (chunkList.reduce((n, c) => n + c.storedLength, 0) !== header.storedLength) fail(id, 'chunks do not sum to the stored length')
  const frameCount = Math.ceil(header.rawLength / header.frameBytes)
  if (p.frameCount !== frameCount) fail(id, `frame count ${p.frameCount}, the header needs ${frameCount}`)
  const tableBytes = head.subarray(p.tableOffset, extent)
  if (checksumParts([tableBytes]) !== header.checksum) fail(id, 'frame table checksum mismatch')
  const bodyOffset = extent
  const expected = bodyOffset + (joined ? header.storedLength : chunkList[0]!.storedLength)
  if (recordLength !== expected) fail(id, `record should be ${expected} bytes, it is ${recordLength}`)
  const frames = checkTable(id, header, tableBytes, sealed !== undefined)
  return { header, bodyOffset, frames, ...(sealed ? { sealed } : {}) }
}

/** The header fields both formats share. */
export function checkCommonFields(id: string, h: Record<string, unknown>): void {
  if (!isOperationId(h.operationId)) fail(id, 'header operationId is not an id')
  if (h.operationId !== id) fail(id, `record belongs to ${h.operationId}`)
  if (typeof h.dataType !== 'string' || !DATA_TYPES.includes(h.dataType)) fail(id, `dataType ${String(h.dataType)} not allowed`)
  if (h.codec !== 'none' && h.codec !== 'zstd') fail(id, `codec ${String(h.codec)} not allowed`)
  if (!isCount(h.rawLength) || !isCount(h.storedLength)) fail(id, 'bad lengths')
  if (typeof h.checksum !== 'string' || !/^[0-9a-f]{16}$/.test(h.checksum)) fail(id, 'bad checksum field')
  if (typeof h.createdAt !== 'string' || Number.isNaN(Date.parse(h.createdAt))) fail(id, 'bad createdAt')
  // The index compares expiry times as text: only the form the encoder writes is let in.
  if ('expiresAt' in h && !isExpiryText(h.expiresAt)) fail(id, 'bad expiresAt')
  if (!('metadata' in h)) fail(id, 'metadata missing')
  if (h.dataType === 'Image') {
    validateImage(id, h.image, h.rawLength)
  } else {
    if ('image' in h) fail(id, 'image header on a non-image record')
    if (h.dataType !== 'json' && h.dataType !== 'ArrayBuffer') {
      const size = TYPED_ARRAYS[h.dataType as TypedArrayName].BYTES_PER_ELEMENT
      if (h.rawLength % size !== 0) fail(id, `rawLength is not a multiple of ${size}`)
    }
  }
}

/** Every entry must be exactly what the encoder would have written around its stored bytes. */
function checkTable(id: string, header: RecordHeader2, table: Uint8Array, sealed: boolean): FrameEntry[] {
  // A sealed frame stores its tag after its bytes; the tag checks it, so its hash field is zero.
  const tag = sealed ? TAG_BYTES : 0
  const { sliceBytes } = frameLayout(header.dataType, header.image)
  const frames: FrameEntry[] = []
  let chunk = 0
  let storedAt = 0
  let compressed = false
  const count = table.byteLength / ENTRY_BYTES
  for (let i = 0; i < count; i++) {
    const e = readEntry(table, i)
    if (!e) fail(id, `frame ${i}: offset past 2^53`)
    const rawOffset = i * header.frameBytes
    if (e.rawOffset !== rawOffset || e.rawLength !== Math.min(header.frameBytes, header.rawLength - rawOffset)) {
      fail(id, `frame ${i}: raw range does not follow the frame size`)
    }
    const slices = sliceRange(sliceBytes, e.rawOffset, e.rawLength)
    if (e.firstSlice !== slices.firstSlice || e.sliceCount !== slices.sliceCount) fail(id, `frame ${i}: slice range is wrong`)
    if (e.chunk === chunk + 1 && storedAt === header.chunks[chunk]!.storedLength) {
      chunk++
      storedAt = 0
    }
    if (e.chunk !== chunk || e.storedOffset !== storedAt) fail(id, `frame ${i}: stored range does not follow the one before`)
    if (e.flags & ~FRAME_ZSTD) fail(id, `frame ${i}: unknown flags`)
    if (e.flags & FRAME_ZSTD) {
      if (e.storedLength < 6 + tag) fail(id, `frame ${i}: compressed frame too short`)
      compressed = true
    } else if (e.storedLength !== e.rawLength + tag) {
      fail(id, `frame ${i}: stored raw but ${e.storedLength} bytes for ${e.rawLength}`)
    }
    if (sealed && e.hash !== ZERO_HASH) fail(id, `frame ${i}: a sealed frame with a hash`)
    storedAt += e.storedLength
    if (storedAt > header.chunks[chunk]!.storedLength) fail(id, `frame ${i}: past the end of chunk ${chunk}`)
    frames.push(e)
  }
  if (chunk !== header.chunks.length - 1 || storedAt !== header.chunks[chunk]!.storedLength) {
    fail(id, 'frames do not fill the chunks')
  }
  if (header.codec !== (compressed ? 'zstd' : 'none')) fail(id, `codec ${header.codec} differs from the frames`)
  return frames
}
