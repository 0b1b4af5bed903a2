// Portable: a cache as one SQLite file (VoxLogicA-2's results table, every record inline in `data`),
// and the import of such a file, each record validated before anything is stored.
import { decodeRecord } from '../src/codec/index.js'
import { CacheFullError, CorruptEntryError, InvalidImportError, SchemaVersionError, UnsupportedValueError } from '../src/errors.js'
import { describeThrown } from '../src/thrown.js'
import { assertOperationId } from '../src/operation-id.js'
import type { ImportReport } from '../src/types.js'
import type { Cache } from './cache.js'
import { headerInfo, rowRecord } from './index/changes.js'
import { IndexDb, type ImportRow } from './index/db.js'
import { payloadPath } from './paths.js'

/**
 * One SQLite file with the results schema and every record inline in `data`.
 * @throws {UnsupportedValueError} when an entry is stored in several chunks (past 256 MiB stored): one
 *   SQLite cell cannot hold it.
 */
export async function exportDatabase(cache: Cache): Promise<Uint8Array> {
  refuseProtected(cache, 'export')
  await cache.freshen()
  return cache.tabs.shared(async () => {
    const target = IndexDb.open(cache.SQL)
    for (const { info, data } of cache.index.db.rows()) {
      // Expired values do not leave (the sweep removes them here too).
      if (cache.expiry.isExpired(info)) continue
      const bytes = data ?? (await cache.backend.read(payloadPath(info.id)))
      if (!bytes) continue
      if (bytes.byteLength < info.sizeBytes) {
        target.close()
        throw new UnsupportedValueError(`entry ${info.id} is ${info.sizeBytes} bytes in chunks; an export holds entries of one chunk (256 MiB stored) at most. Delete it to export the rest.`)
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
  refuseProtected(cache, 'import')
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
    for (const row of importRows(source, report)) {
      const id = row.id
      try {
        assertOperationId(id)
        // Only the record is trusted: the row's other cells are derived from it on the way in.
        if (!(row.data instanceof Uint8Array)) throw new CorruptEntryError(id, 'no record in data')
        const { header } = decodeRecord(id, row.data)
        if (header.dataType !== row.dataType) throw new CorruptEntryError(id, 'data_type differs from the record')
        // A record file holds chunk 0 only; a value in several chunks is written through store().
        if (header.format === 2 && header.chunks.length > 1) throw new UnsupportedValueError('a value in several chunks is not imported')
        if (cache.expiry.isExpired(headerInfo(header, row.data.byteLength, true))) throw new UnsupportedValueError(`expired (expiresAt ${header.expiresAt ?? '–'}, created ${header.createdAt})`)
        await cache.freshen()
        if (cache.index.db.info(id)?.checksum === header.checksum) {
          report.skipped++
          continue
        }
        await cache.put(header, [row.data], row.data.byteLength, row.pinned === 1)
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
 * Export and import of a protected cache (ciphertext and key id kept, the same key to import) come with
 * the rest of the encryption issue; until then they are refused rather than done in clear.
 * @throws {UnsupportedValueError}
 */
function refuseProtected(cache: Cache, what: 'export' | 'import'): void {
  if (cache.keys.protectedBy !== undefined) {
    throw new UnsupportedValueError(`${what} of a cache protected by a key is not supported yet (its records and metadata would leave sealed, and that is not built)`)
  }
}
