// One slice view: a canvas showing a plane of the base volume through the cursor, upright by the
// image's direction, with its physical aspect from the spacing and an optional label/mask overlay.
import { viewAxes, type ViewAxes, type ViewName, type Volume } from './volume.js'
import type { Size3 } from './volume-math.js'

export interface Overlay {
  volume: Volume
  kind: 'mask' | 'labels'
  opacity: number
}

export interface SliceState {
  base: Volume
  overlay: Overlay | undefined
  /** Voxel index in the base volume. */
  cursor: Size3
  window: { width: number; level: number }
}

// Distinct hues for labels 1…n (label 1, the largest component, gets the first).
const PALETTE = [
  [230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66], [0, 114, 178], [213, 94, 0], [204, 121, 167], [160, 220, 120],
] as const
const MASK_COLOR = [255, 80, 60] as const

export class SliceView {
  readonly canvas: HTMLCanvasElement
  #scratch = document.createElement('canvas')
  #state: SliceState | undefined
  #axes: ViewAxes | undefined
  #fit = { x: 0, y: 0, kh: 1, kv: 1 }

  constructor(readonly view: ViewName, canvas: HTMLCanvasElement) {
    this.canvas = canvas
    new ResizeObserver(() => this.#draw()).observe(canvas)
  }

  get axes(): ViewAxes | undefined {
    return this.#axes
  }

  render(state: SliceState): void {
    this.#state = state
    this.#axes = viewAxes(state.base, this.view)
    this.#paintSlice()
    this.#draw()
  }

  /** The base-volume voxel under a point given in CSS pixels relative to the canvas, or undefined. */
  indexAt(cssX: number, cssY: number): Size3 | undefined {
    const state = this.#state
    const a = this.#axes
    if (!state || !a) return undefined
    const dpr = this.canvas.width / Math.max(1, this.canvas.clientWidth)
    const col = Math.floor((cssX * dpr - this.#fit.x) / this.#fit.kh)
    const row = Math.floor((cssY * dpr - this.#fit.y) / this.#fit.kv)
    const nh = state.base.size[a.h]
    const nv = state.base.size[a.v]
    if (col < 0 || row < 0 || col >= nh || row >= nv) return undefined
    const index = [...state.cursor] as Size3
    index[a.h] = a.flipH ? nh - 1 - col : col
    index[a.v] = a.flipV ? nv - 1 - row : row
    return index
  }

  #paintSlice(): void {
    const { base, overlay, cursor, window } = this.#state!
    const a = this.#axes!
    const [nx, ny] = base.size
    const stride = [1, nx, nx * ny]
    const nh = base.size[a.h]
    const nv = base.size[a.v]
    this.#scratch.width = nh
    this.#scratch.height = nv
    const ctx = this.#scratch.getContext('2d')!
    const img = ctx.createImageData(nh, nv)
    const px = img.data
    const low = window.level - window.width / 2
    const scale = 255 / Math.max(1e-9, window.width)
    const data = base.data
    const sliceOffset = cursor[a.slice] * stride[a.slice]!
    const labels = overlay ? this.#labelPlane(overlay.volume) : undefined
    const alpha = overlay?.opacity ?? 0
    for (let row = 0; row < nv; row++) {
      const iv = a.flipV ? nv - 1 - row : row
      for (let col = 0; col < nh; col++) {
        const ih = a.flipH ? nh - 1 - col : col
        const g = Math.max(0, Math.min(255, (data[sliceOffset + ih * stride[a.h]! + iv * stride[a.v]!]! - low) * scale))
        const o = (row * nh + col) * 4
        px[o] = px[o + 1] = px[o + 2] = g
        px[o + 3] = 255
        const label = labels ? labels[row * nh + col]! : 0
        if (label > 0) {
          // Outlines stay visible at any opacity; the inside is tinted by it.
          const edge =
            col === 0 || row === 0 || col === nh - 1 || row === nv - 1 ||
            labels![row * nh + col - 1] !== label || labels![row * nh + col + 1] !== label ||
            labels![(row - 1) * nh + col] !== label || labels![(row + 1) * nh + col] !== label
          const k = edge ? Math.max(alpha, 0.9) : alpha
          const c = overlay!.kind === 'mask' ? MASK_COLOR : PALETTE[(label - 1) % PALETTE.length]!
          px[o] = g + (c[0] - g) * k
          px[o + 1] = g + (c[1] - g) * k
          px[o + 2] = g + (c[2] - g) * k
        }
      }
    }
    ctx.putImageData(img, 0, 0)
  }

  /** The overlay's labels on this view's plane, in screen order (row-major, flips applied). */
  #labelPlane(over: Volume): Int32Array {
    const { base, cursor } = this.#state!
    const a = this.#axes!
    const nh = base.size[a.h]
    const nv = base.size[a.v]
    const map = overlayMap(base, over)
    const out = new Int32Array(nh * nv)
    const index = [0, 0, 0] as Size3
    index[a.slice] = cursor[a.slice]
    for (let row = 0; row < nv; row++) {
      index[a.v] = a.flipV ? nv - 1 - row : row
      for (let col = 0; col < nh; col++) {
        index[a.h] = a.flipH ? nh - 1 - col : col
        out[row * nh + col] = map(index)
      }
    }
    return out
  }

  #draw(): void {
    const canvas = this.canvas
    const dpr = globalThis.devicePixelRatio || 1
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr))
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr))
    if (canvas.width !== w || canvas.height !== h) Object.assign(canvas, { width: w, height: h })
    const ctx = canvas.getContext('2d')!
    ctx.fillStyle = '#000'
    ctx.fillRect(0, 0, w, h)
    const state = this.#state
    const a = this.#axes
    if (!state || !a) return
    const nh = state.base.size[a.h]
    const nv = state.base.size[a.v]
    const mmW = nh * state.base.spacing[a.h]
    const mmH = nv * state.base.spacing[a.v]
    const k = Math.min((w - 24 * dpr) / mmW, (h - 24 * dpr) / mmH)
    const fw = mmW * k
    const fh = mmH * k
    this.#fit = { x: (w - fw) / 2, y: (h - fh) / 2, kh: fw / nh, kv: fh / nv }
    ctx.imageSmoothingEnabled = false
    ctx.drawImage(this.#scratch, this.#fit.x, this.#fit.y, fw, fh)
    // Crosshair through the cursor voxel's centre.
    const col = a.flipH ? nh - 1 - state.cursor[a.h] : state.cursor[a.h]
    const row = a.flipV ? nv - 1 - state.cursor[a.v] : state.cursor[a.v]
    const cx = this.#fit.x + (col + 0.5) * this.#fit.kh
    const cy = this.#fit.y + (row + 0.5) * this.#fit.kv
    ctx.strokeStyle = 'rgba(120, 200, 255, 0.55)'
    ctx.lineWidth = dpr
    ctx.beginPath()
    ctx.moveTo(cx, this.#fit.y)
    ctx.lineTo(cx, this.#fit.y + fh)
    ctx.moveTo(this.#fit.x, cy)
    ctx.lineTo(this.#fit.x + fw, cy)
    ctx.stroke()
    // Patient directions at the edges.
    ctx.fillStyle = '#f2c14e'
    ctx.font = `${12 * dpr}px system-ui, sans-serif`
    ctx.textAlign = 'center'
    ctx.textBaseline = 'middle'
    const [left, right, top, bottom] = a.labels
    ctx.fillText(left, 8 * dpr, h / 2)
    ctx.fillText(right, w - 8 * dpr, h / 2)
    ctx.fillText(top, w / 2, 9 * dpr)
    ctx.fillText(bottom, w / 2, h - 9 * dpr)
  }
}

/**
 * Maps base voxel indices to overlay labels when the overlay has a different grid (a downsampled base
 * under a full-resolution mask). Both share the direction, so the map is a scale and shift per axis.
 */
function overlayMap(base: Volume, over: Volume): (index: Size3) => number {
  const project = (v: Volume): number[] => [0, 1, 2].map((j) => [0, 1, 2].reduce((acc, r) => acc + v.direction[r * 3 + j]! * v.origin[r]!, 0))
  const pb = project(base)
  const po = project(over)
  const scale = [0, 1, 2].map((j) => base.spacing[j]! / over.spacing[j]!)
  const shift = [0, 1, 2].map((j) => (pb[j]! - po[j]!) / over.spacing[j]!)
  const [ox, oy, oz] = over.size
  const same = scale.every((s) => Math.abs(s - 1) < 1e-6) && shift.every((s) => Math.abs(s) < 1e-6)
  const data = over.data
  return (index) => {
    const x = same ? index[0] : Math.round(index[0] * scale[0]! + shift[0]!)
    const y = same ? index[1] : Math.round(index[1] * scale[1]! + shift[1]!)
    const z = same ? index[2] : Math.round(index[2] * scale[2]! + shift[2]!)
    if (x < 0 || y < 0 || z < 0 || x >= ox || y >= oy || z >= oz) return 0
    return data[x + ox * (y + oy * z)]!
  }
}
