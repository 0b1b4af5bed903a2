// Test page only: the root vite.config.ts puts this module between the cache worker and its backend
// (the published worker, built by scripts/lib-worker.config.ts, never has it). A write of a payload
// whose id begins with STUCK_PREFIX goes as far as a real write goes before the hang the README's known
// issue describes — its temporary file created, a sync access handle open on it, bytes written — and
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
  return {
    ...backend,
    async writeAtomic(path, parts) {
      const base = path.slice('payloads/'.length)
      if (!path.startsWith('payloads/') || !base.startsWith(STUCK_PREFIX)) return backend.writeAtomic(path, parts)
      const root = await navigator.storage.getDirectory()
      const home = await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle(encodeURIComponent(name))
      const dir = await home.getDirectoryHandle('payloads', { create: true })
      const handle = await (await dir.getFileHandle(`${base}.tmp`, { create: true })).createSyncAccessHandle()
      handle.write(parts[0]!, { at: 0 })
      handle.flush()
      return new Promise<void>(() => undefined)
    },
  }
}
