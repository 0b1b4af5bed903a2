// The in-memory change type of the index: what a batch records, what the journal persists and what
// replay applies. Inline record data is bytes here; only the journal's wire form turns it into text.
import type { RecordHeader } from '../../src/codec/index.js'
import type { Codec, EntryInfo, JsonValue } from '../../src/types.js'

/** A row of the index as a change carries it: inline data as bytes (the journal writes them as base64). */
export interface RowRecord {
  id: string
  data: Uint8Array | null
  dataType: string
  createdAt: string
  sizeBytes: number
  rawBytes: number
  codec: Codec
  checksum: string
  metadata: JsonValue
  lastAccessedAt: string | null
  hits: number
  pinned: boolean
  /** Optional: journals written before expiry have no such field, and their rows never expire. */
  expiresAt?: string | null
}

/** One change to the index. Applying an entry twice gives the same index (replay is idempotent). */
export type JournalEntry =
  | { t: 'put'; row: RowRecord }
  | { t: 'del'; id: string }
  | { t: 'touch'; id: string; at: string; hits: number }
  | { t: 'pin'; id: string; pinned: boolean }
  | { t: 'clear' }

/** The journal row of an entry. */
export function rowRecord(info: EntryInfo, data: Uint8Array | null): RowRecord {
  return {
    id: info.id,
    data,
    dataType: info.dataType,
    createdAt: info.createdAt,
    sizeBytes: info.sizeBytes,
    rawBytes: info.rawBytes,
    codec: info.codec,
    checksum: info.checksum,
    metadata: info.metadata,
    lastAccessedAt: info.lastAccessedAt,
    hits: info.hits,
    pinned: info.pinned,
    expiresAt: info.expiresAt,
  }
}

/** What a record's own header says of its entry: how an index is rebuilt from records alone. */
export function headerInfo(header: RecordHeader, sizeBytes: number, inline: boolean): EntryInfo {
  return {
    id: header.operationId,
    dataType: header.dataType,
    sizeBytes,
    rawBytes: header.rawLength,
    codec: header.codec,
    checksum: header.checksum,
    createdAt: header.createdAt,
    lastAccessedAt: null,
    hits: 0,
    pinned: false,
    metadata: header.metadata,
    inline,
    expiresAt: header.expiresAt ?? null,
  }
}
