// Test support, not part of the library: seeded mutations of real records (format 2, VXC2, as voxcache
// writes them now, and format 1, VXC1, as 0.x wrote them), shared by the codec's fuzz test
// (src/codec/record.fuzz.test.ts) and the import fuzz (e2e/fuzz-import.spec.ts).
//
// It knows both layouts on its own — format 1: magic | u32 header length | u32 xxhash32 of header |
// u32 0 | header JSON | pad8 | body; format 2: the 64-byte prefix, header JSON, pad8, 48-byte frame
// entries, body (README, "Record format 2") — and signs with hash-wasm directly rather than through the
// codec, so that a forged record is built the way an attacker would build one, not the way the code
// under test expects.
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
  /** Format 2: xxhash32 of the prefix (bytes 12..16 as zero) and the header. */
  prefixHash(prefix: Uint8Array, header: Uint8Array): number
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
      prefixHash: (prefix, header) => {
        const p = prefix.slice(0, 64)
        p.fill(0, 12, 16)
        return Number.parseInt(h32.init().update(p).update(header).digest('hex'), 16)
      },
    }
  })()
  return signer
}

const align8 = (n: number) => (n + 7) & ~7

/** A record taken apart: the header as text and as an object, format 2's table and prefix fields, and the body. */
export interface RecordParts {
  format: 1 | 2
  headerText: string
  header: Record<string, unknown>
  /** Format 2: the frame table's bytes. */
  table?: Uint8Array
  /** Format 2: the prefix's flags, key id and nonce base. */
  prefix?: PrefixFields
  body: Uint8Array
}

export interface PrefixFields {
  flags: number
  keyId: Uint8Array
  nonceBase: Uint8Array
  /** The frame count to write, when not the table's (a lie). */
  frameCount?: number
}

export const recordFormat = (bytes: Uint8Array): 1 | 2 => (bytes[3] === 0x32 ? 2 : 1)

/** Takes a well-formed record apart (only ever called on originals, never on mutants). */
export function splitRecord(bytes: Uint8Array): RecordParts {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (recordFormat(bytes) === 1) {
    const length = dv.getUint32(4, true)
    const headerText = new TextDecoder().decode(bytes.subarray(16, 16 + length))
    return { format: 1, headerText, header: JSON.parse(headerText) as Record<string, unknown>, body: bytes.slice(align8(16 + length)) }
  }
  const length = dv.getUint32(8, true)
  const headerText = new TextDecoder().decode(bytes.subarray(64, 64 + length))
  const tableOffset = align8(64 + length)
  const tableEnd = tableOffset + 48 * dv.getUint32(44, true)
  return {
    format: 2,
    headerText,
    header: JSON.parse(headerText) as Record<string, unknown>,
    table: bytes.slice(tableOffset, tableEnd),
    prefix: { flags: dv.getUint32(4, true), keyId: bytes.slice(16, 32), nonceBase: bytes.slice(32, 44) },
    body: bytes.slice(tableEnd),
  }
}

/**
 * Builds a record from header text and a body with a valid header hash (the forger's tool): format 1,
 * or format 2 when a table is given.
 */
export function buildRecord(s: Signer, headerText: string, body: Uint8Array, table?: Uint8Array, prefix?: PrefixFields): Uint8Array {
  const header = new TextEncoder().encode(headerText)
  if (!table) {
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
  const tableOffset = align8(64 + header.byteLength)
  const out = new Uint8Array(tableOffset + table.byteLength + body.byteLength)
  out.set([0x56, 0x58, 0x43, 0x32], 0)
  const dv = new DataView(out.buffer)
  dv.setUint32(4, prefix?.flags ?? 0, true)
  dv.setUint32(8, header.byteLength, true)
  if (prefix) {
    out.set(prefix.keyId.subarray(0, 16), 16)
    out.set(prefix.nonceBase.subarray(0, 12), 32)
  }
  dv.setUint32(44, prefix?.frameCount ?? table.byteLength / 48, true)
  dv.setBigUint64(48, BigInt(tableOffset), true)
  out.set(header, 64)
  dv.setUint32(12, s.prefixHash(out.subarray(0, 64), header), true)
  out.set(table, tableOffset)
  out.set(body, tableOffset + table.byteLength)
  return out
}

/** A format-2 frame-table entry, as numbers (the u64 hash as a bigint). */
export interface TableEntry {
  rawOffset: number
  rawLength: number
  firstSlice: number
  sliceCount: number
  chunk: number
  storedOffset: number
  storedLength: number
  flags: number
  hash: bigint
}

export function readTable(table: Uint8Array): TableEntry[] {
  const dv = new DataView(table.buffer, table.byteOffset, table.byteLength)
  const out: TableEntry[] = []
  for (let at = 0; at + 48 <= table.byteLength; at += 48) {
    out.push({
      rawOffset: Number(dv.getBigUint64(at, true)),
      rawLength: dv.getUint32(at + 8, true),
      firstSlice: dv.getUint32(at + 12, true),
      sliceCount: dv.getUint32(at + 16, true),
      chunk: dv.getUint32(at + 20, true),
      storedOffset: Number(dv.getBigUint64(at + 24, true)),
      storedLength: dv.getUint32(at + 32, true),
      flags: dv.getUint32(at + 36, true),
      hash: dv.getBigUint64(at + 40, true),
    })
  }
  return out
}

/** Entries back to bytes; numbers out of a field's range wrap as the field would hold them. */
export function writeTable(entries: readonly TableEntry[]): Uint8Array {
  const out = new Uint8Array(entries.length * 48)
  const dv = new DataView(out.buffer)
  const u64 = (n: number) => BigInt.asUintN(64, BigInt(Math.trunc(Number.isFinite(n) ? n : 0)))
  entries.forEach((e, i) => {
    const at = i * 48
    dv.setBigUint64(at, u64(e.rawOffset), true)
    dv.setUint32(at + 8, e.rawLength >>> 0, true)
    dv.setUint32(at + 12, e.firstSlice >>> 0, true)
    dv.setUint32(at + 16, e.sliceCount >>> 0, true)
    dv.setUint32(at + 20, e.chunk >>> 0, true)
    dv.setBigUint64(at + 24, u64(e.storedOffset), true)
    dv.setUint32(at + 32, e.storedLength >>> 0, true)
    dv.setUint32(at + 36, e.flags >>> 0, true)
    dv.setBigUint64(at + 40, BigInt.asUintN(64, e.hash), true)
  })
  return out
}

/** xxhash64 of bytes as the table's u64 (hash-wasm's hex digest read as a number). */
export function frameHash64(s: Signer, bytes: Uint8Array): bigint {
  return BigInt(`0x${s.bodyChecksum(bytes)}`)
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
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let head = bytes.byteLength
  if (bytes.byteLength >= 64 && recordFormat(bytes) === 2) head = align8(64 + dv.getUint32(8, true)) + 48 * dv.getUint32(44, true) + 32
  else if (bytes.byteLength >= 16) head = align8(16 + dv.getUint32(4, true)) + 32
  return rng.chance(0.5) ? rng.int(Math.min(bytes.byteLength, head)) : rng.int(bytes.byteLength)
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
      // Format 1's 16-byte prefix (header length, header hash, the reserved word), or format 2's 64
      // (flags, header length, hash, key id, nonce, frame count, table offset, reserved).
      const b = bytes.slice()
      const dv = new DataView(b.buffer)
      const two = b.byteLength >= 64 && recordFormat(b) === 2
      const field = rng.pick(two ? [4, 8, 12, 16, 32, 44, 48, 52, 56, 60] : [4, 8, 12])
      const near = dv.getUint32(two && field !== 4 ? field : 4, true)
      const value = rng.pick([0, 1, 2, 0xffffffff, 1 << 20, (1 << 20) + 1, near + 1, near - 1, near + 8, rng.u32()])
      if (b.byteLength >= field + 4) dv.setUint32(field, value >>> 0, true)
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
  'image-geometry', 'forbidden-key', 'metadata', 'fields', 'body', 'chunks', 'prefix2',
] as const
type Family = (typeof HOSTILE_FAMILIES)[number]
/** Families that mean something else for format 2 (its frame table, chunks and prefix): hostile2(). */
const FORMAT2_OWN: ReadonlySet<Family> = new Set(['frames', 'tiny-frames', 'frame-size', 'body', 'chunks', 'prefix2'])

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
  const parts = splitRecord(bytes)
  const { header: original, body: originalBody } = parts
  const h = JSON.parse(JSON.stringify(original)) as Header
  let body = originalBody
  let text: string | undefined
  let resignBody = false
  const family = rng.pick(families)
  if (parts.format === 2 && FORMAT2_OWN.has(family)) return hostile2(rng, s, parts, h, family, bombFrame)
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
  if (parts.format === 2) {
    // The table is the original's, so its checksum in the header still holds (unless 'fields' forged it).
    return { family: `${family}`, bytes: buildRecord(s, text ?? JSON.stringify(h), body, parts.table, parts.prefix), resigned: true }
  }
  if (family === 'chunks') h.chunks = [{ storedLength: h.storedLength, sha256: '0'.repeat(64) }]
  if (family === 'prefix2') {
    const out = buildRecord(s, JSON.stringify(h), body)
    new DataView(out.buffer).setUint32(12, rng.pick([1, 0x80000000, rng.u32() | 1]), true)
    return { family, bytes: out, resigned: true }
  }
  if (resignBody) {
    h.checksum = s.bodyChecksum(body)
    if (text === undefined && family !== 'lengths') h.storedLength = body.byteLength
  }
  return { family: `${family}`, bytes: buildRecord(s, text ?? JSON.stringify(h), body), resigned: true }
}

/** A number that fits a u32 field but is wrong: off by a little, zero, the largest, or random. */
function hostileU32(rng: Rng, near: number): number {
  return rng.pick([near + 1, near - 1, near + 8, 0, 1, 0xffffffff, 0x80000000, near * 2, rng.u32(), 64 * MIB]) >>> 0
}

/**
 * Format 2's own hostile mutations, re-signed: the frame table (entries, counts), a bomb of frames
 * claiming the largest raw size, the frame size, frame bytes (with their hash re-signed in the table),
 * the chunk list, and the prefix's flags, key id and nonce. The table's checksum in the header is
 * recomputed, so the checks behind it are what must refuse.
 */
function hostile2(rng: Rng, s: Signer, parts: RecordParts, h: Header, family: Family, bombFrame?: (raw: number) => Uint8Array): Mutant {
  let entries = readTable(parts.table!).map((e) => ({ ...e }))
  let body = parts.body
  const prefix: PrefixFields = { ...parts.prefix! }
  const chunks = (h.chunks as { storedLength: number; sha256: string }[]).map((c) => ({ ...c }))
  /** Frame i's stored bytes replaced: later offsets, the chunk's length and the stored length follow. */
  const replaceFrame = (i: number, bytes: Uint8Array, flags = entries[i]!.flags) => {
    const e = entries[i]!
    const start = e.storedOffset
    body = concat(body.subarray(0, start), bytes, body.subarray(start + e.storedLength))
    const delta = bytes.byteLength - e.storedLength
    for (const later of entries.slice(i + 1)) later.storedOffset += delta
    entries[i] = { ...e, storedLength: bytes.byteLength, flags, hash: frameHash64(s, bytes) }
    chunks[0]!.storedLength += delta
    h.storedLength = (h.storedLength as number) + delta
  }
  switch (family) {
    case 'frames': {
      if (entries.length === 0) {
        entries = [{ rawOffset: 0, rawLength: 1, firstSlice: 0, sliceCount: 0, chunk: 0, storedOffset: 0, storedLength: 1, flags: 0, hash: 0n }]
        break
      }
      const i = rng.int(entries.length)
      const e = entries[i]!
      const choice = rng.int(8)
      if (choice === 0) {
        const key = rng.pick(['rawOffset', 'rawLength', 'firstSlice', 'sliceCount', 'chunk', 'storedOffset', 'storedLength', 'flags'] as const)
        e[key] = key === 'flags' ? rng.pick([0, 1, 2, 3, 0x80000000]) : hostileU32(rng, e[key])
      } else if (choice === 1 && entries.length > 1) {
        const j = (i + 1 + rng.int(entries.length - 1)) % entries.length
        ;[entries[i], entries[j]] = [entries[j]!, entries[i]!]
      } else if (choice === 2) {
        entries.splice(i, 1)
      } else if (choice === 3) {
        entries.splice(i, 0, { ...e })
      } else if (choice === 4) {
        e.flags ^= 1
      } else if (choice === 5 && entries.length > 1 && i + 1 < entries.length) {
        // A frame boundary moved: the two frames' stored ranges overlap or leave a gap, lengths still summing.
        const k = rng.pick([1, 7, 100])
        e.storedLength += k
        entries[i + 1]!.storedOffset += k
        entries[i + 1]!.storedLength -= k
      } else if (choice === 6) {
        prefix.frameCount = entries.length + rng.pick([1, -1, 1000])
      } else if (i + 1 < entries.length) {
        // Two frames merged into one entry, its hash re-signed over both.
        const next = entries[i + 1]!
        const stored = body.subarray(e.storedOffset, next.storedOffset + next.storedLength)
        entries.splice(i, 2, { ...e, rawLength: e.rawLength + next.rawLength, storedLength: stored.byteLength, flags: 0, hash: frameHash64(s, stored) })
      }
      break
    }
    case 'tiny-frames': {
      // Every frame claims the largest raw size, compressed, over pieces of the real body: gigabytes
      // declared consistently everywhere the header and table can be checked.
      const frameBytes = rng.pick([16 * MIB, 4 * MIB, MIB, 64 * MIB])
      const count = Math.max(1, Math.min(body.byteLength, rng.pick([4, 16, 48, 100])))
      const piece = Math.floor(body.byteLength / count)
      const rawLength = count * frameBytes - (rng.chance(0.5) ? 0 : rng.int(frameBytes))
      entries = []
      for (let i = 0; i < count; i++) {
        const storedOffset = i * piece
        const storedLength = i === count - 1 ? body.byteLength - storedOffset : piece
        const stored = body.subarray(storedOffset, storedOffset + storedLength)
        entries.push({ rawOffset: i * frameBytes, rawLength: Math.min(frameBytes, rawLength - i * frameBytes), firstSlice: 0, sliceCount: 0,
          chunk: 0, storedOffset, storedLength, flags: 1, hash: frameHash64(s, stored) })
      }
      h.frameBytes = frameBytes
      h.rawLength = rawLength
      h.codec = 'zstd'
      delete h.image
      h.dataType = h.dataType === 'json' ? 'json' : 'Uint8Array'
      break
    }
    case 'frame-size': {
      h.frameBytes = rng.pick([16 * MIB, 16 * MIB + 1, 64 * MIB, 1, 0, 2 * MIB, MIB / 2, ...HUGE, ...ODD])
      if (rng.chance(0.5) && typeof h.frameBytes === 'number' && Number.isSafeInteger(h.frameBytes) && h.frameBytes > 0 && entries.length) {
        // The table follows the new size, so that only the frames themselves can tell.
        const fb = h.frameBytes
        h.rawLength = Math.max(0, entries.length * fb - rng.int(2))
        entries.forEach((e, i) => {
          e.rawOffset = i * fb
          e.rawLength = Math.min(fb, (h.rawLength as number) - i * fb)
        })
      }
      break
    }
    case 'body': {
      if (entries.length === 0) {
        body = concat(body, new Uint8Array([1]))
        break
      }
      const i = rng.int(entries.length)
      const e = entries[i]!
      const frame = body.slice(e.storedOffset, e.storedOffset + e.storedLength)
      const choice = rng.int(4)
      if (choice === 0 || frame.byteLength < 9) {
        for (let n = 1 + rng.int(4); n > 0; n--) frame[rng.int(frame.byteLength)]! ^= 1 << rng.int(8)
        replaceFrame(i, frame)
      } else if (choice === 1 && e.flags & 1) {
        new DataView(frame.buffer).setUint32(5, rng.pick([64 * MIB, 0xffffffff, e.rawLength + 1, 0]), true)
        replaceFrame(i, frame)
      } else if (choice === 2 && e.flags & 1) {
        frame[4] = rng.pick([0x04, 0x08, 0x01, 0x00, 0xc0, 0x20 | 0x04]) | (frame[4]! & 0xc0)
        replaceFrame(i, frame)
      } else if (bombFrame) {
        // A real frame of the right raw size holding other content: a valid record of another value.
        replaceFrame(i, bombFrame(e.rawLength), 1)
        h.codec = 'zstd'
      }
      break
    }
    case 'chunks': {
      const choice = rng.int(6)
      if (choice === 0) chunks.push({ storedLength: rng.pick([0, 1, 100]), sha256: 'a'.repeat(64) })
      else if (choice === 1) chunks[0]!.sha256 = rng.pick(['b'.repeat(64), 'B'.repeat(64), 'b'.repeat(63), ''])
      else if (choice === 2) chunks[0]!.storedLength = hostileU32(rng, chunks[0]!.storedLength)
      else if (choice === 3) (chunks[0] as Record<string, unknown>).extra = 1
      else if (choice === 4 && entries.length > 1) {
        // Chunk 0 split in two at a frame boundary, consistently: a valid record of the same value.
        const cut = 1 + rng.int(entries.length - 1)
        const at = entries[cut]!.storedOffset
        chunks.splice(0, 1, { storedLength: at, sha256: chunks[0]!.sha256 }, { storedLength: chunks[0]!.storedLength - at, sha256: 'c'.repeat(64) })
        for (const e of entries.slice(cut)) {
          e.chunk = 1
          e.storedOffset -= at
        }
      } else chunks.length = 0
      break
    }
    case 'prefix2': {
      const choice = rng.int(3)
      if (choice === 0) prefix.flags = rng.pick([1, 2, 3, 0x80000000])
      else if (choice === 1) prefix.keyId = rng.bytes(16)
      else prefix.nonceBase = rng.bytes(12)
      break
    }
  }
  h.chunks = chunks
  const table = writeTable(entries)
  h.checksum = s.bodyChecksum(table)
  return { family, bytes: buildRecord(s, JSON.stringify(h), body, table, prefix), resigned: true }
}

/** The record re-issued under another operation id (header edited and re-signed, body as it was). */
export function withOperationId(s: Signer, bytes: Uint8Array, id: string): Uint8Array {
  const { header, body, table, prefix } = splitRecord(bytes)
  return buildRecord(s, JSON.stringify({ ...header, operationId: id }), body, table, prefix)
}

/** Bytes equal, without a dependency on Node's Buffer (this module also runs in Playwright's process). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
