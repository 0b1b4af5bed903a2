// Hostile bytes against the record decoder: ≥10,000 seeded mutations of real records. Each must be
// refused with a CorruptEntryError, or decode to exactly the original, or (only when the mutation
// re-signed the record, which no disk error can do) decode to exactly what the forged record says.
// Nothing may hang, allocate far beyond its input, or touch a prototype.
//
// FUZZ_SEED=<n> replays a run; FUZZ_CASES=<n> changes how many cases (default 12,000).
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { Module } from 'zstd-wasm:module.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, SchemaVersionError } from '../errors.js'
import type { Image, Value } from '../types.js'
import {
  blindMutation,
  createSigner,
  fuzzSeed,
  hostileMutation,
  Rng,
  sameBytes,
  splitRecord,
  type Mutant,
  type Signer,
} from './fuzz-cases.js'
import { concatParts, decodeBodyInFrames, decodeRecord, encodeRecord, initCodec, parseHeader, type RecordHeader } from './index.js'
import { compressFrames } from './zstd.js'

const SEED = fuzzSeed(process.env.FUZZ_SEED)
const CASES = Number(process.env.FUZZ_CASES ?? 12_000)
const MIB = 1024 * 1024

let signer: Signer

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
  signer = await createSigner()
})

/** A box of ch2bet (the real brain MRI, uint8) starting at slice z0, `depth` slices deep. */
function brainBox(name: string, x: number, y: number, z0: number, depth: number): Image {
  const file = gunzipSync(readFileSync(new URL('../../../shared/testdata/ch2bet.nii.gz', import.meta.url)))
  const dv = new DataView(file.buffer, file.byteOffset)
  const [nx, ny] = [1, 2].map((i) => dv.getInt16(40 + 2 * i, true)) as [number, number]
  const offset = dv.getFloat32(108, true)
  const data = new Uint8Array(x * y * depth)
  const x0 = (nx - x) >> 1
  const y0 = (ny - y) >> 1
  for (let z = 0; z < depth; z++) {
    for (let j = 0; j < y; j++) {
      const from = file.byteOffset + offset + ((z0 + z) * ny + y0 + j) * nx + x0
      data.set(file.subarray(from - file.byteOffset, from - file.byteOffset + x), (z * y + j) * x)
    }
  }
  return {
    imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
    name,
    origin: [-90, -126, -72 + z0],
    spacing: [1, 1, 1],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    size: [x, y, depth],
    metadata: new Map<string, unknown>([['modality', 'MR'], ['source', 'ch2bet']]),
    data,
  } as Image
}

interface Original {
  name: string
  id: string
  bytes: Uint8Array
  header: RecordHeader
  value: Value
}

/** The originals: real records, as encodeRecord writes them (several types, both codecs, multi-frame). */
function originals(): Original[] {
  const brain = brainBox('ch2bet-box', 181, 217, 60, 40) // 1.57 MB: two 1 MiB zstd frames
  const small = brainBox('ch2bet-small', 48, 48, 80, 8)
  const floats = new Float32Array(small.data as Uint8Array).map((v, i) => v * 0.25 + (i % 3))
  const ramp = new Uint16Array(1_300_000).map((_, i) => (i >> 8) & 0x3ff) // three frames
  const list: [string, Value, 'none' | 'zstd'][] = [
    ['brain-zstd', brain, 'zstd'],
    ['small-zstd', small, 'zstd'],
    ['small-none', brainBox('ch2bet-small', 48, 48, 80, 8), 'none'],
    ['float32-zstd', floats, 'zstd'],
    ['uint16-3frames', ramp, 'zstd'],
    ['int16-none', new Int16Array(3000).map((_, i) => (i * 7) % 3000 - 1500), 'none'],
    ['bigint-none', new BigInt64Array([-(2n ** 63n), 7n, 2n ** 62n]), 'none'],
    ['arraybuffer', new Uint8Array([9, 8, 7, 6, 5]).buffer, 'none'],
    ['empty-bytes', new Uint8Array(0), 'zstd'],
    ['json-null', null, 'none'],
    ['json-object', { a: [1, 'é', { b: true }], n: -0.5, s: 'x'.repeat(300) }, 'zstd'],
  ]
  return list.map(([name, value, codec], i) => {
    const id = (i + 1).toString(16).padStart(2, '0').repeat(32)
    const enc = encodeRecord(value, { operationId: id, codec, metadata: { name, i }, createdAt: '2024-05-01T12:00:00.000Z' })
    const bytes = concatParts(enc.parts, enc.byteLength)
    // encodeRecord views the value's bytes; decode a fresh copy as the reference value.
    return { name, id, bytes, header: enc.header, value: decodeRecord(id, bytes.slice()).value }
  })
}

/** What a value is, as comparable plain data: its kind, its bytes, and an image's geometry. */
function describeValue(v: Value): { kind: string; bytes: Uint8Array; geometry?: unknown } {
  if (v instanceof ArrayBuffer) return { kind: 'ArrayBuffer', bytes: new Uint8Array(v) }
  if (ArrayBuffer.isView(v)) return { kind: v.constructor.name, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) }
  if (v && typeof v === 'object' && 'imageType' in v && 'data' in v) {
    const im = v as Image
    const d = im.data as unknown as ArrayBufferView
    return {
      kind: 'Image',
      bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
      geometry: {
        imageType: im.imageType, array: d.constructor.name, name: im.name, origin: im.origin, spacing: im.spacing,
        direction: Array.from(im.direction as Float64Array), size: im.size, metadata: [...im.metadata],
      },
    }
  }
  return { kind: 'json', bytes: new TextEncoder().encode(JSON.stringify(v)) }
}

interface ZstdRaw {
  HEAPU8: Uint8Array
  _malloc(n: number): number
  _free(p: number): void
  _ZSTD_decompress(dst: number, cap: number, src: number, n: number): number
  _ZSTD_isError(code: number): number
}

/** The raw bytes a forged record's body stands for, decoded here by the header's own frame table. */
function referenceRaw(header: RecordHeader, body: Uint8Array): Uint8Array {
  if (header.codec === 'none') return body
  const z = Module as unknown as ZstdRaw
  const parts: Uint8Array[] = []
  let at = 0
  for (const size of header.frames!) {
    const src = z._malloc(size)
    const cap = header.frameSize! + 1
    const dst = z._malloc(cap)
    z.HEAPU8.set(body.subarray(at, at + size), src)
    const n = z._ZSTD_decompress(dst, cap, src, size)
    expect(z._ZSTD_isError(n), 'reference decompression of an accepted frame').toBe(0)
    parts.push(z.HEAPU8.slice(dst, dst + n))
    z._free(src)
    z._free(dst)
    at += size
  }
  return concatParts(parts)
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])
function forbiddenKey(value: unknown, depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || depth > 64) return undefined
  for (const key of Object.keys(value)) {
    if (FORBIDDEN.has(key)) return key
    const inner = forbiddenKey((value as Record<string, unknown>)[key], depth + 1)
    if (inner) return inner
  }
  return undefined
}

/** Asserts an accepted forged record decoded to exactly what it says: its checksum, frames, type and geometry. */
function expectSelfConsistent(bytes: Uint8Array, header: RecordHeader, value: Value, label: string): void {
  const body = bytes.subarray(bytes.byteLength - header.storedLength)
  expect(signer.bodyChecksum(body), label).toBe(header.checksum)
  expect(forbiddenKey(header), label).toBeUndefined()
  const raw = referenceRaw(header, body)
  expect(raw.byteLength, label).toBe(header.rawLength)
  const got = describeValue(value)
  if (header.dataType === 'json') {
    expect(got.kind, label).toBe('json')
    expect(JSON.stringify(value), label).toBe(JSON.stringify(JSON.parse(new TextDecoder().decode(raw))))
    return
  }
  expect(got.kind, label).toBe(header.dataType)
  expect(sameBytes(got.bytes, raw), `${label}: value bytes are the body's`).toBe(true)
  if (header.dataType === 'Image') {
    const im = header.image!
    expect(got.geometry, label).toEqual({
      imageType: im.imageType, array: (got.geometry as { array: string }).array, name: im.name, origin: im.origin,
      spacing: im.spacing, direction: im.direction, size: im.size, metadata: im.metadata,
    })
  }
}

type Outcome = 'rejected' | 'identical' | 'forged-valid'

describe('record decoder under hostile bytes', () => {
  it(`refuses or exactly decodes ${CASES} seeded mutations of real records`, { timeout: 600_000 }, async () => {
    const seed = SEED
    console.log(`record fuzz: seed ${seed} (FUZZ_SEED=${seed} replays), ${CASES} cases`)
    const rng = new Rng(seed)
    const origs = originals()
    // A real frame of a given raw size holding other content: a bomb-like (all zero) frame.
    const bombFrame = (raw: number) => compressFrames(new Uint8Array(raw), Math.max(raw, 1))[0] ?? new Uint8Array(0)
    const protoBefore = {
      object: Object.getOwnPropertyNames(Object.prototype).sort(),
      array: Object.getOwnPropertyNames(Array.prototype).sort(),
      fn: Object.getOwnPropertyNames(Function.prototype).sort(),
    }
    const counts = new Map<string, Record<Outcome, number>>()
    const total: Record<Outcome, number> = { rejected: 0, identical: 0, 'forged-valid': 0 }
    let slowest = { ms: 0, label: '' }
    let refusedAsNewer = 0
    let worstAlloc = { excess: -Infinity, label: '' }
    const started = performance.now()

    for (let n = 0; n < CASES; n++) {
      const orig = origs[rng.int(origs.length)]!
      const hostile = rng.chance(0.5)
      const mutant: Mutant = hostile
        ? hostileMutation(rng, signer, orig.bytes, bombFrame)
        : blindMutation(rng, orig.bytes, origs[rng.int(origs.length)]!.bytes)
      const label = `case ${n} (seed ${seed}, ${orig.name}, ${mutant.family}${mutant.resigned ? ', re-signed' : ''})`
      const input = mutant.bytes

      const claimsNewer = claimsNewerVersion(input)
      const t0 = performance.now()
      const before = process.memoryUsage().arrayBuffers
      let outcome: Outcome
      let decoded: { header: RecordHeader; value: Value } | undefined
      try {
        decoded = decodeRecord(orig.id, input)
      } catch (error) {
        // A magic that reads VXC2–VXC9 over a header that no longer verifies as format 1 is, as far as
        // any reader can tell, a newer voxcache's record: refused as such (and left on disk), not
        // quarantined. Every other refusal is corruption.
        const typed = error instanceof CorruptEntryError || (claimsNewer && error instanceof SchemaVersionError)
        if (!typed) {
          throw new Error(`${label}: threw ${(error as Error)?.name}: ${(error as Error)?.message}, not a CorruptEntryError`, { cause: error })
        }
        expect((error as CorruptEntryError | SchemaVersionError).entryId, label).toBe(orig.id)
        if (error instanceof SchemaVersionError) refusedAsNewer++
      }
      const allocated = process.memoryUsage().arrayBuffers - before
      const ms = performance.now() - t0
      if (ms > slowest.ms) slowest = { ms, label }
      // The output and the input's own copies are fair; a lie about the size is not.
      const excess = allocated - 3 * (input.byteLength + orig.header.rawLength)
      if (excess > worstAlloc.excess) worstAlloc = { excess, label }
      expect(excess, `${label}: allocated ${allocated} bytes for ${input.byteLength} bytes of input`).toBeLessThan(4 * MIB)

      if (!decoded) {
        outcome = 'rejected'
      } else if (
        sameBytes(describeValue(decoded.value).bytes, describeValue(orig.value).bytes) &&
        JSON.stringify(describeValue(decoded.value).geometry) === JSON.stringify(describeValue(orig.value).geometry) &&
        describeValue(decoded.value).kind === describeValue(orig.value).kind &&
        JSON.stringify(decoded.header) === JSON.stringify(orig.header)
      ) {
        outcome = 'identical'
      } else {
        // Only a forger (who recomputes the hashes) can make a valid record of another value.
        expect(mutant.resigned, `${label}: a blind mutation decoded to something else`).toBe(true)
        expectSelfConsistent(input, decoded.header, decoded.value, label)
        outcome = 'forged-valid'
      }
      // A blind mutation that changed any byte must be refused (the header and body hashes cover all).
      if (!mutant.resigned && !sameBytes(input, orig.bytes)) expect(outcome, label).toBe('rejected')

      // The retrieve path (header, then the body frame by frame) must agree.
      let framed: Value | undefined
      let framedError: unknown
      try {
        const { header, bodyOffset } = parseHeader(orig.id, input, input.byteLength)
        framed = await decodeBodyInFrames(header, async (at, length) => input.slice(bodyOffset + at, bodyOffset + at + length))
      } catch (error) {
        framedError = error
      }
      if (framedError !== undefined) {
        expect(framedError, `${label}: frame-by-frame decode`).toBeInstanceOf(claimsNewer && framedError instanceof SchemaVersionError ? SchemaVersionError : CorruptEntryError)
        expect(outcome, `${label}: refused frame by frame but decoded whole`).toBe('rejected')
      } else {
        expect(outcome, `${label}: decoded frame by frame but refused whole`).not.toBe('rejected')
        expect(sameBytes(describeValue(framed!).bytes, describeValue(decoded!.value).bytes), label).toBe(true)
      }

      total[outcome]++
      const row = counts.get(mutant.family) ?? { rejected: 0, identical: 0, 'forged-valid': 0 }
      row[outcome]++
      counts.set(mutant.family, row)
    }

    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const lines = [...counts].sort().map(([family, r]) => `  ${family.padEnd(15)} ${JSON.stringify(r)}`)
    console.log(
      `record fuzz: ${CASES} cases in ${seconds} s (seed ${seed}): ${total.rejected} rejected (${refusedAsNewer} of them as a newer version), ${total.identical} decoded identical, ` +
        `${total['forged-valid']} re-signed into valid records of another value (decoded exactly as forged)\n${lines.join('\n')}\n` +
        `  slowest case ${slowest.ms.toFixed(1)} ms (${slowest.label}); most allocated beyond 3×(input + original raw): ` +
        `${worstAlloc.excess} bytes (${worstAlloc.label})`,
    )
    expect(total.rejected + total.identical + total['forged-valid']).toBe(CASES)
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore.object)
    expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(protoBefore.array)
    expect(Object.getOwnPropertyNames(Function.prototype).sort()).toEqual(protoBefore.fn)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    // Every case must be quick; a hang fails by the timeout, a crawl here.
    expect(slowest.ms, slowest.label).toBeLessThan(5_000)
  })

  it('refuses frames that claim more than they hold, before allocating the output', () => {
    // 40 frames of ~6 KiB, each claiming 64 MiB: 2.5 GiB declared, consistent everywhere the header says.
    const orig = originals()[0]!
    const { header, body } = splitRecord(orig.bytes)
    const count = 40
    const frames = new Array<number>(count).fill(Math.floor(body.byteLength / count))
    frames[count - 1] = body.byteLength - frames[0]! * (count - 1)
    const rawLength = count * 64 * MIB
    const forged = {
      ...header, frameSize: 64 * MIB, frames, rawLength, dataType: 'Uint8Array', image: undefined,
    }
    const bytes = (() => {
      const text = JSON.stringify(forged)
      const enc = new TextEncoder().encode(text)
      const out = new Uint8Array(((16 + enc.byteLength + 7) & ~7) + body.byteLength)
      out.set([0x56, 0x58, 0x43, 0x31])
      new DataView(out.buffer).setUint32(4, enc.byteLength, true)
      new DataView(out.buffer).setUint32(8, signer.headerHash(enc), true)
      out.set(enc, 16)
      out.set(body, out.byteLength - body.byteLength)
      return out
    })()
    const before = process.memoryUsage().arrayBuffers
    expect(() => decodeRecord(orig.id, bytes)).toThrow(CorruptEntryError)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * MIB)
  })
})

/** The record says a newer voxcache wrote it: its magic reads VXC2–VXC9, or its header's format is > 1. */
function claimsNewerVersion(bytes: Uint8Array): boolean {
  if (bytes.byteLength >= 4 && /^VXC[2-9]$/.test(String.fromCharCode(...bytes.subarray(0, 4)))) return true
  if (bytes.byteLength < 16) return false
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true)
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length))) as { format?: unknown }
    return Number.isSafeInteger(header.format) && (header.format as number) > 1
  } catch {
    return false
  }
}
