// Portable: a cache as one SQLite file (VoxLogicA-2's results table, every record inline in `data`),
// and the import of such a file, each record validated before anything is stored.
import { CHUNK_BYTES, isSealed, openRecord } from '../src/codec/index.js'
import { CacheFullError, CorruptEntryError, InvalidImportError, KeyMismatchError, SchemaVersionError, UnsupportedValueError } from '../src/errors.js'
import { describeThrown } from '../src/thrown.js'
import { assertOperationId } from '../src/operation-id.js'
import type { ImportReport } from '../src/types.js'
import type { Cache } from './cache.js'
import { headerInfo, rowRecord } from './index/changes.js'
import { IndexDb, type ImportRow } from './index/db.js'
import { payloadPath } from './paths.js'
import { KEY_FILE, parseKeyFile } from './keys.js'

/**
 * One SQLite file with the results schema and every record inline in `data` (a record in chunks joined
 * with its chunk files).
 * @throws {UnsupportedValueError} when an entry is stored past 256 MiB (one SQLite cell would not hold
 *   it), or in chunks of a locked cache.
 */
export async function exportDatabase(cache: Cache): Promise<Uint8Array> {
  await cache.freshen()
  return cache.tabs.shared(async () => {
    const target = IndexDb.open(cache.SQL)
    // A protected cache leaves as it is at rest: records and metadata sealed, with its data keys wrapped
    // under the app key (key.json without any key in clear), so the same key, and only it, imports them.
    const keys = cache.keys.protectedBy === undefined ? undefined : await exportedKeys(cache)
    if (keys) target.setMeta(EXPORT_KEYS, keys)
    for (const { info, data } of cache.index.db.rows()) {
      // Expired values do not leave (the sweep removes them here too).
      if (cache.expiry.isExpired(info)) continue
      let bytes = data ?? (await cache.backend.read(payloadPath(info.id)))
      if (!bytes) continue
      try {
        if (bytes.byteLength < info.sizeBytes) bytes = await joined(cache, info.id, bytes, info.sizeBytes)
      } catch (error) {
        target.close()
        throw error
      }
      target.apply({ t: 'put', row: rowRecord(info, bytes) })
    }
    target.generation = 0
    const bytes = target.export()
    target.close()
    return bytes
  })
}

/**
 * Adds the entries of an exported database, validating every record first.
 * @throws {InvalidImportError} when the bytes are not a voxcache export, are damaged, or come from a
 *   newer voxcache. @throws {CacheFullError} when the entries do not fit.
 */
export async function importDatabase(cache: Cache, bytes: Uint8Array): Promise<ImportReport> {
  cache.keys.sealing() // a locked cache can neither open a protected export nor seal a clear one
  let source: IndexDb
  try {
    source = IndexDb.open(cache.SQL, bytes, { mustHoldResults: true })
  } catch (error) {
    // A newer voxcache's export says which version to upgrade to (its cause is the SchemaVersionError);
    // it stays an InvalidImportError because a damaged header can read as a huge schema number too.
    if (error instanceof SchemaVersionError) {
      throw new InvalidImportError(`written by a newer voxcache, or damaged: ${error.message}`, { cause: error })
    }
    throw new InvalidImportError(`not a voxcache database: ${describeThrown(error)}`, { cause: error })
  }
  const report: ImportReport = { imported: 0, skipped: 0, rejected: [] }
  try {
    // SQLite reads pages lazily, so a damaged file opens fine and fails halfway through the rows.
    // Checking its structure first refuses it whole, before anything is imported.
    let check: string
    try {
      check = source.quickCheck()
    } catch (error) {
      throw new InvalidImportError(`the database is damaged: ${describeThrown(error)}`, { cause: error })
    }
    if (check !== 'ok') throw new InvalidImportError(`the database is damaged: ${check.slice(0, 200)}`)
    const keys = source.meta(EXPORT_KEYS)
    if (keys !== undefined) await adoptExportKeys(cache, keys)
    for (const row of importRows(source, report)) {
      const id = row.id
      try {
        assertOperationId(id)
        // Only the record is trusted: the row's other cells are derived from it on the way in.
        if (!(row.data instanceof Uint8Array)) throw new CorruptEntryError(id, 'no record in data')
        // A sealed record opens with the export's data keys (adopted above); every frame's tag is checked.
        const { header, value } = await openRecord(id, row.data, cache.keys.keyrings)
        if (header.dataType !== row.dataType) throw new CorruptEntryError(id, 'data_type differs from the record')
        if (cache.expiry.isExpired(headerInfo(header, row.data.byteLength, true))) throw new UnsupportedValueError(`expired (expiresAt ${header.expiresAt ?? '–'}, created ${header.createdAt})`)
        await cache.freshen()
        if (cache.index.db.info(id)?.checksum === header.checksum) {
          report.skipped++
          continue
        }
        // A record file holds chunk 0 only: a value in several chunks goes in through store(), as does a
        // record in clear into a protected cache (sealed on the way in).
        const chunked = header.format === 2 && header.chunks.length > 1
        if (chunked || (cache.keys.protectedBy !== undefined && !isSealed(row.data))) await cache.store(id, value, { metadata: header.metadata, pin: row.pinned === 1, ...(header.expiresAt ? { expiresAt: header.expiresAt } : {}) })
        else await cache.put(header, [row.data], row.data.byteLength, row.pinned === 1)
        report.imported++
      } catch (error) {
        if (error instanceof CacheFullError) throw error
        report.rejected.push({ id: String(id), reason: describeThrown(error) })
      }
    }
  } finally {
    source.close()
  }
  return report
}

/**
 * The rows of a database being imported. A failure of SQLite itself mid-way (damage quick_check did
 * not see) ends the import as an InvalidImportError that says how far it got.
 */
function* importRows(source: IndexDb, report: ImportReport): Generator<ImportRow> {
  const rows = source.importRows()
  for (;;) {
    let next: IteratorResult<ImportRow>
    try {
      next = rows.next()
    } catch (error) {
      throw new InvalidImportError(
        `the database is damaged (after ${report.imported} imported, ${report.rejected.length} rejected): ${describeThrown(error)}`,
        { cause: error },
      )
    }
    if (next.done) return
    yield next.value
  }
}

/**
 * A record stored in chunks, its chunk files after it (the joined form openRecord reads), when it fits
 * one chunk in all: a sealed record of 16 MiB to 256 MiB (sealed records are written in 16 MiB chunks).
 * @throws {UnsupportedValueError} when it is larger, or its chunks cannot be named (a locked cache).
 */
async function joined(cache: Cache, id: string, record: Uint8Array, sizeBytes: number): Promise<Uint8Array> {
  const refuse = (why: string) =>
    new UnsupportedValueError(`entry ${id} is ${sizeBytes} bytes in chunks; ${why}. Delete it to export the rest.`)
  if (sizeBytes > CHUNK_BYTES) throw refuse('an export holds entries of 256 MiB stored at most')
  const paths = await cache.records.chunkPaths(id)
  if (!paths?.length) throw refuse('its chunks are named in its sealed header: open the cache with its key to export it')
  const out = new Uint8Array(sizeBytes)
  out.set(record)
  let at = record.byteLength
  for (const path of paths) {
    const chunk = await cache.backend.read(path)
    if (!chunk || at + chunk.byteLength > sizeBytes) throw refuse('a chunk file is missing or not the size the index says')
    out.set(chunk, at)
    at += chunk.byteLength
  }
  if (at !== sizeBytes) throw refuse('its chunk files are not the size the index says')
  return out
}

/** The voxcache_meta row of an export of a protected cache: its key.json (format 2, no rekey pending). */
const EXPORT_KEYS = 'keys'

async function exportedKeys(cache: Cache): Promise<string> {
  const bytes = await cache.backend.read(KEY_FILE)
  const file = bytes ? parseKeyFile(new TextDecoder().decode(bytes)) : undefined
  if (file?.format !== 2) {
    throw new UnsupportedValueError('this cache was protected by a development build of voxcache (key.json format 1) and cannot be exported; clear it and store its values again')
  }
  const { keyId, current, deks } = file
  return JSON.stringify({ format: 2, keyId, current, deks })
}

/**
 * The data keys of a protected export, added to the cache's own (so its records open as they are): the
 * cache must be protected by the same app key, and hold it.
 * @throws {KeyMismatchError} when it is clear, locked or protected by another key.
 * @throws {InvalidImportError} when the export's keys are damaged.
 */
async function adoptExportKeys(cache: Cache, text: string): Promise<void> {
  let file: ReturnType<typeof parseKeyFile>
  try {
    file = parseKeyFile(text)
  } catch (error) {
    throw new InvalidImportError('the export\'s data keys are damaged', { cause: error })
  }
  if (file.format !== 2) throw new InvalidImportError('the export\'s data keys are damaged')
  const mine = cache.keys.protectedBy
  if (mine === undefined) {
    throw new KeyMismatchError(`this export is protected by key ${file.keyId}; import it into a cache opened with that key (this one is not protected)`)
  }
  if (file.keyId !== mine) throw new KeyMismatchError(`this export is protected by key ${file.keyId}, this cache by key ${mine}; nothing was imported`)
  if (!cache.keys.file) throw new UnsupportedValueError('this cache was protected by a development build of voxcache (key.json format 1); clear it to import into it')
  await cache.mutate(async () => cache.setKeys(await cache.keys.adopt(cache.backend, file.deks)))
}