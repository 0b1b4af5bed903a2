import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import vectors from '../test-vectors/operation-ids.json'
import { InvalidKeyError } from './errors.js'
import { canonicalOperation, contentRef, operationId, ref } from './operation-id.js'

describe('operationId', () => {
  for (const v of vectors) {
    it(`matches the vector: ${v.name}`, async () => {
      const args: unknown = JSON.parse(v.argsJson)
      expect(canonicalOperation(v.op, args)).toBe(v.canonical)
      expect(await operationId(v.op, args)).toBe(v.id)
    })
  }

  it('does not depend on key order', async () => {
    const a = await operationId('smooth', { sigma: 1, input: { ref: 'b'.repeat(64) } })
    const b = await operationId('smooth', { input: { ref: 'b'.repeat(64) }, sigma: 1 })
    expect(a).toBe(b)
  })

  it('tells different arguments apart', async () => {
    expect(await operationId('smooth', { sigma: 1 })).not.toBe(await operationId('smooth', { sigma: 1.5 }))
    expect(await operationId('smooth', [1])).not.toBe(await operationId('smooth', ['1']))
    expect(await operationId('a', null)).not.toBe(await operationId('b', null))
  })

  it.each([
    ['undefined', { a: undefined }],
    ['a function', { f: () => 1 }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['a typed array', { data: new Uint8Array(3) }],
    ['a Date', { when: new Date(0) }],
    ['a Map', { m: new Map() }],
    ['a bigint', { big: 1n }],
    ['a symbol', { s: Symbol('x') }],
    ['a sparse array', [1, , 3]],
    ['a lone surrogate', { s: '\ud800' }],
    ['a malformed ref', { input: { ref: 'not-a-hash' } }],
    ['a malformed sha256', { file: { sha256: 'A'.repeat(64) } }],
  ])('rejects %s with InvalidKeyError', async (_name, args) => {
    await expect(operationId('op', args)).rejects.toBeInstanceOf(InvalidKeyError)
  })

  it('rejects circular arguments and empty ops', async () => {
    const loop: Record<string, unknown> = {}
    loop.self = loop
    await expect(operationId('op', loop)).rejects.toBeInstanceOf(InvalidKeyError)
    await expect(operationId('', {})).rejects.toBeInstanceOf(InvalidKeyError)
  })

  it('hashes input content, not names', async () => {
    const bytes = new TextEncoder().encode('voxels')
    const expected = createHash('sha256').update(bytes).digest('hex')
    expect(await contentRef(bytes)).toEqual({ sha256: expected })
    expect(await contentRef(new Blob([bytes]))).toEqual({ sha256: expected })
    expect(ref(expected)).toEqual({ ref: expected })
    expect(() => ref('xyz')).toThrow(InvalidKeyError)
  })
})
