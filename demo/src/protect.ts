// "Protect this cache": a passphrase becomes the cache's AES-GCM key (PBKDF2-SHA-256), and the salt is
// kept beside the cache so that the same passphrase gives the same key after a reload. The key itself is
// never stored: after a reload the cache opens locked until the passphrase is entered again.
//
// The salt lives in localStorage, one item per cache name, rather than in the cache's own folder: that
// folder belongs to the library (and an IndexedDB cache has none), localStorage is read synchronously
// before the cache opens, and it is scoped to the origin like the cache. A salt is not secret. wipeAll()
// and the browser's own eviction remove the cache but not this item, so the cache's stats, not the item,
// say whether it is protected (see protectionState).

/** PBKDF2-SHA-256 iterations: OWASP's 2023 figure for it. Records with fewer are refused, never used. */
export const PBKDF2_ITERATIONS = 600_000
export const SALT_BYTES = 16
/** Passphrases shorter than this are refused: PBKDF2 slows guessing down, it cannot make "1234" strong. */
export const MIN_PASSPHRASE = 8

const PREFIX = 'voxcache-demo:protection:'

/** What is kept beside a protected cache. `keyId` (the cache's own, from stats) tells a stale salt apart. */
export interface ProtectionRecord {
  salt: Uint8Array
  iterations: number
  keyId?: string
}

export function newSalt(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SALT_BYTES))
}

/** The cache's key from a passphrase: AES-GCM 256, not extractable, so script cannot read it out. */
export async function deriveCacheKey(passphrase: string, salt: Uint8Array, iterations: number = PBKDF2_ITERATIONS): Promise<CryptoKey> {
  if (iterations < PBKDF2_ITERATIONS) throw new Error(`PBKDF2 needs at least ${PBKDF2_ITERATIONS} iterations, not ${iterations}`)
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

export function formatRecord(record: ProtectionRecord): string {
  const salt = btoa(String.fromCharCode(...record.salt))
  return JSON.stringify({ v: 1, salt, iterations: record.iterations, ...(record.keyId ? { keyId: record.keyId } : {}) })
}

/** The record stored as text, or undefined when it is missing or not one this demo wrote (never a guess). */
export function parseRecord(text: string | null): ProtectionRecord | undefined {
  if (text === null) return undefined
  try {
    const o = JSON.parse(text) as { v?: unknown; salt?: unknown; iterations?: unknown; keyId?: unknown }
    if (o.v !== 1 || typeof o.salt !== 'string' || typeof o.iterations !== 'number') return undefined
    if (!Number.isInteger(o.iterations) || o.iterations < PBKDF2_ITERATIONS) return undefined
    const salt = Uint8Array.from(atob(o.salt), (c) => c.charCodeAt(0))
    if (salt.length !== SALT_BYTES) return undefined
    return { salt, iterations: o.iterations, ...(typeof o.keyId === 'string' ? { keyId: o.keyId } : {}) }
  } catch {
    return undefined
  }
}

export function readRecord(cacheName: string): ProtectionRecord | undefined {
  return parseRecord(localStorage.getItem(PREFIX + cacheName))
}

export function writeRecord(cacheName: string, record: ProtectionRecord): void {
  localStorage.setItem(PREFIX + cacheName, formatRecord(record))
}

export function forgetRecord(cacheName: string): void {
  localStorage.removeItem(PREFIX + cacheName)
}

/** After wipeAll(), which removes every cache of the origin: every cache's salt goes with them. */
export function forgetAllRecords(): void {
  for (const key of Object.keys(localStorage)) if (key.startsWith(PREFIX)) localStorage.removeItem(key)
}

/**
 * What the panel shows, from the cache's own word (`stats().protection`) and the stored record:
 * - `clear`: not protected; a record left behind (the cache was wiped or evicted) is `stale`;
 * - `unlocked` / `locked`: protected, with or without the key in this page;
 * - `no-salt`: protected, but no record (or one for another key): no passphrase can unlock it here.
 */
export type ProtectionState =
  | { kind: 'clear'; stale: boolean }
  | { kind: 'unlocked'; keyId: string }
  | { kind: 'locked'; keyId: string; record: ProtectionRecord }
  | { kind: 'no-salt'; keyId: string }

export function protectionState(protection: { keyId: string; locked: boolean } | null, record: ProtectionRecord | undefined): ProtectionState {
  if (!protection) return { kind: 'clear', stale: record !== undefined }
  if (!protection.locked) return { kind: 'unlocked', keyId: protection.keyId }
  if (!record || (record.keyId !== undefined && record.keyId !== protection.keyId)) return { kind: 'no-salt', keyId: protection.keyId }
  return { kind: 'locked', keyId: protection.keyId, record }
}
