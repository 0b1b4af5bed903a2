// Access times and hit counts, batched: a retrieve notes its hit in memory, and the notes are written
// with the next mutation or within a second (a journal append per read would cost more than the read).
import type { EntryInfo } from '../src/types.js'
import type { JournalEntry } from './index/changes.js'

const FLUSH_MS = 1000

export class Touches {
  private readonly pending = new Map<string, { at: string; hits: number }>()
  private timer: ReturnType<typeof setTimeout> | undefined

  /** @param flush writes the pending notes (a mutation that takes them); called a second after a note. */
  constructor(private readonly flush: () => Promise<void>) {}

  /** Notes a hit on `id` now, and schedules a flush. */
  note(id: string): void {
    const t = this.pending.get(id)
    this.pending.set(id, { at: new Date().toISOString(), hits: (t?.hits ?? 0) + 1 })
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      if (this.pending.size) void this.flush().catch(() => undefined)
    }, FLUSH_MS)
  }

  /** `info` with the hits and access time noted here but not written yet. */
  apply(info: EntryInfo): EntryInfo {
    const t = this.pending.get(info.id)
    if (!t) return info
    const last = info.lastAccessedAt && info.lastAccessedAt > t.at ? info.lastAccessedAt : t.at
    return { ...info, hits: info.hits + t.hits, lastAccessedAt: last }
  }

  /** The pending notes as index changes; they are no longer pending. */
  take(): JournalEntry[] {
    const changes: JournalEntry[] = [...this.pending].map(([id, t]) => ({ t: 'touch', id, at: t.at, hits: t.hits }))
    this.pending.clear()
    this.stop()
    return changes
  }

  get size(): number {
    return this.pending.size
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }
}
