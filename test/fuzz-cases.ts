// Test support, not part of the library: seeded mutations of real VXC1 records, shared by the codec's
// fuzz test (src/codec/record.fuzz.test.ts) and the import fuzz (e2e/fuzz-import.spec.ts).
//
// It knows the record layout on its own (magic | u32 header length | u32 xxhash32 of header | u32 0 |
// header JSON | pad8 | body) and signs with hash-wasm directly rather than through the codec, so that a
// forged record is built the way an attacker would build one, not the way the code under test expects.
// It imports nothing that needs the zstd alias: Playwright's test process loads it as plain TypeScript.
import { createXXHash32, createXXHash64, type IHasher } from 'hash-wasm'

/** mulberry32: tiny, fast, and the same sequence on every machine for a given seed. */
export class Rng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  /** A uniform unsigned 32-bit integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 2 ** 32) * n)
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }
}

/** The seed: FUZZ_SEED when set (to replay a failure), else a fixed one so that runs are reproducible. */
export function fuzzSeed(env: string | undefined, fallback = 0x5eed1): number {
  if (env === undefined || env === '') return fallback
  const n = Number(env)
  if (!Number.isSafeInteger(n)) throw new Error(`FUZZ_SEED must be an integer, got ${env}`)
  return n >>> 0
}

export interface Signer {
  headerHash(bytes: Uint8Array): number
  bodyChecksum(body: Uint8Array): string
}

let signer: Promise<Signer> | undefined
/** xxhash32 of a header and xxhash64 (hex) of a body, as the record format defines them. */
export function createSigner(): Promise<Signer> {
  signer ??= (async () => {
    const h32: IHasher = await createXXHash32()
    const h64: IHasher = await createXXHash64()
    return {
      headerHash: (bytes) => Number.parseInt(h32.init().update(bytes).digest('hex'), 16),
      bodyChecksum: (body) => h64.init().update(body).digest('hex'),
    }
  })()
  return signer
}

const align8 = (n: number) => (n + 7) & ~7

/** A record taken apart: the header as text and as an object, and the body. */
export interface RecordParts {
  headerText: string
  header: Record<string, unknown>
  body: Uint8Array
}

/** Takes a well-formed record apart (only ever called on originals, never on mutants). */
export function splitRecord(bytes: Uint8Array): RecordParts {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true)
  const headerText = new TextDecoder().decode(bytes.subarray(16, 16 + length))
  return {
    headerText,
    header: JSON.parse(headerText) as Record<string, unknown>,
    body: bytes.slice(align8(16 + length)),
  }
}

/** Builds a record from header text and a body, with a valid header hash (the forger's tool). */
export function buildRecord(s: Signer, headerText: string, body: Uint8Array): Uint8Array {
  const header = new TextEncoder().encode(headerText)
  const bodyOffset = align8(16 + header.byteLength)
  const out = new Uint8Array(bodyOffset + body.byteLength)
  out.set([0x56, 0x58, 0x43, 0x31], 0)
  const dv = new DataView(out.buffer)
  dv.setUint32(4, header.byteLength, true)
  dv.setUint32(8, s.headerHash(header), true)
  out.set(header, 16)
  out.set(body, bodyOffset)
  return out
}

export interface Mutant {
  family: string
  bytes: Uint8Array
  /** The header hash was recomputed (and the body checksum, when the body was edited). */
  resigned: boolean
}

// ---------------------------------------------------------------------------------------------------
// Blind mutations: bytes changed with no knowledge of the format (as a disk or a transfer would).

/** A position, half the time in the prefix and header (where the parser lives), else anywhere. */
function position(rng: Rng, bytes: Uint8Array): number {
  if (bytes.byteLength === 0) return 0
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true)
  const head = Math.min(bytes.byteLength, align8(16 + length) + 32)
  return rng.chance(0.5) ? rng.int(head) : rng.int(bytes.byteLength)
}

const SPECIAL = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x22, 0x5c, 0x7b, 0x7d, 0x2d, 0x30, 0x39, 0x65]

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

export const BLIND_FAMILIES = ['bitflip', 'byteset', 'truncate', 'extend', 'duplicate', 'delete', 'splice', 'prefix'] as const

/** One blind mutation of `bytes`; `other` is another record to splice with. */
export function blindMutation(rng: Rng, bytes: Uint8Array, other: Uint8Array): Mutant {
  const family = rng.pick(BLIND_FAMILIES)
  const out = (b: Uint8Array): Mutant => ({ family, bytes: b, resigned: false })
  switch (family) {
    case 'bitflip': {
      const b = bytes.slice()
      for (let n = 1 + rng.int(rng.chance(0.7) ? 1 : 8); n > 0; n--) b[position(rng, b)]! ^= 1 << rng.int(8)
      return out(b)
    }
    case 'byteset': {
      const b = bytes.slice()
      for (let n = 1 + rng.int(4); n > 0; n--) b[position(rng, b)] = rng.chance(0.5) ? rng.pick(SPECIAL) : rng.int(256)
      return out(b)
    }
    case 'truncate':
      return out(bytes.slice(0, position(rng, bytes)))
    case 'extend': {
      const n = rng.pick([1, 7, 8, 64, 4096])
      return out(concat(bytes, rng.chance(0.5) ? new Uint8Array(n) : rng.bytes(n)))
    }
    case 'duplicate': {
      const from = position(rng, bytes)
      const chunk = bytes.subarray(from, Math.min(bytes.byteLength, from + 1 + rng.int(rng.chance(0.5) ? 16 : 4096)))
      const at = position(rng, bytes)
      return out(concat(bytes.subarray(0, at), chunk, bytes.subarray(at)))
    }
    case 'delete': {
      const from = position(rng, bytes)
      const to = Math.min(bytes.byteLength, from + 1 + rng.int(rng.chance(0.5) ? 16 : 4096))
      return out(concat(bytes.subarray(0, from), bytes.subarray(to)))
    }
    case 'splice': {
      // The head of one record and the tail of another, cut at the same or nearby offsets.
      const cut = position(rng, bytes)
      const cut2 = Math.max(0, Math.min(other.byteLength, cut + (rng.chance(0.5) ? 0 : rng.int(64) - 32)))
      return out(concat(bytes.subarray(0, cut), other.subarray(cut2)))
    }
    case 'prefix': {
      // The 16-byte prefix: header length, header hash and the reserved word.
      const b = bytes.slice()
      const dv = new DataView(b.buffer)
      const field = rng.pick([4, 8, 12])
      const length = dv.getUint32(4, true)
      const value = rng.pick([0, 1, 2, 0xffffffff, 1 << 20, (1 << 20) + 1, length + 1, length - 1, length + 8, rng.u32()])
      if (b.byteLength >= 16) dv.setUint32(field, value >>> 0, true)
      return out(b)
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Hostile, structure-aware mutations: the header JSON is edited and re-signed, so that the checks
// behind the hashes (lengths, frame table, image geometry, types, keys) are what has to catch them.

type Header = Record<string, unknown>
type Image = { imageType: Record<string, unknown>; size: number[]; [k: string]: unknown }

const HUGE = [2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e21, 1e300, -1, -(2 ** 31), 0.5, 1.5, 3e9, 6e9]
const ODD = [null, true, 'x', '1', [], {}, [1], -0]
const KEYS = ['__proto__', 'constructor', 'prototype']
const MIB = 1024 * 1024

/** A number a careless parser would trust: off by one, huge, negative, fractional, or not a number. */
function hostileNumber(rng: Rng, near: number): unknown {
  const r = rng.int(4)
  if (r === 0) return near + rng.pick([1, -1, 2, 8, -8, 4096, MIB, -MIB])
  if (r === 1) return rng.pick(HUGE)
  if (r === 2) return near * rng.pick([2, 0.5, 1000, 0, -1])
  return rng.pick(ODD)
}

/** JSON text of `value` with `"key": inner` inserted first in the object found at `path`. */
function withKey(value: unknown, path: string[], key: string, inner: string): string {
  const marker = `"__fuzz_marker__"`
  const copy = JSON.parse(JSON.stringify(value)) as Header
  let target = copy as Record<string, unknown>
  for (const p of path) {
    const next = target[p]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) target[p] = {}
    target = target[p] as Record<string, unknown>
  }
  target.__fuzz_marker__ = 0
  return JSON.stringify(copy).replace(`${marker}:0`, `${JSON.stringify(key)}:${inner}`)
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

export const HOSTILE_FAMILIES = [
  'lengths', 'frames', 'tiny-frames', 'frame-size', 'codec', 'data-type', 'image-size', 'image-type',
  'image-geometry', 'forbidden-key', 'metadata', 'fields', 'body',
] as const

/**
 * One hostile mutation of the record `bytes`, re-signed. Some results are valid records of another
 * value (a new origin, new metadata): the hashes cannot tell those apart, and callers must check that
 * what decodes is exactly what the record says.
 */
export function hostileMutation(
  rng: Rng,
  s: Signer,
  bytes: Uint8Array,
  bombFrame?: (raw: number) => Uint8Array,
  families: readonly (typeof HOSTILE_FAMILIES)[number][] = HOSTILE_FAMILIES,
): Mutant {
  const { header: original, body: originalBody } = splitRecord(bytes)
  const h = JSON.parse(JSON.stringify(original)) as Header
  let body = originalBody
  let text: string | undefined
  let resignBody = false
  const family = rng.pick(families)
  const image = h.image as Image | undefined
  const frames = h.frames as number[] | undefined
  switch (family) {
    case 'lengths': {
      const key = rng.pick(['rawLength', 'storedLength'])
      h[key] = hostileNumber(rng, h[key] as number)
      if (key === 'storedLength' && typeof h.storedLength === 'number' && rng.chance(0.5)) {
        // Make the body as long as the lie, so that the check behind "lengths within the file" runs.
        const n = h.storedLength
        if (Number.isSafeInteger(n) && n >= 0 && n < 8 * MIB) {
          body = n <= body.byteLength ? body.slice(0, n) : concat(body, rng.bytes(n - body.byteLength))
          resignBody = true
        }
      }
      break
    }
    case 'frames': {
      const choice = rng.int(6)
      if (choice === 0) h.frames = frames ? [...frames].reverse() : [h.storedLength]
      else if (choice === 1) h.frames = frames ? [...frames, 0] : [0]
      else if (choice === 2) h.frames = (frames ?? [1]).map((n) => hostileNumber(rng, n))
      else if (choice === 3) h.frames = [h.storedLength]
      else if (choice === 4) h.frames = frames && frames.length > 1 ? [frames[0]! + frames[1]!, ...frames.slice(2)] : [1, (h.storedLength as number) - 1]
      else h.frames = new Array(1000).fill(1)
      if (rng.chance(0.3)) h.codec = 'zstd'
      if (rng.chance(0.3)) h.frameSize ??= MIB
      break
    }
    case 'tiny-frames': {
      // Many small frames each claiming the largest frame size: rawLength in the gigabytes, declared
      // consistently everywhere the header can be checked.
      const frameSize = rng.pick([64 * MIB, 32 * MIB, MIB])
      const count = Math.max(1, Math.min(body.byteLength, rng.pick([4, 16, 48, 100, 1000])))
      const sizes: number[] = new Array(count).fill(Math.floor(body.byteLength / count))
      sizes[count - 1] = body.byteLength - sizes[0]! * (count - 1)
      h.codec = 'zstd'
      h.frameSize = frameSize
      h.frames = sizes.filter((n) => n > 0)
      h.rawLength = (h.frames as number[]).length * frameSize - (rng.chance(0.5) ? 0 : rng.int(frameSize))
      if (image) {
        image.imageType = { ...image.imageType, dimension: 1, componentType: 'uint8', components: 1 }
        image.size = [h.rawLength as number]
        image.origin = [0]
        image.spacing = [1]
        image.direction = [1]
      } else if (h.dataType !== 'json') {
        h.dataType = 'Uint8Array'
      }
      break
    }
    case 'frame-size': {
      h.frameSize = rng.pick([64 * MIB, 64 * MIB + 1, 64 * 1024, 64 * 1024 - 1, 1, 0, 2 * MIB, MIB / 2, ...HUGE, ...ODD])
      if (rng.chance(0.5) && typeof h.frameSize === 'number' && h.frameSize > 0) {
        // Keep the frame count consistent so that only the frames themselves can tell.
        const n = Math.ceil((h.rawLength as number) / MIB)
        h.rawLength = Math.max(0, n * (h.frameSize as number) - rng.int(2))
        h.frames = frames ?? [h.storedLength]
      }
      break
    }
    case 'codec':
      h.codec = rng.pick(['none', 'zstd', 'gzip', '', 'ZSTD', null, 1, '__proto__'])
      if (h.codec === 'none' && rng.chance(0.5)) {
        delete h.frames
        delete h.frameSize
      }
      break
    case 'data-type':
      h.dataType = rng.pick(['Image', 'json', 'ArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint8ClampedArray',
        'Float64Array', 'BigInt64Array', 'Float16Array', 'DataView', 'Object', 'toString', '__proto__', 'constructor', '', null])
      if (h.dataType === 'Image' && !image && rng.chance(0.5)) {
        h.image = { imageType: { dimension: 1, componentType: 'uint8', pixelType: 'Scalar', components: 1 }, name: '',
          origin: [0], spacing: [1], direction: [1], size: [h.rawLength], metadata: [] }
      }
      break
    case 'image-size': {
      if (!image) {
        h.image = { imageType: { dimension: 1, componentType: 'uint8', pixelType: 'Scalar', components: 1 }, size: [h.rawLength] }
        break
      }
      const choice = rng.int(5)
      if (choice === 0) image.size = image.size.map((n) => (rng.chance(0.5) ? (hostileNumber(rng, n) as number) : n))
      else if (choice === 1) image.size = [...image.size].reverse()
      else if (choice === 2) image.size = [image.size.reduce((a, b) => a * b, 1), ...image.size.slice(1).map(() => 1)]
      else if (choice === 3) image.size = [...image.size, 1]
      else image.size = image.size.slice(0, -1)
      break
    }
    case 'image-type': {
      if (!image) {
        h.dataType = 'Image'
        break
      }
      const t = image.imageType
      const key = rng.pick(['dimension', 'componentType', 'pixelType', 'components'])
      if (key === 'dimension') t.dimension = rng.pick([0, 1, 2, 4, 16, 17, 1000, 2.5, -3, 2 ** 32, null, '3'])
      else if (key === 'componentType') {
        t.componentType = rng.pick(['int8', 'uint8', 'int16', 'uint16', 'int32', 'float32', 'float64', 'int64', 'uint64',
          'float16', 'toString', '__proto__', 'constructor', 'hasOwnProperty', '', null])
      } else if (key === 'pixelType') t.pixelType = rng.pick(['Scalar', 'RGB', 'Vector', 'toString', '', 7, null])
      else t.components = rng.pick([0, 2, 3, 4, 1.5, -1, 2 ** 31, null])
      break
    }
    case 'image-geometry': {
      if (!image) {
        h.image = null
        break
      }
      const key = rng.pick(['origin', 'spacing', 'direction', 'name', 'metadata'])
      const choice = rng.int(4)
      if (key === 'name') image.name = rng.pick([null, 1, 'renamed', '', '\u0000', { toString: 1 }])
      else if (key === 'metadata') {
        image.metadata = rng.pick([[], [['k']], [['k', 1, 2]], [[1, 'v']], {}, null, [['k', { deep: [1, 2] }]], [['__proto__', 1]]])
      } else {
        const list = image[key] as number[]
        if (choice === 0) image[key] = list.map((n) => n + 1)
        else if (choice === 1) image[key] = list.slice(1)
        else if (choice === 2) image[key] = list.map((n, i) => (i === 0 ? rng.pick(ODD) : n))
        else image[key] = list.map((n) => n * 1e308)
      }
      break
    }
    case 'forbidden-key': {
      const key = rng.pick(KEYS)
      const inner = rng.pick(['{"polluted":1}', '1', 'null', '{"toString":1}', '[]'])
      const where = rng.pick([[], ['metadata'], ['image'], ['image', 'imageType'], ['metadata', 'a', 'b']])
      text = withKey(h, where, key, inner)
      break
    }
    case 'metadata': {
      const choice = rng.int(6)
      if (choice === 0) text = JSON.stringify(h).replace(/"metadata":/, `"metadata":${nested(rng.pick([100, 5000, 100_000, 400_000]))},"x":`)
      else if (choice === 1) h.metadata = { n: rng.pick(HUGE) }
      else if (choice === 2) h.metadata = 'x'.repeat(rng.pick([1000, 500_000, 1_100_000]))
      else if (choice === 3) delete h.metadata
      else if (choice === 4) h.metadata = { a: { b: { c: [1, 2, { d: null }] } } }
      else text = JSON.stringify(h).replace(/}$/, `,"rawLength":${JSON.stringify(hostileNumber(rng, h.rawLength as number))}}`)
      break
    }
    case 'fields': {
      const key = rng.pick(['format', 'operationId', 'checksum', 'createdAt', 'extra'])
      if (key === 'format') h.format = rng.pick([0, 2, '1', 1.0000001, null])
      else if (key === 'operationId') h.operationId = rng.pick(['d'.repeat(64), String(h.operationId).toUpperCase(), '', null, 7])
      else if (key === 'checksum') h.checksum = rng.pick([String(h.checksum).toUpperCase(), '0'.repeat(16), 'x', null, String(h.checksum) + '0'])
      else if (key === 'createdAt') h.createdAt = rng.pick(['yesterday', '', 0, null, '2024-13-45T99:99:99Z', '1'])
      else h[rng.pick(['extra', 'image', 'frames', 'frameSize'])] = rng.pick(ODD)
      break
    }
    case 'body': {
      // The body edited and its checksum recomputed: only the frames themselves can tell.
      resignBody = true
      const choice = rng.int(4)
      if (choice === 0 || !frames || body.byteLength === 0) {
        body = body.slice()
        for (let n = 1 + rng.int(4); n > 0 && body.byteLength; n--) body[rng.int(body.byteLength)]! ^= 1 << rng.int(8)
      } else {
        const i = rng.int(frames.length)
        const start = frames.slice(0, i).reduce((a, b) => a + b, 0)
        const frame = body.slice(start, start + frames[i]!)
        let replacement: Uint8Array = frame
        if (choice === 1) {
          // Rewrite the frame header's content size field (where it is 4 bytes, as voxcache writes it).
          const dv = new DataView(replacement.buffer)
          if (replacement.byteLength >= 9) dv.setUint32(5, rng.pick([64 * MIB, 0xffffffff, dv.getUint32(5, true) + 1, 0]), true)
        } else if (choice === 2) {
          replacement = frame.slice()
          replacement[4] = rng.pick([0x04, 0x08, 0x01, 0x00, 0xc0, 0x20 | 0x04]) | (replacement[4]! & 0xc0)
        } else if (bombFrame) {
          // A real frame of the right raw size holding other content (a valid record of another value).
          const expected = Math.min(h.frameSize as number, (h.rawLength as number) - i * (h.frameSize as number))
          replacement = bombFrame(expected)
        }
        body = concat(body.subarray(0, start), replacement, body.subarray(start + frame.byteLength))
        const sizes = [...frames]
        sizes[i] = replacement.byteLength
        h.frames = sizes
      }
      h.storedLength = body.byteLength
      break
    }
  }
  if (resignBody) {
    h.checksum = s.bodyChecksum(body)
    if (text === undefined && family !== 'lengths') h.storedLength = body.byteLength
  }
  return { family: `${family}`, bytes: buildRecord(s, text ?? JSON.stringify(h), body), resigned: true }
}

/** The record re-issued under another operation id (header edited and re-signed, body as it was). */
export function withOperationId(s: Signer, bytes: Uint8Array, id: string): Uint8Array {
  const { header, body } = splitRecord(bytes)
  return buildRecord(s, JSON.stringify({ ...header, operationId: id }), body)
}

/** Bytes equal, without a dependency on Node's Buffer (this module also runs in Playwright's process). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
