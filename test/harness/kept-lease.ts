// Test page only: the root vite.config.ts puts this module between the cache and its coordinator
// (worker/tabs.ts); the published worker never has it. A cache whose name begins with KEPT_LEASE_PREFIX
// keeps its lease of the lock until another context asks for the lock or the page trims its memory,
// never for want of calls: e2e/lease.spec.ts can then see, without timing anything, that another
// context is not left waiting, and that a lease taken again catches up first. One whose name begins
// with MUTED_PREFIX also never announces its changes on the BroadcastChannel, as if every announcement
// arrived late: what keeps the other contexts right is then the lock and the journal alone.
import { createCoordinator as create, LEASE_IDLE_MS, type Coordinator } from '../../worker/tabs.js'

export type { Coordinator }

/** Caches named so keep their lease (setTimeout's longest delay, about 24.8 days). */
export const KEPT_LEASE_PREFIX = 'lease-kept'
/** Caches named so keep their lease and announce nothing. */
export const MUTED_PREFIX = 'lease-kept-muted'

export function createCoordinator(cacheName: string, onRemoteChange: (generation: number) => void, onLeaseEnd?: () => void): Coordinator {
  const coordinator = create(cacheName, onRemoteChange, onLeaseEnd, cacheName.startsWith(KEPT_LEASE_PREFIX) ? 2 ** 31 - 1 : LEASE_IDLE_MS)
  return cacheName.startsWith(MUTED_PREFIX) ? { ...coordinator, announce: () => undefined } : coordinator
}
