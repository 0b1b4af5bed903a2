// Sealed records (record format 2 under an AES-GCM key): they open exactly with their key, name their
// key by an id that is not the key, refuse other keys, turn any changed or moved byte into a
// CorruptEntryError, carry nothing of the value in clear, and never reuse an IV.
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, KeyMismatchError, SchemaVersionError, UnsupportedValueError } from '../errors.js'
import type { Image, Value } from '../types.js'
import { Rng } from '../../test/fuzz-cases.js'
import { concatParts, createKeyring, decodeRecord, encodeRecord, initCodec, openRecord, readRegion, type EncodedChunk, type Keyring } from './index.js'
import { ENTRY_BYTES, readEntry, readPrefix2 } from './layout.js'
import { openHeader2 } from './record2.js'
import { ivOf, TAG_BYTES } from './seal.js'

const ID = 'c'.repeat(64)
const MARKER = 'PATIENT^MARKER^7f3a'

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
})

const aesKey = (extractable = false) => crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, extractable, ['encrypt', 'decrypt'])

/** A seeded random image (incompressible), or a smooth one; slices of 64 KiB, so several frames. */
function image(seed: number, smooth = false, size = [128, 256, 40]): Image {
  const data = new Uint16Array(size[0]! * size[1]! * size[2]!)
  const rng = new Rng(seed)
  for (let i = 0; i < data.length; i++) data[i] = smooth ? (i >> 7) & 0xfff : rng.int(65536)
  return {
    imageType: { dimension: 3, componentType: 'uint16', pixelType: 'Scalar', components: 1 },
    name: `${MARKER}.nii.gz`, origin: [1, 2, 3], spacing: [0.5, 0.5, 2],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), size, metadata: new Map([['0010|0010', MARKER]]), data,
  } as Image
}

/** A record with every chunk joined after it, as openRecord takes it. */
async function sealed(value: Value, keyring: Keyring, codec: 'none' | 'zstd' = 'none', chunkBytes?: number, id = ID) {
  const chunks: Uint8Array[] = []
  const enc = await encodeRecord(value, { operationId: id, codec, seal: keyring, chunkBytes, metadata: { note: MARKER } }, async (c: EncodedChunk) => void chunks.push(concatParts(c.parts, c.byteLength)))
  return { bytes: concatParts([concatParts(enc.parts, enc.byteLength), ...chunks]), header: enc.header, chunks }
}

async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (error) {
    return error
  }
  throw new Error('did not throw')
}

describe('sealed records', () => {
  it('name their key by an id from a key-check value: the same for the same key, another for another key', async () => {
    const key = await aesKey()
    const a = await createKeyring(key)
    const b = await createKeyring(key)
    const other = await createKeyring(await aesKey())
    expect(a.keyId).toHaveLength(16)
    expect(Array.from(a.keyId)).toEqual(Array.from(b.keyId))
    expect(Array.from(a.keyId)).not.toEqual(Array.from(other.keyId))
    // The id is not the key: an extractable key's bytes appear nowhere in it.
    const extractable = await aesKey(true)
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', extractable))
    const id = (await createKeyring(extractable)).keyId
    for (let at = 0; at + 4 <= raw.length; at++) expect(Buffer.from(id).includes(Buffer.from(raw.subarray(at, at + 4)))).toBe(false)
  })

  it('refuse a key that is not an AES-GCM key able to encrypt and decrypt', async () => {
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    const encryptOnly = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt'])
    for (const key of [hmac, encryptOnly, 'a passphrase' as unknown as CryptoKey]) {
      expect(await thrown(() => createKeyring(key))).toBeInstanceOf(UnsupportedValueError)
    }
  })

  it('open exactly with their key: JSON, an image in several frames and in several chunks, both codecs; boxes by region', async () => {
    const keyring = await createKeyring(await aesKey())
    const json = { marker: MARKER, list: [1, 2.5, null, 'x'] }
    expect((await openRecord(ID, (await sealed(json, keyring)).bytes, keyring)).value).toEqual(json)
    for (const codec of ['none', 'zstd'] as const) {
      for (const [smooth, chunkBytes] of [[false, undefined], [true, undefined], [false, 700_000]] as const) {
        const value = image(3, smooth)
        const original = (value.data as Uint16Array).slice()
        const record = await sealed(value, keyring, codec, chunkBytes)
        const what = `${codec}, smooth ${smooth}, chunks ${record.header.chunks.length}`
        if (chunkBytes) expect(record.header.chunks.length, what).toBeGreaterThan(2)
        expect(record.header.codec, what).toBe(codec === 'zstd' && smooth ? 'zstd' : 'none')
        const back = (await openRecord(ID, record.bytes, keyring)).value as Image
        expect(Buffer.from((back.data as Uint16Array).buffer).equals(Buffer.from(original.buffer)), what).toBe(true)
        expect(back.metadata.get('0010|0010')).toBe(MARKER)
        // A box across frames (slices 15–17 of 40; 16 slices a frame).
        const head = record.bytes.subarray(0, 64 * 1024)
        const parsed = await openHeader2(ID, head, record.bytes.byteLength, true, keyring)
        const starts = [parsed.bodyOffset]
        for (const c of parsed.header.chunks.slice(0, -1)) starts.push(starts.at(-1)! + c.storedLength)
        const box = await readRegion(parsed, async (chunk, at, length) => record.bytes.subarray(starts[chunk]! + at, starts[chunk]! + at + length), { index: [10, 20, 15], size: [50, 30, 3] })
        const want = new Uint16Array(50 * 30 * 3)
        let k = 0
        for (let z = 15; z < 18; z++) for (let y = 20; y < 50; y++) for (let x = 10; x < 60; x++) want[k++] = original[(z * 256 + y) * 128 + x]!
        expect(Buffer.from((box.data as Uint16Array).buffer).equals(Buffer.from(want.buffer)), what).toBe(true)
      }
    }
  })

  it('refuse another key and no key with KeyMismatchError naming the entry, and the synchronous decoder refuses them as before', async () => {
    const keyring = await createKeyring(await aesKey())
    const { bytes } = await sealed(image(4), keyring)
    const other = await createKeyring(await aesKey())
    for (const ring of [other, undefined]) {
      const error = await thrown(() => openRecord(ID, bytes, ring))
      expect(error).toBeInstanceOf(KeyMismatchError)
      expect((error as KeyMismatchError).entryId).toBe(ID)
    }
    expect(await thrown(async () => decodeRecord(ID, bytes))).toBeInstanceOf(SchemaVersionError)
    // An unsealed record opens with or without a key.
    const clear = await encodeRecord({ a: 1 }, { operationId: ID })
    expect((await openRecord(ID, concatParts(clear.parts, clear.byteLength), keyring)).value).toEqual({ a: 1 })
  })

  it('carry nothing of the value in clear: no marker, no 64-byte window of a random image, in record or chunks', async () => {
    const keyring = await createKeyring(await aesKey())
    const value = image(5)
    const raw = new Uint8Array((value.data as Uint16Array).slice().buffer)
    const { bytes } = await sealed(value, keyring, 'zstd', 700_000)
    const text = Buffer.from(bytes)
    for (const needle of [MARKER, 'PATIENT', '0010|0010', '.nii.gz']) expect(text.includes(needle), needle).toBe(false)
    // Any 64-byte window of the image holds one of its 8-byte blocks at a multiple of 8: look for those.
    const blocks = new Set<bigint>()
    const rv = new DataView(raw.buffer)
    for (let at = 0; at + 8 <= raw.length; at += 8) blocks.add(rv.getBigUint64(at))
    const bv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let hits = 0
    for (let at = 0; at + 8 <= bytes.length; at++) if (blocks.has(bv.getBigUint64(at))) hits++
    expect(hits).toBe(0)
    // The same image unsealed does show them (the check can fail).
    const clear = await encodeRecord(image(5), { operationId: ID, codec: 'none' })
    const cb = concatParts(clear.parts, clear.byteLength)
    const cv = new DataView(cb.buffer, cb.byteOffset, cb.byteLength)
    let clearHits = 0
    for (let at = 0; at + 8 <= cb.length; at++) if (blocks.has(cv.getBigUint64(at))) clearHits++
    expect(clearHits).toBeGreaterThan(1000)
  })

  it('turn a changed byte anywhere, or a frame moved within or between records, into CorruptEntryError', async () => {
    const keyring = await createKeyring(await aesKey())
    const { bytes } = await sealed(image(6), keyring, 'none')
    const p = readPrefix2(bytes)!
    const table = bytes.subarray(p.tableOffset, p.tableOffset + p.frameCount * ENTRY_BYTES)
    const entry = (i: number) => readEntry(table, i)!
    const bodyOffset = p.tableOffset + p.frameCount * ENTRY_BYTES
    const frameAt = (b: Uint8Array, i: number) => b.subarray(bodyOffset + entry(i).storedOffset, bodyOffset + entry(i).storedOffset + entry(i).storedLength)
    const rng = new Rng(11)
    const cases: [string, (b: Uint8Array) => void][] = [
      ['a header byte', (b) => (b[64 + rng.int(p.headerLength)]! ^= 1)],
      ['a table byte', (b) => (b[p.tableOffset + rng.int(p.frameCount * ENTRY_BYTES)]! ^= 0x10)],
      ['a ciphertext byte of frame 1', (b) => (frameAt(b, 1)[rng.int(1000)]! ^= 0x80)],
      ['the tag of the last frame', (b) => {
        const last = frameAt(b, p.frameCount - 1)
        last[last.length - 1]! ^= 1
      }],
      ['frames 0 and 1 swapped (same length)', (b) => {
        const f0 = frameAt(b, 0).slice()
        frameAt(b, 0).set(frameAt(b, 1))
        frameAt(b, 1).set(f0)
      }],
    ]
    expect(entry(0).storedLength).toBe(entry(1).storedLength)
    for (const [what, damage] of cases) {
      const b = bytes.slice()
      damage(b)
      expect(await thrown(() => openRecord(ID, b, keyring)), what).toBeInstanceOf(CorruptEntryError)
    }
    // Frame 0 of another record of the same id, key and value (another nonce base).
    const again = await sealed(image(6), keyring, 'none')
    const b = bytes.slice()
    frameAt(b, 0).set(frameAt(again.bytes, 0))
    const error = await thrown(() => openRecord(ID, b, keyring))
    expect(error).toBeInstanceOf(CorruptEntryError)
    expect((error as Error).message).toMatch(/frame 0 fails its authentication tag/)
    // Each sealed frame is its bytes and a 16-byte tag.
    expect(entry(0).storedLength).toBe(entry(0).rawLength + TAG_BYTES)
  })

  it('never reuse an IV: 10,000 headers and frames of 5,000 records under one key', async () => {
    const keyring = await createKeyring(await aesKey())
    const ivs = new Set<string>()
    for (let r = 0; r < 5000; r++) {
      const enc = await encodeRecord({ r }, { operationId: ID, seal: keyring })
      const nonceBase = readPrefix2(enc.parts[0]!)!.nonceBase
      expect(nonceBase.subarray(0, 8).some((x) => x !== 0)).toBe(true)
      for (const counter of [0, 1]) ivs.add(Buffer.from(ivOf(nonceBase, counter)).toString('hex'))
    }
    expect(ivs.size).toBe(10_000)
    // Within a record, counters give distinct IVs, and none is the key check's all-zero IV.
    const base = new Uint8Array(12).fill(0xab)
    const within = new Set(Array.from({ length: 4096 }, (_, c) => Buffer.from(ivOf(base, c)).toString('hex')))
    expect(within.size).toBe(4096)
  })
})
