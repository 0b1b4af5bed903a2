// The expiry a record carries in its header (StoreOptions.expiresAt): written only when set, read back
// as written, and refused when a header holds anything but the text the encoder writes, since the index
// compares expiry times as text.
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildRecord, createSigner, splitRecord } from '../../test/fuzz-cases.js'
import { CorruptEntryError, UnsupportedValueError } from '../errors.js'
import { expiryTime } from '../expiry-time.js'
import { concatParts, decodeRecord, encodeRecord, initCodec } from './index.js'

const ID = 'e'.repeat(64)
const WHEN = '2031-05-06T07:08:09.010Z'

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
})

async function record(expiresAt?: string): Promise<Uint8Array> {
  const enc = await encodeRecord(new Uint8Array(64).fill(9), { operationId: ID, metadata: { step: 'x' }, ...(expiresAt ? { expiresAt } : {}) })
  return concatParts(enc.parts, enc.byteLength)
}

describe('expiresAt in a record header', () => {
  it('round-trips, and is absent from a record that does not expire', async () => {
    const { header, value } = decodeRecord(ID, await record(WHEN))
    expect(header.expiresAt).toBe(WHEN)
    expect(value).toEqual(new Uint8Array(64).fill(9))
    const plain = decodeRecord(ID, await record())
    expect('expiresAt' in plain.header).toBe(false)
    expect(splitRecord(await record()).headerText).not.toContain('expiresAt')
  })

  it('is refused by the encoder unless in the form expiryTime writes', async () => {
    for (const bad of ['2031-05-06', 'tomorrow', '2031-05-06T07:08:09Z', '+010000-01-01T00:00:00.000Z']) {
      await expect(record(bad), bad).rejects.toThrow(UnsupportedValueError)
    }
  })

  it('is refused by the decoder in a re-signed header unless in that form', async () => {
    const signer = await createSigner()
    const bytes = await record(WHEN)
    const forge = (value: unknown) => {
      const { headerText, body, table, prefix } = splitRecord(bytes)
      const h = JSON.parse(headerText) as Record<string, unknown>
      h.expiresAt = value
      return buildRecord(signer, JSON.stringify(h), body, table, prefix)
    }
    // The control: a forged header with another valid time decodes, so the refusals below are the check's.
    expect(decodeRecord(ID, forge('2020-01-01T00:00:00.000Z')).header.expiresAt).toBe('2020-01-01T00:00:00.000Z')
    for (const bad of [12345, null, 'soon', '2031-05-06', '2031-05-06 07:08:09', '2031-02-30T00:00:00.000Z', '+010000-01-01T00:00:00.000Z']) {
      expect(() => decodeRecord(ID, forge(bad)), String(bad)).toThrow(CorruptEntryError)
      expect(() => decodeRecord(ID, forge(bad)), String(bad)).toThrow(/bad expiresAt$/)
    }
  })
})

describe('expiryTime (StoreOptions.expiresAt)', () => {
  it('takes a Date or epoch milliseconds, past times included, as ISO text', () => {
    expect(expiryTime(undefined)).toBeUndefined()
    expect(expiryTime(new Date(WHEN))).toBe(WHEN)
    expect(expiryTime(Date.parse(WHEN))).toBe(WHEN)
    expect(expiryTime(0)).toBe('1970-01-01T00:00:00.000Z')
    expect(expiryTime(Date.parse('9999-12-31T23:59:59.999Z'))).toBe('9999-12-31T23:59:59.999Z')
  })

  it('refuses anything else with UnsupportedValueError', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, new Date('nope'), WHEN, null, {}, Date.parse('9999-12-31T23:59:59.999Z') + 1, -62167219200001]) {
      expect(() => expiryTime(bad), String(bad)).toThrow(UnsupportedValueError)
    }
  })
})
