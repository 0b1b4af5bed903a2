// Records: the payload files. Reading and validating one, setting a damaged one aside in quarantine/,
// and, on open, reconciling the files with the index (what a crash or another tool left behind).
import {
  CHUNK_BYTES,
  decodeRecord,
  imageInfoOf,
  headerExtent,
  parseHeader,
  readBody,
  readRegion,
  type ChunkReader,
  type ParsedRecord,
  type Region,
} from '../src/codec/index.js'
import { CorruptEntryError, SchemaVersionError, UnsupportedValueError } from '../src/errors.js'
import type { EntryInfo, Image, ImageInfo, Value } from '../src/types.js'
import type { Batch } from './batch.js'
import { headerInfo } from './index/changes.js'
import type { IndexStore } from './index/store.js'
import { isQuotaError, TMP_SUFFIX, type Backend } from './payloads/backend.js'
import { chunkName, chunkPath, PAYLOADS, payloadPath, QUARANTINE, quarantinePath, QUOTA_PROBE } from './paths.js'

/** What read() returns when the entry's file is gone (another tab evicted or replaced it meanwhile). */
export const MISSING = Symbol('missing')

/** The first read of a header; a longer header is read again whole. */
const HEAD_GUESS = 4096

export class Records {
  /** Records set aside by this worker since it opened the cache. */
  quarantined = 0
  /**
   * Entries whose record a newer voxcache wrote, by id, with the error that says so: they are left as
   * they are (not indexed, moved or overwritten) and every access to them is refused.
   */
  readonly newer = new Map<string, SchemaVersionError>()

  constructor(
    private readonly backend: Backend,
    private readonly index: IndexStore,
  ) {}

  /** @throws {SchemaVersionError} when a newer voxcache's record is stored under `id`. */
  refuseNewer(id: string): void {
    const newer = this.newer.get(id)
    if (newer) throw newer
  }

  /**
   * Reads and validates the record of `info`: the header first, then the body into a buffer of its own.
   * @throws {CorruptEntryError} @throws {SchemaVersionError} (remembered: later accesses are refused).
   */
  async read(info: EntryInfo): Promise<Value | typeof MISSING> {
    return this.reading(info, (parsed, read) => readBody(parsed, read), (bytes) => decodeRecord(info.id, bytes).value)
  }

  /**
   * A box of the image in `info`'s record, reading only the frames it touches (format 2).
   * @throws {UnsupportedValueError} when the entry is not an image or the box does not fit it.
   * @throws {CorruptEntryError} @throws {SchemaVersionError}
   */
  async readRegion(info: EntryInfo, region: Region): Promise<Image | typeof MISSING> {
    return this.reading(
      info,
      (parsed, read) => readRegion(parsed, read, region),
      (bytes) => {
        const parsed = parseHeader(info.id, bytes, bytes.byteLength, true)
        return readRegion(parsed, async (_chunk, at, length) => bytes.subarray(parsed.bodyOffset + at, parsed.bodyOffset + at + length), region)
      },
    )
  }

  /**
   * The description (geometry, type, metadata) of the image in `info`'s record, from its header alone.
   * @throws {UnsupportedValueError} when the entry is not an image. @throws {CorruptEntryError} @throws {SchemaVersionError}
   */
  async readImageInfo(info: EntryInfo): Promise<ImageInfo | typeof MISSING> {
    const describe = (parsed: ParsedRecord): ImageInfo => {
      const { header } = parsed
      if (header.dataType !== 'Image' || !header.image) {
        throw new UnsupportedValueError(`entry ${header.operationId} holds ${header.dataType}, not an image`)
      }
      return imageInfoOf(header.image)
    }
    return this.reading(info, async (parsed) => describe(parsed), (bytes) => describe(parseHeader(info.id, bytes, bytes.byteLength, true)))
  }

  /** The record of `info`, parsed, handed to `fromFile` with a reader of its chunks, or whole to `inline`. */
  private async reading<T>(
    info: EntryInfo,
    fromFile: (parsed: ParsedRecord, read: ChunkReader) => Promise<T>,
    inline: (bytes: Uint8Array) => T | Promise<T>,
  ): Promise<T | typeof MISSING> {
    const id = info.id
    try {
      if (info.inline) {
        const data = this.index.db.inlineData(id)
        if (!data) throw new CorruptEntryError(id, 'inline row without data')
        return await inline(data)
      }
      const file = await this.backend.file(payloadPath(id))
      if (!file) return MISSING
      const parsed = await readRecordHeader(id, file)
      // The record's own checksums decide integrity. Its checksum may differ from the index's when
      // another tab replaced the entry since this tab last looked: a newer value, not corruption.
      return await fromFile(parsed, this.chunkReader(id, file, parsed))
    } catch (error) {
      // The file went away (another tab evicted or replaced it) between the index lookup and the read.
      if (error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'NotReadableError')) {
        return MISSING
      }
      if (error instanceof SchemaVersionError) this.newer.set(id, error)
      throw error
    }
  }

  /** Reads chunk 0 from the record file, the others from their own files (a missing one is damage). */
  private chunkReader(id: string, file: Blob, parsed: ParsedRecord): ChunkReader {
    const blobs = new Map<number, Blob>([[0, file.slice(parsed.bodyOffset)]])
    return async (chunk, at, length) => {
      let blob = blobs.get(chunk)
      if (!blob) {
        const sha256 = parsed.header.format === 2 ? parsed.header.chunks[chunk]?.sha256 : undefined
        blob = sha256 === undefined ? undefined : await this.backend.file(chunkPath(id, sha256))
        if (!blob) throw new CorruptEntryError(id, `chunk ${chunk} is missing`)
        blobs.set(chunk, blob)
      }
      return new Uint8Array(await blob.slice(at, at + length).arrayBuffer())
    }
  }

  /**
   * Removes `id`'s record file and the chunks it names. A record that cannot be read leaves its chunks
   * as orphans, which the next open's reconcile removes.
   */
  async removeFiles(id: string): Promise<void> {
    for (const path of await this.chunkPaths(id)) await this.backend.delete(path)
    await this.backend.delete(payloadPath(id))
  }

  /** The chunk files `id`'s record names (none for a record of one chunk, or one that cannot be read). */
  async chunkPaths(id: string): Promise<string[]> {
    const size = await this.backend.size(payloadPath(id))
    // Only a record whose chunks passed CHUNK_BYTES has others beside it (its file holds chunk 0 and more).
    if (size === undefined || size < CHUNK_BYTES / 2) return []
    const file = await this.backend.file(payloadPath(id))
    if (!file) return []
    try {
      const { header } = await readRecordHeader(id, file)
      return header.format === 2 ? header.chunks.slice(1).map((c) => chunkPath(id, c.sha256)) : []
    } catch {
      return []
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
      for (const path of await this.chunkPaths(id)) await this.backend.delete(path)
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
    const named = new Map<string, Set<string>>()
    for (const name of chunkFiles) {
      const chunk = chunkName(name)
      if (chunk && !named.has(chunk.id)) named.set(chunk.id, new Set(files.has(chunk.id) ? await this.chunkPaths(chunk.id) : []))
      if (!chunk || !named.get(chunk.id)!.has(`${PAYLOADS}/${name}`)) await this.backend.delete(`${PAYLOADS}/${name}`)
    }
    for (const id of this.index.db.ids()) {
      if (!files.delete(id)) batch.remove(id)
    }
    for (const id of files) {
      const file = await this.backend.file(payloadPath(id))
      if (!file) continue
      try {
        const { header } = await readRecordHeader(id, file)
        batch.put(headerInfo(header, file.size, false), null)
      } catch (error) {
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
export async function readRecordHeader(id: string, file: Blob): Promise<ParsedRecord> {
  const bytes = async (from: number, to: number) => new Uint8Array(await file.slice(from, to).arrayBuffer())
  let head = await bytes(0, Math.min(file.size, HEAD_GUESS))
  const extent = headerExtent(id, head)
  if (extent > head.byteLength) head = await bytes(0, Math.min(file.size, extent))
  return parseHeader(id, head, file.size)
}
