// The byte budget: least-recently-used eviction down to a low-water mark, and the one retry in the
// code base (quota exceeded → evict → retry once).
import { CacheFullError } from '../src/errors.js'
import type { IndexDb } from './index-db.js'
import { isQuotaError } from './payloads/backend.js'

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
