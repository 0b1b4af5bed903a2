// Space: the byte budget (least-recently-used eviction down to a low-water mark), the browser's quota
// (evict payload files for room, proven free space only), the eviction log, and the one retry in the
// code base (quota exceeded → evict → retry once), which every write of a payload file or of the
// index journal goes through.
import { CacheFullError } from '../src/errors.js'
import type { EvictionInfo } from '../src/types.js'
import type { Batch } from './batch.js'
import type { IndexDb } from './index/db.js'
import type { IndexStore } from './index/store.js'
import { isQuotaError, type Backend, type Durability } from './payloads/backend.js'
import { payloadPath, QUOTA_PROBE } from './paths.js'

/** How many evictions the log keeps (the most recent). */
const EVICTION_LOG = 1000

export interface Budget {
  maxBytes: number
  lowWaterBytes: number
}

/**
 * Chooses the entries to evict so that `incoming` bytes fit: nothing while the total stays within
 * maxBytes; otherwise least recently used first until the total is at the low-water mark, so a full
 * cache does not evict again on the next insert. `replacing` is the size of an entry the write replaces.
 * @throws {CacheFullError} when the value cannot fit even with every unpinned entry gone.
 */
export function planEviction(db: IndexDb, budget: Budget, incoming: number, replacing = 0, exclude?: string): string[] {
  const { bytes, pinnedBytes } = db.totals()
  if (incoming > budget.maxBytes - pinnedBytes) {
    throw new CacheFullError(
      `a value of ${incoming} bytes does not fit the budget of ${budget.maxBytes} bytes (${pinnedBytes} pinned)`,
    )
  }
  let total = bytes - replacing
  if (total + incoming <= budget.maxBytes) return []
  const target = Math.max(0, Math.min(budget.lowWaterBytes, budget.maxBytes - incoming))
  return pickLru(db, total + incoming - target, exclude === undefined ? [] : [exclude])
}

/**
 * Least recently used unpinned entries adding up to at least `bytes`, none of `exclude`; with
 * `filesOnly`, only entries kept in payload files (for the browser's quota: evicting an inline record
 * frees no storage).
 */
export function pickLru(db: IndexDb, bytes: number, exclude: Iterable<string> = [], filesOnly = false): string[] {
  const skip = new Set(exclude)
  const chosen: string[] = []
  let freed = 0
  let offset = 0
  while (freed < bytes) {
    const batch = db.evictionCandidates(offset + 256).slice(offset)
    if (batch.length === 0) break
    offset += batch.length
    for (const c of batch) {
      if (skip.has(c.id) || (filesOnly && c.inline)) continue
      chosen.push(c.id)
      freed += c.sizeBytes
      if (freed >= bytes) break
    }
  }
  return chosen
}

/**
 * Runs `write`; when the browser's quota refuses it, frees space with `evict` and tries once more.
 * @throws {CacheFullError} when the second attempt is refused too (its cause is the quota error).
 */
export async function writeWithQuotaRetry(
  write: () => Promise<void>,
  evict: (refusal: unknown) => Promise<void>,
): Promise<void> {
  try {
    await write()
    return
  } catch (error) {
    if (!isQuotaError(error)) throw error
    await evict(error)
  }
  try {
    await write()
  } catch (error) {
    if (isQuotaError(error)) {
      throw new CacheFullError('the browser storage quota is exhausted, even after eviction', { cause: error })
    }
    throw error
  }
}

/** The origin's storage usage as the browser counts it, or undefined when it does not say. */
export async function usageNow(): Promise<number | undefined> {
  try {
    return (await navigator.storage.estimate()).usage
  } catch {
    return undefined
  }
}

const RECLAIM_CHECKS = 40
const RECLAIM_PAUSE_MS = 25

/**
 * Waits, a second at most, until the browser counts the origin's usage at or below `target` bytes.
 * IndexedDB deletes a Blob's file after its transaction commits and has no event for it, so this polls.
 */
export async function usageDropsTo(target: number): Promise<void> {
  for (let i = 0; i < RECLAIM_CHECKS; i++) {
    const usage = await usageNow()
    if (usage === undefined || usage <= target) return
    await new Promise((resolve) => setTimeout(resolve, RECLAIM_PAUSE_MS))
  }
}

/** The budget and the quota of one cache, and what they made it evict. */
export class Space {
  /** The last EVICTION_LOG entries evicted, oldest first. */
  readonly log: EvictionInfo[] = []
  evictions = 0
  /** Writes the quota refused and that were tried again after evicting. */
  quotaRetries = 0

  constructor(
    private readonly index: IndexStore,
    private readonly backend: Backend,
    readonly budget: Budget,
    /** Removes an entry's files (its record and any chunks beside it). */
    private readonly removeFiles: (id: string) => Promise<void>,
    private readonly durability: Durability = 'strict',
  ) {}

  /**
   * Evicts for the budget so that a value of `incoming` bytes fits in place of `id`'s old one.
   * @throws {CacheFullError} when it cannot fit even with every unpinned entry gone.
   */
  async fitBudget(batch: Batch, id: string, incoming: number): Promise<void> {
    const db = this.index.db
    await this.evict(batch, planEviction(db, this.budget, incoming, db.info(id)?.sizeBytes ?? 0, id), 'budget')
  }

  /** Removes the entries' files and rows, and logs which version of each went and why. */
  async evict(batch: Batch, ids: string[], reason: EvictionInfo['reason']): Promise<void> {
    for (const id of ids) {
      // The row is still in the index (changes are applied at commit): it says which version goes.
      const info = this.index.db.info(id)
      await this.removeFiles(id)
      batch.remove(id)
      this.evictions++
      if (!info) continue
      const { sizeBytes, createdAt, checksum, metadata } = info
      this.log.push({ id, reason, evictedAt: new Date().toISOString(), sizeBytes, createdAt, checksum, metadata })
      if (this.log.length > EVICTION_LOG) this.log.splice(0, this.log.length - EVICTION_LOG)
    }
  }

  /**
   * Writes `id`'s payload file (or, given `path`, one of its chunks); when the quota refuses it, evicts
   * payload files and tries once more.
   */
  async writeFile(batch: Batch, id: string, parts: readonly Uint8Array[], byteLength: number, path = payloadPath(id)): Promise<void> {
    // A new entry's files (no row names them yet) are written in place: no temporary file and rename,
    // a round trip to the browser process less. A replaced entry's are replaced atomically, so that a
    // crash midway leaves its old version whole.
    const fresh = this.backend.writeNew && !this.index.db.has(id)
    await writeWithQuotaRetry(
      () => (fresh ? this.backend.writeNew!(path, parts, this.durability) : this.backend.writeAtomic(path, parts, this.durability)),
      (refusal) => this.makeRoom(batch, byteLength, id, refusal),
    )
  }

  /**
   * Commits the batch to the index journal, and returns the new generation. When the quota refuses the
   * append (an inline record, a row, a deletion), evicts payload files and tries once more.
   */
  async commit(batch: Batch): Promise<number> {
    let generation = this.index.generation
    await writeWithQuotaRetry(
      async () => {
        generation = await this.index.commit(batch.changes)
      },
      (refusal) => this.makeRoom(batch, this.index.commitBytes(batch.changes), batch.written(), refusal),
    )
    return generation
  }

  /**
   * After the browser refused a write of about `byteLength` bytes: evicts for the quota (adding the
   * deletions to the batch), so that the caller's one retry can fit. `keep` is the entry being written.
   */
  private async makeRoom(batch: Batch, byteLength: number, keep: string | undefined, refusal: unknown): Promise<void> {
    const ids = await this.planQuotaEviction(byteLength, keep, batch.removed(), refusal)
    const freed = ids.reduce((n, x) => n + (this.index.db.info(x)?.sizeBytes ?? 0), 0)
    await this.reclaiming(freed, () => this.evict(batch, ids, 'quota'))
    this.quotaRetries++
  }

  /**
   * The entries to evict so that a refused write fits the quota. Evicts nothing when even an empty
   * cache could not hold it — eviction would lose entries for no gain. Free space counts only when
   * proven: estimate() cannot be trusted here (under DevTools' quota override Chromium reports 10 GiB;
   * IndexedDB then evicted entries and still failed, seen here).
   * @throws {CacheFullError} when it cannot fit.
   */
  private async planQuotaEviction(byteLength: number, keep: string | undefined, already: string[], refusal: unknown): Promise<string[]> {
    const db = this.index.db
    const skip = keep === undefined ? already : [...already, keep]
    // What evicting every unpinned payload file would free: not the value's own old version, nor the
    // entries already evicted (their deletions are not in the index yet, and the refusal saw them).
    let evictable = db.evictableFileBytes()
    for (const x of skip) {
      const info = db.info(x)
      if (info && !info.pinned && !info.inline) evictable -= info.sizeBytes
    }
    // OPFS says how much of the refused write fitted; otherwise, when even evicting every unpinned
    // file would leave the value short of room, a probe write of the shortfall tells whether the quota
    // has that much free, before anything is evicted.
    let free = (refusal as { written?: number }).written
    if (free === undefined) {
      const shortfall = byteLength - evictable
      free = shortfall > 0 ? await this.probeFree(shortfall) : 0
    }
    if (byteLength > free + evictable) {
      throw new CacheFullError(`a value of ${byteLength} bytes does not fit the browser's storage quota`)
    }
    return pickLru(db, byteLength - free + byteLength / 4, skip, true)
  }

  /** `bytes` when a file of that size fits the quota now (it is written, then removed), else 0. */
  private async probeFree(bytes: number): Promise<number> {
    try {
      await this.backend.writeAtomic(QUOTA_PROBE, [new Uint8Array(bytes)])
    } catch (error) {
      await this.backend.delete(QUOTA_PROBE)
      if (isQuotaError(error)) return 0
      throw error
    }
    await this.reclaiming(bytes, () => this.backend.delete(QUOTA_PROBE))
    return bytes
  }

  /**
   * Runs deletions that free about `bytes` and, on IndexedDB, waits (≤ 1 s) until the browser counts
   * them: it frees a deleted Blob's space a moment after the delete commits, and a retry that evicted
   * just enough was refused again (seen here). Since eviction without a proven free size takes 1.25×
   * the value, the quota spec passes without this wait too; it stays for the browser's lag. OPFS frees
   * at once.
   */
  private async reclaiming(bytes: number, remove: () => Promise<void>): Promise<void> {
    const usage = this.backend.kind === 'idb' && bytes > 0 ? await usageNow() : undefined
    await remove()
    if (usage !== undefined) await usageDropsTo(usage - bytes)
  }
}
