// Coordination between tabs (and any other context) that open the same cache: one Web Lock per cache
// for every mutation, and a BroadcastChannel that says "the index changed" so readers catch up.
import { StorageUnavailableError } from '../src/errors.js'
import { lockWait } from './progress.js'

export interface Coordinator {
  /** Runs `fn` while no other context mutates or reads the index files of this cache. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>
  /** Runs `fn` alongside other readers, but never during a mutation. */
  shared<T>(fn: () => Promise<T>): Promise<T>
  /**
   * Runs `fn` with `held` true when the shared lock was free at once (then held until `fn` settles),
   * false when a mutation holds or awaits it: a reader that can do without it never waits.
   */
  sharedIfFree<T>(fn: (held: boolean) => Promise<T>): Promise<T>
  /** Tells the other contexts that the index moved to `generation`. */
  announce(generation: number): void
  close(): void
}

export function createCoordinator(cacheName: string, onRemoteChange: (generation: number) => void): Coordinator {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  if (!locks) throw new StorageUnavailableError('Web Locks are not available in this context; voxcache needs them')
  const key = `voxcache:${cacheName}`
  const channel = new BroadcastChannel(key)
  channel.onmessage = (event: MessageEvent<{ generation?: unknown }>) => {
    if (typeof event.data?.generation === 'number') onRemoteChange(event.data.generation)
  }
  // Every request goes through lockWait, so the watchdog knows a wait for another context from a
  // stall of this worker (worker/progress.ts). lib.dom types request() as Promise<Promise<T>>; it
  // resolves to fn's result.
  const request = <T>(mode: LockMode, fn: () => Promise<T>) =>
    lockWait(true, (granted) => locks.request(key, { mode }, () => (granted(), fn())) as unknown as Promise<T>)
  return {
    exclusive: <T>(fn: () => Promise<T>) => request('exclusive', fn),
    shared: <T>(fn: () => Promise<T>) => request('shared', fn),
    sharedIfFree: <T>(fn: (held: boolean) => Promise<T>) =>
      lockWait(true, (granted) =>
        locks.request(key, { mode: 'shared', ifAvailable: true }, (lock) => {
          if (lock) granted()
          return fn(lock !== null)
        }) as unknown as Promise<T>,
      ),
    announce(generation) {
      channel.postMessage({ generation })
    },
    close() {
      channel.close()
    },
  }
}
