// The files of a cache in OPFS, read and written from the page's main thread (the async OPFS API), the
// way a disk fault, a crash or another program would change them: behind voxcache's back.
import type { Page } from '@playwright/test'

declare global {
  // eslint-disable-next-line no-var
  var vxDigest: ((value: unknown) => Promise<string>) | undefined
}

/**
 * Every file of the cache, by path (`index.sqlite`, `payloads/<id>.vxc`, `quarantine/…`). A file that
 * goes between the listing and its read (the last call of a worker just killed still landing in the
 * browser process: a move or a removal) makes the walk start again.
 */
export async function readCacheFiles(page: Page, cache: string): Promise<Map<string, Buffer>> {
  const files = await page.evaluate(async (cache) => {
    let out: [string, string][] = []
    const root = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle(cache)
    const walk = async (dir: FileSystemDirectoryHandle, prefix: string) => {
      for await (const [name, handle] of dir as unknown as AsyncIterable<[string, FileSystemHandle]>) {
        if (handle.kind === 'directory') await walk(handle as FileSystemDirectoryHandle, `${prefix}${name}/`)
        else {
          const bytes = new Uint8Array(await (await (handle as FileSystemFileHandle).getFile()).arrayBuffer())
          let binary = ''
          for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
          out.push([`${prefix}${name}`, btoa(binary)])
        }
      }
    }
    for (let attempt = 1; ; attempt++) {
      try {
        out = []
        await walk(root, '')
        return out
      } catch (error) {
        if (!(error instanceof DOMException && error.name === 'NotFoundError') || attempt >= 20) throw error
      }
    }
  }, cache)
  return new Map(files.sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, b64]) => [path, Buffer.from(b64, 'base64')]))
}

/**
 * Every file of the cache by path → size, without reading contents (cheap beside large payloads); {}
 * when the cache has no folder. For storage 'idb', the keys of its IndexedDB store and their Blobs'
 * sizes. A file another context holds a sync access handle on reads as -1.
 *
 * Listed under the cache's own Web Lock, so that it sees the files at rest: an open cache writes
 * whenever it likes (batched access times, and the checkpoint they may trigger, whose temporary
 * snapshot a listing caught once in 54 crash rounds). `underLock: false` lists at once instead, to
 * watch a write in progress.
 */
export async function listCacheFiles(
  page: Page,
  cache: string,
  storage: 'opfs' | 'idb' = 'opfs',
  { underLock = true } = {},
): Promise<Record<string, number>> {
  return page.evaluate(
    async ({ cache, storage, underLock }) => {
      const list = async (): Promise<Record<string, number>> => {
        const out: Record<string, number> = {}
        if (storage === 'idb') {
          const db = await new Promise<IDBDatabase>((resolve, reject) => {
            const request = indexedDB.open(`voxcache:${cache}`)
            request.onupgradeneeded = () => request.result.createObjectStore('files')
            request.onsuccess = () => resolve(request.result)
            request.onerror = () => reject(request.error)
          })
          try {
            const store = db.transaction('files', 'readonly').objectStore('files')
            const [keys, values] = await Promise.all(
              [store.getAllKeys(), store.getAll()].map(
                (request) =>
                  new Promise<unknown[]>((resolve, reject) => {
                    request.onsuccess = () => resolve(request.result as unknown[])
                    request.onerror = () => reject(request.error)
                  }),
              ),
            )
            keys!.forEach((k, i) => (out[String(k)] = (values![i] as Blob).size))
          } finally {
            db.close()
          }
          return out
        }
        let home: FileSystemDirectoryHandle
        try {
          home = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle(cache)
        } catch {
          return out
        }
        const walk = async (dir: FileSystemDirectoryHandle, prefix: string): Promise<void> => {
          for await (const [name, handle] of dir as unknown as AsyncIterable<[string, FileSystemHandle]>) {
            if (handle.kind === 'directory') await walk(handle as FileSystemDirectoryHandle, `${prefix}${name}/`)
            else out[`${prefix}${name}`] = await (handle as FileSystemFileHandle).getFile().then((f) => f.size, () => -1)
          }
        }
        await walk(home, '')
        return out
      }
      return underLock ? navigator.locks.request(`voxcache:${cache}`, { mode: 'exclusive' }, list) : list()
    },
    { cache, storage, underLock },
  )
}

/** Writes (replacing) one file of the cache, creating its folders. */
export async function writeCacheFile(page: Page, cache: string, path: string, bytes: Uint8Array): Promise<void> {
  await page.evaluate(
    async ({ cache, path, b64 }) => {
      let dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache', { create: true })
      dir = await dir.getDirectoryHandle(cache, { create: true })
      const parts = path.split('/')
      for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create: true })
      const w = await (await dir.getFileHandle(parts.at(-1)!, { create: true })).createWritable()
      await w.write(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)))
      await w.close()
    },
    { cache, path, b64: Buffer.from(bytes).toString('base64') },
  )
}

/** Removes the cache's folder (the cache must be closed). */
export async function removeCache(page: Page, cache: string): Promise<void> {
  await page.evaluate(async (cache) => {
    const top = await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache', { create: true })
    await top.removeEntry(cache, { recursive: true }).catch(() => undefined)
  }, cache)
}

/** Copies every file of one (closed) cache into a fresh cache folder, inside the page. */
export async function copyCache(page: Page, from: string, to: string): Promise<void> {
  await removeCache(page, to)
  await page.evaluate(
    async ({ from, to }) => {
      const top = await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')
      const copy = async (src: FileSystemDirectoryHandle, dst: FileSystemDirectoryHandle) => {
        for await (const [name, handle] of src as unknown as AsyncIterable<[string, FileSystemHandle]>) {
          if (handle.kind === 'directory') {
            await copy(handle as FileSystemDirectoryHandle, await dst.getDirectoryHandle(name, { create: true }))
          } else {
            const w = await (await dst.getFileHandle(name, { create: true })).createWritable()
            await w.write(await (handle as FileSystemFileHandle).getFile())
            await w.close()
          }
        }
      }
      await copy(await top.getDirectoryHandle(from), await top.getDirectoryHandle(to, { create: true }))
    },
    { from, to },
  )
}

/**
 * Installs `vxDigest(value)` in the page: SHA-256 over a value's type, geometry and bytes, so that two
 * values digest alike only when they are equal bit for bit (typed arrays, Images, JSON).
 */
export const DIGEST_SCRIPT = `globalThis.vxDigest = async (value) => {
  const enc = new TextEncoder()
  const parts = []
  if (value === undefined) return 'undefined'
  if (ArrayBuffer.isView(value)) {
    parts.push(enc.encode(value.constructor.name), new Uint8Array(value.buffer, value.byteOffset, value.byteLength))
  } else if (value && typeof value === 'object' && 'imageType' in value && 'data' in value) {
    const { data, direction, metadata, ...rest } = value
    parts.push(enc.encode(JSON.stringify({ ...rest, direction: Array.from(direction), metadata: [...metadata] })))
    parts.push(enc.encode(data.constructor.name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
  } else {
    parts.push(enc.encode('json:' + JSON.stringify(value)))
  }
  const blob = await new Blob(parts).arrayBuffer()
  return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', blob)), (b) => b.toString(16).padStart(2, '0')).join('')
}`

/** What reading one entry gave: its value's digest, a miss, or an error (with its class, as revived). */
export type Outcome =
  | { kind: 'value'; digest: string }
  | { kind: 'miss' }
  | { kind: 'error'; name: string; code: string | undefined; entryId: string | undefined; corrupt: boolean; newer: boolean; message: string }

/** Opens the cache in a worker of its own, retrieves `ids` in order, and closes it. */
export async function retrieveAll(
  page: Page,
  cache: string,
  ids: string[],
): Promise<{
  outcomes: Outcome[]
  stillListed: boolean[]
  entries: number
  stats: { indexRecovery: { snapshot?: string; journal?: string; salvaged: number } | null; quarantined: number }
}> {
  return page.evaluate(
    async ({ cache, ids }) => {
      const lib = window.voxcacheLib!
      const c = await lib.openCache({ name: cache })
      try {
        const outcomes: Outcome[] = []
        for (const id of ids) {
          try {
            const value = await c.retrieve(id)
            outcomes.push(value === undefined ? { kind: 'miss' } : { kind: 'value', digest: await globalThis.vxDigest!(value) })
          } catch (e) {
            const error = e as Error & { code?: string; entryId?: string }
            outcomes.push({
              kind: 'error',
              name: error.name,
              code: error.code,
              entryId: error.entryId,
              corrupt: e instanceof lib.CorruptEntryError,
              newer: e instanceof lib.SchemaVersionError,
              message: error.message,
            })
          }
        }
        const stillListed = await Promise.all(ids.map((id) => c.has(id)))
        const { indexRecovery, quarantined } = await c.stats()
        return { outcomes, stillListed, entries: (await c.list()).length, stats: { indexRecovery, quarantined } }
      } finally {
        await c.close()
      }
    },
    { cache, ids },
  )
}
