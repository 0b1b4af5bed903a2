// wipeAll(): every voxcache cache of the origin removed, at logout for instance. Open caches in any tab
// or worker are told to close first (they then throw ClosedError), and opens wait until the wipe is done.
import { OPEN_LOCK, WIPE_CHANNEL } from './locks.js'
import { StorageUnavailableError } from './errors.js'

/**
 * Removes every voxcache cache of this origin — OPFS folders and IndexedDB databases, their key ids
 * included — even while other tabs have caches open: those close without writing, and every later call
 * on them throws `ClosedError`. An `openCache` that comes meanwhile waits until the wipe is done. Call it
 * at logout; a server can add the response header `Clear-Site-Data: "storage"` for the same effect
 * on everything of the origin.
 * @throws {StorageUnavailableError} where Web Locks or BroadcastChannel are missing.
 */
export async function wipeAll(): Promise<void> {
  const locks = globalThis.navigator?.locks
  if (!locks || typeof BroadcastChannel === 'undefined') throw new StorageUnavailableError('wipeAll needs Web Locks and BroadcastChannel')
  const channel = new BroadcastChannel(WIPE_CHANNEL)
  channel.postMessage({ wipe: true })
  channel.close()
  await locks.request(OPEN_LOCK, { mode: 'exclusive' }, async () => {
    await wipeOpfs(locks)
    await wipeIndexedDb()
  })
}

async function wipeOpfs(locks: LockManager): Promise<void> {
  let root: FileSystemDirectoryHandle
  try {
    root = await navigator.storage.getDirectory()
  } catch {
    return // no OPFS here, so no cache in it
  }
  let top: FileSystemDirectoryHandle
  try {
    top = await root.getDirectoryHandle('voxcache')
  } catch {
    return
  }
  const names: string[] = []
  for await (const [name] of top as unknown as AsyncIterable<[string, FileSystemHandle]>) names.push(name)
  // Each cache under its own lock, so that no mutation of it is caught half way.
  for (const name of names) {
    await locks.request(`voxcache:${decodeURIComponent(name)}`, { mode: 'exclusive' }, () => top.removeEntry(name, { recursive: true }))
  }
  await root.removeEntry('voxcache', { recursive: true }).catch(() => undefined)
}

async function wipeIndexedDb(): Promise<void> {
  if (typeof indexedDB === 'undefined' || typeof indexedDB.databases !== 'function') return
  for (const { name } of await indexedDB.databases()) {
    // The caches' databases, and the keys kept at the app's request (worker/key-store.ts).
    if (!name?.startsWith('voxcache:') && name !== 'voxcache-keys') continue
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name)
      request.onsuccess = () => resolve()
      request.onerror = () => reject(new StorageUnavailableError(`IndexedDB database ${name} could not be deleted`, { cause: request.error }))
    })
  }
}
