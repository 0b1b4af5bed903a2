// Names of the Web Locks voxcache takes. One name per cache for every mutation of its files (the
// worker's tabs.ts), and one per operation id for "compute once": memoize (main thread) and decode
// (worker) hold it while they look for a result and, on a miss, compute and store it, so that the
// same result is computed once across the page, its worker and other tabs.

/** The lock a compute-once of `id` in cache `cache` runs under. */
export function onceLock(cache: string, id: string): string {
  return `voxcache:${cache}:once:${id}`
}
