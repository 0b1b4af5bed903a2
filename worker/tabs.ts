// Coordination between tabs (and any other context) that open the same cache: one Web Lock per cache
// for every mutation, and a BroadcastChannel that says "the index changed" so readers catch up.
//
// The lock is kept as a lease: once a call of this context has it, exclusive for a mutation or shared
// for a read, the context keeps it while it goes on working, and lets go LEASE_IDLE_MS after its last
// call, or at once when another context says it wants the lock (every context says so on the channel
// before it asks, and when a read finds the lock taken). A run of small stores then pays for the lock,
// the journal's access handle and the catch-up read once, not at each store, and a run of memory hits
// for the lock and the journal check once: each is a round trip to the browser process, 0.4–1.5 ms here
// (bench/results.md, small values and the memory tier). While a context holds either lease no other
// context writes, so what it read of the index stays true. Under the lease the context's own calls take
// turns through a local gate: readers together, a mutation alone (a mutation lets a shared lease go
// and asks for the exclusive lock).
import { StorageUnavailableError } from '../src/errors.js'
import { holding, lockWait } from './progress.js'

/** How long the lock is kept after this context's last call, when no other context asks. */
export const LEASE_IDLE_MS = 100

export interface Coordinator {
  /** Runs `fn` while no other context mutates or reads the index files of this cache. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>
  /** Runs `fn` alongside other readers, but never during a mutation. */
  shared<T>(fn: () => Promise<T>): Promise<T>
  /**
   * Runs `fn` with `held` true when it can run at once with no mutation beside it (then nothing mutates
   * until `fn` settles), false when a mutation holds or awaits the lock: a reader that can do without it
   * never waits. `sole`: this context holds the lock as a lease (either mode), so no other context has
   * changed anything since this context last looked within it — also when `held` is false because a
   * mutation of this context runs.
   */
  sharedIfFree<T>(fn: (held: boolean, sole: boolean) => Promise<T>): Promise<T>
  /** Tells the other contexts that the index moved to `generation`. */
  announce(generation: number): void
  /** Lets go of the lease as soon as no call runs under it (the page was hidden, or memory trimmed). */
  yieldLease(): void
  close(): void
}

/** Readers together, one writer alone, in the order they came: this context's calls under its lease. */
class Gate {
  private readers = 0
  private writing = false
  private readonly queue: { write: boolean; go: () => void }[] = []

  get busy(): boolean {
    return this.writing || this.readers > 0 || this.queue.length > 0
  }

  /** A mutation runs or waits: a reader that need not wait reads without the lock. */
  get writerAhead(): boolean {
    return this.writing || this.queue.some((w) => w.write)
  }

  enter(write: boolean): Promise<void> {
    if (this.queue.length === 0 && this.can(write)) {
      this.take(write)
      return Promise.resolve()
    }
    return new Promise((go) => this.queue.push({ write, go: () => (this.take(write), go()) }))
  }

  leave(write: boolean): void {
    if (write) this.writing = false
    else this.readers--
    while (this.queue.length && this.can(this.queue[0]!.write)) this.queue.shift()!.go()
  }

  private can(write: boolean): boolean {
    return write ? !this.writing && this.readers === 0 : !this.writing
  }

  private take(write: boolean): void {
    if (write) this.writing = true
    else this.readers++
  }
}

/**
 * `onLeaseEnd` runs while the lock is still held, just before it is let go: the cache closes the
 * journal it kept open under the lease. `idleMs`: how long the lease outlives the last call.
 */
export function createCoordinator(
  cacheName: string,
  onRemoteChange: (generation: number) => void,
  onLeaseEnd: () => void = () => undefined,
  idleMs = LEASE_IDLE_MS,
): Coordinator {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  if (!locks) throw new StorageUnavailableError('Web Locks are not available in this context; voxcache needs them')
  const key = `voxcache:${cacheName}`
  const channel = new BroadcastChannel(key)
  let closed = false
  /** The lock this context holds between calls; `end` lets go of it. */
  let lease: { mode: LockMode; end: () => void; yielding: boolean } | undefined
  let idle: ReturnType<typeof setTimeout> | undefined
  const gate = new Gate()

  channel.onmessage = (event: MessageEvent<{ generation?: unknown; want?: unknown }>) => {
    if (typeof event.data?.generation === 'number') onRemoteChange(event.data.generation)
    else if (event.data?.want === true) yieldLease()
  }
  const want = () => {
    if (!closed) channel.postMessage({ want: true })
  }

  function endLease(): void {
    const held = lease!
    lease = undefined
    clearTimeout(idle)
    idle = undefined
    try {
      onLeaseEnd()
    } finally {
      held.end()
    }
  }

  /**
   * After a call under the lease: lets go when asked to (or closed), else after `idleMs` of quiet. At
   * the grant (`granted`), the calls that asked have yet to come in: only the timer is set.
   */
  function settle(granted = false): void {
    if (!lease || gate.busy) return
    if (!granted && (lease.yielding || closed)) return endLease()
    clearTimeout(idle)
    idle = setTimeout(() => {
      idle = undefined
      if (lease && !gate.busy) endLease()
    }, idleMs)
  }

  function yieldLease(): void {
    if (!lease) return
    lease.yielding = true
    settle()
  }

  /** Makes the lock just granted this context's lease (unless one is held already, when it is let go at once). */
  function leaseOf(mode: LockMode): Promise<void> | undefined {
    if (lease) return undefined
    return new Promise<void>((end) => {
      lease = { mode, end, yielding: false }
      settle(true)
    })
  }

  /** This context's requests for the lock that wait: the first granted becomes the lease. */
  const asking = new Set<AbortController>()

  /**
   * Asks for the lock in `mode`; resolves when this context holds a lease. Each caller that found no
   * lease asks on its own, as before leases (the lock's queue shows every waiting call, in order);
   * when one is granted, the others are withdrawn and run under its lease instead.
   */
  async function acquire(mode: LockMode): Promise<void> {
    const withdraw = new AbortController()
    asking.add(withdraw)
    try {
      // The wait counts for the watchdog as any wait for another context (worker/progress.ts); once
      // held, the lease counts as held only while a call runs under it (holding()).
      await lockWait(true, (granted) =>
        new Promise<void>((resolve, reject) => {
          want()
          locks!
            .request(key, { mode, signal: withdraw.signal }, () => {
              granted()
              asking.delete(withdraw)
              for (const other of asking) other.abort()
              asking.clear()
              resolve()
              return leaseOf(mode)
            })
            .catch(reject)
        }),
      )
    } catch (error) {
      // Withdrawn: another call of this context got the lease.
      if (!withdraw.signal.aborted) throw error
    } finally {
      asking.delete(withdraw)
    }
  }

  /**
   * Takes the shared lock as a lease if it is free at once: 'held' when this context now holds a
   * lease, 'taken' when another context holds or awaits the lock (it is asked to let go).
   */
  function tryLease(): Promise<'held' | 'taken'> {
    return lockWait(true, (granted) =>
      new Promise<'held' | 'taken'>((resolve, reject) => {
        locks!
          .request(key, { mode: 'shared', ifAvailable: true }, (lock) => {
            if (!lock) {
              want()
              resolve('taken')
              return undefined
            }
            granted()
            resolve('held')
            return leaseOf('shared')
          })
          .catch(reject)
      }),
    )
  }

  /** Runs `fn` through the gate of a lease this context holds; undefined when it holds none (or yields it). */
  async function underLease<T>(write: boolean, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (!lease || lease.yielding) return undefined
    if (write && lease.mode === 'shared') {
      // A mutation needs the exclusive lock: the shared lease goes once its reads end.
      yieldLease()
      return undefined
    }
    await gate.enter(write)
    try {
      // A call that waited in the gate runs even if the lease is being yielded: the lock is let go
      // only once the gate is empty.
      return { value: await holding(fn) }
    } finally {
      gate.leave(write)
      settle()
    }
  }

  /** One hold of the shared lock, let go when `fn` settles: while this context yields its lease. */
  const sharedOnce = <T>(fn: () => Promise<T>) => {
    want()
    return lockWait(true, (granted) => locks.request(key, { mode: 'shared' }, () => (granted(), fn())) as unknown as Promise<T>)
  }

  return {
    async exclusive<T>(fn: () => Promise<T>): Promise<T> {
      for (;;) {
        const ran = await underLease(true, fn)
        if (ran) return ran.value
        await acquire('exclusive')
      }
    },
    async shared<T>(fn: () => Promise<T>): Promise<T> {
      for (;;) {
        const ran = await underLease(false, fn)
        if (ran) return ran.value
        if (lease) return sharedOnce(fn)
        await acquire('shared')
      }
    },
    async sharedIfFree<T>(fn: (held: boolean, sole: boolean) => Promise<T>): Promise<T> {
      while (!lease) {
        if ((await tryLease()) === 'taken') return fn(false, false)
      }
      // Letting go of its lease: the lock is this context's until its calls end, or a waiter's after.
      if (lease.yielding) return fn(false, false)
      // This context's own mutation runs or waits: no lock for the reader, but no other context can
      // have changed anything either.
      if (gate.writerAhead) return fn(false, true)
      return (await underLease(false, () => fn(true, true)))!.value
    },
    announce(generation) {
      channel.postMessage({ generation })
    },
    yieldLease,
    close() {
      closed = true
      channel.close()
      settle()
    },
  }
}
