import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, SchemaVersionError } from '../errors.js'
import { headerHash } from './checksum.js'
import { concatParts, decodeRecord, encodeRecord, headerExtent, initCodec } from './index.js'

const ID = 'd'.repeat(64)

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
})

function record(): Uint8Array {
  const enc = encodeRecord(new Float32Array([1, 2, 3]), { operationId: ID, codec: 'none' })
  return concatParts(enc.parts, enc.byteLength)
}

/** The record with its header rewritten by `edit` and hashed again, as a newer writer would. */
function rewritten(edit: (header: Record<string, unknown>) => void, magic = 'VXC1'): Uint8Array {
  const bytes = record()
  const dv = new DataView(bytes.buffer)
  const length = dv.getUint32(4, true)
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length))) as Record<string, unknown>
  edit(header)
  const json = new TextEncoder().encode(JSON.stringify(header))
  const head = new Uint8Array((16 + json.byteLength + 7) & ~7)
  head.set(new TextEncoder().encode(magic))
  const hdv = new DataView(head.buffer)
  hdv.setUint32(4, json.byteLength, true)
  hdv.setUint32(8, headerHash(json), true)
  head.set(json, 16)
  return concatParts([head, bytes.subarray((16 + length + 7) & ~7)])
}

const thrown = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

describe('record versions (format 1 is the only one there has been)', () => {
  it('refuses a newer record, by magic or by header format, naming the entry', () => {
    const newerLayout = new Uint8Array(64)
    newerLayout.set(new TextEncoder().encode('VXC2'))
    new DataView(newerLayout.buffer).setUint32(4, 0xffffffff, true) // a length this version cannot place
    for (const bytes of [newerLayout, rewritten((h) => (h.format = 2), 'VXC2'), rewritten((h) => (h.format = 2))]) {
      const error = thrown(() => decodeRecord(ID, bytes))
      expect(error).toBeInstanceOf(SchemaVersionError)
      expect((error as SchemaVersionError).entryId).toBe(ID)
      expect((error as Error).message).toMatch(/newer voxcache/)
    }
    expect(thrown(() => headerExtent(ID, newerLayout))).toBeInstanceOf(SchemaVersionError)
  })

  it('takes any one flipped bit of the magic for damage, never for a newer version', () => {
    const bytes = record()
    for (let at = 0; at < 4; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = bytes.slice()
        flipped[at]! ^= 1 << bit
        expect(thrown(() => decodeRecord(ID, flipped)), `byte ${at} bit ${bit}`).toBeInstanceOf(CorruptEntryError)
      }
    }
  })

  it('takes a header whose format field was flipped for damage (the header hash catches it)', () => {
    const bytes = record()
    const at = new TextDecoder().decode(bytes).indexOf('"format":1') + '"format":'.length
    bytes[at]! ^= 0x02 // 1 becomes 3
    expect(thrown(() => decodeRecord(ID, bytes))).toBeInstanceOf(CorruptEntryError)
  })
})
