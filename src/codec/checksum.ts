import { createXXHash32, createXXHash64, type IHasher } from 'hash-wasm'

let h64: IHasher | undefined
let h32: IHasher | undefined

/** Loads the hashers (wasm embedded in hash-wasm, so nothing is fetched). Idempotent. */
export async function initChecksum(): Promise<void> {
  h64 ??= await createXXHash64()
  h32 ??= await createXXHash32()
}

function ready<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('initCodec() must finish before records are encoded or decoded')
  return value
}

/** xxhash64 (hex, 16 digits) of the parts, as if concatenated. Integrity, not security. */
export function checksumParts(parts: readonly Uint8Array[]): string {
  const hasher = ready(h64).init()
  for (const part of parts) hasher.update(part)
  return hasher.digest('hex')
}

/**
 * A body hasher of its own, for a body hashed piece by piece across awaits: the shared hasher must
 * not be, since another record may be hashed in between.
 */
export async function createBodyHasher(): Promise<IHasher> {
  return (await createXXHash64()).init()
}

/** xxhash32 of the header bytes, as an unsigned integer. */
export function headerHash(bytes: Uint8Array): number {
  return Number.parseInt(ready(h32).init().update(bytes).digest('hex'), 16)
}

/** xxhash64 (hex) of one frame's stored bytes, as a format-2 frame table keeps it. */
export function frameHash(bytes: Uint8Array): string {
  return ready(h64).init().update(bytes).digest('hex')
}

const ZERO4 = new Uint8Array(4)

/**
 * A format-2 prefix hash: xxhash32 of the 64 prefix bytes (bytes 12..16, the hash itself, as zero) and
 * the header. It covers the magic, so a flipped magic bit is told from a newer format's magic.
 */
export function prefixHash(prefix: Uint8Array, header: Uint8Array): number {
  const h = ready(h32).init()
  h.update(prefix.subarray(0, 12)).update(ZERO4).update(prefix.subarray(16, 64)).update(header)
  return Number.parseInt(h.digest('hex'), 16)
}
