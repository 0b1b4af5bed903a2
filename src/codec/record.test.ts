import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, UnsupportedValueError } from '../errors.js'
import type { Image } from '../types.js'
import { buildRecord, createSigner, splitRecord } from '../../test/fuzz-cases.js'
import { concatParts, decodeBodyInFrames, decodeRecord, encodeRecord, initCodec, parseHeader } from './index.js'

const ID = 'c'.repeat(64)

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
})

/** ch2bet: the real brain MRI (NIfTI-1, 348-byte header + 4 bytes extension flag, then uint8 voxels). */
function brain(): Image {
  const file = gunzipSync(readFileSync(new URL('../../../shared/testdata/ch2bet.nii.gz', import.meta.url)))
  const dv = new DataView(file.buffer, file.byteOffset)
  const size = [1, 2, 3].map((i) => dv.getInt16(40 + 2 * i, true))
  const offset = dv.getFloat32(108, true)
  const voxels = size.reduce((a, b) => a * b, 1)
  return {
    imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
    name: 'ch2bet',
    origin: [-90, -126, -72],
    spacing: [1, 1, 1],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    size,
    metadata: new Map<string, unknown>([['modality', 'MR'], ['dims', size]]),
    data: new Uint8Array(file.buffer.slice(file.byteOffset + offset, file.byteOffset + offset + voxels)),
  } as Image
}

function roundTrip(value: Parameters<typeof encodeRecord>[0], codec: 'none' | 'zstd' = 'none') {
  const enc = encodeRecord(value, { operationId: ID, codec, metadata: { step: 'test' } })
  const bytes = concatParts(enc.parts, enc.byteLength)
  return { enc, bytes, ...decodeRecord(ID, bytes) }
}

describe('payload records', () => {
  it('round-trips a real brain image bit for bit, with both codecs', () => {
    const image = brain()
    for (const codec of ['none', 'zstd'] as const) {
      const { value, header, bytes } = roundTrip(image, codec)
      const got = value as Image
      expect(header.codec).toBe(codec)
      expect(got.size).toEqual(image.size)
      expect(got.origin).toEqual(image.origin)
      expect(Array.from(got.direction as Float64Array)).toEqual(Array.from(image.direction as Float64Array))
      expect(got.metadata.get('dims')).toEqual(image.size)
      expect(got.data).toBeInstanceOf(Uint8Array)
      expect(Buffer.compare(Buffer.from(got.data as Uint8Array), Buffer.from(image.data as Uint8Array))).toBe(0)
      if (codec === 'zstd') expect(bytes.byteLength).toBeLessThan((image.data as Uint8Array).byteLength * 0.7)
    }
  })

  it('round-trips typed arrays, ArrayBuffers and JSON, with null a value of its own', () => {
    const f = new Float32Array([1.5, -0, Number.NaN, 3e38])
    const back = roundTrip(f).value as Float32Array
    expect(back).toBeInstanceOf(Float32Array)
    expect(new Uint8Array(back.buffer)).toEqual(new Uint8Array(f.buffer))
    const big = roundTrip(new BigInt64Array([-(2n ** 63n), 7n]), 'zstd').value
    expect(big).toEqual(new BigInt64Array([-(2n ** 63n), 7n]))
    const ab = roundTrip(new Uint8Array([9, 8, 7]).buffer).value
    expect(ab).toBeInstanceOf(ArrayBuffer)
    expect(new Uint8Array(ab as ArrayBuffer)).toEqual(new Uint8Array([9, 8, 7]))
    expect(roundTrip(null).value).toBeNull()
    expect(roundTrip({ a: [1, 'é', { b: true }] }).value).toEqual({ a: [1, 'é', { b: true }] })
  })

  it('keeps incompressible data uncompressed', () => {
    const noise = xorshiftBytes(1 << 16, 255, 2463534242)
    expect(roundTrip(noise, 'zstd').header.codec).toBe('none')
  })

  it('compresses across several frames', () => {
    const data = new Uint16Array(5 * 1024 * 1024)
    for (let i = 0; i < data.length; i++) data[i] = (i >> 7) & 0xfff
    const { header, value } = roundTrip(data, 'zstd')
    expect(header.frames).toHaveLength(10)
    expect(header.frameSize).toBe(1 << 20)
    expect(value).toBeInstanceOf(Uint16Array)
    expect(Buffer.compare(Buffer.from((value as Uint16Array).buffer), Buffer.from(data.buffer))).toBe(0)
  })

  it('detects every flipped byte, in prefix, header and body', () => {
    const { bytes } = roundTrip(brain(), 'zstd')
    const positions = new Set<number>()
    for (let i = 0; i < 600; i++) positions.add(i)
    for (let i = 600; i < bytes.byteLength; i += 997) positions.add(i)
    positions.add(bytes.byteLength - 1)
    for (const at of positions) {
      const bad = bytes.slice()
      bad[at]! ^= 0x10
      expect(() => decodeRecord(ID, bad), `byte ${at}`).toThrow(CorruptEntryError)
    }
  })

  it('rejects truncation, extension and a record filed under another id', () => {
    const { bytes } = roundTrip(new Uint8Array(1000).fill(3))
    expect(() => decodeRecord(ID, bytes.subarray(0, bytes.byteLength - 1))).toThrow(CorruptEntryError)
    expect(() => decodeRecord(ID, concatParts([bytes, new Uint8Array(1)], bytes.byteLength + 1))).toThrow(CorruptEntryError)
    expect(() => decodeRecord('d'.repeat(64), bytes)).toThrow(/belongs to/)
    expect(() => decodeRecord(ID, new Uint8Array(0))).toThrow(CorruptEntryError)
  })

  it('refuses re-signed headers that lie, each at the check made for that lie', async () => {
    // A forger recomputes the header hash, so the hash check passes and the check named by each case is
    // the one that has to refuse the record. A control forgery that says nothing false must decode.
    const signer = await createSigner()
    const resign = (bytes: Uint8Array, edit: (headerText: string) => string) => {
      const { headerText, body } = splitRecord(bytes)
      const edited = edit(headerText)
      expect(edited).not.toBe(headerText)
      return buildRecord(signer, edited, body)
    }
    const editJson = (change: (h: Record<string, unknown>) => void) => (text: string) => {
      const h = JSON.parse(text) as Record<string, unknown>
      change(h)
      return JSON.stringify(h)
    }
    const bytes8 = concatParts(encodeRecord(new Uint8Array(8).fill(5), { operationId: ID, metadata: { step: 'test' } }).parts)
    const image = {
      imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
      name: 'box', origin: [0, 0, 0], spacing: [1, 1, 1], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size: [2, 3, 4], metadata: new Map<string, unknown>([['modality', 'MR']]), data: new Uint8Array(24).fill(7),
    } as Image
    const imageBytes = concatParts(encodeRecord(image, { operationId: ID, metadata: { step: 'test' } }).parts)

    const control = decodeRecord(ID, resign(bytes8, (t) => t.replace('"step":"test"', '"step":"forged"')))
    expect(control.header.metadata).toEqual({ step: 'forged' })
    expect(control.value).toEqual(new Uint8Array(8).fill(5))
    expect((decodeRecord(ID, resign(imageBytes, (t) => t.replace('"name":"box"', '"name":"b"'))).value as Image).name).toBe('b')

    const refusal = (bytes: Uint8Array, label: string): CorruptEntryError => {
      try {
        decodeRecord(ID, bytes)
      } catch (error) {
        expect(error, label).toBeInstanceOf(CorruptEntryError)
        return error as CorruptEntryError
      }
      throw new Error(`${label}: the forged record was accepted`)
    }
    const lies: [string, Uint8Array, (text: string) => string, RegExp][] = [
      ['an image size the body does not hold', imageBytes, editJson((h) => ((h.image as { size: number[] }).size = [2, 3, 5])),
        /: image size says 30 bytes, record holds 24$/],
      ['a raw length other than the stored length (codec none)', bytes8, editJson((h) => (h.rawLength = 9)),
        /: uncompressed body length differs from raw length$/],
      ['an image header on a typed array', bytes8, editJson((h) => (h.image = JSON.parse(splitRecord(imageBytes).headerText).image)),
        /: image header on a non-image record$/],
      ['metadata nested deeper than the encoder lets in', bytes8, (t) => t.replace('"metadata":{"step":"test"}', `"metadata":${'['.repeat(257)}${']'.repeat(257)}`),
        /: metadata is not what voxcache stores: metadata nests deeper than 256 levels$/],
    ]
    for (const [lie, bytes, edit, reason] of lies) expect(refusal(resign(bytes, edit), lie).message, lie).toMatch(reason)

    // Keys written into the JSON text itself (an object literal's __proto__ sets a prototype instead).
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const places: [string, Uint8Array, string, string][] = [
        ['the header', bytes8, '{"format":1,', `{"${key}":{"polluted":1},"format":1,`],
        ['metadata', bytes8, '"metadata":{', `"metadata":{"${key}":1,`],
        ['an object in a metadata array', bytes8, '"metadata":{', `"metadata":{"a":[{"${key}":{"x":1}}],`],
        ['the image header', imageBytes, '"image":{', `"image":{"${key}":{},`],
        ['the image type', imageBytes, '"imageType":{', `"imageType":{"${key}":"uint8",`],
        ['an image metadata value', imageBytes, '["modality","MR"]', `["modality",{"${key}":"MR"}]`],
      ]
      for (const [place, bytes, from, to] of places) {
        const label = `${key} in ${place}`
        const forged = resign(bytes, (t) => {
          expect(t, label).toContain(from)
          return t.replace(from, to)
        })
        expect(new TextDecoder().decode(forged), label).toContain(`"${key}":`)
        const error = refusal(forged, label)
        expect(error.message, label).toMatch(/: header is not valid JSON$/)
        expect((error.cause as Error).message, label).toBe(`forbidden key ${key}`)
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('refuses values it cannot store', () => {
    expect(() => encodeRecord(undefined as never, { operationId: ID })).toThrow(UnsupportedValueError)
    expect(() => encodeRecord({ f: () => 1 } as never, { operationId: ID })).toThrow(UnsupportedValueError)
    expect(() => encodeRecord({ d: new Date() } as never, { operationId: ID })).toThrow(UnsupportedValueError)
    expect(() => encodeRecord([Number.NaN], { operationId: ID })).toThrow(UnsupportedValueError)
    expect(() => encodeRecord(new DataView(new ArrayBuffer(4)) as never, { operationId: ID })).toThrow(UnsupportedValueError)
    const image = brain()
    expect(() => encodeRecord({ ...image, size: [2, 2, 2] } as Image, { operationId: ID })).toThrow(/components/)
  })

  it('refuses metadata a record could not give back: reserved keys, too deep, not JSON', () => {
    // Before this check, metadata with a "constructor" key was stored and then every read of the
    // record failed as corrupt; 200,000 levels of nesting overflowed the stack as a RangeError.
    const deep = (n: number) => {
      let v: unknown = 1
      for (let i = 0; i < n; i++) v = [v]
      return v as never
    }
    const bytes = () => new Uint8Array(16)
    for (const metadata of [{ constructor: 'x' }, { a: [{ prototype: 1 }] }, JSON.parse('{"__proto__":{"p":1}}'), deep(200_000), { n: Number.NaN }, { f: () => 1 }]) {
      expect(() => encodeRecord(bytes(), { operationId: ID, metadata: metadata as never })).toThrow(UnsupportedValueError)
    }
    expect(() => encodeRecord(deep(200_000), { operationId: ID })).toThrow(UnsupportedValueError)
    const image = brain()
    image.metadata = new Map([['note', { constructor: 1 }]]) as unknown as Image['metadata']
    expect(() => encodeRecord(image, { operationId: ID })).toThrow(UnsupportedValueError)
    // What is allowed comes back whole, reserved words as values and 256 levels included.
    const metadata = { step: 'constructor', nested: deep(255), keys: ['__proto__'] }
    const enc = encodeRecord(bytes(), { operationId: ID, metadata })
    expect(decodeRecord(ID, concatParts(enc.parts)).header.metadata).toEqual(metadata)
    expect(() => encodeRecord(bytes(), { operationId: ID, metadata: deep(257) })).toThrow(/256 levels/)
  })

  it('decodes a compressed body frame by frame, with the same checks', async () => {
    const data = new Uint16Array(5 * 1024 * 1024)
    for (let i = 0; i < data.length; i++) data[i] = (i >> 9) & 0x3ff
    const enc = encodeRecord(data, { operationId: ID, codec: 'zstd' })
    const bytes = concatParts(enc.parts, enc.byteLength)
    const { header, bodyOffset } = parseHeader(ID, bytes, bytes.byteLength)
    const reads: number[] = []
    const reader = (source: Uint8Array) => async (at: number, length: number) => {
      reads.push(length)
      return source.slice(bodyOffset + at, bodyOffset + at + length)
    }
    const value = (await decodeBodyInFrames(header, reader(bytes))) as Uint16Array
    expect(Buffer.compare(Buffer.from(value.buffer), Buffer.from(data.buffer))).toBe(0)
    // 10 MiB from a 24 kB body is past the preflight ratio: the body is read once to check every
    // frame header before the output is allocated, then once to decode (each time in one piece).
    expect(header.rawLength).toBeGreaterThan(8 * header.storedLength)
    expect(reads).toEqual([header.storedLength, header.storedLength])
    // An ordinary ratio: no preflight, and the body comes in 8 MiB pieces, not one read per frame.
    const noisy = xorshiftBytes(20 * 1024 * 1024, 0x0f, 1)
    const enc2 = encodeRecord(noisy, { operationId: ID, codec: 'zstd' })
    const bytes2 = concatParts(enc2.parts, enc2.byteLength)
    const parsed2 = parseHeader(ID, bytes2, bytes2.byteLength)
    expect(parsed2.header.codec).toBe('zstd')
    expect(parsed2.header.storedLength).toBeGreaterThan(8 * 1024 * 1024)
    reads.length = 0
    const back = (await decodeBodyInFrames(parsed2.header, async (at, length) => {
      reads.push(length)
      return bytes2.slice(parsed2.bodyOffset + at, parsed2.bodyOffset + at + length)
    })) as Uint8Array
    expect(Buffer.compare(Buffer.from(back), Buffer.from(noisy))).toBe(0)
    expect(reads.length).toBe(Math.ceil(parsed2.header.storedLength / (8 * 1024 * 1024)))
    for (const at of [bodyOffset + 3, bytes.byteLength - 2]) {
      const bad = bytes.slice()
      bad[at]! ^= 0x40
      await expect(decodeBodyInFrames(header, reader(bad))).rejects.toBeInstanceOf(CorruptEntryError)
    }
  })
})

/** Pseudo-random bytes (xorshift32), masked: 255 gives noise, 0x0f about half as much entropy. */
function xorshiftBytes(length: number, mask: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & mask
  }
  return out
}
