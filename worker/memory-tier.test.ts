// The memory tier's own logic, in Node: the default budget, versions, least recently used order, and
// copies that share nothing with what the tier holds. Its place in the worker (the journal check across
// tabs, trimMemory, visibilitychange) is e2e/memory-tier.spec.ts's.
import { describe, expect, it } from 'vitest'
import type { EntryInfo, Image } from '../src/types.js'
import { defaultMemoryBytes, KEEP_AT_FIRST_READ, MemoryTier, ownCopy } from './memory-tier.js'

const MiB = 2 ** 20
const info = (id: string, rawBytes: number, checksum = 'c1', createdAt = '2026-11-30T00:00:00.000Z') =>
  ({ id, rawBytes, checksum, createdAt }) as EntryInfo

describe('defaultMemoryBytes', () => {
  it('is 1/16 of deviceMemory, between 64 MiB and 1 GiB, 4 GiB assumed when unknown', () => {
    expect(defaultMemoryBytes(0.25)).toBe(64 * MiB)
    expect(defaultMemoryBytes(2)).toBe(128 * MiB)
    expect(defaultMemoryBytes(8)).toBe(512 * MiB)
    expect(defaultMemoryBytes(32)).toBe(1024 * MiB)
    expect(defaultMemoryBytes(undefined)).toBe(256 * MiB)
  })
})

describe('MemoryTier', () => {
  it('serves only the version it holds, and drops another', () => {
    const tier = new MemoryTier(1000)
    tier.keep(info('a', 100), new Uint8Array(100).fill(1))
    expect(tier.serve(info('a', 100, 'c2'))).toBeUndefined()
    expect(tier.bytes).toBe(0)
    tier.keep(info('a', 100), new Uint8Array(100).fill(1))
    expect(tier.serve(info('a', 100, 'c1', '2026-11-30T00:00:00.001Z'))).toBeUndefined()
    tier.keep(info('a', 100), new Uint8Array(100).fill(1))
    expect((tier.serve(info('a', 100)) as Uint8Array)[0]).toBe(1)
    expect(tier.hits).toBe(1)
  })

  it('drops the least recently used first and keeps nothing past a quarter of its budget', () => {
    const tier = new MemoryTier(1000)
    for (const id of ['a', 'b', 'c', 'd']) tier.keep(info(id, 250), new Uint8Array(250))
    tier.serve(info('a', 250)) // a is now the most recently used: b goes next
    tier.keep(info('e', 250), new Uint8Array(250))
    expect(tier.has(info('b', 250))).toBe(false)
    expect(['a', 'c', 'd', 'e'].every((id) => tier.has(info(id, 250)))).toBe(true)
    expect(tier.bytes).toBe(1000)
    tier.keep(info('big', 251), new Uint8Array(251))
    expect(tier.has(info('big', 251))).toBe(false)
    expect(tier.bytes).toBe(1000)
    const off = new MemoryTier(0)
    off.keep(info('z', 0), new ArrayBuffer(0))
    expect(off.entries).toBe(0)
  })

  it('keeps a value past KEEP_AT_FIRST_READ at its second read of the same version, not its first', () => {
    const big = KEEP_AT_FIRST_READ + 1
    const tier = new MemoryTier(64 * MiB)
    tier.keep(info('v', big), new Uint8Array(big))
    expect(tier.has(info('v', big))).toBe(false)
    // A read of another version does not count as the second read of the first.
    tier.keep(info('v', big, 'c2'), new Uint8Array(big))
    expect(tier.has(info('v', big, 'c2'))).toBe(false)
    tier.keep(info('v', big), new Uint8Array(big))
    expect(tier.has(info('v', big))).toBe(false)
    tier.keep(info('v', big), new Uint8Array(big))
    expect(tier.has(info('v', big))).toBe(true)
    expect(tier.bytes).toBe(big)
    // clear() forgets what was read once.
    tier.keep(info('w', big), new Uint8Array(big))
    tier.clear()
    tier.keep(info('w', big), new Uint8Array(big))
    expect(tier.has(info('w', big))).toBe(false)
    // At most KEEP_AT_FIRST_READ, the first read keeps it.
    tier.keep(info('s', KEEP_AT_FIRST_READ), new Uint8Array(KEEP_AT_FIRST_READ))
    expect(tier.has(info('s', KEEP_AT_FIRST_READ))).toBe(true)
  })

  it('keeps a copy and hands out copies: neither the kept value nor a served one shares a buffer', () => {
    const tier = new MemoryTier(10_000)
    const given = new Float32Array([1, 2, 3])
    tier.keep(info('f', 12), given)
    given[0] = 9
    const first = tier.serve(info('f', 12)) as Float32Array
    first[1] = 9
    expect(Array.from(tier.serve(info('f', 12)) as Float32Array)).toEqual([1, 2, 3])
  })

  it('copies an image whole: pixels, geometry and metadata', () => {
    const image = {
      imageType: { dimension: 2, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
      name: 'i',
      origin: [0, 0],
      spacing: [1, 1],
      direction: new Float64Array([1, 0, 0, 1]),
      size: [2, 2],
      metadata: new Map([['k', 'v']]),
      data: new Uint8Array([1, 2, 3, 4]),
    } as unknown as Image
    const copy = ownCopy(image) as Image
    ;(copy.data as Uint8Array)[0] = 9
    ;(copy.origin as number[])[0] = 9
    ;(copy.metadata as Map<string, string>).set('k', 'w')
    expect((image.data as Uint8Array)[0]).toBe(1)
    expect(image.origin[0]).toBe(0)
    expect((image.metadata as Map<string, string>).get('k')).toBe('v')
    expect(copy.direction).toBeInstanceOf(Float64Array)
  })
})
