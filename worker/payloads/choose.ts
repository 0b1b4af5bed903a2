// Which backend a cache's files live in: OPFS where sync access handles exist, else IndexedDB.
import { StorageUnavailableError } from '../../src/errors.js'
import { describeThrown } from '../../src/thrown.js'
import type { OpenCacheOptions } from '../../src/types.js'
import type { Backend } from './backend.js'
import { createIdbBackend } from './idb.js'
import { createMemoryBackend } from './memory.js'
import { createOpfsBackend } from './opfs.js'
import { reporting } from './reporting.js'

/**
 * The backend, each call of it reported to the client's watchdog as progress (reporting.ts).
 * @throws {StorageUnavailableError} when the requested storage cannot be used here.
 */
export async function chooseBackend(name: string, kind: OpenCacheOptions['storage']): Promise<Backend> {
  return reporting(await choose(name, kind))
}

async function choose(name: string, kind: OpenCacheOptions['storage']): Promise<Backend> {
  if (kind === 'memory') return createMemoryBackend()
  const hasOpfs =
    typeof navigator !== 'undefined' &&
    typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' &&
    'createSyncAccessHandle' in FileSystemFileHandle.prototype
  if (kind === 'opfs' || (kind !== 'idb' && hasOpfs)) {
    if (!hasOpfs) throw new StorageUnavailableError('OPFS sync access handles are not available here')
    try {
      return await createOpfsBackend(name)
    } catch (error) {
      if (kind === 'opfs') throw new StorageUnavailableError(`OPFS is not usable: ${describeThrown(error)}`, { cause: error })
    }
  }
  if (typeof indexedDB === 'undefined') throw new StorageUnavailableError('neither OPFS nor IndexedDB is available')
  return createIdbBackend(name)
}
