// What both record formats share: the magic's version digit, the errors, and the header's JSON checks.
import { CorruptEntryError, SchemaVersionError } from '../errors.js'
import { describeThrown } from '../thrown.js'
import type { Codec, JsonValue } from '../types.js'
import { assertJsonValue, imageHeaderProblem, RESERVED_KEYS, type ImageHeader } from './values.js'

/** The header fields of every record format. */
export interface HeaderCommon {
  operationId: string
  dataType: string
  codec: Codec
  rawLength: number
  storedLength: number
  /** 16 hex digits: format 1, xxhash64 of the body; format 2, of the frame table. The index keeps it. */
  checksum: string
  createdAt: string
  /** When the value expires (ISO 8601 UTC, as expiryTime writes it); absent when it does not. */
  expiresAt?: string
  metadata: JsonValue
  image?: ImageHeader
}

/** Joins parts into one new buffer (for inline values and exports; payload files are written in parts). */
export function concatParts(
  parts: readonly Uint8Array[],
  byteLength = parts.reduce((n, p) => n + p.byteLength, 0),
): Uint8Array {
  const out = new Uint8Array(byteLength)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

export const MAX_HEADER_BYTES = 1 << 20

export function fail(id: string, reason: string): never {
  throw new CorruptEntryError(id, reason)
}

/** The version a magic names: 1 for "VXC1", 2 for "VXC2", up to 9 (a newer voxcache's), 0 for anything else. */
export function magicVersion(prefix: Uint8Array): number {
  if (prefix[0] !== 0x56 || prefix[1] !== 0x58 || prefix[2] !== 0x43) return 0
  const digit = prefix[3]! - 0x30
  return digit >= 1 && digit <= 9 ? digit : 0
}

export function newer(id: string, what: string): SchemaVersionError {
  return new SchemaVersionError(`was written by a newer voxcache (${what}); upgrade voxcache to read it. It is left as it is.`, {
    entryId: id,
  })
}

/** Header JSON must be what the encoder lets in (no deeper, no reserved keys): else it was forged. */
export function jsonAsStored(id: string, value: unknown, what: string): void {
  try {
    assertJsonValue(value, what, true)
  } catch (error) {
    throw new CorruptEntryError(id, `${what} is not what voxcache stores: ${describeThrown(error)}`, { cause: error })
  }
}

export function validateImage(id: string, image: unknown, rawLength: number): ImageHeader {
  const problem = imageHeaderProblem(image, rawLength)
  if (problem) fail(id, problem)
  return image as ImageHeader
}

/**
 * A header's JSON as an object, refusing reserved keys anywhere and checking its metadata.
 * @throws {CorruptEntryError}
 */
export function parseHeaderJson(id: string, headerBytes: Uint8Array): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes), (key, value: unknown) => {
      if (RESERVED_KEYS.has(key)) throw new Error(`forbidden key ${key}`)
      return value
    })
  } catch (error) {
    throw new CorruptEntryError(id, 'header is not valid JSON', { cause: error })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(id, 'header is not an object')
  const h = parsed as Record<string, unknown>
  if ('metadata' in h) jsonAsStored(id, h.metadata, 'metadata')
  return h
}
