// Names of the Web Locks voxcache takes. One name per cache for every mutation of its files (the
// worker's tabs.ts), and one per operation id for "compute once": memoize (main thread) and decode
// (worker) hold it while they look for a result and, on a miss, compute and store it, so that the
// same result is computed once across the page, its worker and other tabs.

/** The lock a compute-once of `id` in cache `cache` runs under. */
export function onceLock(cache: string, id: string): string {
  return `voxcache:${cache}:once:${id}`
}

/**
 * Held shared by every open cache (in its worker) for as long as it is open; wipeAll() takes it
 * exclusive, so it waits until every cache has closed after its broadcast, and an open that comes
 * meanwhile waits until the wipe is done (and finds nothing).
 */
export const OPEN_LOCK = 'voxcache-open'
/**
 * The BroadcastChannel on which wipeAll() tells every open cache of the origin to close. Both names use
 * a hyphen: no cache's own lock or channel (`voxcache:<name>`) can be spelled so.
 */
export const WIPE_CHANNEL = 'voxcache-wipe'
