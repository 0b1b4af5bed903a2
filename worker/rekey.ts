// Rekey: every entry of a protected cache sealed again under a new data key, wrapped under a new app key.
//
// The steps, all in one hold of the cache's exclusive lock (another tab's open or write waits, then finds
// the new key.json):
//   1. key.json gains `pending`: the new app key's side. Both sides then hold every data key, the new one
//      included, so that either app key can read every record, whatever a kill leaves.
//   2. Each entry is read and written again under the new data key (its metadata too), one at a time,
//      each committed to the index on its own.
//   3. key.json becomes the new side alone, with the new data key only: the old data keys are gone.
// Killed midway, the next open finishes it when given the new key (step 2 skips entries already done)
// and rolls it back when given the old one (key.json without `pending`; entries already sealed again stay
// under the new data key, which the old side holds).
import { createKeyring } from '../src/codec/index.js'
import { CorruptEntryError, SchemaVersionError, UnsupportedValueError } from '../src/errors.js'
import { Batch } from './batch.js'
import { quotaTypedError, type Cache } from './cache.js'
import { KEY_FILE, Keys, newDataKey, type KeyFile, type KeySide, type PendingRekey } from './keys.js'
import { MISSING } from './records.js'

/**
 * Seals every entry again under a new data key wrapped under `newKey`; the cache is protected by `newKey`
 * afterwards, and the old key opens nothing.
 * @throws {KeyMismatchError} when the cache is locked (opened without its key).
 * @throws {UnsupportedValueError} when the cache is not protected, or `newKey` is not an AES-GCM key.
 * @throws {CacheFullError} when the quota has no room for one more copy of an entry: the rekey stays
 *   pending, and is finished by rekey() again or by an open with the new key.
 */
export async function rekey(cache: Cache, newKey: CryptoKey): Promise<{ resealed: number }> {
  const next = await createKeyring(newKey)
  return cache.mutate(async () => {
    const keys = cache.keys
    keys.sealing()
    if (keys.protectedBy === undefined) throw new UnsupportedValueError('this cache is not protected; open it with encryption.key (it must be empty) to protect it')
    if (!keys.file) throw new UnsupportedValueError('this cache was protected by a development build of voxcache (key.json format 1) and cannot be rekeyed; clear it and store its values again')
    const dek = await newDataKey()
    const { text, file } = await keys.beginRekey(next, dek)
    dek.raw.fill(0)
    await cache.backend.writeAtomic(KEY_FILE, [new TextEncoder().encode(text)])
    cache.setKeys(keys.rekeying(dek, text, file))
    const resealed = await resealAll(cache, dek.id).catch((error: unknown) => Promise.reject(quotaTypedError(error)))
    await finish(cache, file.pending!, newKey)
    return { resealed }
  })
}

/** At open, after a rekey was killed midway: finish it (opened with the new key) or roll it back (the old). */
export async function settleRekey(cache: Cache, pending: NonNullable<PendingRekey>): Promise<void> {
  await cache.mutate(async () => {
    const keys = cache.keys
    const file = keys.file!
    if (pending === 'rollback') {
      const { pending: _dropped, ...mine } = file
      await write(cache, mine)
      cache.setKeys(await Keys.open(cache.backend, keys.app!.key, 1))
      return
    }
    await resealAll(cache, file.pending!.current)
    await finish(cache, file.pending!, keys.app!.key)
  })
}

/** Every entry not yet sealed under data key `target` read and written again; each committed on its own. */
async function resealAll(cache: Cache, target: string): Promise<number> {
  let resealed = 0
  for (const { id } of cache.index.db.list({ orderBy: 'id' })) {
    const info = cache.index.db.info(id)
    if (!info || Keys.sealedWith(info.metadata) === target) continue
    const batch = new Batch()
    try {
      const value = await cache.records.read(info)
      if (value === MISSING) batch.remove(id)
      else {
        await cache.rewrite(batch, info, value, (await cache.keys.openInfo(info)).metadata)
        resealed++
      }
    } catch (error) {
      // A damaged record goes to quarantine as a read would send it; one a newer voxcache wrote cannot be
      // sealed again, and its data key is about to go: it is removed.
      if (error instanceof CorruptEntryError) await cache.records.quarantine(batch, id)
      else if (error instanceof SchemaVersionError) {
        await cache.records.removeFiles(id)
        batch.remove(id)
      } else {
        if (batch.size) cache.tabs.announce(await cache.space.commit(batch))
        throw error
      }
    }
    if (batch.size) cache.tabs.announce(await cache.space.commit(batch))
  }
  return resealed
}

/** key.json as the new side alone, with its current data key only; the worker's keys read from it. */
async function finish(cache: Cache, side: KeySide, appKey: CryptoKey): Promise<void> {
  await write(cache, { format: 2, keyId: side.keyId, current: side.current, deks: { [side.current]: side.deks[side.current]! } })
  cache.setKeys(await Keys.open(cache.backend, appKey, 1))
}

async function write(cache: Cache, file: KeyFile): Promise<void> {
  await cache.backend.writeAtomic(KEY_FILE, [new TextEncoder().encode(JSON.stringify(file))])
}
