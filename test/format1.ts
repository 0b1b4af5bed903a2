// Test support: record format 1 written exactly as voxcache 0.x wrote it (its encodeRecord, kept here
// since the library now writes format 2 and only reads format 1). Tests make format-1 records with it
// to prove they still read, and fuzz them.
import { checksumParts, headerHash } from '../src/codec/checksum.js'
import { classify, assertJsonValue } from '../src/codec/values.js'
import { compressFrames } from '../src/codec/zstd.js'
import type { RecordHeader1 } from '../src/codec/record1.js'
import type { Codec, JsonValue, Value } from '../src/types.js'

const MAGIC = [0x56, 0x58, 0x43, 0x31] // "VXC1"
const FRAME_SIZE = 1024 * 1024
const MIN_SAVING = 0.1
const align8 = (n: number) => (n + 7) & ~7

/** A format-1 record of `value`, as bytes. Codec and frames as 0.x chose them. */
export function encodeRecord1(
  value: Value,
  options: { operationId: string; codec?: Codec; metadata?: JsonValue; createdAt?: string },
): { header: RecordHeader1; bytes: Uint8Array } {
  assertJsonValue(options.metadata ?? null, 'metadata', true)
  const classified = classify(value)
  const raw = classified.dataType === 'json' ? new TextEncoder().encode(JSON.stringify(classified.json)) : classified.bytes
  let codec: Codec = options.codec ?? 'none'
  let body: Uint8Array[] = raw.byteLength ? [raw] : []
  let frames: number[] | undefined
  if (codec === 'zstd') {
    const compressed = compressFrames(raw, FRAME_SIZE)
    const storedLength = compressed.reduce((n, f) => n + f.byteLength, 0)
    if (storedLength <= raw.byteLength * (1 - MIN_SAVING)) {
      body = compressed
      frames = compressed.map((f) => f.byteLength)
    } else {
      codec = 'none'
    }
  }
  const header: RecordHeader1 = {
    format: 1,
    operationId: options.operationId,
    dataType: classified.dataType,
    codec,
    rawLength: raw.byteLength,
    storedLength: body.reduce((n, p) => n + p.byteLength, 0),
    checksum: checksumParts(body),
    createdAt: options.createdAt ?? new Date().toISOString(),
    metadata: options.metadata ?? null,
    ...(frames ? { frameSize: FRAME_SIZE, frames } : {}),
    ...(classified.dataType === 'Image' ? { image: classified.image } : {}),
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify(header))
  const bodyOffset = align8(16 + headerBytes.byteLength)
  const out = new Uint8Array(bodyOffset + header.storedLength)
  out.set(MAGIC, 0)
  const dv = new DataView(out.buffer)
  dv.setUint32(4, headerBytes.byteLength, true)
  dv.setUint32(8, headerHash(headerBytes), true)
  out.set(headerBytes, 16)
  let at = bodyOffset
  for (const part of body) {
    out.set(part, at)
    at += part.byteLength
  }
  return { header, bytes: out }
}
