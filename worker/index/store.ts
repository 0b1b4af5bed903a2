// Persistence of the index: a sql.js snapshot plus an append-only journal of changes.
//
// sql.js persists only by exporting the whole database, which at 10,000 entries costs more than the
// write it records. So each change batch appends one line per entry to `index.journal`, and the
// snapshot is rewritten (checkpointed) only when the journal has grown past a share of it. Every line
// carries the generation it produced; replay skips lines the snapshot already holds, so a crash between
// writing the snapshot and resetting the journal replays nothing twice.
import type { SqlJsStatic } from 'sql.js'
import { initChecksum } from '../../src/codec/checksum.js'
import { StorageUnavailableError } from '../../src/errors.js'
import { rowRecord, type JournalEntry } from './changes.js'
import { IndexDb } from './db.js'
import {
  journalHeaderLine,
  journalLines,
  lineIntact,
  parseJournalLine,
  readJournalHeader,
  readSnapshot,
  sealLine,
  snapshotEnvelope,
  type JournalHeader,
} from './format.js'
import { salvageJournalLine, salvageSnapshot, type SalvagedRecord } from './salvage.js'
import { isQuotaError, type Backend, type Durability, type HeldFile } from '../payloads/backend.js'

export const SNAPSHOT = 'index.sqlite'
export const JOURNAL = 'index.journal'
const MIN_CHECKPOINT_BYTES = 1 << 20
const NEWLINE = 0x0a

/** What load() found wrong with the index files, and the records it could still read out of them. */
interface Damage {
  snapshot?: string
  journal?: string
  salvaged: Map<string, SalvagedRecord>
}

/** What load() reports: which index files were set aside, and how many inline records were kept. */
export interface IndexRecovery {
  snapshot?: string
  journal?: string
  salvaged: number
}

export class IndexStore {
  /** Bytes of the journal that this context has applied (always a whole number of lines). */
  private applied = 0
  /** The journal's `base` when this context last read it; another value means it was checkpointed. */
  private base = -1
  /** The journal's format version as read (1: the previous release's, without line checksums). */
  private journalVersion: JournalHeader['version'] = 2
  private snapshotBytes = 0
  /** The snapshot on disk is the previous release's bare SQLite file. */
  private legacySnapshot = false
  /** Set by load() during its first read: damage is collected (and salvaged) instead of thrown. */
  private damage: Damage | undefined
  /**
   * The journal's size as of the last look under the current lock (refresh() runs first in every lock),
   * so commit() need not ask the file system again; -1 when unknown.
   */
  private journalSize = -1
  /** Set when load() found the index damaged and rebuilt it. */
  recovery: IndexRecovery | undefined
  /** The journal held open for one exclusive hold (hold() … release()), or undefined. */
  private held: HeldFile | undefined
  /** How journal appends are made durable (snapshots and journal resets are always flushed). */
  durability: Durability = 'strict'

  /** The index; set by the first reload(), which load() runs before handing the store out. */
  db!: IndexDb

  private constructor(
    private readonly backend: Backend,
    private readonly SQL: SqlJsStatic,
  ) {}

  /**
   * Loads snapshot and journal. Call under the exclusive lock: it repairs a torn journal tail, and
   * rebuilds a damaged index from what of it still verifies plus the inline records that can be
   * salvaged (the payload files are re-indexed by the service's reconcile). An index in an older
   * format is rewritten in the current one.
   * @throws {SchemaVersionError} when the snapshot, its schema or the journal is newer than this code;
   *   no file is changed.
   */
  static async load(backend: Backend, SQL: SqlJsStatic): Promise<IndexStore> {
    await initChecksum()
    // No empty index first, to be replaced by the snapshot's: making one took 40 ms of an open here.
    const store = new IndexStore(backend, SQL)
    const damage: Damage = { salvaged: new Map() }
    store.damage = damage
    try {
      await store.reload(true)
    } catch (error) {
      store.close() // a newer version: nothing was written, and nothing will be
      throw error
    } finally {
      store.damage = undefined
    }
    if (damage.snapshot !== undefined || damage.journal !== undefined) await store.rebuild(damage)
    if (!store.recovery && (store.legacySnapshot || store.journalVersion === 1)) await store.checkpoint()
    else if (!store.recovery && store.db.migrated) {
      // An SQL index added in place (schema.ts) is written once, so that later opens read it instead of
      // building it. Without room for the snapshot, this open goes on with it in memory.
      await store.checkpoint().catch((error: unknown) => {
        if (!isQuotaError(error)) throw error
      })
    }
    return store
  }

  /**
   * Sets the damaged files aside (not deleted: quarantine/), adds the salvaged records the index does
   * not hold, and writes the result as a fresh snapshot and journal.
   */
  private async rebuild(damage: Damage): Promise<void> {
    const db = this.db
    let salvaged = 0
    for (const { info, data } of damage.salvaged.values()) {
      if (db.has(info.id)) continue
      db.apply({ t: 'put', row: rowRecord(info, data) })
      salvaged++
    }
    const stamp = Date.now()
    if (damage.snapshot !== undefined) await this.backend.move(SNAPSHOT, `quarantine/${SNAPSHOT}.${stamp}`).catch(() => undefined)
    if (damage.journal !== undefined) await this.backend.move(JOURNAL, `quarantine/${JOURNAL}.${stamp}`).catch(() => undefined)
    // Past every generation either file may have claimed, so that no tab mistakes the rebuilt index for
    // one it has already seen.
    db.generation = Math.max(db.generation, this.base) + 1
    await this.checkpoint()
    this.recovery = { snapshot: damage.snapshot, journal: damage.journal, salvaged }
  }

  get generation(): number {
    return this.db.generation
  }

  private async reload(repair: boolean): Promise<void> {
    const bytes = await this.readable(SNAPSHOT, 'snapshot', 0)
    let db: IndexDb | undefined
    this.legacySnapshot = false
    if (bytes) {
      const snapshot = readSnapshot(bytes) // a newer envelope throws before anything is touched
      if (snapshot.kind === 'damaged') {
        this.damaged('snapshot', `index.sqlite: ${snapshot.reason}`)
        salvageSnapshot(this.SQL, bytes, this.damage!.salvaged)
      } else {
        try {
          // Lent: read from the file for this open alone, so sql.js need not copy them.
          db = IndexDb.open(this.SQL, snapshot.sqlite, { lend: true }) // a newer schema throws SchemaVersionError
          this.legacySnapshot = snapshot.kind === 'legacy'
        } catch (error) {
          if (!(error instanceof StorageUnavailableError)) throw error
          this.damaged('snapshot', `index.sqlite: ${error.message}`)
          // sql.js may have written into the lent bytes: what can be salvaged is read from the file again.
          const again = await this.readable(SNAPSHOT, 'snapshot', 0)
          const reread = again && readSnapshot(again)
          if (reread && reread.kind !== 'damaged') salvageSnapshot(this.SQL, reread.sqlite, this.damage!.salvaged)
        }
      }
    }
    db ??= IndexDb.open(this.SQL)
    this.db?.close()
    this.db = db
    this.snapshotBytes = bytes?.byteLength ?? 0
    this.applied = 0
    this.base = -1
    await this.catchUp(repair)
  }

  /**
   * Records damage found while loading (load() rebuilds afterwards). Outside load() nothing can be
   * rebuilt under the caller's lock: a damaged snapshot fails the operation, a damaged journal line is
   * skipped; the next open finds either again and rebuilds.
   */
  private damaged(file: 'snapshot' | 'journal', reason: string): void {
    if (this.damage) this.damage[file] ??= reason
    else if (file === 'snapshot') throw new StorageUnavailableError(`the index is damaged (${reason}); reopen the cache to rebuild it`)
  }

  /**
   * Applies journal lines written since this context last looked. Call under a lock. Refreshes of one
   * context run one after another: under the shared lock two of them could otherwise interleave, both
   * read from the same offset and both advance it, so that later lines were read from the middle of
   * one and skipped, leaving this context's index stale (the tabs spec found a tab evicting entries
   * another had evicted 200 ms before).
   */
  refresh(): Promise<void> {
    const next = this.refreshing.then(() => this.refreshNow())
    this.refreshing = next.catch(() => undefined)
    return next
  }

  private refreshing: Promise<void> = Promise.resolve()

  /**
   * Holds the journal open until release(), when the backend can (OPFS): refresh() and commit() then
   * read and append through it without a round trip to the browser process each (about 2 ms and 3 ms
   * of a small store's time here), and refresh() runs now. Call at the start of an exclusive hold.
   */
  async hold(): Promise<void> {
    this.release()
    this.held = await this.backend.hold?.(JOURNAL)
    await this.refresh()
  }

  /**
   * Holds the journal again without reading it, when a checkpoint replaced it during a hold that is
   * current (the caller's lease of the exclusive lock: nothing else can have written it).
   */
  async keepHeld(): Promise<void> {
    this.held ??= await this.backend.hold?.(JOURNAL)
  }

  /** Closes the journal held by hold(). Call before the exclusive lock is let go. */
  release(): void {
    const held = this.held
    this.held = undefined
    held?.close()
  }

  private async refreshNow(): Promise<void> {
    const held = this.held
    const file = held ? undefined : await this.backend.file(JOURNAL)
    const size = held ? held.size() : (file?.size ?? 0)
    const head = !size ? undefined : held ? held.read(0, Math.min(size, 256)) : new Uint8Array(await file!.slice(0, Math.min(size, 256)).arrayBuffer())
    const first = head ? head.indexOf(NEWLINE) : -1
    const base = head && first >= 0 ? (readJournalHeader(new TextDecoder().decode(head.subarray(0, first)))?.base ?? -2) : -1
    this.journalSize = size
    if (base !== this.base || size < this.applied) {
      await this.reload(false)
    } else if (size > this.applied) {
      await this.catchUp(false)
    }
  }

  /**
   * An index file's bytes from `at`; one the browser cannot read (a blob a kill left behind on
   * IndexedDB) counts as damage while loading (rebuilt as for any damage) and fails otherwise.
   */
  private async readable(name: string, file: 'snapshot' | 'journal', at: number): Promise<Uint8Array | undefined> {
    if (file === 'journal' && this.held) return this.held.read(at, this.held.size() - at)
    if (file === 'snapshot') {
      // Through a read handle where the backend has one (OPFS): a Blob's bytes come through the browser
      // process. The largest part of opening a cache of 100,000 entries: its 138 MB snapshot took 57–79
      // ms this way, 110–440 ms as a Blob (instrumented bench opens, 2026-11-30). Every caller holds the
      // cache's lock, so no writer meets the handle; when none can be had, the Blob.
      const handle = await this.backend.openRead?.(name)
      if (handle) {
        try {
          return handle.read(0, handle.size)
        } finally {
          handle.close()
        }
      }
    }
    try {
      return await this.backend.read(name, at)
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'NotReadableError')) throw error
      this.damaged(file, `${name}: the browser cannot read it (${error.message})`)
      return undefined
    }
  }

  private async catchUp(repair: boolean): Promise<void> {
    const bytes = await this.readable(JOURNAL, 'journal', this.applied)
    this.journalSize = this.applied + (bytes?.byteLength ?? 0)
    if (!bytes) return
    const end = bytes.lastIndexOf(NEWLINE) + 1
    const text = new TextDecoder().decode(bytes.subarray(0, end))
    const lines = text.split('\n')
    let from = 0
    if (this.applied === 0) {
      // A journal always starts with a whole header line: resetJournal writes it atomically. An empty
      // or headerless one was cut short by something other than a crash mid-append.
      const header = end > 0 ? readJournalHeader(lines[0]!) : undefined // a newer version throws here
      if (header) {
        this.base = header.base
        this.journalVersion = header.version
      } else {
        this.damaged('journal', end > 0 ? 'index.journal: damaged header line' : 'index.journal: no header line')
        if (!this.damage) throw new StorageUnavailableError('index.journal has no valid header; reopen the cache to rebuild it')
        this.journalVersion = 2
      }
      from = 1
    }
    // One generation spans several lines; apply every line newer than what the db held before.
    const floor = this.db.generation
    // In one transaction: a failure (a damaged line outside load) applies none of them, and the next
    // catch-up reads them all again.
    this.db.transaction(() => {
      let top = floor
      for (let i = from; i < lines.length; i++) {
        const line = lines[i]
        if (!line) continue
        const entry = this.parseLine(line)
        if (!entry) continue
        if (entry.g > floor) {
          try {
            this.db.apply(entry)
          } catch {
            // Checksummed lines are what this code wrote; this is a version-1 line that parsed but is
            // not a valid entry: corruption of that line alone.
            continue
          }
          top = Math.max(top, entry.g)
        }
      }
      if (top !== floor) this.db.generation = top
    })
    // Bytes after the last newline are a line torn by a crash mid-append: never acknowledged, dropped.
    // (A damaged journal is set aside whole instead, torn tail included.)
    if (repair && end < bytes.byteLength && this.applied + end > 0 && this.damage?.journal === undefined) {
      await this.backend.truncate(JOURNAL, this.applied + end)
      this.journalSize = this.applied + end
    }
    this.applied += end
  }

  /** A journal line as an entry, or undefined when it fails its checksum (then salvaged, if loading). */
  private parseLine(line: string): (JournalEntry & { g: number }) | undefined {
    if (this.journalVersion === 2 && !lineIntact(line)) {
      this.damaged('journal', 'index.journal: a line fails its checksum')
      if (this.damage) salvageJournalLine(line, this.damage.salvaged)
      return undefined
    }
    // Version 1 only (no checksums): a line that does not parse is skipped, as that release did.
    return parseJournalLine(line)
  }

  /**
   * Makes `entries` durable as one generation, then applies them. Call under the exclusive lock,
   * after refresh(). Returns the new generation.
   */
  async commit(entries: JournalEntry[]): Promise<number> {
    if (entries.length === 0) return this.db.generation
    const held = this.held
    const size = held ? held.size() : this.journalSize >= 0 ? this.journalSize : ((await this.backend.size(JOURNAL)) ?? 0)
    if (size === 0 || this.base < 0) {
      await this.resetJournal()
    } else if (size > this.applied) {
      // A writer crashed mid-append: its partial line was never acknowledged.
      if (held) held.truncate(this.applied)
      else await this.backend.truncate(JOURNAL, this.applied)
    }
    const g = this.db.generation + 1
    const bytes = journalLines(entries, g)
    try {
      if (this.held) this.held.append(bytes, this.durability)
      else await this.backend.append(JOURNAL, bytes, this.durability)
    } catch (error) {
      this.journalSize = -1 // part of the line may be on disk: the next commit measures and truncates
      throw error
    }
    this.db.transaction(() => {
      for (const entry of entries) this.db.apply(entry)
      this.db.generation = g
    })
    this.applied += bytes.byteLength
    this.journalSize = this.applied
    if (this.applied > Math.max(MIN_CHECKPOINT_BYTES, this.snapshotBytes / 2)) {
      try {
        await this.checkpoint()
      } catch (error) {
        // The entries are durable in the journal already; a checkpoint the quota refuses is tried
        // again at the next commit (its temporary file is gone: writeAtomic removes it).
        if (!isQuotaError(error)) throw error
      }
    }
    return g
  }

  /**
   * About how many bytes of storage commit(entries) needs: its lines, and on IndexedDB the whole
   * journal, which an append rewrites as a new Blob.
   */
  commitBytes(entries: JournalEntry[]): number {
    return journalLines(entries, this.db.generation + 1).byteLength + (this.backend.kind === 'idb' ? this.applied : 0)
  }

  /** Writes the whole index as the snapshot and starts an empty journal. Call under the exclusive lock. */
  async checkpoint(): Promise<void> {
    this.db.saveTotals()
    const bytes = this.db.export()
    const envelope = snapshotEnvelope(bytes)
    await this.backend.writeAtomic(SNAPSHOT, [envelope, bytes])
    this.snapshotBytes = envelope.byteLength + bytes.byteLength
    this.legacySnapshot = false
    await this.resetJournal()
  }

  private async resetJournal(): Promise<void> {
    // Replaced by a rename, which an open handle on it would refuse; later appends of this hold go
    // through the backend's calls.
    this.release()
    const base = this.db.generation
    const bytes = new TextEncoder().encode(journalHeaderLine(base))
    await this.backend.writeAtomic(JOURNAL, [bytes])
    this.base = base
    this.journalVersion = 2
    this.applied = bytes.byteLength
    this.journalSize = this.applied
  }

  close(): void {
    this.release()
    this.db?.close()
  }
}
