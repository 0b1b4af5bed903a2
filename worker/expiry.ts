// Expiry (issue 15): an entry past its `expiresAt`, or older than the opener's `maxAgeMs`, is a miss
// and is deleted, so that expired PHI does not stay on disk — by a sweep at open, by a timer while the
// cache is open (set for the next due time the index knows), and by a read that meets it. A sweep
// needs no key (it reads the index's clear columns and removes files), so a locked cache sweeps too.
// Pinned entries expire like any other: pinning exempts from eviction, not from expiry.
import { UnsupportedValueError } from '../src/errors.js'
import type { EntryInfo } from '../src/types.js'
import type { Batch } from './batch.js'
import type { JournalEntry } from './index/changes.js'
import type { Expired, IndexDb } from './index/db.js'

/** setTimeout's longest delay (a signed 32-bit count of ms); a later due time is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1
/**
 * When a sweep leaves an entry that was due by then (its files could not be removed, or a time read
 * back a millisecond early), the next try waits this long instead of spinning on a zero delay.
 */
const RETRY_MS = 1000

/** VoxLogicA-2's CURRENT_TIMESTAMP text: UTC without a zone, which Date.parse would read as local time. */
const SQLITE_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/

function timeOf(text: string): number {
  return Date.parse(SQLITE_TIME.test(text) ? `${text.replace(' ', 'T')}Z` : text)
}

export class Expiry {
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The time the timer is set for. */
  private due: number | undefined
  private running: Promise<void> | undefined
  private stopped = false

  /**
   * @param run a sweep under the cache's lock (Cache.sweep), called when the timer is due.
   * @throws {UnsupportedValueError} when maxAgeMs is given and is not a positive finite number.
   */
  constructor(
    readonly maxAgeMs: number | undefined,
    private readonly run: () => Promise<void>,
  ) {
    if (maxAgeMs !== undefined && !(typeof maxAgeMs === 'number' && maxAgeMs > 0 && Number.isFinite(maxAgeMs))) {
      throw new UnsupportedValueError(`maxAgeMs must be a positive finite number of milliseconds, not ${String(maxAgeMs)}`)
    }
  }

  /** What is expired at `now`, as the index's queries take it. */
  at(now = Date.now()): Expired {
    return this.maxAgeMs === undefined ? { now } : { now, maxAgeMs: this.maxAgeMs }
  }

  /** Whether the entry is expired at `now`: the same rule as the index's (db.ts, EXPIRED), the boundary included. */
  isExpired(info: EntryInfo, now = Date.now()): boolean {
    return this.dueOf(info) <= now
  }

  /** When an entry or row expires (epoch ms), Infinity when never. */
  private dueOf(row: { expiresAt?: string | null; createdAt: string }): number {
    const at = row.expiresAt ? Date.parse(row.expiresAt) : Infinity
    const aged = this.maxAgeMs === undefined ? NaN : timeOf(row.createdAt) + this.maxAgeMs
    return Number.isNaN(aged) ? at : Math.min(at, aged)
  }

  /**
   * Inside a mutation: removes every expired entry — its files, then its row in the batch.
   * @returns the ids removed.
   */
  async sweep(db: IndexDb, batch: Batch, removeFiles: (id: string) => Promise<void>, now = Date.now()): Promise<string[]> {
    const ids = db.expiredIds(this.at(now))
    for (const id of ids) {
      await removeFiles(id)
      batch.remove(id)
    }
    return ids
  }

  /**
   * Sets the timer for the next due time of the whole index: after a sweep (`sweptAt`, its time), and
   * when another context changed the index.
   */
  plan(db: IndexDb, sweptAt?: number): void {
    this.clear()
    const due = db.nextExpiry(this.maxAgeMs)
    if (due === undefined) return
    this.schedule(sweptAt !== undefined && due <= sweptAt ? Date.now() + RETRY_MS : due)
  }

  /** After a commit: brings the timer forward for a row written with an earlier due time. */
  note(changes: readonly JournalEntry[]): void {
    for (const change of changes) {
      if (change.t !== 'put') continue
      const due = this.dueOf(change.row)
      if (Number.isFinite(due) && (this.due === undefined || due < this.due)) {
        this.clear()
        this.schedule(due)
      }
    }
  }

  /** Stops the timer for good; resolves once a sweep it started has ended. */
  async stop(): Promise<void> {
    this.stopped = true
    this.clear()
    await this.running
  }

  private clear(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.due = undefined
  }

  private schedule(due: number): void {
    if (this.stopped) return
    this.due = due
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.due = undefined
      // A due time past setTimeout's range is reached in steps.
      if (Date.now() < due) return this.schedule(due)
      // The sweep replans when it ends; a failure (the cache closing under it) waits for the next one.
      this.running = this.run()
        .catch(() => undefined)
        .finally(() => (this.running = undefined))
    }, Math.min(MAX_DELAY, Math.max(0, due - Date.now())))
  }
}
