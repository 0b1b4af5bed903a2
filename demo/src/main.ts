// The demo viewer's entry: opens the cache and wires the panels together.
// Contracts for tests and Playwright-driven demos: window.voxcache (the open cache), window.voxcacheLib
// (the public API) and body[data-ready] = "true" once the cache is usable ("error" if it is not).
import './style.css'
import * as lib from 'voxcache'
import { openCache, type VoxCache } from 'voxcache'
import { CachePanel } from './cache-panel.js'
import { cacheSlot } from './cache-slot.js'
import { formatBytes, formatMs, message } from './format.js'
import { wireOpenPanel, type Opened } from './open.js'
import { Pipeline, type StepKey } from './pipeline.js'
import { forgetRecord, protectionState, readRecord } from './protect.js'
import { ProtectPanel } from './protect-panel.js'
import { Viewer, type LayerName } from './viewer.js'
import { toVolume } from './volume.js'

declare global {
  interface Window {
    voxcache?: VoxCache
    voxcacheLib?: typeof import('voxcache')
  }
}

const $ = <T extends HTMLElement>(selector: string): T => document.querySelector<T>(selector)!
const status = $('#status')
const params = new URLSearchParams(location.search)
const LAYER_OF: Record<StepKey, LayerName> = { smooth: 'smoothed', mask: 'mask', components: 'components', downsample: 'downsampled' }

let toastTimer: ReturnType<typeof setTimeout> | undefined

/** Shows a message over the page; errors stay until dismissed or replaced, notes fade after a while. */
function say(text: string, kind: 'info' | 'error' = 'info'): void {
  const toast = $('#toast')
  $('#message').textContent = text
  toast.className = `toast ${kind}`
  toast.dataset.kind = kind
  toast.hidden = false
  clearTimeout(toastTimer)
  if (kind === 'info') toastTimer = setTimeout(dismiss, 8000)
}

function dismiss(): void {
  $('#toast').hidden = true
}

async function main(): Promise<void> {
  window.voxcacheLib = lib
  const storage = (params.get('storage') ?? 'auto') as 'auto' | 'opfs' | 'idb' | 'memory'
  const maxBytes = params.has('maxBytes') ? Number(params.get('maxBytes')) : undefined
  const options = { name: params.get('cache') ?? 'demo', storage, maxBytes }
  // Always without a key: a protected cache opens locked, until its passphrase is entered (protect-panel.ts).
  // Protecting, unlocking and wiping reopen it; everything below holds the slot's stand-in.
  const slot = cacheSlot(await openCache(options))
  const cache = slot.cache
  window.voxcache = cache
  const stats = await cache.stats()
  const locked = stats.protection?.locked ? ', locked' : ''
  status.textContent = `Cache “${stats.name}” on ${stats.storage}, ${stats.entries} entries (${formatBytes(stats.bytes)}) at start${locked}`

  $('#toast-close').addEventListener('click', dismiss)
  // wipeAll() and the browser's eviction remove a protected cache but not its salt (protect.ts): the
  // cache's stats have the last word, and a salt left beside a clear cache is dropped.
  const viewer = new Viewer()
  // Opening an entry from the cache panel: the first picture from three region reads, then the rest.
  let openEntry: (id: string, label: string) => void = () => undefined
  const protect = new ProtectPanel(slot, options, {
    say,
    busy: (text) => ($('#busy').textContent = text ?? ''),
    changed: () => void panel.refresh(),
    unlocked: () => {
      status.textContent = `Cache “${stats.name}” on ${stats.storage}, unlocked`
      void restore()
    },
    wiped: () => localStorage.removeItem(LAST),
  })
  // While locked every read and write of the cache fails with KeyMismatchError: say what to do instead.
  const LOCKED = 'the cache is locked. Enter its passphrase in the Cache panel first.'
  const panel = new CachePanel(cache, say, () => undefined, (id, label) => openEntry(id, label), (s) => protect.update(s))
  // wipeAll() and the browser's eviction remove a protected cache but not its salt (protect.ts): the
  // cache's stats have the last word, and a salt left beside a clear cache is dropped.
  const protection = protectionState(stats.protection, readRecord(options.name))
  if (protection.kind === 'clear' && protection.stale) {
    forgetRecord(options.name)
    protect.notice('The protected cache that was here is gone (wiped, or removed by the browser), and its passphrase with it: this cache is not protected.')
  }
  const run = $<HTMLButtonElement>('#run-pipeline')
  const pipeline = new Pipeline(
    cache,
    $('#steps'),
    (key, result) => {
      viewer.setLayer(LAYER_OF[key], result.volume)
      if (key === 'components' && viewer.layers.size > 0) viewer.showOverlay('components')
    },
    (text) => say(protect.locked ? `The pipeline stopped: ${LOCKED}` : text, 'error'),
  )

  const opened = (source: Opened): void => {
    const volume = toVolume(source.image) // throws for images the viewer cannot show: reported, nothing changes
    viewer.open(volume)
    pipeline.setSource({ id: source.id, volume, label: source.label, kind: source.kind })
    remember(pipeline, false)
    const [x, y, z] = volume.size
    const sp = volume.spacing.map((s) => +s.toFixed(3)).join(' × ')
    const took = source.ms === undefined ? '' : `, opened in ${formatMs(source.ms)}`
    $('#image-info').textContent = `${source.label} — ${x} × ${y} × ${z} ${source.image.imageType.componentType}, ${sp} mm${took}`
    document.body.dataset.image = source.label
    document.body.dataset.picture = 'full'
    dismiss()
    run.disabled = false
    void panel.refresh()
  }
  const open = wireOpenPanel(cache, {
    opened,
    failed: (text, what) => say(protect.locked ? `Could not open ${what ?? 'that'}: ${LOCKED}` : text, 'error'),
    busy: (text) => ($('#busy').textContent = text ?? ''),
  })
  openEntry = (id, label) => {
    document.body.dataset.picture = 'none'
    void open.openEntry(id, label, (volume, ms, slices) => {
      // The axial slice first (one frame of the record), then coronal and sagittal (each crosses every
      // frame): the window fitted to what is known, the cursor kept once the picture has begun.
      if (slices === 1) viewer.open(volume)
      else viewer.replaceBase(volume)
      const [x, y, z] = volume.size
      const what = slices === 1 ? 'its middle axial slice' : slices === 2 ? 'its middle axial and coronal slices' : 'its three middle slices'
      $('#image-info').textContent = `${label} — ${x} × ${y} × ${z}: ${what} in ${formatMs(ms)}; reading the rest…`
      document.body.dataset.picture = `preview-${slices}`
    })
  }

  // One counter for every way a run starts (button, parameter change, restore): the page reports
  // "done" only when none is left in flight.
  let inflight = 0
  const runAll = async (): Promise<void> => {
    inflight++
    run.disabled = true
    document.body.dataset.pipeline = 'running'
    await pipeline.run()
    if (--inflight > 0) return
    run.disabled = false
    remember(pipeline, true)
    document.body.dataset.pipeline = 'done'
    await panel.refresh()
  }
  run.addEventListener('click', () => void runAll())
  $('#steps').addEventListener('change', () => void runAll())

  const restore = async (): Promise<void> => {
    const last = recall()
    const start = params.get('open') ?? last?.kind
    if (start === 'sample') await open.openSample()
    if (start === 'phantom') await open.openPhantom()
    if (last && pipeline.source?.kind === last.kind) {
      pipeline.setParams(last.params)
      if (last.ran) await runAll()
    }
  }

  await panel.refresh()
  document.body.dataset.ready = 'true'
  // A locked cache can neither read nor compute: the last session comes back once it is unlocked.
  if (!protect.locked) await restore()
}

// The last bundled image (sample or phantom), its parameters and whether it ran, so that a reload
// comes straight back to where it was, every step from the cache. Files cannot be reopened
// unasked, so they are not remembered.
const LAST = 'voxcache-demo:last'
type Last = { kind: 'sample' | 'phantom'; params: Record<StepKey, number>; ran: boolean }

function remember(pipeline: Pipeline, ran: boolean): void {
  const kind = pipeline.source?.kind
  if (kind === 'sample' || kind === 'phantom') localStorage.setItem(LAST, JSON.stringify({ kind, params: pipeline.params, ran } satisfies Last))
  else localStorage.removeItem(LAST)
}

function recall(): Last | undefined {
  try {
    const last = JSON.parse(localStorage.getItem(LAST) ?? 'null') as Last | null
    return last && (last.kind === 'sample' || last.kind === 'phantom') ? last : undefined
  } catch {
    return undefined
  }
}

/** Precaches the built app (page, workers, wasm, pipelines, sample) so it runs offline after one visit. `?no-sw` turns it off. */
function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator) || params.has('no-sw')) return
  navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`).then(
    async (registration) => {
      await navigator.serviceWorker.ready
      document.body.dataset.offline = registration.active ? 'ready' : 'pending'
      if (registration.active) $('#offline').textContent = 'Works offline'
    },
    (error: unknown) => console.warn('voxcache demo: no offline support:', message(error)),
  )
}

main().catch((error: unknown) => {
  status.textContent = `The cache could not open: ${message(error)}`
  document.body.dataset.ready = 'error'
  console.error(error)
})
registerServiceWorker()
