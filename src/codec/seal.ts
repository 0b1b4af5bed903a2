// Sealing (AES-GCM through WebCrypto) for record format 2: the key's id, the nonces, and what each
// sealed part is bound to. A record's header is sealed with counter 0 of its nonce base and frame i with
// counter i + 1, so no two parts of a record share an IV; nonce bases are random (96 bits) per record.
import { CorruptEntryError, KeyMismatchError, UnsupportedValueError } from '../errors.js'
import { ENTRY_BYTES, writeEntry, type FrameEntry } from './layout.js'

/** A key and its id, as records name it. */
export interface Keyring {
  readonly key: CryptoKey
  /** 16 bytes: the first half of SHA-256 of the key's check value. */
  readonly keyId: Uint8Array
}

export const TAG_BYTES = 16
export const KEY_ID_BYTES = 16
export const NONCE_BYTES = 12
/** Frames and headers per record at most: counters are 32 bits. */
export const MAX_COUNTER = 0xffff_fffe

/** What the key check seals: 32 zero bytes, bound to this text, under the all-zero IV (no record uses it). */
const CHECK_AAD = new TextEncoder().encode('voxcache key check, record format 2')

/**
 * The keyring of an AES-GCM key: its id is derived from a key-check value (the key seals 32 zero bytes),
 * never from the key itself, so non-extractable keys work and the id reveals nothing of the key.
 * @throws {UnsupportedValueError} when `key` is not an AES-GCM CryptoKey that can encrypt and decrypt.
 */
export async function createKeyring(key: CryptoKey): Promise<Keyring> {
  if (!(typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) || key.algorithm.name !== 'AES-GCM') {
    throw new UnsupportedValueError('encryption.key must be an AES-GCM CryptoKey')
  }
  if (!key.usages.includes('encrypt') || !key.usages.includes('decrypt')) {
    throw new UnsupportedValueError(`encryption.key must allow encrypt and decrypt; it allows ${key.usages.join(', ') || 'nothing'}`)
  }
  const check = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(NONCE_BYTES), additionalData: CHECK_AAD }, key, new Uint8Array(32))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', check))
  return { key, keyId: digest.slice(0, KEY_ID_BYTES) }
}

/** A random nonce base; its first 8 bytes are never all zero, so no IV of a record is the key check's. */
export function newNonceBase(): Uint8Array {
  const base = new Uint8Array(NONCE_BYTES)
  do crypto.getRandomValues(base)
  while (base.subarray(0, 8).every((b) => b === 0))
  return base
}

/** The IV of part `counter` (0 the header, i + 1 frame i): the base, its last 4 bytes XOR the counter. */
export function ivOf(nonceBase: Uint8Array, counter: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(counter) || counter < 0 || counter > MAX_COUNTER) throw new RangeError(`counter ${counter}`)
  const iv = nonceBase.slice(0, NONCE_BYTES)
  const dv = new DataView(iv.buffer)
  dv.setUint32(8, (dv.getUint32(8) ^ counter) >>> 0)
  return iv
}

/** `plain` sealed: ciphertext then the 16-byte tag, in a buffer of its own. */
export async function seal(keyring: Keyring, nonceBase: Uint8Array, counter: number, aad: Uint8Array, plain: Uint8Array): Promise<Uint8Array> {
  const iv = ivOf(nonceBase, counter)
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad as Uint8Array<ArrayBuffer>, tagLength: 128 }, keyring.key, plain as Uint8Array<ArrayBuffer>))
}

/**
 * `sealed` opened, in a buffer of its own.
 * @throws {CorruptEntryError} when the tag fails: a changed byte, or a part moved from elsewhere.
 */
export async function unseal(
  id: string,
  keyring: Keyring,
  nonceBase: Uint8Array,
  counter: number,
  aad: Uint8Array,
  sealed: Uint8Array,
  what: string,
): Promise<Uint8Array> {
  if (sealed.byteLength < TAG_BYTES) throw new CorruptEntryError(id, `${what} is shorter than its tag`)
  try {
    const iv = ivOf(nonceBase, counter)
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad as Uint8Array<ArrayBuffer>, tagLength: 128 }, keyring.key, sealed as Uint8Array<ArrayBuffer>))
  } catch (error) {
    throw new CorruptEntryError(id, `${what} fails its authentication tag`, { cause: error })
  }
}

/** What a sealed header is bound to: the prefix (its hash field as zero) and the operation id. */
export function headerAad(prefix: Uint8Array, id: string): Uint8Array {
  const idBytes = new TextEncoder().encode(id)
  const aad = new Uint8Array(64 + idBytes.byteLength)
  aad.set(prefix.subarray(0, 64))
  aad.fill(0, 12, 16)
  aad.set(idBytes, 64)
  return aad
}

/**
 * What sealed frame `index` is bound to: the operation id, its index and its table entry (all but the
 * hash field, zero in a sealed record), so a frame cannot be moved, nor its zstd flag or ranges changed.
 */
export function frameAad(id: string, index: number, entry: FrameEntry): Uint8Array {
  const idBytes = new TextEncoder().encode(id)
  const aad = new Uint8Array(idBytes.byteLength + 4 + ENTRY_BYTES)
  aad.set(idBytes)
  new DataView(aad.buffer).setUint32(idBytes.byteLength, index, true)
  const table = aad.subarray(idBytes.byteLength + 4)
  writeEntry(table, 0, { ...entry, hash: ZERO_HASH })
  return aad
}

/** The hash field of a sealed record's frames: the GCM tag checks them instead. */
export const ZERO_HASH = '0'.repeat(16)

/** Hex of a key id, for messages. */
export function keyIdHex(keyId: Uint8Array): string {
  return Array.from(keyId, (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The keys a cache opens records with: one, or several (a cache's data keys: those of records stored
 * before a rekey finished, or imported). Records name theirs by key id.
 */
export type Keyrings = Keyring | readonly Keyring[]

/**
 * The keyring among `keyrings` that sealed a record under `keyId`.
 * @throws {KeyMismatchError} when none did.
 */
export function checkKeyId(id: string, keyId: Uint8Array, keyrings: Keyrings | undefined): Keyring {
  const list: readonly Keyring[] = keyrings === undefined ? [] : Array.isArray(keyrings) ? keyrings : [keyrings as Keyring]
  if (!list.length) throw new KeyMismatchError(`is sealed under key ${keyIdHex(keyId)}; open the cache with that key`, { entryId: id })
  const found = keyId.byteLength === KEY_ID_BYTES ? list.find((k) => k.keyId.every((b, i) => b === keyId[i])) : undefined
  if (!found) {
    throw new KeyMismatchError(`is sealed under key ${keyIdHex(keyId)}, not this key (${list.map((k) => keyIdHex(k.keyId)).join(', ')})`, { entryId: id })
  }
  return found
}
