import { describe, expect, it } from 'vitest'
import { connectedComponents, downsampleMean, gaussianSmooth, intensityStats, thresholdMask, type Size3 } from './volume-math.js'

const size: Size3 = [8, 6, 5]
const at = (x: number, y: number, z: number): number => x + size[0] * (y + size[1] * z)

describe('demo pipeline arithmetic', () => {
  it('smoothing keeps the total of an impulse away from the edges and spreads it symmetrically', () => {
    const data = new Float32Array(8 * 6 * 5)
    data[at(4, 3, 2)] = 1000
    const out = gaussianSmooth(data, size, [1, 1, 1], 0.5)
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(1000, 0)
    expect(out[at(4, 3, 2)]).toBeLessThan(1000)
    expect(out[at(3, 3, 2)]).toBeCloseTo(out[at(5, 3, 2)]!, 4)
    expect(out[at(4, 2, 2)]).toBeCloseTo(out[at(4, 4, 2)]!, 4)
  })

  it('sigma 0 returns the input unchanged', () => {
    const data = Float32Array.from({ length: 240 }, (_, i) => i % 7)
    expect([...gaussianSmooth(data, size, [1, 1, 1], 0)]).toEqual([...data])
  })

  it('thresholds inclusively', () => {
    expect([...thresholdMask([1, 2, 3, 4], 2, 3)]).toEqual([0, 1, 1, 0])
  })

  it('labels 6-connected components by decreasing size and drops small ones', () => {
    const mask = new Uint8Array(8 * 6 * 5)
    for (let x = 0; x < 3; x++) mask[at(x, 0, 0)] = 1 // 3 voxels
    for (let x = 0; x < 5; x++) mask[at(x, 4, 4)] = 1 // 5 voxels
    mask[at(7, 5, 2)] = 1 // 1 voxel
    mask[at(6, 4, 2)] = 1 // diagonal to the previous one: not 6-connected
    const labels = connectedComponents(mask, size, 1)
    expect(labels[at(0, 4, 4)]).toBe(1)
    expect(labels[at(2, 0, 0)]).toBe(2)
    expect(new Set([labels[at(7, 5, 2)], labels[at(6, 4, 2)]])).toEqual(new Set([3, 4]))
    const big = connectedComponents(mask, size, 2)
    expect(big[at(7, 5, 2)]).toBe(0)
    expect(big[at(0, 0, 0)]).toBe(2)
  })

  it('downsamples by block means, partial blocks included', () => {
    const data = Float32Array.from({ length: 8 * 6 * 5 }, (_, i) => i)
    const out = downsampleMean(data, size, 2)
    expect(out.size).toEqual([4, 3, 3])
    const block = [at(0, 0, 0), at(1, 0, 0), at(0, 1, 0), at(1, 1, 0), at(0, 0, 1), at(1, 0, 1), at(0, 1, 1), at(1, 1, 1)]
    expect(out.data[0]).toBeCloseTo(block.reduce((a, i) => a + i, 0) / 8, 4)
    const last = at(7, 5, 4) // the z = 4 slab is a partial block of one slice
    expect(out.data[out.data.length - 1]).toBeCloseTo((last + last - 1 + last - 8 + last - 9) / 4, 4)
  })

  it('finds range and percentiles', () => {
    const s = intensityStats(Float32Array.from({ length: 1000 }, (_, i) => i))
    expect(s.min).toBe(0)
    expect(s.max).toBe(999)
    expect(s.p1).toBeGreaterThanOrEqual(8)
    expect(s.p99).toBeLessThanOrEqual(991)
  })

  it('leaves a dominant background out of the percentiles', () => {
    const data = new Float32Array(1000) // 600 zeros, then 100…499
    for (let i = 600; i < 1000; i++) data[i] = i - 500
    const s = intensityStats(data)
    expect(s.min).toBe(0)
    expect(s.p1).toBeGreaterThanOrEqual(100)
    expect(s.p99).toBeGreaterThan(480)
  })
})
