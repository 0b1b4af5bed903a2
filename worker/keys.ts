// The cache's key: which key protects it (the file `key.json`: the key's id, never the key), whether this
// worker holds it (keyed), lacks it (locked) or the cache is not protected (clear), and the sealing of
// index fields that could carry PHI (entry metadata: the caller's, and decode's file names).
import { createKeyring, type Keyring } from '../src/codec/index.js'
import { keyIdHex } from '../src/codec/seal.js'
import { CorruptEntryError, KeyMismatchError } from '../src/errors.js'
import type { EntryInfo, JsonValue } from '../src/types.js'
import { fromBase64, toBase64 } from './index/format.js'
import type { Backend } from './payloads/backend.js'

export const KEY_FILE = 'key.json'

/** Sealed metadata as the index keeps it: a JSON value, so that journal and snapshot carry it as any. */
export interface SealedJson {
  $sealed: string
}

const METADATA_AAD = 'voxcache entry metadata, record format 2:'

export class Keys {
  private constructor(
    /** The key this worker seals and opens with; undefined when the cache is clear or locked. */
    readonly keyring: Keyring | undefined,
    /** The id of the key that protects the cache (hex); undefined for a clear cache. */
    readonly protectedBy: string | undefined,
  ) {}

  /**
   * Reads which key protects the cache and checks `key` against it; a key given to a clear, empty cache
   * protects it from now on. Call under the cache's exclusive lock.
   * @throws {KeyMismatchError} for another key than the one that protects the cache (nothing is changed),
   * and for a key given to a cache that holds entries stored without one.
   */
  static async open(backend: Backend, key: CryptoKey | undefined, entries: number): Promise<Keys> {
    const keyring = key ? await createKeyring(key) : undefined
    const file = await backend.read(KEY_FILE)
    let protectedBy: string | undefined
    if (file) {
      const parsed = (() => {
        try {
          return JSON.parse(new TextDecoder().decode(file)) as { keyId?: unknown }
        } catch {
          return undefined
        }
      })()
      if (typeof parsed?.keyId !== 'string' || !/^[0-9a-f]{32}$/.test(parsed.keyId)) {
        // Refusing is safer than guessing: a cache whose key file is damaged is neither opened as clear
        // (its sealed entries would be unreadable and overwritten) nor with a key that may be another.
        throw new KeyMismatchError(`this cache's ${KEY_FILE} is damaged; destroy the cache or restore the file`)
      }
      protectedBy = parsed.keyId
    }
    if (!keyring) return new Keys(undefined, protectedBy)
    const id = keyIdHex(keyring.keyId)
    if (protectedBy !== undefined && protectedBy !== id) {
      throw new KeyMismatchError(`this cache is protected by key ${protectedBy}, not by this key (${id}); nothing was changed`)
    }
    if (protectedBy === undefined) {
      if (entries > 0) {
        throw new KeyMismatchError(
          `this cache holds ${entries} entries stored without a key; open it without one, or clear() it first, then open it with the key`,
        )
      }
      await backend.writeAtomic(KEY_FILE, [new TextEncoder().encode(JSON.stringify({ format: 1, keyId: id }))])
    }
    return new Keys(keyring, id)
  }

  /** Protected, and this worker has no key: values can be neither read nor written. */
  get locked(): boolean {
    return this.protectedBy !== undefined && !this.keyring
  }

  /**
   * The keyring to seal new records with (undefined for a clear cache).
   * @throws {KeyMismatchError} when the cache is locked.
   */
  sealing(): Keyring | undefined {
    if (this.locked) throw new KeyMismatchError(`this cache is protected by key ${this.protectedBy}; open it with that key to read or write values`)
    return this.keyring
  }

  /** `info` as the index keeps it: under a key, its metadata sealed (bound to the entry's id). */
  async sealInfo(info: EntryInfo): Promise<EntryInfo> {
    if (!this.keyring) return info
    return { ...info, metadata: (await this.sealJson(info.id, info.metadata)) as unknown as JsonValue }
  }

  /**
   * `info` as callers see it: sealed metadata opened, or null while the cache is locked.
   * @throws {CorruptEntryError} when sealed metadata fails its tag.
   */
  async openInfo(info: EntryInfo): Promise<EntryInfo> {
    const sealed = asSealed(info.metadata)
    if (!sealed || this.protectedBy === undefined) return info
    if (!this.keyring) return { ...info, metadata: null }
    return { ...info, metadata: await this.openJson(info.id, sealed) }
  }

  /** openInfo of each; a clear cache's rows are returned as they are (no promise per row on list()). */
  async openInfos(infos: EntryInfo[]): Promise<EntryInfo[]> {
    return this.protectedBy === undefined ? infos : Promise.all(infos.map((info) => this.openInfo(info)))
  }

  private async sealJson(id: string, value: JsonValue): Promise<SealedJson> {
    const iv = crypto.getRandomValues(new Uint8Array(12))
    const plain = new TextEncoder().encode(JSON.stringify(value))
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(METADATA_AAD + id) }, this.keyring!.key, plain),
    )
    const out = new Uint8Array(12 + sealed.byteLength)
    out.set(iv)
    out.set(sealed, 12)
    return { $sealed: toBase64(out) }
  }

  private async openJson(id: string, sealed: SealedJson): Promise<JsonValue> {
    try {
      const bytes = fromBase64(sealed.$sealed) as Uint8Array<ArrayBuffer>
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: new TextEncoder().encode(METADATA_AAD + id) },
        this.keyring!.key,
        bytes.subarray(12),
      )
      return JSON.parse(new TextDecoder().decode(plain)) as JsonValue
    } catch (error) {
      throw new CorruptEntryError(id, 'its sealed metadata fails its authentication tag', { cause: error })
    }
  }
}

function asSealed(value: JsonValue): SealedJson | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const keys = Object.keys(value)
  return keys.length === 1 && keys[0] === '$sealed' && typeof (value as Record<string, unknown>).$sealed === 'string' ? (value as unknown as SealedJson) : undefined
}
