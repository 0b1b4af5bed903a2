// One cache worker as the client holds it: started, wrapped by Comlink, watched by a watchdog
// (watchdog.ts), and the cache opened in it. The client makes a new one when the watchdog ends a worker.
import * as Comlink from 'comlink'
import type { CacheApi } from '../worker/service.js'
import { StorageUnavailableError } from './errors.js'
import type { ImportReport, OpenCacheOptions, StorageKind } from './types.js'
import { Watchdog } from './watchdog.js'

export type Remote = Comlink.Remote<CacheApi>

export interface Connection {
  readonly worker: Worker
  readonly remote: Remote
  readonly watchdog: Watchdog
}

export interface Opened {
  connection: Connection
  storage: Exclude<StorageKind, 'auto'>
  seeded: ImportReport | undefined
}

/**
 * Starts a worker and opens the cache in it, watched from the first call: an open that stalls (its
 * reconcile stuck) ends the worker and rejects with WorkerStalledError. `onStall` runs when the
 * watchdog ends the worker later.
 * @throws {StorageUnavailableError} when the worker does not start. @throws what the worker's open throws.
 */
export async function connect(
  start: () => Worker,
  options: OpenCacheOptions,
  watchdogMs: number,
  onStall: (stalled: Connection) => void,
): Promise<Opened> {
  const worker = start()
  const remote = Comlink.wrap<CacheApi>(worker)
  let opening = true
  // A stall during the open rejects the open (below); onStall is for an open cache.
  const connection: Connection = { worker, remote, watchdog: new Watchdog(watchdogMs, () => end(connection, () => opening || onStall(connection))) }
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (event) => {
      reject(new StorageUnavailableError(`the voxcache worker failed to start: ${event.message || 'load error'}`))
    })
  })
  try {
    const port = connection.watchdog.port
    const open = connection.watchdog.watch(remote.open(options, Comlink.transfer(port, [port])))
    const { storage, seeded } = await Promise.race([open, failed])
    opening = false
    return { connection, storage, seeded }
  } catch (error) {
    end(connection)
    throw error
  }
}

const ended = new WeakSet<Connection>()

/**
 * Ends the worker (its locks and access handles go with it), then runs `then`; once per connection.
 * Calls still pending reject with `reason`.
 */
export function end(connection: Connection, then?: () => void, reason?: Error): void {
  if (ended.has(connection)) return
  ended.add(connection)
  connection.watchdog.stop(reason)
  connection.remote[Comlink.releaseProxy]()
  connection.worker.terminate()
  then?.()
}
