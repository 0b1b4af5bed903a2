// The on-disk formats of the index: the snapshot's envelope and the journal's lines.
//
// Snapshot, version 1 (sql.js's export inside a checksummed envelope; SQLite's own file format has no
// checksum, so a flipped digit inside a row would load silently):
//
//   "VXIX" | u32 LE envelope version (1) | u32 LE length of the SQLite image | u32 LE 0
//   | 16 ASCII hex digits: xxhash64 of the first 16 bytes followed by the SQLite image | SQLite image
//
// The previous release wrote the bare SQLite image ("SQLite format 3\0"); it is still read, and
// rewritten in the envelope by the next checkpoint. exportDatabase stays a bare SQLite file.
//
// Journal, version 2: a header line `{"voxcacheJournal":2,"base":<generation>,"c":"<hash>"}`, then one
// line per change, `{"g":<generation>,…,"c":"<hash>"}`, where the hash is the xxhash32 (8 hex digits) of
// the line up to the `,"c":` that carries it. Version 1 lines (the previous release) have no "c".
import { checksumParts, headerHash } from '../../src/codec/checksum.js'
import { SchemaVersionError } from '../../src/errors.js'
import type { JournalEntry } from './changes.js'

export const SNAPSHOT_VERSION = 1
export const JOURNAL_VERSION = 2
export const ENVELOPE_BYTES = 32

const ENVELOPE_MAGIC = 'VXIX'
const SQLITE_MAGIC = 'SQLite format 3\0'
const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to))

/** The envelope's first 32 bytes, to be written before the SQLite image (as parts: nothing is copied). */
export function snapshotEnvelope(sqlite: Uint8Array): Uint8Array {
  const head = new Uint8Array(ENVELOPE_BYTES)
  for (let i = 0; i < 4; i++) head[i] = ENVELOPE_MAGIC.charCodeAt(i)
  const dv = new DataView(head.buffer)
  dv.setUint32(4, SNAPSHOT_VERSION, true)
  dv.setUint32(8, sqlite.byteLength, true)
  writeChecksum(head, sqlite)
  return head
}

function envelopeChecksum(head: Uint8Array, sqlite: Uint8Array): string {
  return checksumParts([head.subarray(0, 16), sqlite])
}

function writeChecksum(head: Uint8Array, sqlite: Uint8Array): void {
  const hex = envelopeChecksum(head, sqlite)
  for (let i = 0; i < 16; i++) head[16 + i] = hex.charCodeAt(i)
}

export type SnapshotRead =
  | { kind: 'envelope'; sqlite: Uint8Array }
  /** The previous release's bare SQLite file: read as it is, without a checksum to check. */
  | { kind: 'legacy'; sqlite: Uint8Array }
  | { kind: 'damaged'; reason: string }

/**
 * Unwraps snapshot bytes, checking the envelope's checksum.
 * @throws {SchemaVersionError} for an envelope of a newer version (nothing is changed).
 */
export function readSnapshot(bytes: Uint8Array): SnapshotRead {
  if (bytes.byteLength >= SQLITE_MAGIC.length && ascii(bytes, 0, SQLITE_MAGIC.length) === SQLITE_MAGIC) {
    return { kind: 'legacy', sqlite: bytes }
  }
  if (bytes.byteLength < ENVELOPE_BYTES) return { kind: 'damaged', reason: `${bytes.byteLength} bytes, shorter than its envelope` }
  if (ascii(bytes, 0, 4) !== ENVELOPE_MAGIC) return { kind: 'damaged', reason: 'neither a voxcache index nor SQLite' }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = dv.getUint32(4, true)
  const length = dv.getUint32(8, true)
  const sqlite = bytes.subarray(ENVELOPE_BYTES, ENVELOPE_BYTES + length)
  const stored = ascii(bytes, 16, 32)
  if (version !== SNAPSHOT_VERSION) {
    // One flipped bit in the version field of a version-1 snapshot is damage, not a newer voxcache:
    // the checksum (which covers the version) holds again once the field is read as 1.
    const asV1 = bytes.slice(0, 16)
    new DataView(asV1.buffer).setUint32(4, SNAPSHOT_VERSION, true)
    if (ENVELOPE_BYTES + length === bytes.byteLength && envelopeChecksum(asV1, sqlite) === stored) {
      return { kind: 'damaged', reason: `version field reads ${version}` }
    }
    throw new SchemaVersionError(`the index snapshot is version ${version}, newer than this voxcache (${SNAPSHOT_VERSION}); upgrade voxcache`)
  }
  if (ENVELOPE_BYTES + length !== bytes.byteLength) {
    return { kind: 'damaged', reason: `says ${length} bytes of SQLite, holds ${bytes.byteLength - ENVELOPE_BYTES}` }
  }
  if (envelopeChecksum(bytes, sqlite) !== stored) return { kind: 'damaged', reason: 'checksum mismatch' }
  return { kind: 'envelope', sqlite }
}

/** Appends the line checksum to a JSON object's text: `{…}` becomes `{…,"c":"<hash>"}`. */
export function sealLine(json: string): string {
  const open = json.slice(0, -1)
  return `${open},"c":"${lineHash(open)}"}`
}

const SEAL = /,"c":"([0-9a-f]{8})"\}$/

function lineHash(text: string): string {
  return headerHash(new TextEncoder().encode(text)).toString(16).padStart(8, '0')
}

/** True when a journal line carries a checksum that holds. */
export function lineIntact(line: string): boolean {
  const match = SEAL.exec(line)
  return match !== null && lineHash(line.slice(0, match.index)) === match[1]
}

export interface JournalHeader {
  version: 1 | 2
  base: number
}

/**
 * Reads the journal's header line. Undefined when it is damaged (not a header of any version).
 * @throws {SchemaVersionError} for the header of a newer journal version (nothing is changed).
 */
export function readJournalHeader(line: string): JournalHeader | undefined {
  let header: { voxcacheJournal?: unknown; base?: unknown }
  try {
    header = JSON.parse(line) as typeof header
  } catch {
    return undefined
  }
  if (typeof header !== 'object' || header === null) return undefined
  const { voxcacheJournal: version, base } = header
  if (typeof base !== 'number' || !Number.isSafeInteger(base) || base < 0) return undefined
  if (version === 1 && !SEAL.test(line)) return { version: 1, base }
  if (version === JOURNAL_VERSION && lineIntact(line)) return { version: JOURNAL_VERSION, base }
  if (Number.isSafeInteger(version) && (version as number) > JOURNAL_VERSION) {
    // As for the snapshot: a version-2 header with one flipped digit is damage, not a newer journal.
    const asV2 = line.replace(/^\{"voxcacheJournal":\d+,/, `{"voxcacheJournal":${JOURNAL_VERSION},`)
    if (lineIntact(asV2)) return undefined
    throw new SchemaVersionError(`index.journal is version ${String(version)}, newer than this voxcache (${JOURNAL_VERSION}); upgrade voxcache`)
  }
  return undefined
}

/** The header line of a new journal, with its newline. */
export function journalHeaderLine(base: number): string {
  return sealLine(JSON.stringify({ voxcacheJournal: JOURNAL_VERSION, base })) + '\n'
}

/** Inline record data on a journal line. */
export function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}
export function fromBase64(text: string): Uint8Array {
  const s = atob(text)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

/** The journal lines of `entries` as generation `g`: sealed JSON, one per entry, inline data as base64. */
export function journalLines(entries: JournalEntry[], g: number): Uint8Array {
  const wire = (e: JournalEntry) => (e.t === 'put' && e.row.data ? { ...e, row: { ...e.row, data: toBase64(e.row.data) } } : e)
  return new TextEncoder().encode(entries.map((e) => sealLine(JSON.stringify({ g, ...wire(e) }))).join('\n') + '\n')
}

/**
 * A journal line's entry (checksum not checked here: see lineIntact), inline data back as bytes; or
 * undefined when the line is not JSON of an entry with a generation.
 */
export function parseJournalLine(line: string): (JournalEntry & { g: number }) | undefined {
  try {
    const entry = JSON.parse(line) as (JournalEntry & { g: number }) | null
    if (typeof entry !== 'object' || entry === null || !Number.isSafeInteger(entry.g)) return undefined
    if (entry.t === 'put') {
      const data = (entry.row as { data?: unknown } | undefined)?.data
      if (typeof data === 'string') entry.row.data = fromBase64(data)
      else if (data !== null) return undefined
    }
    return entry
  } catch {
    return undefined
  }
}
