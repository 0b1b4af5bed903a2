// The demo's compute worker: the pipeline arithmetic runs here so the page never freezes.
// Buffers come in and go out by transfer; progress goes back through a Comlink-proxied callback.
import * as Comlink from 'comlink'
import { connectedComponents, downsampleMean, gaussianSmooth, thresholdMask, type Progress, type Scalars, type Size3 } from './volume-math.js'

const api = {
  smooth(data: Scalars, size: Size3, spacing: Size3, sigmaMm: number, progress: Progress): Float32Array {
    const out = gaussianSmooth(data, size, spacing, sigmaMm, progress)
    return Comlink.transfer(out, [out.buffer])
  },
  threshold(data: Scalars, low: number, progress: Progress): Uint8Array {
    const out = thresholdMask(data, low)
    progress(1)
    return Comlink.transfer(out, [out.buffer])
  },
  components(mask: Scalars, size: Size3, minVoxels: number, keep: number, progress: Progress): Uint8Array {
    const out = connectedComponents(mask, size, minVoxels, keep, progress)
    return Comlink.transfer(out, [out.buffer])
  },
  downsample(data: Scalars, size: Size3, factor: number, progress: Progress): { data: Float32Array; size: Size3 } {
    const out = downsampleMean(data, size, factor, progress)
    return Comlink.transfer(out, [out.data.buffer])
  },
}

export type PipelineApi = typeof api

Comlink.expose(api)
