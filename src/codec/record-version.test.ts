import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, SchemaVersionError } from '../errors.js'
import { buildRecord, createSigner, splitRecord, type Signer } from '../../test/fuzz-cases.js'
import { encodeRecord1 } from '../../test/format1.js'
import { concatParts, decodeRecord, encodeRecord, headerExtent, initCodec, parseHeader } from './index.js'

const ID = 'd'.repeat(64)
let signer: Signer

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
  signer = await createSigner()
})

const value = () => new Float32Array([1, 2, 3])

async function record2(): Promise<Uint8Array> {
  const enc = await encodeRecord(value(), { operationId: ID, codec: 'none' })
  return concatParts(enc.parts, enc.byteLength)
}
const record1 = () => encodeRecord1(value(), { operationId: ID, codec: 'none' }).bytes

/**
 * The record with its header rewritten by `edit` and signed again, as a newer writer would; with
 * `magic`, under that magic (format 2's prefix hash covers the magic, so it is signed again over it).
 */
function rewritten(bytes: Uint8Array, edit: (header: Record<string, unknown>) => void, magic?: string): Uint8Array {
  const parts = splitRecord(bytes)
  edit(parts.header)
  const out = buildRecord(signer, JSON.stringify(parts.header), parts.body, parts.table, parts.prefix)
  if (magic) {
    out.set(new TextEncoder().encode(magic))
    if (parts.format === 2) new DataView(out.buffer).setUint32(12, signer.prefixHash(out.subarray(0, 64), out.subarray(64, 64 + new DataView(out.buffer).getUint32(8, true))), true)
  }
  return out
}

const thrown = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

describe('record versions: format 2 is written, format 1 still read', () => {
  it('reads a format-1 record as 0.x wrote it, with both codecs', () => {
    for (const codec of ['none', 'zstd'] as const) {
      const data = new Uint16Array(600_000).map((_, i) => (i >> 6) & 0xff)
      const { header, value: got } = decodeRecord(ID, encodeRecord1(data, { operationId: ID, codec }).bytes)
      expect(header.format).toBe(1)
      expect(header.codec).toBe(codec)
      expect(got).toEqual(data)
    }
  })

  it('refuses a newer record, by magic, by header format or by record flags, naming the entry', async () => {
    const newerLayout = new Uint8Array(64)
    newerLayout.set(new TextEncoder().encode('VXC3'))
    new DataView(newerLayout.buffer).setUint32(4, 0xffffffff, true) // a length this version cannot place
    const two = await record2()
    const cases: [string, Uint8Array, RegExp][] = [
      ['an unplaceable VXC3', newerLayout, /newer voxcache \(record magic VXC3\)/],
      ['VXC3 over a format-1 layout of format 3', rewritten(record1(), (h) => (h.format = 3), 'VXC3'), /record magic VXC3/],
      ['VXC3 over a format-2 layout of format 3', rewritten(two, (h) => (h.format = 3), 'VXC3'), /record magic VXC3/],
      ['format 3 in a VXC1 header', rewritten(record1(), (h) => (h.format = 3)), /record format 3/],
      ['a sealed format-2 record', (() => {
        const p = splitRecord(two)
        return buildRecord(signer, p.headerText, p.body, p.table, { ...p.prefix!, flags: 1 })
      })(), /sealed \(encrypted\)/],
      ['format-2 flags this version does not know', (() => {
        const p = splitRecord(two)
        return buildRecord(signer, p.headerText, p.body, p.table, { ...p.prefix!, flags: 4 })
      })(), /record flags 4 from a newer voxcache/],
    ]
    for (const [what, bytes, message] of cases) {
      const error = thrown(() => decodeRecord(ID, bytes))
      expect(error, what).toBeInstanceOf(SchemaVersionError)
      expect((error as SchemaVersionError).entryId, what).toBe(ID)
      expect((error as Error).message, what).toMatch(message)
    }
    expect(thrown(() => headerExtent(ID, newerLayout))).toBeInstanceOf(SchemaVersionError)
  })

  it('takes any one flipped bit of either magic for damage, never for a newer version', async () => {
    for (const [format, bytes] of [[1, record1()], [2, await record2()]] as const) {
      for (let at = 0; at < 4; at++) {
        for (let bit = 0; bit < 8; bit++) {
          const flipped = bytes.slice()
          flipped[at]! ^= 1 << bit
          expect(thrown(() => decodeRecord(ID, flipped)), `format ${format}, byte ${at} bit ${bit}`).toBeInstanceOf(CorruptEntryError)
          // As a record file is read: the first 4 KiB place the header, then it is parsed.
          const fromFile = () => parseHeader(ID, flipped.subarray(0, headerExtent(ID, flipped.subarray(0, 4096))), flipped.byteLength)
          expect(thrown(fromFile), `file, format ${format}, byte ${at} bit ${bit}`).toBeInstanceOf(CorruptEntryError)
        }
      }
    }
  })

  it('takes a header whose format field was flipped for damage (the header hash catches it)', async () => {
    for (const [from, bytes] of [[1, record1()], [2, await record2()]] as const) {
      const at = new TextDecoder().decode(bytes).indexOf(`"format":${from}`) + '"format":'.length
      bytes[at]! ^= 0x02 // 1 becomes 3, 2 becomes 0
      expect(thrown(() => decodeRecord(ID, bytes)), `format ${from}`).toBeInstanceOf(CorruptEntryError)
    }
  })

  it('refuses a format-2 header under a VXC1 magic and the reverse, re-signed, as damage', async () => {
    const one = rewritten(record1(), (h) => (h.format = 2))
    expect((thrown(() => decodeRecord(ID, one)) as Error).message).toMatch(/format 2 under a VXC1 magic/)
    const two = rewritten(await record2(), (h) => (h.format = 1))
    expect((thrown(() => decodeRecord(ID, two)) as Error).message).toMatch(/format 1 under a VXC2 magic/)
  })
})
