// Salvage of inline records from a damaged index.
//
// Records of up to a few KiB live only in the index (the snapshot's `data` column, the journal's
// base64), so rebuilding the index from the payload files alone would lose them. Every record carries
// its own header hash and body checksum, and names its operation id: whatever bytes of a damaged
// snapshot or journal still decode as a whole, valid record are provably that entry's value. Nothing
// else is kept; an entry whose record was hit by the damage is simply missing (a miss, never a wrong
// value).
import type { SqlJsStatic } from 'sql.js'
import { decodeRecord } from '../../src/codec/body.js'
import type { RecordHeader } from '../../src/codec/record.js'
import { isOperationId } from '../../src/operation-id.js'
import type { EntryInfo } from '../../src/types.js'
import { headerInfo } from './changes.js'
import { ENVELOPE_BYTES, fromBase64 } from './format.js'

export interface SalvagedRecord {
  info: EntryInfo
  data: Uint8Array
}

const MAX_INLINE_SCAN = 1 << 20

/** Adds `bytes` to `found` when they are one whole valid record, keeping the newest per id. */
function consider(found: Map<string, SalvagedRecord>, id: unknown, bytes: Uint8Array): void {
  if (typeof id !== 'string' || !isOperationId(id)) return
  let header: RecordHeader
  try {
    header = decodeRecord(id, bytes).header
  } catch {
    return
  }
  const known = found.get(id)
  // A SQLite file keeps the bytes of replaced rows in free pages: of two valid records, the later one.
  if (known && known.info.createdAt >= header.createdAt) return
  found.set(id, {
    data: bytes.slice(),
    info: headerInfo(header, bytes.byteLength, true),
  })
}

/**
 * Records found in the bytes of a damaged snapshot: the rows SQLite can still step through, then a
 * scan of the raw bytes for record magics (a damaged b-tree page hides rows SQLite would reach through
 * it, but a small record sits whole inside its leaf page).
 */
export function salvageSnapshot(SQL: SqlJsStatic, bytes: Uint8Array, found: Map<string, SalvagedRecord>): void {
  // The SQLite image follows the envelope, unless the file is the previous release's bare SQLite.
  const isBare = bytes[0] === 0x53 && bytes[1] === 0x51 // "SQ"
  salvageRows(SQL, isBare || bytes.byteLength <= ENVELOPE_BYTES ? bytes : bytes.subarray(ENVELOPE_BYTES), found)
  scanRecords(bytes, found)
}

function salvageRows(SQL: SqlJsStatic, sqlite: Uint8Array, found: Map<string, SalvagedRecord>): void {
  try {
    const db = new SQL.Database(sqlite)
    try {
      const stmt = db.prepare('SELECT operation_id, data FROM results WHERE data IS NOT NULL')
      try {
        while (stmt.step()) {
          const [id, data] = stmt.get()
          if (data instanceof Uint8Array) consider(found, id, data)
        }
      } finally {
        stmt.free()
      }
    } finally {
      db.close()
    }
  } catch {
    // A malformed page stops the walk; the raw scan still looks everywhere.
  }
}

function scanRecords(sqlite: Uint8Array, found: Map<string, SalvagedRecord>): void {
  const view = new DataView(sqlite.buffer, sqlite.byteOffset, sqlite.byteLength)
  for (let at = sqlite.indexOf(0x56); at >= 0 && at + 16 <= sqlite.byteLength; at = sqlite.indexOf(0x56, at + 1)) {
    if (sqlite[at + 1] !== 0x58 || sqlite[at + 2] !== 0x43) continue
    const record = recordAt(sqlite, view, at)
    // decodeRecord checks the header hash, every field and the body checksums before this is believed.
    if (record) consider(found, record.operationId, sqlite.subarray(at, record.end))
  }
}

/**
 * The id a record starting at `at` claims and where it would end, from its magic ("VXC1" or "VXC2"),
 * prefix and header; undefined when these bytes cannot be one. Format 1: prefix 16, header, pad8, body.
 * Format 2: prefix 64, header, pad8, frame table, body (an inline record holds every chunk).
 */
function recordAt(bytes: Uint8Array, view: DataView, at: number): { operationId: unknown; end: number } | undefined {
  const two = bytes[at + 3] === 0x32
  if (!two && bytes[at + 3] !== 0x31) return undefined
  const prefix = two ? 64 : 16
  if (at + prefix > bytes.byteLength) return undefined
  const length = view.getUint32(at + (two ? 8 : 4), true)
  if (length < 2 || length > MAX_INLINE_SCAN || at + prefix + length > bytes.byteLength) return undefined
  let header: { operationId?: unknown; storedLength?: unknown }
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(at + prefix, at + prefix + length))) as typeof header
  } catch {
    return undefined
  }
  if (typeof header !== 'object' || header === null || typeof header.storedLength !== 'number') return undefined
  const table = two ? 48 * view.getUint32(at + 44, true) : 0
  const end = at + ((prefix + length + 7) & ~7) + table + header.storedLength // padding is relative to the record
  return Number.isSafeInteger(end) && end <= bytes.byteLength ? { operationId: header.operationId, end } : undefined
}

const DATA_FIELD = /"id":"([0-9a-f]{64})","data":"([A-Za-z0-9+/=]+)"/

/** The record of a journal line that failed its checksum (or does not parse), if its data survived. */
export function salvageJournalLine(line: string, found: Map<string, SalvagedRecord>): void {
  const match = DATA_FIELD.exec(line)
  if (!match) return
  let bytes: Uint8Array
  try {
    bytes = fromBase64(match[2]!)
  } catch {
    return
  }
  consider(found, match[1], bytes)
}
