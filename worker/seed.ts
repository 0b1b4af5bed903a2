// A seed: an exported database left in OPFS by voxcache/playwright's seedCache (or any code on the page's
// origin) for the cache of that name to import as it opens, so that an automated run starts warm and
// offline. The file is removed once imported; a seed that is not a voxcache export fails the open.
import { InvalidImportError } from '../src/errors.js'
import { SEEDS, seedFileName } from '../src/seed-path.js'
import type { ImportReport } from '../src/types.js'
import type { Cache } from './cache.js'
import { importDatabase } from './portable.js'


/**
 * Imports the seed left for cache `name`, if there is one, and removes it.
 * @throws {InvalidImportError} when the seed is not a voxcache export (it is removed all the same: the
 *   next open starts without it). @throws {CacheFullError} when its entries do not fit (it is kept).
 */
export async function importSeed(cache: Cache, name: string): Promise<ImportReport | undefined> {
  const dir = await seedsFolder()
  if (!dir) return undefined
  const fileName = seedFileName(name)
  let file: File
  try {
    file = await (await dir.getFileHandle(fileName)).getFile()
  } catch (error) {
    if (error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'TypeMismatchError')) return undefined
    throw error
  }
  const bytes = new Uint8Array(await file.arrayBuffer())
  let report: ImportReport
  try {
    report = await importDatabase(cache, bytes)
  } catch (error) {
    if (error instanceof InvalidImportError) await remove(dir, fileName)
    throw error
  }
  await remove(dir, fileName)
  return report
}

async function seedsFolder(): Promise<FileSystemDirectoryHandle | undefined> {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) return undefined
  try {
    return await (await navigator.storage.getDirectory()).getDirectoryHandle(SEEDS)
  } catch {
    return undefined // no seeds folder, or no OPFS here
  }
}

/** Removes a seed; another tab opening the same cache may have removed it first. */
async function remove(dir: FileSystemDirectoryHandle, fileName: string): Promise<void> {
  await dir.removeEntry(fileName).catch(() => undefined)
}
