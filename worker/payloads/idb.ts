import { clear, createStore, del, get, keys, set, setMany, delMany, type UseStore } from 'idb-keyval'
import { UnsupportedValueError } from '../../src/errors.js'
import { splitPath, type Backend } from './backend.js'

/**
 * IndexedDB through idb-keyval, for browsers without OPFS sync access handles. Each file is a Blob
 * under its path; a put is one transaction, so writeAtomic is atomic for free.
 */
export function createIdbBackend(cacheName: string): Backend {
  const store: UseStore = createStore(`voxcache:${cacheName}`, 'files')
  const blob = (name: string) => get<Blob>(name, store)
  // A deleteDatabase elsewhere (wipeAll) waits for every connection to close: this one closes at once.
  void store('readonly', (s) => {
    const db = s.transaction.db
    db.onversionchange = () => db.close()
  }).catch(() => undefined)
  return {
    kind: 'idb',
    async writeAtomic(name, parts) {
      const file = new Blob(parts as Uint8Array<ArrayBuffer>[])
      try {
        await set(name, file, store)
      } catch (error) {
        // Chromium's IndexedDB refuses a blob of 512 MiB and more with a DataError (bench/results-large.md).
        if (error instanceof DOMException && error.name === 'DataError') {
          throw new UnsupportedValueError(`IndexedDB refused a record of ${file.size} bytes (Chromium's limit is about 512 MiB; OPFS takes up to about 2 GiB)`, { cause: error })
        }
        throw error
      }
    },
    async read(name, at = 0, length) {
      const file = await blob(name)
      if (!file) return undefined
      const part = file.slice(at, length === undefined ? undefined : at + length)
      return new Uint8Array(await part.arrayBuffer())
    },
    file: blob,
    async size(name) {
      return (await blob(name))?.size
    },
    async append(name, bytes) {
      const file = (await blob(name)) ?? new Blob([])
      await set(name, new Blob([file, bytes as Uint8Array<ArrayBuffer>]), store)
    },
    async truncate(name, size) {
      const file = await blob(name)
      if (file) await set(name, file.slice(0, size), store)
    },
    async delete(name) {
      await del(name, store)
    },
    async move(from, to) {
      const file = await blob(from)
      if (!file) throw new DOMException(`${from} not found`, 'NotFoundError')
      await setMany([[to, file]], store)
      await delMany([from], store)
    },
    async list(dir) {
      const names = (await keys(store)) as string[]
      return names.filter((n) => splitPath(n).dir === dir).map((n) => splitPath(n).base)
    },
    async destroy() {
      await clear(store)
    },
  }
}
