// The demo pipeline: four memoized steps chained through `ref(parentId)`, so a parameter change
// recomputes exactly the steps downstream of it and every other step is read back from the cache.
//
//   source ─▶ smooth(sigma) ─▶ mask(threshold) ─▶ components(minVoxels)
//                        └───▶ downsample(factor)
import * as Comlink from 'comlink'
import { ref, type Image, type VoxCache } from 'voxcache'
import type { PipelineApi } from './pipeline.worker.js'
import { formatMs } from './format.js'
import { imageLike, toVolume, type Volume } from './volume.js'
import type { Progress, Size3 } from './volume-math.js'

export type StepKey = 'smooth' | 'mask' | 'components' | 'downsample'
export type Parent = 'source' | StepKey

interface Param {
  name: string
  label: string
  min: number
  max: number
  step: number
  unit: string
}

interface StepDef {
  key: StepKey
  title: string
  op: string
  parent: Parent
  param: Param
  compute: (input: Volume, value: number, progress: Progress) => Promise<Image>
}

let worker: Comlink.Remote<PipelineApi> | undefined
function math(): Comlink.Remote<PipelineApi> {
  worker ??= Comlink.wrap<PipelineApi>(new Worker(new URL('./pipeline.worker.ts', import.meta.url), { type: 'module', name: 'voxcache-demo-pipeline' }))
  return worker
}

// Op names carry a version: changing what a step computes must change its ids.
export const STEPS: readonly StepDef[] = [
  {
    key: 'smooth', title: 'Gaussian smoothing', op: 'voxcache-demo/gaussian-smooth@1', parent: 'source',
    param: { name: 'sigmaMm', label: 'Sigma', min: 0, max: 4, step: 0.5, unit: 'mm' },
    compute: async (v, sigma, p) => imageLike(v, await math().smooth(v.data, v.size, v.spacing, sigma, Comlink.proxy(p)), 'smoothed'),
  },
  {
    key: 'mask', title: 'Threshold', op: 'voxcache-demo/threshold@1', parent: 'smooth',
    param: { name: 'low', label: 'Lower bound', min: -4096, max: 65535, step: 1, unit: '' },
    compute: async (v, low, p) => imageLike(v, await math().threshold(v.data, low, Comlink.proxy(p)), 'mask'),
  },
  {
    key: 'components', title: 'Components', op: 'voxcache-demo/connected-components@1', parent: 'mask',
    param: { name: 'minVoxels', label: 'Min size', min: 1, max: 1_000_000, step: 1, unit: 'voxels' },
    compute: async (v, min, p) => imageLike(v, await math().components(v.data, v.size, min, 255, Comlink.proxy(p)), 'components'),
  },
  {
    key: 'downsample', title: 'Downsample', op: 'voxcache-demo/downsample-mean@1', parent: 'smooth',
    param: { name: 'factor', label: 'Factor', min: 2, max: 8, step: 1, unit: '×' },
    compute: async (v, factor, p) => {
      const out = await math().downsample(v.data, v.size, factor, Comlink.proxy(p))
      // Block centres: the first output voxel sits (factor − 1) / 2 input voxels in.
      const spacing = v.spacing.map((s) => s * factor) as Size3
      const shift = v.spacing.map((s) => (s * (factor - 1)) / 2)
      const origin = [0, 1, 2].map((r) => v.origin[r]! + [0, 1, 2].reduce((a, j) => a + v.direction[r * 3 + j]! * shift[j]!, 0)) as Size3
      return imageLike(v, out.data, 'downsampled', { size: out.size, spacing, origin })
    },
  },
]

export interface StepResult {
  id: string
  volume: Volume
  from: 'computed' | 'cache'
  ms: number
}

export interface Source {
  id: string
  volume: Volume
  label: string
  kind: 'sample' | 'phantom' | 'files' | 'cache'
}

/** Defaults that depend on the image (the threshold sits at a third of the 99th percentile). */
export function defaultParams(source: Volume): Record<StepKey, number> {
  return { smooth: 1, mask: Math.round(source.range.p1 + (source.range.p99 - source.range.p1) / 3), components: 500, downsample: 2 }
}

/**
 * Owns the step rows in the page and runs the chain. A run that starts while another is in flight
 * waits for it and then runs with the latest parameters (runs never interleave).
 */
export class Pipeline {
  readonly results = new Map<StepKey, StepResult>()
  params: Record<StepKey, number> = { smooth: 1, mask: 0, components: 500, downsample: 2 }
  source: Source | undefined
  #rows = new Map<StepKey, { root: HTMLElement; input: HTMLInputElement; status: HTMLElement; bar: HTMLProgressElement }>()
  #running: Promise<void> = Promise.resolve()
  #pending = 0

  constructor(
    private readonly cache: VoxCache,
    private readonly host: HTMLElement,
    private readonly onResult: (key: StepKey, result: StepResult) => void,
    private readonly onError: (message: string) => void,
  ) {
    for (const step of STEPS) this.#rows.set(step.key, this.#row(step))
  }

  #row(step: StepDef): { root: HTMLElement; input: HTMLInputElement; status: HTMLElement; bar: HTMLProgressElement } {
    const root = document.createElement('li')
    root.className = 'step'
    root.dataset.step = step.key
    root.dataset.state = 'idle'
    const id = `param-${step.key}`
    const parent = { source: 'image', smooth: 'smoothed', mask: 'mask', components: 'labels', downsample: 'downsampled' }[step.parent]
    root.innerHTML = `
      <div class="step-head"><span class="step-title"></span><span class="step-from"></span></div>
      <label class="step-param" for="${id}"><span></span>
        <input id="${id}" type="number" inputmode="decimal" /><span class="unit"></span></label>
      <progress max="1" value="0" aria-label="${step.title} progress"></progress>
      <output class="step-status" aria-live="polite">not run</output>`
    root.querySelector('.step-title')!.textContent = step.title
    root.querySelector('.step-from')!.textContent = `← ${parent}`
    root.querySelector('.step-param > span')!.textContent = step.param.label
    root.querySelector('.unit')!.textContent = step.param.unit
    const input = root.querySelector('input')!
    Object.assign(input, { min: String(step.param.min), max: String(step.param.max), step: String(step.param.step) })
    input.addEventListener('change', () => {
      const value = Number(input.value)
      if (!Number.isFinite(value) || !input.checkValidity()) {
        input.value = String(this.params[step.key])
        this.onError(`${step.param.label} must be a number between ${step.param.min} and ${step.param.max}.`)
        return
      }
      this.params[step.key] = value // the page re-runs the pipeline on this change event
    })
    this.host.append(root)
    return { root, input, status: root.querySelector('output')!, bar: root.querySelector('progress')! }
  }

  /** A new image: fresh defaults, cleared rows. The previous image's results stay in the cache. */
  setSource(source: Source): void {
    this.source = source
    this.results.clear()
    this.params = defaultParams(source.volume)
    for (const step of STEPS) {
      const row = this.#rows.get(step.key)!
      row.input.value = String(this.params[step.key])
      row.root.dataset.state = 'idle'
      row.status.textContent = 'not run'
      row.bar.value = 0
    }
  }

  /** Parameters from elsewhere (a restored session); values outside a step's range are ignored. */
  setParams(params: Partial<Record<StepKey, number>>): void {
    for (const step of STEPS) {
      const value = params[step.key]
      if (typeof value !== 'number' || !(value >= step.param.min && value <= step.param.max)) continue
      this.params[step.key] = value
      this.#rows.get(step.key)!.input.value = String(value)
    }
  }

  /** Runs every step in order; resolves when the latest parameters have been applied. */
  run(): Promise<void> {
    this.#pending++
    this.#running = this.#running.then(async () => {
      if (--this.#pending > 0) return // a newer run is queued behind this one
      try {
        await this.#runOnce()
      } catch (error) {
        this.onError(`The pipeline stopped: ${error instanceof Error ? error.message : String(error)}`)
      }
    })
    return this.#running
  }

  async #runOnce(): Promise<void> {
    const source = this.source
    if (!source) return
    const done = new Map<Parent, { id: string; volume: Volume }>([['source', source]])
    for (const step of STEPS) {
      const row = this.#rows.get(step.key)!
      const parent = done.get(step.parent)!
      // Read once: the id and the computation must agree even if the input changes meanwhile.
      const value = this.params[step.key]
      const args = { input: ref(parent.id), [step.param.name]: value }
      row.root.dataset.state = 'running'
      row.status.textContent = 'looking up…'
      row.bar.value = 0
      // Compute time travels with the entry, so a later hit can say what it saved.
      const metadata = { op: step.op, step: step.key, title: step.title, params: { [step.param.name]: value }, source: source.label, computeMs: 0 }
      const started = performance.now()
      const { id, value: image, hit, info } = await this.cache.memoizeEntry(step.op, args, async () => {
        row.status.textContent = 'computing…'
        const out = await step.compute(parent.volume, value, (f) => (row.bar.value = f))
        metadata.computeMs = Math.round(performance.now() - started)
        return out
      }, { metadata })
      const ms = performance.now() - started
      if (source !== this.source) return // a new image was opened meanwhile
      const result: StepResult = { id, volume: toVolume(image as Image), from: hit ? 'cache' : 'computed', ms }
      this.results.set(step.key, result)
      done.set(step.key, result)
      row.bar.value = 1
      row.root.dataset.state = result.from
      row.root.dataset.id = id
      if (!hit) {
        row.status.textContent = `computed in ${formatMs(ms)}`
        row.status.title = ''
      } else {
        const was = (info?.metadata as { computeMs?: unknown } | null)?.computeMs
        const saved = typeof was === 'number' && was > 0 ? ` (was ${formatMs(was)})` : ''
        row.status.textContent = `from cache in ${formatMs(ms)}${saved}`
        row.status.title = saved ? `Computing this step took ${formatMs(was as number)} when it ran` : ''
      }
      this.onResult(step.key, result)
    }
  }
}
