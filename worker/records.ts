// Records: the payload files. Reading and validating one, setting a damaged one aside in quarantine/,
// and, on open, reconciling the files with the index (what a crash or another tool left behind).
import {
  decodeBodyInFrames,
  decodeRecord,
  headerExtent,
  parseHeader,
  type RecordHeader,
} from '../src/codec/index.js'
import { CorruptEntryError, SchemaVersionError } from '../src/errors.js'
import type { EntryInfo, Value } from '../src/types.js'
import type { Batch } from './batch.js'
import { headerInfo } from './index/changes.js'
import type { IndexStore } from './index/store.js'
import { isQuotaError, TMP_SUFFIX, type Backend } from './payloads/backend.js'
import { PAYLOADS, payloadPath, QUARANTINE, quarantinePath, QUOTA_PROBE } from './paths.js'

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
    const id = info.id
    try {
      if (info.inline) {
        const data = this.index.db.inlineData(id)
        if (!data) throw new CorruptEntryError(id, 'inline row without data')
        return decodeRecord(id, data).value
      }
      const file = await this.backend.file(payloadPath(id))
      if (!file) return MISSING
      const { header, bodyOffset } = await readRecordHeader(id, file)
      const bytes = async (from: number, to: number) => new Uint8Array(await file.slice(from, to).arrayBuffer())
      // The record's own checksums decide integrity. Its checksum may differ from the index's when
      // another tab replaced the entry since this tab last looked: a newer value, not corruption.
      return await decodeBodyInFrames(header, (at, length) => bytes(bodyOffset + at, bodyOffset + at + length))
    } catch (error) {
      // The file went away (another tab evicted or replaced it) between the index lookup and the read.
      if (error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'NotReadableError')) {
        return MISSING
      }
      if (error instanceof SchemaVersionError) this.newer.set(id, error)
      throw error
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
    for (const name of await this.backend.list(PAYLOADS)) {
      if (name.endsWith(TMP_SUFFIX)) await this.backend.delete(`${PAYLOADS}/${name}`)
      else if (name.endsWith('.vxc')) files.add(name.slice(0, -4))
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
        if (!(error instanceof CorruptEntryError)) throw error
        await this.backend.move(payloadPath(id), quarantinePath(id))
        this.quarantined++
      }
    }
  }
}

/**
 * The validated header of a record file: reads 4 KiB, then the whole header when it is longer.
 * @throws {CorruptEntryError} @throws {SchemaVersionError}
 */
export async function readRecordHeader(id: string, file: Blob): Promise<{ header: RecordHeader; bodyOffset: number }> {
  const bytes = async (from: number, to: number) => new Uint8Array(await file.slice(from, to).arrayBuffer())
  let head = await bytes(0, Math.min(file.size, HEAD_GUESS))
  const extent = headerExtent(id, head)
  if (extent > head.byteLength) head = await bytes(0, Math.min(file.size, extent))
  return parseHeader(id, head, file.size)
}
