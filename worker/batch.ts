// One mutation's changes to the index: collected while the mutation works on the files, committed to
// the journal in one append when it ends (Cache.mutate). Changes carry bytes; only the journal writer
// turns them into text.
import type { EntryInfo } from '../src/types.js'
import { rowRecord, type JournalEntry } from './index/changes.js'

export class Batch {
  readonly changes: JournalEntry[] = []

  /** Adds or replaces the entry's row (with its inline record, or null when its record is a file). */
  put(info: EntryInfo, inline: Uint8Array | null): void {
    this.changes.push({ t: 'put', row: rowRecord(info, inline) })
  }

  remove(id: string): void {
    this.changes.push({ t: 'del', id })
  }

  pin(id: string, pinned: boolean): void {
    this.changes.push({ t: 'pin', id, pinned })
  }

  clear(): void {
    this.changes.push({ t: 'clear' })
  }

  /** The entries this batch removes: already gone from disk, still in the index until the commit. */
  removed(): string[] {
    return this.changes.flatMap((c) => (c.t === 'del' ? [c.id] : []))
  }

  /** The entry this batch writes, if any (a store writes one). */
  written(): string | undefined {
    const put = this.changes.find((c) => c.t === 'put')
    return put?.t === 'put' ? put.row.id : undefined
  }

  get size(): number {
    return this.changes.length
  }
}
