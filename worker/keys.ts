// The cache's keys. The app's key (the `encryption` option) never seals records itself: it wraps the
// cache's data keys, random AES-GCM keys that do. `key.json` holds the app key's id and each data key
// wrapped under it, never a key in clear; records and sealed metadata name their data key by its id.
// So a rekey (rekey.ts) can be finished or rolled back after a kill, with either key: while it runs,
// key.json holds every data key wrapped under both keys.
//
// A worker's Keys are clear (no key.json), keyed (it holds the app key) or locked (it does not).
import { createKeyring, type Keyring } from '../src/codec/index.js'
import { keyIdHex } from '../src/codec/seal.js'
import { CorruptEntryError, KeyMismatchError } from '../src/errors.js'
import type { EntryInfo, JsonValue } from '../src/types.js'
import { fromBase64, toBase64 } from './index/format.js'
import type { Backend } from './payloads/backend.js'

export const KEY_FILE = 'key.json'

/** One app key's side of key.json: its id, the data key new records are sealed with, every data key wrapped. */
export interface KeySide {
  keyId: string
  current: string
  /** Data key id (hex) → base64 of IV (12 bytes) and the raw key sealed under the app key. */
  deks: Record<string, string>
}

/**
 * key.json, format 2. `pending` is a rekey in progress: the new app key's side, which holds every data
 * key too. Format 1 (development builds before data keys: records sealed with the app key itself) is
 * still read: { format: 1, keyId }.
 */
export interface KeyFile extends KeySide {
  format: 2
  pending?: KeySide
}

/** Sealed metadata as the index keeps it: a JSON value, so that journal and snapshot carry it as any. */
export interface SealedJson {
  $sealed: string
  /** The data key's id; absent in format 1, whose metadata the app key sealed. */
  $key?: string
}

const METADATA_AAD = 'voxcache entry metadata, record format 2:'
const WRAP_AAD = 'voxcache data key:'
const ID = /^[0-9a-f]{32}$/

/** What an open found that a rekey killed midway left: finish it (the new key) or roll it back (the old). */
export type PendingRekey = 'finish' | 'rollback' | undefined

export class Keys {
  /** key.json's size and modification time when its text was last found to be `text` (refresh()). */
  private seen: string | undefined

  private constructor(
    /** The app key this worker was given; undefined for a clear or locked cache. */
    readonly app: Keyring | undefined,
    /** Every data key this worker opens records with (by id); empty when clear or locked. */
    readonly deks: Map<string, Keyring>,
    /** The data key new records are sealed with. */
    readonly current: Keyring | undefined,
    /** The id of the app key that protects the cache (hex); undefined for a clear cache. */
    readonly protectedBy: string | undefined,
    /** key.json as read, to notice another tab's change; undefined when there is none. */
    readonly text: string | undefined,
    readonly pending: PendingRekey,
    /** The parsed file (format 2), for a rekey to extend. */
    readonly file: KeyFile | undefined,
  ) {}

  /**
   * Reads which key protects the cache and checks `key` against it; a key given to a clear, empty cache
   * protects it from now on (a new data key, wrapped). Call under the cache's exclusive lock.
   * @throws {KeyMismatchError} for another key than the one that protects the cache (nothing is changed),
   * for a damaged key.json, and for a key given to a cache that holds entries stored without one.
   */
  static async open(backend: Backend, key: CryptoKey | undefined, entries: number): Promise<Keys> {
    const app = key ? await createKeyring(key) : undefined
    const bytes = await backend.read(KEY_FILE)
    const text = bytes ? new TextDecoder().decode(bytes) : undefined
    if (text === undefined) {
      if (!app) return new Keys(undefined, new Map(), undefined, undefined, undefined, undefined, undefined)
      if (entries > 0) {
        throw new KeyMismatchError(
          `this cache holds ${entries} entries stored without a key; open it without one, or clear() it first, then open it with the key`,
        )
      }
      const dek = await newDataKey()
      const file: KeyFile = { format: 2, keyId: hex(app), current: dek.id, deks: { [dek.id]: await wrap(app, dek.id, dek.raw) } }
      dek.raw.fill(0)
      const written = JSON.stringify(file)
      await backend.writeAtomic(KEY_FILE, [new TextEncoder().encode(written)])
      return new Keys(app, new Map([[dek.id, dek.keyring]]), dek.keyring, file.keyId, written, undefined, file)
    }
    const parsed = parseKeyFile(text)
    if (parsed.format === 1) {
      // Records of format 1 are sealed with the app key itself: it is its own (only) data key.
      if (!app) return new Keys(undefined, new Map(), undefined, parsed.keyId, text, undefined, undefined)
      if (hex(app) !== parsed.keyId) throw mismatch(parsed.keyId, app)
      return new Keys(app, new Map([[parsed.keyId, app]]), app, parsed.keyId, text, undefined, undefined)
    }
    if (!app) return new Keys(undefined, new Map(), undefined, parsed.keyId, text, undefined, parsed)
    const id = hex(app)
    const side = id === parsed.keyId ? parsed : id === parsed.pending?.keyId ? parsed.pending : undefined
    if (!side) throw mismatch(parsed.keyId, app)
    const deks = await unwrapAll(app, side)
    const pending: PendingRekey = parsed.pending ? (side === parsed ? 'rollback' : 'finish') : undefined
    return new Keys(app, deks, deks.get(side.current), side.keyId, text, pending, parsed)
  }

  /**
   * These keys, or new ones when another context changed key.json since they were read (a rekey, or a
   * key given to the cache this clear context had open): the app key is checked again, and a context
   * whose key no longer opens the cache becomes locked. Call under the exclusive lock.
   */
  async refresh(backend: Backend): Promise<Keys> {
    // The file's size and time first (one round trip): its text is read only when they changed. Every
    // write of key.json happens under the exclusive lock, as this check does, so two writes of the same
    // length within one millisecond would need two lock hand-overs between them, this context's among them.
    const file = await backend.file(KEY_FILE)
    if (!file) return this
    // A Blob from IndexedDB has no time: read every time.
    const modified = (file as Partial<File>).lastModified
    const stamp = modified === undefined ? undefined : `${file.size}:${modified}`
    if (stamp !== undefined && stamp === this.seen) return this
    const text = new TextDecoder().decode(await file.arrayBuffer())
    if (text === this.text) {
      this.seen = stamp
      return this
    }
    try {
      return await Keys.open(backend, this.app?.key, 1)
    } catch (error) {
      if (!(error instanceof KeyMismatchError)) throw error
      let protectedBy: string | undefined
      try {
        protectedBy = parseKeyFile(text).keyId
      } catch {
        protectedBy = 'unreadable'
      }
      return new Keys(undefined, new Map(), undefined, protectedBy, text, undefined, undefined)
    }
  }

  /** Protected, and this worker has no key: values can be neither read nor written. */
  get locked(): boolean {
    return this.protectedBy !== undefined && !this.current
  }

  /** The data keys records are opened with (undefined when clear or locked). */
  get keyrings(): Keyring[] | undefined {
    return this.deks.size ? [...this.deks.values()] : undefined
  }

  /**
   * The keyring to seal new records with (undefined for a clear cache).
   * @throws {KeyMismatchError} when the cache is locked.
   */
  sealing(): Keyring | undefined {
    if (this.locked) throw new KeyMismatchError(`this cache is protected by key ${this.protectedBy}; open it with that key to read or write values`)
    return this.current
  }

  /**
   * key.json's text for a rekey to `next` (the new app key) with `dek` as the new data key: this side
   * keeps every data key and gains the new one; the pending side holds them all under the new key.
   */
  async beginRekey(next: Keyring, dek: DataKey): Promise<{ text: string; file: KeyFile }> {
    const app = this.app!
    const raws = await this.rawDeks()
    raws.set(dek.id, dek.raw)
    const under = async (k: Keyring) => Object.fromEntries(await Promise.all([...raws].map(async ([id, raw]) => [id, await wrap(k, id, raw)] as const)))
    const file: KeyFile = {
      format: 2,
      keyId: this.protectedBy!,
      current: hex(this.current!),
      deks: await under(app),
      pending: { keyId: hex(next), current: dek.id, deks: await under(next) },
    }
    for (const raw of raws.values()) raw.fill(0)
    return { text: JSON.stringify(file), file }
  }

  /**
   * These keys with the data keys `deks` (wrapped under the same app key: an export's) added to key.json.
   * Call under the exclusive lock.
   * @throws {KeyMismatchError} when one of them does not open with this app key.
   */
  async adopt(backend: Backend, deks: Record<string, string>): Promise<Keys> {
    const first = Object.keys(deks)[0]
    if (first === undefined) return this
    await unwrapAll(this.app!, { keyId: this.protectedBy!, current: first, deks })
    const file: KeyFile = { ...this.file!, deks: { ...deks, ...this.file!.deks } }
    await backend.writeAtomic(KEY_FILE, [new TextEncoder().encode(JSON.stringify(file))])
    return Keys.open(backend, this.app!.key, 1)
  }

  /** These keys while a rekey runs: the new data key seals, every data key opens. */
  rekeying(dek: DataKey, text: string, file: KeyFile): Keys {
    return new Keys(this.app, new Map([...this.deks, [dek.id, dek.keyring]]), dek.keyring, this.protectedBy, text, undefined, file)
  }

  /** The raw bytes of this side's wrapped data keys (format 2), to wrap them under another key. */
  private async rawDeks(): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>()
    if (!this.file || !this.app) return out
    const side = this.file.keyId === hex(this.app) ? this.file : this.file.pending!
    for (const [id, wrapped] of Object.entries(side.deks)) out.set(id, await unwrap(this.app, id, wrapped))
    return out
  }

  /** `info` as the index keeps it: under a key, its metadata sealed (bound to the entry's id). */
  async sealInfo(info: EntryInfo): Promise<EntryInfo> {
    if (!this.current) return info
    return { ...info, metadata: (await sealJson(this.current, info.id, info.metadata)) as unknown as JsonValue }
  }

  /** The data key id sealed metadata names ($key), or undefined when the value is not sealed metadata. */
  static sealedWith(value: JsonValue): string | undefined {
    const sealed = asSealed(value)
    return sealed ? (sealed.$key ?? '') : undefined
  }

  /**
   * `info` as callers see it: sealed metadata opened, or null while the cache is locked.
   * @throws {CorruptEntryError} when sealed metadata fails its tag.
   * @throws {KeyMismatchError} when it names a data key this context does not hold.
   */
  async openInfo(info: EntryInfo): Promise<EntryInfo> {
    const sealed = asSealed(info.metadata)
    if (!sealed || this.protectedBy === undefined) return info
    if (!this.current) return { ...info, metadata: null }
    const keyring = sealed.$key === undefined ? this.app : this.deks.get(sealed.$key)
    // A data key this context does not hold: another context rekeyed the cache (or imported into it)
    // since these keys were read; the next write reads key.json again.
    if (!keyring) throw new KeyMismatchError(`its metadata is sealed under data key ${sealed.$key}, which this context does not hold: the cache was rekeyed since it was opened here; open it again with its key`, { entryId: info.id })
    return { ...info, metadata: await openJson(keyring, info.id, sealed) }
  }

  /** openInfo of each; a clear cache's rows are returned as they are (no promise per row on list()). */
  async openInfos(infos: EntryInfo[]): Promise<EntryInfo[]> {
    return this.protectedBy === undefined ? infos : Promise.all(infos.map((info) => this.openInfo(info)))
  }
}

/** A new data key: its raw bytes (to wrap; zeroed once wrapped), a non-extractable CryptoKey, its id. */
export interface DataKey {
  id: string
  raw: Uint8Array
  keyring: Keyring
}

export async function newDataKey(): Promise<DataKey> {
  const raw = crypto.getRandomValues(new Uint8Array(32))
  const keyring = await importDataKey(raw)
  return { id: hex(keyring), raw, keyring }
}

async function importDataKey(raw: Uint8Array): Promise<Keyring> {
  const key = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt', 'decrypt'])
  return createKeyring(key)
}

function hex(keyring: Keyring): string {
  return keyIdHex(keyring.keyId)
}

function mismatch(protectedBy: string, app: Keyring): KeyMismatchError {
  return new KeyMismatchError(`this cache is protected by key ${protectedBy}, not by this key (${hex(app)}); nothing was changed`)
}

/** `raw` sealed under the app key, bound to the data key's id. */
async function wrap(app: Keyring, id: string, raw: Uint8Array): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(WRAP_AAD + id) }, app.key, raw as Uint8Array<ArrayBuffer>),
  )
  const out = new Uint8Array(12 + sealed.byteLength)
  out.set(iv)
  out.set(sealed, 12)
  return toBase64(out)
}

/** @throws {KeyMismatchError} when the wrapped key fails its tag: key.json is damaged. */
async function unwrap(app: Keyring, id: string, wrapped: string): Promise<Uint8Array> {
  try {
    const bytes = fromBase64(wrapped) as Uint8Array<ArrayBuffer>
    const raw = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: new TextEncoder().encode(WRAP_AAD + id) }, app.key, bytes.subarray(12)),
    )
    if (raw.byteLength !== 32) throw new Error(`${raw.byteLength} bytes`)
    return raw
  } catch (error) {
    throw new KeyMismatchError(`this cache's ${KEY_FILE} is damaged (data key ${id} does not open); destroy the cache or restore the file`, { cause: error })
  }
}

async function unwrapAll(app: Keyring, side: KeySide): Promise<Map<string, Keyring>> {
  const deks = new Map<string, Keyring>()
  for (const [id, wrapped] of Object.entries(side.deks)) {
    const raw = await unwrap(app, id, wrapped)
    const keyring = await importDataKey(raw)
    raw.fill(0)
    if (hex(keyring) !== id) throw new KeyMismatchError(`this cache's ${KEY_FILE} is damaged (data key ${id} has another id); destroy the cache or restore the file`)
    deks.set(id, keyring)
  }
  if (!deks.has(side.current)) throw new KeyMismatchError(`this cache's ${KEY_FILE} is damaged (no data key ${side.current}); destroy the cache or restore the file`)
  return deks
}

/**
 * key.json, checked. Refusing is safer than guessing: a cache whose key file is damaged is neither
 * opened as clear (its sealed entries would be unreadable and overwritten) nor with a key that may be another.
 * @throws {KeyMismatchError} when it is damaged.
 */
export function parseKeyFile(text: string): KeyFile | { format: 1; keyId: string } {
  const damaged = () => new KeyMismatchError(`this cache's ${KEY_FILE} is damaged; destroy the cache or restore the file`)
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw damaged()
  }
  const isSide = (s: unknown): s is KeySide => {
    const o = s as Record<string, unknown> | null
    return (
      typeof o === 'object' && o !== null && typeof o.keyId === 'string' && ID.test(o.keyId) && typeof o.current === 'string' && ID.test(o.current) &&
      typeof o.deks === 'object' && o.deks !== null && Object.entries(o.deks).every(([k, v]) => ID.test(k) && typeof v === 'string')
    )
  }
  if (parsed?.format === 1 && typeof parsed.keyId === 'string' && ID.test(parsed.keyId)) return { format: 1, keyId: parsed.keyId }
  if (parsed?.format === 2 && isSide(parsed) && (parsed.pending === undefined || isSide(parsed.pending))) return parsed as unknown as KeyFile
  throw damaged()
}

async function sealJson(keyring: Keyring, id: string, value: JsonValue): Promise<SealedJson> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const plain = new TextEncoder().encode(JSON.stringify(value))
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(METADATA_AAD + id) }, keyring.key, plain),
  )
  const out = new Uint8Array(12 + sealed.byteLength)
  out.set(iv)
  out.set(sealed, 12)
  return { $sealed: toBase64(out), $key: hex(keyring) }
}

async function openJson(keyring: Keyring, id: string, sealed: SealedJson): Promise<JsonValue> {
  try {
    const bytes = fromBase64(sealed.$sealed) as Uint8Array<ArrayBuffer>
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: new TextEncoder().encode(METADATA_AAD + id) },
      keyring.key,
      bytes.subarray(12),
    )
    return JSON.parse(new TextDecoder().decode(plain)) as JsonValue
  } catch (error) {
    throw new CorruptEntryError(id, 'its sealed metadata fails its authentication tag', { cause: error })
  }
}

function asSealed(value: JsonValue): SealedJson | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const o = value as Record<string, unknown>
  const keys = Object.keys(o)
  if (typeof o.$sealed !== 'string') return undefined
  if (keys.length === 1) return o as unknown as SealedJson
  return keys.length === 2 && typeof o.$key === 'string' && ID.test(o.$key) ? (o as unknown as SealedJson) : undefined
}
