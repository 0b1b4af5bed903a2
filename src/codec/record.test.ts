import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, UnsupportedValueError } from '../errors.js'
import type { Image } from '../types.js'
import { buildRecord, createSigner, splitRecord } from '../../test/fuzz-cases.js'
import { concatParts, decodeRecord, encodeRecord, initCodec, parseHeader, readBody } from './index.js'

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

async function roundTrip(value: Parameters<typeof encodeRecord>[0], codec: 'none' | 'zstd' = 'none') {
  const enc = await encodeRecord(value, { operationId: ID, codec, metadata: { step: 'test' } })
  const bytes = concatParts(enc.parts, enc.byteLength)
  return { enc, bytes, ...decodeRecord(ID, bytes) }
}

describe('payload records', () => {
  it('round-trips a real brain image bit for bit, with both codecs', async () => {
    const image = brain()
    for (const codec of ['none', 'zstd'] as const) {
      const { value, header, bytes } = await roundTrip(image, codec)
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

  it('round-trips typed arrays, ArrayBuffers and JSON, with null a value of its own', async () => {
    const f = new Float32Array([1.5, -0, Number.NaN, 3e38])
    const back = (await roundTrip(f)).value as Float32Array
    expect(back).toBeInstanceOf(Float32Array)
    expect(new Uint8Array(back.buffer)).toEqual(new Uint8Array(f.buffer))
    const big = (await roundTrip(new BigInt64Array([-(2n ** 63n), 7n]), 'zstd')).value
    expect(big).toEqual(new BigInt64Array([-(2n ** 63n), 7n]))
    const ab = (await roundTrip(new Uint8Array([9, 8, 7]).buffer)).value
    expect(ab).toBeInstanceOf(ArrayBuffer)
    expect(new Uint8Array(ab as ArrayBuffer)).toEqual(new Uint8Array([9, 8, 7]))
    expect((await roundTrip(null)).value).toBeNull()
    expect((await roundTrip({ a: [1, 'é', { b: true }] })).value).toEqual({ a: [1, 'é', { b: true }] })
  })

  it('keeps incompressible data uncompressed', async () => {
    const noise = xorshiftBytes(1 << 16, 255, 2463534242)
    expect((await roundTrip(noise, 'zstd')).header.codec).toBe('none')
  })

  it('compresses across several frames', async () => {
    const data = new Uint16Array(5 * 1024 * 1024)
    for (let i = 0; i < data.length; i++) data[i] = (i >> 7) & 0xfff
    const { header, value, bytes } = await roundTrip(data, 'zstd')
    expect(parseHeader(ID, bytes, bytes.byteLength).frames).toHaveLength(10)
    expect(header.format === 2 && header.frameBytes).toBe(1 << 20)
    expect(value).toBeInstanceOf(Uint16Array)
    expect(Buffer.compare(Buffer.from((value as Uint16Array).buffer), Buffer.from(data.buffer))).toBe(0)
  })

  it('detects every flipped byte, in prefix, header and body', async () => {
    const { bytes } = await roundTrip(brain(), 'zstd')
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

  it('rejects truncation, extension and a record filed under another id', async () => {
    const { bytes } = await roundTrip(new Uint8Array(1000).fill(3))
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
      const { headerText, body, table, prefix } = splitRecord(bytes)
      const edited = edit(headerText)
      expect(edited).not.toBe(headerText)
      return buildRecord(signer, edited, body, table, prefix)
    }
    const editJson = (change: (h: Record<string, unknown>) => void) => (text: string) => {
      const h = JSON.parse(text) as Record<string, unknown>
      change(h)
      return JSON.stringify(h)
    }
    const bytes8 = concatParts((await encodeRecord(new Uint8Array(8).fill(5), { operationId: ID, metadata: { step: 'test' } })).parts)
    const image = {
      imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
      name: 'box', origin: [0, 0, 0], spacing: [1, 1, 1], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size: [2, 3, 4], metadata: new Map<string, unknown>([['modality', 'MR']]), data: new Uint8Array(24).fill(7),
    } as Image
    const imageBytes = concatParts((await encodeRecord(image, { operationId: ID, metadata: { step: 'test' } })).parts)

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
      ['a raw length other than the frames hold', bytes8, editJson((h) => (h.rawLength = 9)),
        /: frame 0: raw range does not follow the frame size$/],
      ['a codec no frame uses', bytes8, editJson((h) => (h.codec = 'zstd')), /: codec zstd differs from the frames$/],
      ['chunks that do not sum to the body', bytes8, editJson((h) => ((h.chunks as { storedLength: number }[])[0]!.storedLength = 9)),
        /: chunks do not sum to the stored length$/],
      ['an image header on a typed array', bytes8, editJson((h) => (h.image = JSON.parse(splitRecord(imageBytes).headerText).image)),
        /: image header on a non-image record$/],
      ['metadata nested deeper than the encoder lets in', bytes8, (t) => t.replace('"metadata":{"step":"test"}', `"metadata":${'['.repeat(257)}${']'.repeat(257)}`),
        /: metadata is not what voxcache stores: metadata nests deeper than 256 levels$/],
    ]
    for (const [lie, bytes, edit, reason] of lies) expect(refusal(resign(bytes, edit), lie).message, lie).toMatch(reason)

    // Keys written into the JSON text itself (an object literal's __proto__ sets a prototype instead).
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const places: [string, Uint8Array, string, string][] = [
        ['the header', bytes8, '{"format":2,', `{"${key}":{"polluted":1},"format":2,`],
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

  it('refuses values it cannot store', async () => {
    await expect(encodeRecord(undefined as never, { operationId: ID })).rejects.toThrow(UnsupportedValueError)
    await expect(encodeRecord({ f: () => 1 } as never, { operationId: ID })).rejects.toThrow(UnsupportedValueError)
    await expect(encodeRecord({ d: new Date() } as never, { operationId: ID })).rejects.toThrow(UnsupportedValueError)
    await expect(encodeRecord([Number.NaN], { operationId: ID })).rejects.toThrow(UnsupportedValueError)
    await expect(encodeRecord(new DataView(new ArrayBuffer(4)) as never, { operationId: ID })).rejects.toThrow(UnsupportedValueError)
    const image = brain()
    await expect(encodeRecord({ ...image, size: [2, 2, 2] } as Image, { operationId: ID })).rejects.toThrow(/components/)
  })

  it('refuses metadata a record could not give back: reserved keys, too deep, not JSON', async () => {
    // Before this check, metadata with a "constructor" key was stored and then every read of the
    // record failed as corrupt; 200,000 levels of nesting overflowed the stack as a RangeError.
    const deep = (n: number) => {
      let v: unknown = 1
      for (let i = 0; i < n; i++) v = [v]
      return v as never
    }
    const bytes = () => new Uint8Array(16)
    for (const metadata of [{ constructor: 'x' }, { a: [{ prototype: 1 }] }, JSON.parse('{"__proto__":{"p":1}}'), deep(200_000), { n: Number.NaN }, { f: () => 1 }]) {
      await expect(encodeRecord(bytes(), { operationId: ID, metadata: metadata as never })).rejects.toThrow(UnsupportedValueError)
    }
    await expect(encodeRecord(deep(200_000), { operationId: ID })).rejects.toThrow(UnsupportedValueError)
    const image = brain()
    image.metadata = new Map([['note', { constructor: 1 }]]) as unknown as Image['metadata']
    await expect(encodeRecord(image, { operationId: ID })).rejects.toThrow(UnsupportedValueError)
    // What is allowed comes back whole, reserved words as values and 256 levels included.
    const metadata = { step: 'constructor', nested: deep(255), keys: ['__proto__'] }
    const enc = await encodeRecord(bytes(), { operationId: ID, metadata })
    expect(decodeRecord(ID, concatParts(enc.parts)).header.metadata).toEqual(metadata)
    await expect(encodeRecord(bytes(), { operationId: ID, metadata: deep(257) })).rejects.toThrow(/256 levels/)
  })

  it('decodes a compressed body frame by frame, with the same checks', async () => {
    const data = new Uint16Array(5 * 1024 * 1024)
    for (let i = 0; i < data.length; i++) data[i] = (i >> 9) & 0x3ff
    const enc = await encodeRecord(data, { operationId: ID, codec: 'zstd' })
    const bytes = concatParts(enc.parts, enc.byteLength)
    const parsed = parseHeader(ID, bytes, bytes.byteLength)
    const reads: number[] = []
    const reader = (source: Uint8Array) => async (_chunk: number, at: number, length: number) => {
      reads.push(length)
      return source.slice(parsed.bodyOffset + at, parsed.bodyOffset + at + length)
    }
    const value = (await readBody(parsed, reader(bytes))) as Uint16Array
    expect(Buffer.compare(Buffer.from(value.buffer), Buffer.from(data.buffer))).toBe(0)
    // 10 MiB from a small body is past the preflight ratio: the body is read once to check every
    // frame header before the output is allocated, then once to decode (each time in one piece).
    const { header } = parsed
    expect(header.rawLength).toBeGreaterThan(8 * header.storedLength)
    expect(reads).toEqual([header.storedLength, header.storedLength])
    // An ordinary ratio: no preflight, and the body comes in 8 MiB pieces, not one read per frame.
    const noisy = xorshiftBytes(20 * 1024 * 1024, 0x0f, 1)
    const enc2 = await encodeRecord(noisy, { operationId: ID, codec: 'zstd' })
    const bytes2 = concatParts(enc2.parts, enc2.byteLength)
    const parsed2 = parseHeader(ID, bytes2, bytes2.byteLength)
    expect(parsed2.header.codec).toBe('zstd')
    expect(parsed2.header.storedLength).toBeGreaterThan(8 * 1024 * 1024)
    reads.length = 0
    const back = (await readBody(parsed2, async (_chunk, at, length) => {
      reads.push(length)
      return bytes2.slice(parsed2.bodyOffset + at, parsed2.bodyOffset + at + length)
    })) as Uint8Array
    expect(Buffer.compare(Buffer.from(back), Buffer.from(noisy))).toBe(0)
    expect(reads.length).toBe(Math.ceil(parsed2.header.storedLength / (8 * 1024 * 1024)))
    for (const at of [parsed.bodyOffset + 3, bytes.byteLength - 2]) {
      const bad = bytes.slice()
      bad[at]! ^= 0x40
      await expect(readBody(parsed, reader(bad))).rejects.toBeInstanceOf(CorruptEntryError)
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
