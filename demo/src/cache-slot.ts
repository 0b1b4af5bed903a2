// The open cache, swappable. Protecting, unlocking and wiping reopen the cache (a key is given at open
// only), but the panels, the pipeline and the open controls were each handed the cache once: they get
// this stand-in instead, which forwards every call to whichever instance is open now.
import type { VoxCache } from 'voxcache'

export interface CacheSlot {
  /** Forwards to the open instance; hand this to everything that keeps the cache. */
  readonly cache: VoxCache
  /** The instance behind it now. */
  readonly current: VoxCache
  /** Puts `next` behind the stand-in and closes the one it replaces (a closed one, after wipeAll, is fine). */
  swap(next: VoxCache): Promise<void>
}

export function cacheSlot(first: VoxCache): CacheSlot {
  let current = first
  // VoxCache keeps its state in private fields, so methods must run bound to the real instance.
  const cache = new Proxy({} as VoxCache, {
    get: (_, property) => {
      const value: unknown = Reflect.get(current, property, current)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value
    },
  })
  return {
    cache,
    get current() {
      return current
    },
    async swap(next) {
      const old = current
      current = next
      if (old !== next) await old.close().catch(() => undefined)
    },
  }
}
