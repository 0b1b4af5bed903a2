// The library's own test page: no demo, no viewer, only the public API on window. The same contract as
// the demo keeps for Playwright: window.voxcache (the open cache; query: cache, storage, maxBytes),
// window.voxcacheLib (the public API), body[data-ready] = "true" or "error". NiiVue and the adapter load
// on demand (window.loadNiivue), so specs that do not use them do not pay for them.
import * as lib from '../../src/index.js'

declare global {
  interface Window {
    voxcache?: lib.VoxCache
    voxcacheLib?: typeof lib
    loadNiivue?: () => Promise<typeof import('./niivue.js')>
  }
}

const params = new URLSearchParams(location.search)
const status = document.querySelector<HTMLElement>('#status')!
window.voxcacheLib = lib
window.loadNiivue = () => import('./niivue.js')

async function main(): Promise<void> {
  const storage = (params.get('storage') ?? 'auto') as 'auto' | 'opfs' | 'idb' | 'memory'
  const maxBytes = params.has('maxBytes') ? Number(params.get('maxBytes')) : undefined
  const cache = await lib.openCache({ name: params.get('cache') ?? 'demo', storage, maxBytes })
  window.voxcache = cache
  status.textContent = `Cache open on ${(await cache.stats()).storage}`
  document.body.dataset.ready = 'true'
}

main().catch((error: unknown) => {
  status.textContent = `The cache could not open: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`
  document.body.dataset.ready = 'error'
})
