// Records: the payload files. Reading and validating one, setting a damaged one aside in quarantine/,
// and, on open, reconciling the files with the index (what a crash or another tool left behind).
import {
  decodeRecord,
  openRecord,
  PREFIX2_BYTES,
  imageInfoOf,
  openHeader,
  headerExtent,
  parseHeader,
  readBody,
  readRegion,
  type ChunkReader,
  type Keyring,
  type Keyrings,
  type ParsedRecord,
  type Region,
} from '../src/codec/index.js'
import { CorruptEntryError, KeyMismatchError, SchemaVersionError, UnsupportedValueError } from '../src/errors.js'
import type { EntryInfo, Image, ImageInfo, Value } from '../src/types.js'
import type { Batch } from './batch.js'
import { headerInfo } from './index/changes.js'
import type { IndexStore } from './index/store.js'
import { isQuotaError, TMP_SUFFIX, type Backend, type ReadHandle } from './payloads/backend.js'
import type { Keys } from './keys.js'
import { chunkName, chunkPath, PAYLOADS, payloadPath, QUARANTINE, quarantinePath, QUOTA_PROBE } from './paths.js'

/** What read() returns when the entry's file is gone (another tab evicted or replaced it meanwhile). */
export const MISSING = Symbol('missing')

/** The first read of a header; a longer header is read again whole. */
const HEAD_GUESS = 4096
/** Parsed format-2 headers kept, at most so many, of at most so many bytes of header and table. */
const HEADER_CACHE = 256
const HEADER_CACHE_BYTES = 16 * 1024 * 1024
const PREFIX_BYTES = PREFIX2_BYTES
/** Transient reads up to this size share one buffer, allocated at FRAME_SCRATCH or the largest read. */
const SCRATCH_BYTES = 8 * 1024 * 1024
const FRAME_SCRATCH = 1024 * 1024
const SCRATCH_POOL = 2

/** A file to read bytes from: a Blob, or a backend's read handle. */
interface ByteSource {
  readonly size: number
  /** Bytes [at, at + length), fewer at the end of the file; see ChunkReader for `transient`. */
  read(at: number, length: number, transient?: boolean): Promise<Uint8Array>
}

/** What one reading() opened: read handles to close, and the scratch buffer it borrowed. */
interface Open {
  handles: ReadHandle[]
  scratch: Uint8Array | undefined
}

interface KnownHeader {
  prefix: Uint8Array
  size: number
  parsed: ParsedRecord
  /** Bytes of header and table, what the entry costs in memory. */
  bytes: number
}

export class Records {
  /** Records set aside by this worker since it opened the cache. */
  quarantined = 0
  /**
   * Entries whose record a newer voxcache wrote, or that are sealed under a key this worker does not
   * have, by id, with the error that says so: they are left as they are (not indexed, moved or
   * overwritten) and every access to them is refused.
   */
  readonly newer = new Map<string, SchemaVersionError | KeyMismatchError>()

  /** The cache's key (set once it is known, before reconcile; see keys.ts). */
  keys: Keys | undefined

  /** The data keys sealed records are opened with: undefined for a clear or a locked cache. */
  get keyring(): Keyring[] | undefined {
    return this.keys?.keyrings
  }

  /** New keys (a rekey, or another tab's change of key.json): what was refused for want of a key is tried again. */
  setKeys(keys: Keys): void {
    this.keys = keys
    for (const [id, error] of this.newer) if (error instanceof KeyMismatchError) this.newer.delete(id)
  }

  /** Parsed headers by record path, least recently used first (see header()). */
  private readonly headers = new Map<string, KnownHeader>()
  private headerBytes = 0
  /** Buffers for transient reads through read handles, each lent to one reading() at a time. */
  private readonly scratchPool: Uint8Array[] = []

  constructor(
    private readonly backend: Backend,
    private readonly index: IndexStore,
  ) {}

  /** @throws {SchemaVersionError} when a newer voxcache's record is stored under `id`; {KeyMismatchError} when one sealed under another key is. */
  refuseNewer(id: string): void {
    const newer = this.newer.get(id)
    if (newer) throw newer
  }

  /**
   * Reads and validates the record of `info`: the header first, then the body into a buffer of its own.
   * @throws {CorruptEntryError} @throws {SchemaVersionError} (remembered: later accesses are refused).
   */
  async read(info: EntryInfo, held = false): Promise<Value | typeof MISSING> {
    return this.reading(info, held, (parsed, read) => readBody(parsed, read), async (bytes) => (await openRecord(info.id, bytes, this.keyring)).value)
  }

  /**
   * A box of the image in `info`'s record, reading only the frames it touches (format 2).
   * @throws {UnsupportedValueError} when the entry is not an image or the box does not fit it.
   * @throws {CorruptEntryError} @throws {SchemaVersionError}
   */
  async readRegion(info: EntryInfo, region: Region, held = false): Promise<Image | typeof MISSING> {
    return this.reading(
      info,
      held,
      (parsed, read) => readRegion(parsed, read, region),
      async (bytes) => {
        const parsed = await openHeader(info.id, bytes, bytes.byteLength, true, this.keyring)
        return readRegion(parsed, async (_chunk, at, length) => bytes.subarray(parsed.bodyOffset + at, parsed.bodyOffset + at + length), region)
      },
    )
  }

  /**
   * The description (geometry, type, metadata) of the image in `info`'s record, from its header alone.
   * @throws {UnsupportedValueError} when the entry is not an image. @throws {CorruptEntryError} @throws {SchemaVersionError}
   */
  async readImageInfo(info: EntryInfo, held = false): Promise<ImageInfo | typeof MISSING> {
    const describe = (parsed: ParsedRecord): ImageInfo => {
      const { header } = parsed
      if (header.dataType !== 'Image' || !header.image) {
        throw new UnsupportedValueError(`entry ${header.operationId} holds ${header.dataType}, not an image`)
      }
      return imageInfoOf(header.image)
    }
    return this.reading(info, held, async (parsed) => describe(parsed), async (bytes) => describe(await openHeader(info.id, bytes, bytes.byteLength, true, this.keyring)))
  }

  /**
   * The record of `info`, parsed, handed to `fromFile` with a reader of its chunks, or whole to `inline`.
   * With `held` (the caller holds the cache's shared lock, so no one moves or removes the files) the
   * files are read through the backend's read handles, else as Blobs.
   */
  private async reading<T>(
    info: EntryInfo,
    held: boolean,
    fromFile: (parsed: ParsedRecord, read: ChunkReader) => Promise<T>,
    inline: (bytes: Uint8Array) => T | Promise<T>,
  ): Promise<T | typeof MISSING> {
    const id = info.id
    const open: Open = { handles: [], scratch: undefined }
    try {
      if (info.inline) {
        const data = this.index.db.inlineData(id)
        if (!data) throw new CorruptEntryError(id, 'inline row without data')
        return await inline(data)
      }
      const source = await this.source(payloadPath(id), held, open)
      if (!source) return MISSING
      const parsed = await this.header(id, payloadPath(id), source)
      // The record's own checksums decide integrity. Its checksum may differ from the index's when
      // another tab replaced the entry since this tab last looked: a newer value, not corruption.
      return await fromFile(parsed, this.chunkReader(id, source, parsed, held, open))
    } catch (error) {
      this.forget(payloadPath(id))
      // The file went away (another tab evicted or replaced it) between the index lookup and the read.
      if (error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'NotReadableError')) {
        return MISSING
      }
      if (error instanceof SchemaVersionError || error instanceof KeyMismatchError) this.newer.set(id, error)
      throw error
    } finally {
      for (const handle of open.handles) handle.close()
      if (open.scratch && this.scratchPool.length < SCRATCH_POOL) this.scratchPool.push(open.scratch)
    }
  }

  /** `path` to read from: a read handle (kept in `open` to close) when `held` allows one, else a Blob. */
  private async source(path: string, held: boolean, open: Open): Promise<ByteSource | undefined> {
    const handle = held ? await this.backend.openRead?.(path) : undefined
    if (handle) {
      open.handles.push(handle)
      const scratch = (length: number) => {
        open.scratch ??= this.scratchPool.pop()
        if (!open.scratch || open.scratch.byteLength < length) open.scratch = new Uint8Array(Math.max(length, FRAME_SCRATCH))
        return open.scratch
      }
      return {
        size: handle.size,
        // A region's frames go to a buffer this read borrows, which saves allocating (and zeroing) each.
        read: async (at, length, transient) => handle.read(at, length, transient && length <= SCRATCH_BYTES ? scratch(length) : undefined),
      }
    }
    const file = await this.backend.file(path)
    return file && blobSource(file)
  }

  /**
   * The parsed header of the record at `path`: from the cache of headers when the file's size and its
   * 64-byte prefix (which carries the hash of the header and the table's offset) are unchanged, which
   * saves a region read one or two reads of the header and table; else read and checked afresh.
   */
  private async header(id: string, path: string, source: ByteSource): Promise<ParsedRecord> {
    const known = this.headers.get(path)
    if (known && known.size === source.size) {
      const prefix = await source.read(0, PREFIX_BYTES)
      if (sameBytes(prefix, known.prefix)) {
        this.headers.delete(path)
        this.headers.set(path, known)
        return known.parsed
      }
    }
    const { parsed, head } = await readHeaderFrom(id, source, this.keyring)
    if (parsed.header.format === 2) this.remember(path, { prefix: head.slice(0, PREFIX_BYTES), size: source.size, parsed, bytes: parsed.bodyOffset })
    return parsed
  }

  /** Keeps a parsed header, within HEADER_CACHE entries and HEADER_CACHE_BYTES of header and table. */
  private remember(path: string, entry: KnownHeader): void {
    this.forget(path)
    if (entry.bytes > HEADER_CACHE_BYTES / 4) return
    this.headers.set(path, entry)
    this.headerBytes += entry.bytes
    while (this.headers.size > HEADER_CACHE || this.headerBytes > HEADER_CACHE_BYTES) this.forget(this.headers.keys().next().value!)
  }

  private forget(path: string): void {
    const known = this.headers.get(path)
    if (!known) return
    this.headers.delete(path)
    this.headerBytes -= known.bytes
  }

  /** Reads chunk 0 from the record file, the others from their own files (a missing one is damage). */
  private chunkReader(id: string, record: ByteSource, parsed: ParsedRecord, held: boolean, open: Open): ChunkReader {
    const sources = new Map<number, ByteSource>([[0, record]])
    return async (chunk, at, length, transient) => {
      let source = sources.get(chunk)
      if (!source) {
        const sha256 = parsed.header.format === 2 ? parsed.header.chunks[chunk]?.sha256 : undefined
        source = sha256 === undefined ? undefined : await this.source(chunkPath(id, sha256), held, open)
        if (!source) throw new CorruptEntryError(id, `chunk ${chunk} is missing`)
        sources.set(chunk, source)
      }
      return source.read(chunk === 0 ? parsed.bodyOffset + at : at, length, transient)
    }
  }

  /**
   * Removes `id`'s record file and the chunks it names. A record that cannot be read leaves its chunks
   * as orphans, which the next open's reconcile removes.
   */
  async removeFiles(id: string): Promise<void> {
    for (const path of (await this.chunkPaths(id, this.index.db.info(id)?.sizeBytes)) ?? []) await this.backend.delete(path)
    await this.backend.delete(payloadPath(id))
  }

  /**
   * The chunk files `id`'s record names (none for a record of one chunk, or one that cannot be read);
   * undefined when a sealed record's key is not here to tell (its chunks are then kept).
   */
  async chunkPaths(id: string, indexedBytes?: number): Promise<string[] | undefined> {
    const size = await this.backend.size(payloadPath(id))
    // A record file that holds every byte the index counts has no chunks beside it: its header need not
    // be read. (Chunk 0's size says nothing: sealed records are written in chunks of 16 MiB, others of
    // 256 MiB, and a large frame may close a chunk early.)
    if (size === undefined || (indexedBytes !== undefined && size >= indexedBytes)) return []
    const file = await this.backend.file(payloadPath(id))
    if (!file) return []
    try {
      const { header } = await readRecordHeader(id, file, this.keyring)
      return header.format === 2 ? header.chunks.slice(1).map((c) => chunkPath(id, c.sha256)) : []
    } catch (error) {
      return error instanceof KeyMismatchError ? undefined : []
    }
  }

  /** Moves `id`'s record (or copies its inline one) to quarantine/ and drops its row. */
  async quarantine(batch: Batch, id: string): Promise<void> {
    const info = this.index.db.info(id)
    if (info?.inline) {
      // A copy for inspection; when the quota has no room for it, the damaged record goes without one.
      await this.backend.writeAtomic(quarantinePath(id), [this.index.db.inlineData(id) ?? new Uint8Array(0)]).catch((error: unknown) => {
        if (!isQuotaError(error)) throw error
      })
    } else {
      for (const path of (await this.chunkPaths(id, info?.sizeBytes)) ?? []) await this.backend.delete(path)
      await this.backend.move(payloadPath(id), quarantinePath(id)).catch(() => undefined)
    }
    if (info) batch.remove(id)
    this.quarantined++
  }

  /** On open: drop temporary files, rows whose payload is gone, and index payloads that have no row. */
  async reconcile(batch: Batch): Promise<void> {
    // A write killed mid-way leaves its temporary file: of a payload, of an index checkpoint (in the
    // cache's folder), of an inline record being quarantined, or a quota probe. Only a lock holder
    // writes them.
    for (const dir of ['', QUARANTINE]) {
      for (const name of await this.backend.list(dir)) {
        if (name.endsWith(TMP_SUFFIX) || (!dir && name === QUOTA_PROBE)) await this.backend.delete(dir ? `${dir}/${name}` : name)
      }
    }
    const files = new Set<string>()
    const chunkFiles: string[] = []
    for (const name of await this.backend.list(PAYLOADS)) {
      if (name.endsWith(TMP_SUFFIX)) await this.backend.delete(`${PAYLOADS}/${name}`)
      else if (name.endsWith('.vxc')) files.add(name.slice(0, -4))
      else if (name.endsWith('.vxb')) chunkFiles.push(name)
    }
    // A chunk no record names: left by a store killed before its record was written, or by a
    // replaced or deleted value whose chunks were not all removed.
    const named = new Map<string, string[] | undefined>()
    for (const name of chunkFiles) {
      const chunk = chunkName(name)
      // A sealed record whose key is not here cannot name its chunks: they stay (undefined).
      if (chunk && !named.has(chunk.id)) named.set(chunk.id, files.has(chunk.id) ? await this.chunkPaths(chunk.id) : [])
      const names = chunk ? named.get(chunk.id) : []
      if (names && !names.includes(`${PAYLOADS}/${name}`)) await this.backend.delete(`${PAYLOADS}/${name}`)
    }
    for (const id of this.index.db.ids()) {
      if (!files.delete(id)) batch.remove(id)
    }
    for (const id of files) {
      const file = await this.backend.file(payloadPath(id))
      if (!file) continue
      // A new entry's record is written in place with its magic last (Backend.writeNew): zeros there are
      // a store that never finished, so never acknowledged.
      if (file.size < 8 || new Uint8Array(await file.slice(0, 8).arrayBuffer()).every((b) => b === 0)) {
        await this.backend.delete(payloadPath(id))
        continue
      }
      try {
        const { header } = await readRecordHeader(id, file, this.keyring)
        const info = headerInfo(header, file.size, false)
        batch.put(this.keys ? await this.keys.sealInfo(info) : info, null)
      } catch (error) {
        // Sealed under a key that is not here (a locked cache): left as it is for an open with the key.
        if (error instanceof KeyMismatchError) continue
        if (error instanceof SchemaVersionError) {
          this.newer.set(id, error)
          continue
        }
        // A payload without a row whose bytes the browser cannot read: a write a kill cut short (seen
        // once on IndexedDB in the crash spec: the open failed with this error). It was never
        // acknowledged, so it goes.
        if (error instanceof DOMException && error.name === 'NotReadableError') {
          await this.backend.delete(payloadPath(id))
          continue
        }
        if (!(error instanceof CorruptEntryError)) throw error
        await this.backend.move(payloadPath(id), quarantinePath(id))
        this.quarantined++
      }
    }
  }
}

/**
 * The validated header (and format 2's frame table) of a record file: reads 4 KiB, then all of them
 * when they are longer.
 * @throws {CorruptEntryError} @throws {SchemaVersionError}
 */
export async function readRecordHeader(id: string, file: Blob, keyring?: Keyrings): Promise<ParsedRecord> {
  return (await readHeaderFrom(id, blobSource(file), keyring)).parsed
}

/** readRecordHeader from any source; also returns the bytes read (prefix, header and table). */
async function readHeaderFrom(id: string, source: ByteSource, keyring: Keyrings | undefined): Promise<{ parsed: ParsedRecord; head: Uint8Array }> {
  let head = await source.read(0, Math.min(source.size, HEAD_GUESS))
  const extent = headerExtent(id, head)
  if (extent > head.byteLength) head = await source.read(0, Math.min(source.size, extent))
  return { parsed: await openHeader(id, head, source.size, false, keyring), head }
}


function blobSource(file: Blob): ByteSource {
  return { size: file.size, read: async (at, length) => new Uint8Array(await file.slice(at, at + length).arrayBuffer()) }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
