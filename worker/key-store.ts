// Keys kept at the app's request (`encryption: { key, persist: true }`): the CryptoKey object itself, by
// cache name, in an IndexedDB database of their own. IndexedDB stores a CryptoKey by structured clone,
// so a non-extractable key stays non-extractable: usable from script, its bytes never readable. Each
// call opens and closes the database, so that no connection held here blocks wipeAll()'s deletion.

/** The database wipeAll() removes along with the caches' own. */
export const KEY_STORE_DB = 'voxcache-keys'
const STORE = 'keys'

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
}

async function withStore<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const open = indexedDB.open(KEY_STORE_DB, 1)
  open.onupgradeneeded = () => open.result.createObjectStore(STORE)
  const db = await request(open)
  try {
    const tx = db.transaction(STORE, mode)
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onerror = tx.onabort = () => reject(tx.error)
    })
    const result = await request(fn(tx.objectStore(STORE)))
    await done
    return result
  } finally {
    db.close()
  }
}

/** Whether the key database exists: opening it would create it, for every cache opened without a key. */
async function exists(): Promise<boolean> {
  if (typeof indexedDB === 'undefined') return false
  if (typeof indexedDB.databases !== 'function') return true
  return (await indexedDB.databases()).some((d) => d.name === KEY_STORE_DB)
}

export async function keptKey(cacheName: string): Promise<CryptoKey | undefined> {
  if (!(await exists())) return undefined
  const key: unknown = await withStore('readonly', (s) => s.get(cacheName))
  return typeof CryptoKey !== 'undefined' && key instanceof CryptoKey ? key : undefined
}

export async function keepKey(cacheName: string, key: CryptoKey): Promise<void> {
  await withStore('readwrite', (s) => s.put(key, cacheName))
}

export async function forgetKey(cacheName: string): Promise<void> {
  if (!(await exists())) return
  await withStore('readwrite', (s) => s.delete(cacheName))
}
