// Persistence of the index: a sql.js snapshot plus an append-only journal of changes.
//
// sql.js persists only by exporting the whole database, which at 10,000 entries costs more than the
// write it records. So each change batch appends one line per entry to `index.journal`, and the
// snapshot is rewritten (checkpointed) only when the journal has grown past a share of it. Every line
// carries the generation it produced; replay skips lines the snapshot already holds, so a crash between
// writing the snapshot and resetting the journal replays nothing twice.
import type { SqlJsStatic } from 'sql.js'
import { StorageUnavailableError } from '../src/errors.js'
import { IndexDb, type JournalEntry } from './index-db.js'
import type { Backend } from './payloads/backend.js'

export const SNAPSHOT = 'index.sqlite'
export const JOURNAL = 'index.journal'
const MIN_CHECKPOINT_BYTES = 1 << 20
const NEWLINE = 0x0a

interface JournalHeader {
  voxcacheJournal: 1
  base: number
}

export class IndexStore {
  /** Bytes of the journal that this context has applied (always a whole number of lines). */
  private applied = 0
  /** The journal's `base` when this context last read it; another value means it was checkpointed. */
  private base = -1
  private snapshotBytes = 0
  /**
   * The journal's size as of the last look under the current lock (refresh() runs first in every lock),
   * so commit() need not ask the file system again; -1 when unknown.
   */
  private journalSize = -1

  private constructor(
    private readonly backend: Backend,
    private readonly SQL: SqlJsStatic,
    public db: IndexDb,
  ) {}

  /** Loads snapshot and journal. Call under the exclusive lock: it repairs a torn journal tail. */
  static async load(backend: Backend, SQL: SqlJsStatic): Promise<IndexStore> {
    const store = new IndexStore(backend, SQL, IndexDb.open(SQL))
    try {
      await store.reload(true)
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error // a newer schema is never touched
      // An unreadable snapshot or journal is set aside, not deleted, and the index starts empty: the
      // payload records describe themselves, so reconciliation re-indexes them.
      const stamp = Date.now()
      await backend.move(SNAPSHOT, `quarantine/${SNAPSHOT}.${stamp}`).catch(() => undefined)
      await backend.move(JOURNAL, `quarantine/${JOURNAL}.${stamp}`).catch(() => undefined)
      await store.reload(true)
    }
    return store
  }

  get generation(): number {
    return this.db.generation
  }

  private async reload(repair: boolean): Promise<void> {
    const snapshot = await this.backend.read(SNAPSHOT)
    const db = IndexDb.open(this.SQL, snapshot)
    this.db.close()
    this.db = db
    this.snapshotBytes = snapshot?.byteLength ?? 0
    this.applied = 0
    this.base = -1
    await this.catchUp(repair)
  }

  /** Applies journal lines written since this context last looked. Call under a lock. */
  async refresh(): Promise<void> {
    const file = await this.backend.file(JOURNAL)
    const size = file?.size ?? 0
    const head = file && size ? new Uint8Array(await file.slice(0, Math.min(size, 256)).arrayBuffer()) : undefined
    const base = head ? parseHeader(head) : -1
    this.journalSize = size
    if (base !== this.base || size < this.applied) {
      await this.reload(false)
    } else if (size > this.applied) {
      await this.catchUp(false)
    }
  }

  private async catchUp(repair: boolean): Promise<void> {
    const bytes = await this.backend.read(JOURNAL, this.applied)
    this.journalSize = this.applied + (bytes?.byteLength ?? 0)
    if (!bytes || bytes.byteLength === 0) return
    const end = bytes.lastIndexOf(NEWLINE) + 1
    if (this.applied === 0) {
      const first = bytes.indexOf(NEWLINE)
      if (first < 0) return
      this.base = parseHeader(bytes.subarray(0, first))
    }
    const text = new TextDecoder().decode(bytes.subarray(0, end))
    const lines = text.split('\n')
    // One generation spans several lines; apply every line newer than what the db held before.
    const floor = this.db.generation
    let top = floor
    for (let i = this.applied === 0 ? 1 : 0; i < lines.length; i++) {
      const line = lines[i]
      if (!line) continue
      let entry: JournalEntry & { g: number }
      try {
        entry = JSON.parse(line) as JournalEntry & { g: number }
      } catch {
        // A line torn by a crash and later written over: it was never acknowledged, so skip it.
        continue
      }
      if (entry.g > floor) {
        try {
          this.db.apply(entry)
        } catch {
          // Well-formed JSON that is not a valid entry is corruption of that line alone: skip it.
          continue
        }
        top = Math.max(top, entry.g)
      }
    }
    if (top !== floor) this.db.generation = top
    if (repair && end < bytes.byteLength) {
      await this.backend.truncate(JOURNAL, this.applied + end)
      this.journalSize = this.applied + end
    }
    this.applied += end
  }

  /**
   * Makes `entries` durable as one generation, then applies them. Call under the exclusive lock,
   * after refresh(). Returns the new generation.
   */
  async commit(entries: JournalEntry[]): Promise<number> {
    if (entries.length === 0) return this.db.generation
    const size = this.journalSize >= 0 ? this.journalSize : ((await this.backend.size(JOURNAL)) ?? 0)
    if (size === 0 || this.base < 0) {
      await this.resetJournal()
    } else if (size > this.applied) {
      // A writer crashed mid-append: its partial line was never acknowledged.
      await this.backend.truncate(JOURNAL, this.applied)
    }
    const g = this.db.generation + 1
    const text = entries.map((e) => JSON.stringify({ g, ...e })).join('\n') + '\n'
    const bytes = new TextEncoder().encode(text)
    try {
      await this.backend.append(JOURNAL, bytes)
    } catch (error) {
      this.journalSize = -1 // part of the line may be on disk: the next commit measures and truncates
      throw error
    }
    for (const entry of entries) this.db.apply(entry)
    this.db.generation = g
    this.applied += bytes.byteLength
    this.journalSize = this.applied
    if (this.applied > Math.max(MIN_CHECKPOINT_BYTES, this.snapshotBytes / 2)) await this.checkpoint()
    return g
  }

  /** Writes the whole index as the snapshot and starts an empty journal. Call under the exclusive lock. */
  async checkpoint(): Promise<void> {
    const bytes = this.db.export()
    await this.backend.writeAtomic(SNAPSHOT, [bytes])
    this.snapshotBytes = bytes.byteLength
    await this.resetJournal()
  }

  private async resetJournal(): Promise<void> {
    const header: JournalHeader = { voxcacheJournal: 1, base: this.db.generation }
    const bytes = new TextEncoder().encode(JSON.stringify(header) + '\n')
    await this.backend.writeAtomic(JOURNAL, [bytes])
    this.base = header.base
    this.applied = bytes.byteLength
    this.journalSize = this.applied
  }

  close(): void {
    this.db.close()
  }
}

function parseHeader(bytes: Uint8Array): number {
  const end = bytes.indexOf(NEWLINE)
  const text = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end))
  try {
    const header = JSON.parse(text) as Partial<JournalHeader>
    if (header.voxcacheJournal === 1 && typeof header.base === 'number') return header.base
  } catch {
    // fall through
  }
  throw new StorageUnavailableError('index.journal does not start with a voxcache journal header')
}
