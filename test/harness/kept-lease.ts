// Test page only: the root vite.config.ts puts this module between the cache and its coordinator
// (worker/tabs.ts); the published worker never has it. A cache whose name begins with KEPT_LEASE_PREFIX
// keeps its lease of the exclusive lock until another context asks for the lock or the page trims its
// memory, never for want of calls: e2e/lease.spec.ts can then see, without timing anything, that
// another context is not left waiting, and that a lease taken again catches up first.
import { createCoordinator as create, LEASE_IDLE_MS, type Coordinator } from '../../worker/tabs.js'

export type { Coordinator }

/** Caches named so keep their lease (setTimeout's longest delay, about 24.8 days). */
export const KEPT_LEASE_PREFIX = 'lease-kept'

export function createCoordinator(cacheName: string, onRemoteChange: (generation: number) => void, onLeaseEnd?: () => void): Coordinator {
  return create(cacheName, onRemoteChange, onLeaseEnd, cacheName.startsWith(KEPT_LEASE_PREFIX) ? 2 ** 31 - 1 : LEASE_IDLE_MS)
}
