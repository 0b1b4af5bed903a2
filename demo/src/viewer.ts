// The three views and their controls: slice sliders, window/level (inputs, presets, drag), layers,
// overlay opacity and the readout of the voxel under the pointer.
import { formatValue } from './format.js'
import { SliceView } from './slices.js'
import { indexToWorld, type ViewName, type Volume } from './volume.js'
import type { Size3 } from './volume-math.js'

export type LayerName = 'original' | 'smoothed' | 'downsampled' | 'mask' | 'components'
const VIEWS: ViewName[] = ['axial', 'coronal', 'sagittal']

// [width, level]; `auto` and `full` come from the image's own histogram.
const PRESETS: Record<string, [number, number] | undefined> = {
  auto: undefined, full: undefined, 'ct-brain': [80, 40], 'ct-soft': [400, 40], 'ct-bone': [1800, 400],
}

const $ = <T extends HTMLElement>(selector: string): T => document.querySelector<T>(selector)!

export class Viewer {
  readonly layers = new Map<LayerName, Volume>()
  cursor: Size3 = [0, 0, 0]
  window = { width: 1, level: 0 }
  #views = new Map<ViewName, SliceView>()
  #base = $<HTMLSelectElement>('#base-layer')
  #overlay = $<HTMLSelectElement>('#overlay-layer')
  #opacity = $<HTMLInputElement>('#overlay-opacity')
  #width = $<HTMLInputElement>('#window-width')
  #level = $<HTMLInputElement>('#window-level')
  #preset = $<HTMLSelectElement>('#window-preset')
  #readout = $<HTMLElement>('#readout')
  #frame = 0
  #shown: Volume | undefined

  constructor() {
    for (const view of VIEWS) {
      const canvas = $<HTMLCanvasElement>(`#view-${view}`)
      const slice = new SliceView(view, canvas)
      this.#views.set(view, slice)
      this.#wirePointer(slice)
      $<HTMLInputElement>(`#slider-${view}`).addEventListener('input', (e) => {
        const a = slice.axes
        if (!a) return
        this.cursor[a.slice] = Number((e.target as HTMLInputElement).value)
        this.update()
      })
    }
    this.#base.addEventListener('change', () => this.#switchBase())
    this.#overlay.addEventListener('change', () => this.update())
    this.#opacity.addEventListener('input', () => this.update())
    this.#preset.addEventListener('change', () => this.applyPreset(this.#preset.value))
    for (const input of [this.#width, this.#level]) {
      input.addEventListener('change', () => {
        const width = Number(this.#width.value)
        const level = Number(this.#level.value)
        if (Number.isFinite(width) && width > 0 && Number.isFinite(level)) this.window = { width, level }
        this.#preset.value = 'custom'
        this.update()
      })
    }
  }

  get base(): Volume | undefined {
    return this.layers.get(this.#base.value as LayerName) ?? this.layers.get('original')
  }

  /** A new image: every derived layer goes, the cursor centres, the window fits the histogram. */
  open(volume: Volume): void {
    this.layers.clear()
    this.layers.set('original', volume)
    this.#base.value = 'original'
    this.#overlay.value = 'none'
    this.cursor = volume.size.map((n) => Math.floor(n / 2)) as Size3
    this.applyPreset('auto')
    this.#syncOptions()
  }

  /** The original layer's volume replaced by another of the same grid (more of a preview known): cursor and window kept. */
  replaceBase(volume: Volume): void {
    this.layers.set('original', volume)
    this.update()
  }

  setLayer(name: LayerName, volume: Volume): void {
    this.layers.set(name, volume)
    this.#syncOptions()
    if (name === this.#base.value) this.#switchBase()
    else if (name === this.#overlay.value) this.update()
  }

  showOverlay(name: 'mask' | 'components'): void {
    this.#overlay.value = name
    this.update()
  }

  applyPreset(name: string): void {
    const base = this.base
    if (!base) return
    const preset = PRESETS[name]
    const [lo, hi] = name === 'full' ? [base.range.min, base.range.max] : [base.range.p1, base.range.p99]
    const [width, level] = preset ?? [Math.max(1e-6, hi - lo), (lo + hi) / 2]
    this.window = { width, level }
    this.#preset.value = name in PRESETS ? name : 'custom'
    this.update()
  }

  /** Re-renders on the next frame (several changes in one task paint once). */
  update(): void {
    if (this.#frame) return
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0
      this.#render()
    })
  }

  #render(): void {
    const base = this.base
    if (!base) return
    this.#shown = base
    this.cursor = this.cursor.map((c, j) => Math.max(0, Math.min(base.size[j]! - 1, c))) as Size3
    const overlayName = this.#overlay.value as LayerName | 'none'
    const overlayVolume = overlayName === 'none' ? undefined : this.layers.get(overlayName)
    const overlay = overlayVolume ? { volume: overlayVolume, kind: overlayName === 'mask' ? ('mask' as const) : ('labels' as const), opacity: Number(this.#opacity.value) } : undefined
    for (const [name, slice] of this.#views) {
      slice.render({ base, overlay, cursor: this.cursor, window: this.window })
      const a = slice.axes!
      const slider = $<HTMLInputElement>(`#slider-${name}`)
      slider.max = String(base.size[a.slice] - 1)
      slider.value = String(this.cursor[a.slice])
      $<HTMLOutputElement>(`#slider-${name}-value`).textContent = `${this.cursor[a.slice] + 1} / ${base.size[a.slice]}`
    }
    this.#width.value = formatValue(this.window.width)
    this.#level.value = formatValue(this.window.level)
    document.body.dataset.slices = this.cursor.join(',')
  }

  #syncOptions(): void {
    for (const option of [...this.#base.options, ...this.#overlay.options]) {
      if (option.value !== 'none') option.disabled = !this.layers.has(option.value as LayerName)
    }
    for (const view of VIEWS) $<HTMLInputElement>(`#slider-${view}`).disabled = !this.layers.has('original')
  }

  /** Keeps the cursor on the same physical point when the base grid changes (e.g. to the downsampled one). */
  #switchBase(): void {
    this.#readout.textContent = 'Point at the image to read a voxel.'
    const next = this.base
    const previous = this.#shown
    if (next && previous && previous !== next) {
      this.cursor = this.cursor.map((i, j) => {
        const mm = previous.origin[j]! + i * previous.spacing[j]!
        return Math.max(0, Math.min(next.size[j]! - 1, Math.round((mm - next.origin[j]!) / next.spacing[j]!)))
      }) as Size3
    }
    this.update()
  }

  #wirePointer(slice: SliceView): void {
    const canvas = slice.canvas
    let drag: { x: number; y: number; width: number; level: number; moved: boolean } | undefined
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId)
      drag = { x: e.clientX, y: e.clientY, ...this.window, moved: false }
    })
    canvas.addEventListener('pointermove', (e) => {
      this.#showReadout(slice, e.offsetX, e.offsetY)
      if (!drag || !(e.buttons & 1)) return
      const dx = e.clientX - drag.x
      const dy = e.clientY - drag.y
      if (!drag.moved && Math.hypot(dx, dy) < 4) return
      drag.moved = true
      // Right widens the window, down raises the level, in steps of the image's own range.
      const base = this.base!
      const unit = Math.max(1e-6, base.range.p99 - base.range.p1) / 300
      this.window = { width: Math.max(unit, drag.width + dx * unit), level: drag.level - dy * unit }
      this.#preset.value = 'custom'
      this.update()
    })
    canvas.addEventListener('pointerup', (e) => {
      if (drag && !drag.moved) {
        const index = slice.indexAt(e.offsetX, e.offsetY)
        if (index) {
          this.cursor = index
          this.update()
        }
      }
      drag = undefined
    })
    canvas.addEventListener('pointerleave', () => (this.#readout.textContent = 'Point at the image to read a voxel.'))
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault()
      this.#step(slice, e.deltaY > 0 ? 1 : -1)
    }, { passive: false })
    canvas.addEventListener('keydown', (e) => {
      const steps: Record<string, number> = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1, PageUp: 10, PageDown: -10 }
      const by = steps[e.key]
      if (by === undefined) return
      e.preventDefault()
      this.#step(slice, by)
    })
  }

  #step(slice: SliceView, by: number): void {
    const a = slice.axes
    const base = this.base
    if (!a || !base) return
    this.cursor[a.slice] = Math.max(0, Math.min(base.size[a.slice] - 1, this.cursor[a.slice] + by))
    this.update()
  }

  #showReadout(slice: SliceView, x: number, y: number): void {
    const base = this.base
    const index = slice.indexAt(x, y)
    if (!base || !index) return
    const [i, j, k] = index
    const value = base.data[i + base.size[0] * (j + base.size[1] * k)]!
    const world = indexToWorld(base, index).map((v) => v.toFixed(1)).join(', ')
    const overlayName = this.#overlay.value as LayerName | 'none'
    const over = overlayName === 'none' ? undefined : this.layers.get(overlayName)
    const label = over && over.size.join() === base.size.join() ? ` · ${overlayName} ${over.data[i + base.size[0] * (j + base.size[1] * k)]}` : ''
    this.#readout.textContent = `voxel (${i}, ${j}, ${k}) · LPS (${world}) mm · value ${formatValue(value)}${label}`
  }
}
