/**
 * An image as itk-wasm describes one: the same fields and types as itk-wasm's `ImageType`, so that
 * each is assignable to the other. Declared here so that the package's types need no itk-wasm.
 */
export interface ImageType {
  readonly dimension: number
  readonly componentType: 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64'
  readonly pixelType:
    | 'Unknown'
    | 'Scalar'
    | 'RGB'
    | 'RGBA'
    | 'Offset'
    | 'Vector'
    | 'Point'
    | 'CovariantVector'
    | 'SymmetricSecondRankTensor'
    | 'DiffusionTensor3D'
    | 'Complex'
    | 'FixedArray'
    | 'Array'
    | 'Matrix'
    | 'VariableLengthVector'
    | 'VariableSizeMatrix'
  readonly components: number
}

/**
 * An itk-wasm Image (the same fields and types as its `Image` class, assignable either way): world
 * geometry in LPS millimetres, `direction` row-major dimension × dimension with column j the direction
 * of index axis j, pixels x fastest (see the README's Directions and axes).
 */
export interface Image {
  readonly imageType: ImageType
  name: string
  origin: number[]
  spacing: number[]
  direction: StorableTypedArray
  size: number[]
  metadata: Map<string, string | string[] | number | number[] | number[][]>
  data: null | StorableTypedArray
}

/** A JSON value as voxcache stores it: no undefined, no NaN or Infinity, plain objects only. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** The typed arrays voxcache stores as they are. */
export type StorableTypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array

/** Anything voxcache stores: an itk-wasm Image, a typed array, an ArrayBuffer or a JSON value. */
export type Value = Image | StorableTypedArray | ArrayBuffer | JsonValue

/** Per-record compression. `zstd` is zstandard level 1 in 1 MiB frames; `none` stores bytes as they are. */
export const Codecs = { none: 'none', zstd: 'zstd' } as const
export type Codec = (typeof Codecs)[keyof typeof Codecs]

/** Where payload records live. `auto` is OPFS where the browser has it, else IndexedDB. */
export type StorageKind = 'auto' | 'opfs' | 'idb' | 'memory'

export interface OpenCacheOptions {
  /** Caches with different names are independent. Default `"default"`. */
  name?: string
  /** Byte budget for stored records. Default: half the origin's quota (1 GiB when it cannot be read). */
  maxBytes?: number
  /** Eviction stops at this fraction of maxBytes, so a full cache does not evict on every insert. Default 0.9. */
  lowWater?: number
  /** Default `auto`. */
  storage?: StorageKind
  /** Default codec for new records. Default `zstd` (falls back to `none` per record when it does not pay). */
  codec?: Codec
  /** Records up to this many bytes live inline in the index. Default 4096. */
  inlineBytes?: number
  /**
   * When a store counts as done. `'relaxed'` (the default): its record and index line are handed to the
   * operating system before store() resolves, so they survive a crash of the page, its worker or the
   * browser, but the last stores may be lost if the machine itself loses power before the OS writes
   * them out (what the IndexedDB specification suggests for caches; the records' checksums then make
   * any torn one a miss). `'strict'`: each store is also flushed to the disk (two flushes, about 1 ms
   * each here for a small value, 60–120 ms for 134 MB). The index snapshot and key.json are always
   * flushed. Applies to OPFS; IndexedDB uses its own default.
   */
  durability?: 'relaxed' | 'strict'
  /**
   * Where the itk-wasm pipelines that decode() and exportImage() run are served from: the folder
   * holding `image-io/` and `dicom/` (the Vite plugin `voxcache/vite` copies them to `itk/` in the
   * app's build). A relative URL resolves against the page's base URL. Default `"/itk/"`, the root of
   * the page's origin. Nothing is ever fetched from a CDN.
   */
  pipelinesUrl?: string
  /**
   * Where the cache's worker loads its two wasm files from, when not from beside the worker (where
   * Vite and webpack put them): `sqlite` (sql.js's `sql-wasm.wasm`) and `zstd` (`zstd.wasm` of
   * @bokuweb/zstd-wasm). Relative URLs resolve against the page's base URL. A file that does not load
   * fails openCache with a StorageUnavailableError naming the URL.
   */
  wasmUrls?: { sqlite?: string; zstd?: string }
  /**
   * Ask the browser to keep this origin's storage (`navigator.storage.persist()`, called by openCache on
   * the page). Chromium evicts best-effort storage under pressure, silently and for the whole origin;
   * it grants persistence by its own rules (site engagement, an installed app, a permission), without a
   * prompt. `stats().persisted` says whether the origin's storage is persistent. Default false.
   */
  persist?: boolean
  /**
   * Protect the cache with an AES-GCM key the app supplies (non-extractable keys work): every record is
   * sealed (header and frames) under the cache's data key, which `key` wraps, and so is every entry's
   * metadata in the index. The cache keeps the key's id and the wrapped data key, never a key in clear.
   * Opened with another key: KeyMismatchError, nothing changed. Opened without a key, a protected cache
   * is locked: list, stats, clear, delete and destroy work (metadata reads as null); reading or writing
   * values throws KeyMismatchError. A cache that holds entries stored without a key is refused with a
   * key (clear it first).
   *
   * With `persist: true` the key itself is kept, in IndexedDB (`voxcache-keys`, as the CryptoKey object:
   * a non-extractable key stays non-extractable), and a later openCache of this cache name without
   * `encryption` uses it. Given without `persist`, a key kept before is forgotten. wipeAll() and
   * destroy() remove it. Script in the page can use a kept key as it can use one the app holds.
   */
  encryption?: { key: CryptoKey; persist?: boolean }
  /**
   * Entries created more than this many milliseconds ago (by `createdAt`) are expired for this opener:
   * a miss, and deleted — at open, by a sweep while the cache is open, and when read. Pinned entries
   * expire too (pinning is about eviction, expiry about data that must not stay). A positive finite
   * number; default: entries do not age out.
   */
  maxAgeMs?: number
  /**
   * Byte budget of the memory tier: values this page's worker read lately are kept in its RAM and
   * served again as a copy, without reading or decoding the record. A value past a quarter of it is not
   * kept. 0 keeps nothing. Default: 1/16 of `navigator.deviceMemory` (4 GiB assumed where the browser
   * does not say), between 64 MiB and 1 GiB. See {@link VoxCache.trimMemory}.
   */
  memoryBytes?: number
  /**
   * The watchdog's deadline: while calls are pending and the cache's worker makes no progress (no
   * storage call completes, no frame is encoded or read, no lock is granted) for this many milliseconds,
   * the worker is ended (only that frees a stuck OPFS access handle), every pending call rejects with
   * WorkerStalledError, and the cache opens again in a new worker that later calls use; its open
   * reconciles what the ended worker left. A store that rejected so may or may not have landed, whole.
   * Time spent waiting for another tab's lock, inside itk-wasm (decode, exportImage) or fetching wasm
   * does not count. A positive number; `Infinity` turns the watchdog off. Default 30,000.
   */
  watchdogMs?: number
}

export interface StoreOptions {
  /** User JSON kept with the entry and returned by info() and list(). */
  metadata?: JsonValue
  /** Pinned entries are never evicted. */
  pin?: boolean
  codec?: Codec
  /**
   * When the value expires (a Date or epoch milliseconds, years 0 to 9999): from then on it is a
   * miss, and it is deleted — by a sweep while a cache is open, at the next open, and when read. A time
   * already past is accepted: the value is expired at once. Kept in the record itself (sealed with it
   * under a key), so a rebuilt index or an import keeps it. Pinned entries expire too.
   */
  expiresAt?: Date | number
}

/** What the cache knows about one entry. Times are ISO 8601 strings in UTC. */
export interface EntryInfo {
  id: string
  dataType: string
  /** Bytes on disk (the encoded record). */
  sizeBytes: number
  /** Bytes of the value before compression. */
  rawBytes: number
  codec: Codec
  checksum: string
  createdAt: string
  lastAccessedAt: string | null
  hits: number
  pinned: boolean
  metadata: JsonValue
  inline: boolean
  /** When the entry expires (StoreOptions.expiresAt), or null when it does not (maxAgeMs is not counted here). */
  expiresAt: string | null
}

/** What an Image is without its pixels: type, geometry, name and metadata (cache.imageInfo). */
export type ImageInfo = Omit<Image, 'data'>

/** A box of an image for retrieveRegion: its first voxel and its extent along each axis (x first). */
export interface RegionOptions {
  index: readonly number[]
  size: readonly number[]
}

export interface ListOptions {
  /** Default `lastAccessed` (most recent first). */
  orderBy?: 'lastAccessed' | 'created' | 'size' | 'id'
  limit?: number
  offset?: number
  dataType?: string
}

export interface CacheStats {
  name: string
  storage: Exclude<StorageKind, 'auto'>
  entries: number
  /** Bytes on disk, all entries. */
  bytes: number
  rawBytes: number
  pinnedBytes: number
  maxBytes: number
  lowWaterBytes: number
  /** Since this cache was opened in this page. */
  hits: number
  misses: number
  /** Of `hits`, those served from the memory tier (no record read). */
  memoryHits: number
  /** Bytes the memory tier holds now (buffers and pixels; a JSON value counts as its encoded size). */
  memoryBytes: number
  /** Values the memory tier holds now. */
  memoryEntries: number
  /** The memory tier's budget (the `memoryBytes` option, or its default). */
  memoryMaxBytes: number
  /** Entries this page evicted, for the byte budget or the browser's quota (see {@link VoxCache.evictions}). */
  evictions: number
  /**
   * Writes the browser's quota refused, after which this page evicted and tried once more. Covers
   * payload files; a refused inline record or index write is a CacheFullError at once (README: Space).
   */
  quotaRetries: number
  /** Decodes served from the cache (itk-wasm not run), since this cache was opened in this page. */
  decodeHits: number
  /** Decodes that ran itk-wasm (their images were then stored). */
  decodeMisses: number
  quota: { usage: number; quota: number } | null
  /**
   * When this page opened the cache and found its index damaged: what was wrong with the snapshot
   * and/or the journal (both set aside in `quarantine/`), and how many inline records were salvaged.
   * The index was rebuilt from what verified, the salvaged records and the payload files. Else null.
   */
  indexRecovery: { snapshot?: string; journal?: string; salvaged: number } | null
  /** Records quarantined by this page since it opened the cache (at open, or on a failed read). */
  quarantined: number
  /**
   * Whether the browser keeps this origin's storage under pressure (`navigator.storage.persisted()`;
   * see the `persist` option); null where the browser cannot say.
   */
  persisted: boolean | null
  /** A cache protected by a key (the `encryption` option): the key's id, and whether this page lacks the key. Else null. */
  protection: { keyId: string; locked: boolean } | null
}

/** One input file of {@link VoxCache.decode}: a File, a Blob, or a name and its bytes. */
export type DecodeInput = File | Blob | { name: string; data: Uint8Array | ArrayBuffer }

/** Options of {@link VoxCache.decode} and {@link VoxCache.decodeEntry}. */
export interface DecodeOptions {
  /**
   * What the image keeps of its files besides pixels and geometry. `'keep'` (the default): every DICOM
   * attribute itk-wasm reads (in `image.metadata`, keys `gggg|eeee`) and the file's name (`image.name`,
   * and in the entry's metadata). `'strip-phi'`: the attributes of DICOM PS3.15's basic
   * de-identification profile (Table E.1-1, kept in worker/decode/phi-table.ts) and every private
   * attribute are removed, and no file name is kept (`image.name` is `''`), before anything is stored.
   * The mode is part of the operation id, so each is cached apart. Pixels are not changed: text burned
   * into them stays.
   */
  metadata?: 'keep' | 'strip-phi'
}

/** The formats {@link VoxCache.exportImage} writes. */
export type ExportFormat = 'nii.gz' | 'nrrd' | 'mha' | 'iwi.cbor'

/** What {@link VoxCache.memoizeEntry} resolves to. */
export interface MemoizeResult<T extends Value = Value> {
  /** The operation id the result is cached under: name it as `ref(id)` in the steps that consume it. */
  id: string
  value: T
  /** True when the value came from the cache (compute was not called in this page). */
  hit: boolean
  /** The entry as stored; undefined when a computed value could not be stored (the cache was full). */
  info: EntryInfo | undefined
}

/** One entry that was evicted: which version of it (its record's creation time, checksum and metadata) and why. */
export interface EvictionInfo {
  id: string
  /** `budget`: over maxBytes; `quota`: the browser refused a write. */
  reason: 'budget' | 'quota'
  evictedAt: string
  sizeBytes: number
  createdAt: string
  checksum: string
  metadata: JsonValue
}

export interface ImportReport {
  imported: number
  /** Entries already present with the same checksum. */
  skipped: number
  rejected: { id: string; reason: string }[]
}
