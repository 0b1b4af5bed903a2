// Test page only: the root vite.config.ts puts this module between the cache worker and its backend
// (the published worker, built by scripts/lib-worker.config.ts, never has it). A write of a payload
// whose id begins with STUCK_PREFIX goes as far as a real write goes before the hang the README's known
// issue describes — its file created (a temporary one, or a new entry's record in place), a sync access
// handle open on it, bytes written — and
// then never settles, holding the handle and the cache's lock: only ending the worker frees them.
// e2e/watchdog.spec.ts forces a stall so. Every other call reaches the real backend.
import { chooseBackend as choose } from '../../worker/payloads/choose.js'
import type { Backend } from '../../worker/payloads/backend.js'
import type { OpenCacheOptions } from '../../src/types.js'

/** "stalled": ids that begin so never finish writing their record. */
export const STUCK_PREFIX = '57a11ed0'

export async function chooseBackend(name: string, kind: OpenCacheOptions['storage']): Promise<Backend> {
  const backend = await choose(name, kind)
  if (backend.kind !== 'opfs') return backend
  // The file a stuck write leaves: a replaced entry's temporary file, or a new entry's record in place
  // with its first 8 bytes not yet written (Backend.writeNew).
  const stuck = async (file: string, parts: readonly Uint8Array[], at: number): Promise<void> => {
    const root = await navigator.storage.getDirectory()
    const home = await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle(encodeURIComponent(name))
    const dir = await home.getDirectoryHandle('payloads', { create: true })
    const handle = await (await dir.getFileHandle(file, { create: true })).createSyncAccessHandle()
    handle.write(parts[0]!.subarray(at), { at })
    handle.flush()
    return new Promise<void>(() => undefined)
  }
  const isStuck = (path: string) => path.startsWith('payloads/') && path.slice('payloads/'.length).startsWith(STUCK_PREFIX)
  return {
    ...backend,
    async writeAtomic(path, parts, durability) {
      if (!isStuck(path)) return backend.writeAtomic(path, parts, durability)
      return stuck(`${path.slice('payloads/'.length)}.tmp`, parts, 0)
    },
    async writeNew(path, parts, durability) {
      if (!isStuck(path)) return backend.writeNew!(path, parts, durability)
      return stuck(path.slice('payloads/'.length), parts, 8)
    },
  }
}
