// CacheService: the API the client sees through Comlink. A facade: it checks arguments, makes one call
// into the Cache (worker/cache.ts) and marks what crosses the boundary for transfer. The record format
// is in src/codec, the index in index/, files in payloads/ and records.ts, space in space.ts.
import type { Region } from '../src/codec/index.js'
import type { ValueShape } from '../src/codec/record2.js'
import { checkShape } from '../src/codec/values.js'
import { toWire, type WireThrown } from '../src/error-channel.js'
import { CacheFullError, ClosedError, StorageUnavailableError, UnsupportedValueError } from '../src/errors.js'
import { OPEN_LOCK, onceLock, WIPE_CHANNEL } from '../src/locks.js'
import { assertOperationId } from '../src/operation-id.js'
import { forTransfer, transferring } from '../src/transfer.js'
import type {
  CacheStats,
  DecodeOptions,
  EntryInfo,
  EvictionInfo,
  Image,
  ImageInfo,
  ImportReport,
  ListOptions,
  OpenCacheOptions,
  StoreOptions,
  Value,
} from '../src/types.js'
import { expiryTime } from '../src/expiry-time.js'
import { Cache, type StoreSettings, type StoreStream } from './cache.js'
import type { DecodeFile, ExportFormat, InputDigest } from './decode/decode.js'
import { digestOf, type DecodeWireInput } from '../src/input-digest.js'
import { decodeCounters } from './decode/counters.js'
import type { MetadataMode } from './decode/deidentify.js'
import { fail } from './decode/input.js'
import type { Backend } from './payloads/backend.js'
import { exportDatabase, importDatabase } from './portable.js'
import { importSeed } from './seed.js'
import { forgetKey, keepKey, keptKey } from './key-store.js'
import { rekey } from './rekey.js'
import { describeThrown } from '../src/thrown.js'
import { excused, lockWait, reportTo } from './progress.js'

/**
 * StoreOptions as the Cache takes them: `expiresAt` as ISO text.
 * @throws {UnsupportedValueError} when `expiresAt` is not a valid time (see expiryTime).
 */
function storeSettings(options: StoreOptions): StoreSettings {
  const { expiresAt, ...rest } = options
  const at = expiryTime(expiresAt)
  return at === undefined ? rest : { ...rest, expiresAt: at }
}

/** What decode() gives the page: the image, its id, and the digests of the inputs hashed in this call (see decode()). */
export interface DecodeOutcome {
  id: string
  image: Image
  digests: (InputDigest | undefined)[]
}

type Decoding = typeof import('./decode/lazy.js')

/**
 * The decode modules (worker/decode/lazy.ts), imported at the first decode or export: itk-wasm's glue,
 * the readers and the de-identification table are about half this worker's code (200 of 386 KB), which
 * every open parsed before, decoding or not. Loaded through the app's bundler as a chunk of its own, so
 * an offline app keeps it with the worker (the demo's service worker precaches every file of the build).
 */
let decoding: Promise<Decoding> | undefined
function decoder(pipelinesUrl: string): Promise<Decoding> {
  decoding ??= import('./decode/lazy.js').then(
    (d) => {
      d.usePipelines(pipelinesUrl)
      return d
    },
    (error: unknown) => {
      // Tried again at the next call, as a pipeline that failed to load is.
      decoding = undefined
      throw fail('decode', `voxcache could not load its decode module (was the worker's chunk served?): ${describeThrown(error)}`, error)
    },
  )
  return decoding
}

/** A decoded or cached image as decode hands it to the page: stripped in 'strip-phi' mode, its buffer transferred. */
function decodeHandOver({ applyMode }: Decoding, id: string, mode: MetadataMode, digests: (InputDigest | undefined)[]) {
  return (image: Image): DecodeOutcome => {
    // A hit is stripped again: an entry imported from elsewhere (importDatabase, a seed) could hold
    // an unstripped image under a 'strip-phi' id, and what this mode returns must never carry PHI.
    const out = forTransfer(applyMode(image, mode))
    return transferring({ id, image: out.value as Image, digests }, out.transfer)
  }
}

/**
 * An input with its digest: a Blob with the digest the page remembers (not read), or the input read
 * (a Blob) or taken (bytes) and hashed here, as `file` with its `sha256`.
 */
async function digested(input: DecodeWireInput): Promise<{ name: string; size: number; digest: InputDigest; blob?: Blob; file?: DecodeFile }> {
  const name = String(input.name)
  if (input.blob && input.digest) return { name, size: input.blob.size, digest: input.digest, blob: input.blob }
  const data = input.data ?? (await readBlob(name, input.blob!))
  const digest = await digestOf(data)
  return { name, size: data.byteLength, digest, file: { name, data, sha256: digest.sha256 } }
}

/**
 * A Blob's bytes. @throws {DecodeError} naming the file when the browser cannot read it: a File whose
 * file on disk changed or went since it was picked (NotReadableError, NotFoundError).
 */
async function readBlob(name: string, blob: Blob): Promise<Uint8Array> {
  try {
    return new Uint8Array(await blob.arrayBuffer())
  } catch (error) {
    if (!(error instanceof DOMException)) throw error
    throw fail(name, `the browser cannot read it (${error.name}): the file changed or went since it was picked`, error)
  }
}

export function createService() {
  let cache: Cache | undefined
  /** Where the itk-wasm pipelines are served (openCache's `pipelinesUrl`), for the decode modules. */
  let pipelinesUrl = ''
  /** Stores in progress whose bytes come in pieces (storeBegin … storeEnd), by token. */
  const streams = new Map<number, StoreStream>()
  let nextToken = 1
  const stream = (token: number): StoreStream => {
    const s = streams.get(token)
    if (!s) throw new UnsupportedValueError(`no store in progress under token ${token}`)
    return s
  }

  /** Ends this worker's hold of OPEN_LOCK (set while a cache is open). */
  let letGo: () => void = () => undefined

  /** Holds OPEN_LOCK shared until letGo(); resolves once it is held (after any wipe in progress). */
  async function holdOpen(): Promise<void> {
    const held = new Promise<void>((resolve) => (letGo = resolve))
    // A wait for a wipe in another context is not this worker's stall (worker/progress.ts).
    await lockWait(false, (granted) => new Promise<void>((resolve) => {
      void navigator.locks.request(OPEN_LOCK, { mode: 'shared' }, () => {
        granted()
        resolve()
        return held
      })
    }))
  }

  function ready(): Cache {
    if (!cache) throw new ClosedError('the cache is not open (or was closed)')
    return cache
  }

  const api = {
    /**
     * Opens (or creates) the cache named in the options. Called once by the client, with the port its
     * watchdog hears this worker's progress on (src/watchdog.ts).
     * @throws {StorageUnavailableError} when the chosen storage cannot be used.
     * @throws {SchemaVersionError} when the index was written by a newer voxcache.
     */
    async open(options: OpenCacheOptions = {}, progressPort?: MessagePort): Promise<{ storage: Backend['kind']; seeded: ImportReport | undefined }> {
      if (cache) throw new StorageUnavailableError('this worker already serves a cache')
      if (progressPort) reportTo(progressPort)
      pipelinesUrl = options.pipelinesUrl ?? new URL('/itk/', self.location.href).href
      await holdOpen()
      const name = options.name ?? 'default'
      let opened: Cache
      try {
        // A key kept at the app's request opens the cache when the app gives none.
        const kept = options.encryption ? undefined : await keptKey(name).catch(() => undefined)
        opened = await Cache.open(kept ? { ...options, encryption: { key: kept } } : options)
      } catch (error) {
        letGo()
        throw error
      }
      const given = options.encryption
      if (given) {
        // Only a key the cache accepted is kept; one given without persist is not, nor any kept before.
        try {
          await (given.persist ? keepKey(name, given.key) : forgetKey(name))
        } catch (error) {
          await opened.close().finally(() => letGo())
          throw new StorageUnavailableError(`the key could not be ${given.persist ? 'kept' : 'forgotten'} in IndexedDB: ${describeThrown(error)}`, { cause: error })
        }
      }
      // wipeAll() in any context: close without writing, then let the wipe proceed.
      const wipe = new BroadcastChannel(WIPE_CHANNEL)
      const release = letGo
      letGo = () => {
        wipe.close()
        release()
      }
      wipe.onmessage = async () => {
        const c = cache
        cache = undefined
        await c?.discard().catch(() => undefined)
        letGo()
      }
      try {
        const seeded = await importSeed(opened, options.name ?? 'default')
        cache = opened
        return { storage: opened.backend.kind, seeded }
      } catch (error) {
        await opened.close().finally(() => letGo())
        throw error
      }
    },

    /**
     * Stores `value` under `id`, replacing what was there.
     * @throws {InvalidKeyError} @throws {UnsupportedValueError} @throws {CacheFullError}
     * @throws {SchemaVersionError} when a newer voxcache's record is stored under `id` (it is kept).
     */
    async store(id: string, value: Value, options: StoreOptions = {}): Promise<EntryInfo> {
      const c = ready()
      assertOperationId(id)
      c.records.refuseNewer(id)
      return c.store(id, value, storeSettings(options))
    },

    /**
     * Begins a store whose raw bytes come in pieces (storePiece), for a value larger than one message:
     * `shape` says what the bytes will be. Holds the cache's lock until storeEnd or storeAbort.
     * @throws {InvalidKeyError} @throws {UnsupportedValueError} @throws {CacheFullError} @throws {SchemaVersionError}
     */
    async storeBegin(id: string, shape: ValueShape, options: StoreOptions = {}): Promise<number> {
      const c = ready()
      assertOperationId(id)
      c.records.refuseNewer(id)
      checkShape(shape)
      const settings = storeSettings(options)
      const token = nextToken++
      streams.set(token, await c.storeStream(id, shape, settings))
      return token
    },

    /** The next raw bytes of a store begun with storeBegin (transferred). @throws {UnsupportedValueError} @throws {CacheFullError} */
    async storePiece(token: number, piece: Uint8Array): Promise<void> {
      await stream(token).push(piece)
    },

    /** Writes the record of a store begun with storeBegin, once every byte has come. */
    async storeEnd(token: number): Promise<EntryInfo> {
      const s = stream(token)
      streams.delete(token)
      return s.finish()
    },

    /** Abandons a store begun with storeBegin: nothing of it stays; the lock is let go. */
    async storeAbort(token: number): Promise<void> {
      const s = streams.get(token)
      streams.delete(token)
      await s?.abort()
    },

    /**
     * For memoize: stores `value` and hands it back (its buffer transferred back, not copied). A failure
     * to store is reported beside the value instead of losing it.
     */
    async storeAndReturn(
      id: string,
      value: Value,
      options: StoreOptions = {},
    ): Promise<{ info: EntryInfo | null; error: WireThrown | null; value: Value }> {
      let info: EntryInfo | null = null
      let error: WireThrown | null = null
      try {
        info = await api.store(id, value, options)
      } catch (e) {
        // Returned beside the value, not thrown: in the error channel's form, revived by the client.
        error = toWire(e)
      }
      const back = forTransfer(value)
      return transferring({ info, error, value: back.value }, back.transfer)
    },

    /**
     * The value stored under `id`, or undefined on a miss. Its pixel buffer is transferred to the caller.
     * @throws {UnsupportedValueError} for a value past about 2 GiB (one message's limit): read it with retrieveRegion.
     * @throws {CorruptEntryError} when the record fails validation; the entry is quarantined.
     * @throws {SchemaVersionError} when a newer voxcache wrote the record; it is left as it is.
     */
    async retrieve(id: string): Promise<Value | undefined> {
      const c = ready()
      assertOperationId(id)
      const hit = await c.retrieveEntry(id)
      if (!hit) return undefined
      // Marked for transfer itself: a mark on an object that holds it would not carry over.
      const out = forTransfer(hit.value)
      return transferring(out.value, out.transfer)
    },

    /**
     * retrieve(), with the entry's info (its hit counted): for memoizeEntry.
     * @throws {CorruptEntryError} @throws {SchemaVersionError} as retrieve().
     */
    async retrieveEntry(id: string): Promise<{ value: Value; info: EntryInfo } | undefined> {
      const c = ready()
      assertOperationId(id)
      const hit = await c.retrieveEntry(id)
      if (!hit) return undefined
      const out = forTransfer(hit.value)
      return transferring({ value: out.value, info: hit.info }, out.transfer)
    },

    /**
     * A box of the image stored under `id`, or undefined on a miss; only the frames the box touches
     * are read. Its pixel buffer is transferred to the caller.
     * @throws {UnsupportedValueError} when the entry is not an image or the box does not fit it.
     * @throws {CorruptEntryError} @throws {SchemaVersionError} as retrieve().
     */
    async retrieveRegion(id: string, region: Region): Promise<Image | undefined> {
      const c = ready()
      assertOperationId(id)
      const hit = await c.retrieveRegion(id, region)
      if (!hit) return undefined
      const out = forTransfer(hit.value)
      return transferring(out.value as Image, out.transfer)
    },

    /**
     * The type, geometry and metadata of the image stored under `id`, read from its record's header
     * (no pixels), or undefined on a miss.
     * @throws {UnsupportedValueError} when the entry is not an image.
     */
    async imageInfo(id: string): Promise<ImageInfo | undefined> {
      const c = ready()
      assertOperationId(id)
      return c.imageInfo(id)
    },

    async has(id: string): Promise<boolean> {
      const c = ready()
      assertOperationId(id)
      return (await c.lookup(id)) !== undefined
    },

    async info(id: string): Promise<EntryInfo | undefined> {
      const c = ready()
      assertOperationId(id)
      return c.info(id)
    },

    /** Removes an entry; true when there was one. Deleting a missing entry is not an error. */
    async delete(id: string): Promise<boolean> {
      const c = ready()
      assertOperationId(id)
      return c.delete(id)
    },

    /** Pins (exempts from eviction) or unpins an entry; false when there is no such entry. */
    async pin(id: string, pinned = true): Promise<boolean> {
      const c = ready()
      assertOperationId(id)
      return c.pin(id, pinned)
    },

    async list(options: ListOptions = {}): Promise<EntryInfo[]> {
      return ready().list(options)
    },

    async stats(): Promise<CacheStats> {
      return ready().stats()
    },

    /** The entries this worker evicted since it opened the cache (the last 1,000), oldest first. */
    async evictions(): Promise<EvictionInfo[]> {
      return ready().evictions()
    },

    /** Empties the memory tier: values are read from their records again. */
    async trimMemory(): Promise<void> {
      const c = ready()
      c.memory.clear()
      // A hidden page keeps no lock another tab might want (its timers may be slowed down).
      c.tabs.yieldLease()
    },

    /** Removes every entry of this cache. */
    async clear(): Promise<void> {
      await ready().clear()
    },

    /** One SQLite file with the results schema and every record inline in `data`. */
    async exportDatabase(): Promise<Uint8Array> {
      const out = await exportDatabase(ready())
      return transferring(out, [out.buffer])
    },

    /**
     * Adds the entries of an exported database, validating every record first.
     * @throws {InvalidImportError} when the bytes are not a voxcache export, are damaged, or come from a
     *   newer voxcache. @throws {CacheFullError} when the entries do not fit.
     */
    async importDatabase(bytes: Uint8Array): Promise<ImportReport> {
      return importDatabase(ready(), bytes)
    },

    /**
     * Decodes medical image files into an itk-wasm Image, memoized: the id hashes the files' bytes, so
     * the same content decodes once (across reloads and tabs) and is read back after. The image's buffer
     * is transferred to the caller. Nothing is stored when decoding fails. With `metadata: 'strip-phi'`
     * the image is stripped (worker/decode/deidentify.ts) before it is stored and before it is returned.
     *
     * The inputs are read and hashed here, not on the page's thread (a WebCrypto digest holds the thread
     * that calls it: 0.2 s for 128 MB). A File or Blob crosses as a handle; the page gives the digest it
     * remembers of a Blob hashed here before (src/input-digest.ts), and such a Blob is read only on a
     * miss. Single files and DICOM series are then found from their digests alone (knownDecodeId); other
     * sets, and misses, are read whole. `digests` gives back what was hashed here, for the page to keep.
     * @throws {DecodeError} for malformed, truncated or incomplete input, naming the file and the reason.
     * @throws {UnsupportedFormatError} when the content is in no format voxcache reads.
     * @throws {UnsupportedValueError} when `options` is not `{ metadata?: 'keep' | 'strip-phi' }`.
     * @throws {InvalidKeyError} when a remembered digest is not 64 lowercase hex digits.
     */
    async decode(inputs: DecodeWireInput[], options?: DecodeOptions): Promise<DecodeOutcome> {
      const c = ready()
      // Loading the chunk is the network's time, not a stall of this worker (as the wasm's is at open).
      const d = await excused(() => decoder(pipelinesUrl))
      const { knownDecodeId, planDecode, decodeRoles, decodeMetadata, applyMode } = d
      const mode = d.metadataMode(options)
      // Reading and hashing the input (up to 2 GiB a file) reports nothing to the watchdog either.
      const given = await excused(() => Promise.all(inputs.map(digested)))
      const digests = given.map((g) => (g.file ? g.digest : undefined))
      // An empty file is a DecodeError, which planDecode gives with the file's name.
      if (given.every((g) => g.size > 0)) {
        const known = await knownDecodeId(given.map((g) => g.digest), mode)
        // Looked up first, so that a miss is not counted twice. No lock, unlike a miss below: an image
        // that is stored is never being decoded, and one stored meanwhile by a decode under way (here
        // or in another tab) is found there, where the lock waits for it.
        const hit = known !== undefined && (await c.lookup(known)) !== undefined ? await c.retrieveEntry(known) : undefined
        if (hit !== undefined) {
          decodeCounters.decodeHits++
          return decodeHandOver(d, known!, mode, digests)(hit.value as Image)
        }
      }
      // A Blob found by a remembered digest is read now, and hashed again: an image is stored under the
      // digest of the bytes it was decoded from, whatever the page remembered.
      const files = await excused(() => Promise.all(given.map(async (g) => g.file ?? { name: g.name, data: await readBlob(g.name, g.blob!) })))
      const { id, roles } = await excused(() => planDecode(files, mode))
      const handOver = decodeHandOver(d, id, mode, digests)
      // Compute once, under the lock memoize uses too: a caller in this worker or another tab that
      // decodes the same bytes meanwhile waits, then reads the stored image back.
      return lockWait(false, (granted) => navigator.locks.request(onceLock(c.name, id), async () => {
        granted()
        const hit = await c.retrieveEntry(id)
        if (hit !== undefined) {
          decodeCounters.decodeHits++
          return handOver(hit.value as Image)
        }
        // itk-wasm reports nothing while it runs: a long decode is never taken for a stall.
        const image = applyMode(await excused(() => decodeRoles(roles)), mode)
        decodeCounters.decodeMisses++
        try {
          await c.store(id, image, { metadata: decodeMetadata(roles, mode) })
        } catch (error) {
          // A full cache still hands the decoded image back; it is decoded again next time (and a
          // caller that waited on this decode finds nothing stored and decodes for itself).
          if (!(error instanceof CacheFullError)) throw error
        }
        return handOver(image)
      }) as unknown as Promise<DecodeOutcome>)
    },

    /**
     * The image stored under `id` (or the image given) written as .nii.gz, .nrrd, .mha or .iwi.cbor by
     * itk-wasm's writers; undefined when `id` is not stored. Its bytes are transferred to the caller.
     * @throws {UnsupportedValueError} when the entry is not an image or the format is unknown.
     */
    async exportImage(source: string | Image, format: ExportFormat): Promise<{ name: string; data: Uint8Array } | undefined> {
      const c = ready()
      if (typeof source === 'string') assertOperationId(source)
      const value = typeof source === 'string' ? (await c.retrieveEntry(source))?.value : source
      if (value === undefined) return undefined
      const { exportValue } = await excused(() => decoder(pipelinesUrl))
      const file = await excused(() => exportValue(value, format, typeof source === 'string' ? `entry ${source}` : 'the value'))
      const out = forTransfer(file.data)
      return transferring({ name: file.name, data: out.value as Uint8Array }, out.transfer)
    },

    /** Flushes access times and closes the index. The client terminates the worker afterwards. */
    async close(): Promise<void> {
      const c = cache
      cache = undefined
      try {
        await c?.close()
      } finally {
        letGo()
      }
    },

    /** Deletes every file of this cache (index included) and any key kept for it, and closes it. */
    async destroy(): Promise<void> {
      const c = ready()
      cache = undefined
      try {
        await c.destroy()
        await forgetKey(c.name)
      } finally {
        letGo()
      }
    },

    /**
     * Seals every entry again under a new data key wrapped under `newKey`, which protects the cache from
     * then on (a key kept with `persist` is replaced by it). Resolves to the number of entries sealed again.
     * @throws {KeyMismatchError} when the cache is locked. @throws {UnsupportedValueError} when it is not
     *   protected or `newKey` is not an AES-GCM key. @throws {CacheFullError} when the quota has no room
     *   for one more copy of an entry (the rekey stays pending: rekey again, or open with the new key).
     */
    async rekey(newKey: CryptoKey): Promise<{ resealed: number }> {
      const c = ready()
      const kept = await keptKey(c.name).catch(() => undefined)
      const out = await rekey(c, newKey)
      if (kept) await keepKey(c.name, newKey)
      return out
    },
  }
  return api
}

export type CacheApi = ReturnType<typeof createService>
