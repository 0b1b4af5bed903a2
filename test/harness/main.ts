// The library's own test page: no demo, no viewer, only the public API on window. The same contract as
// the demo keeps for Playwright: window.voxcache (the open cache; query: cache, storage, maxBytes),
// window.voxcacheLib (the public API), body[data-ready] = "true" or "error". NiiVue and the adapter load
// on demand (window.loadNiivue), so specs that do not use them do not pay for them.
import zstdWasmUrl from 'zstd-wasm:zstd.wasm?url'
import * as lib from '../../src/index.js'
import { initCodec } from '../../src/codec/index.js'
import { encodeRecord1 } from '../format1.js'

declare global {
  interface Window {
    voxcache?: lib.VoxCache
    voxcacheLib?: typeof lib
    loadNiivue?: () => Promise<typeof import('./niivue.js')>
    /** Test support beyond the public API. */
    voxcacheTest?: {
      /** A record of format 1, as voxcache 0.x wrote it (test/format1.ts), for the versions specs. */
      encodeRecord1(value: lib.Value, options: Parameters<typeof encodeRecord1>[1]): Promise<Uint8Array>
    }
  }
}

const params = new URLSearchParams(location.search)
const status = document.querySelector<HTMLElement>('#status')!
window.voxcacheLib = lib
window.voxcacheTest = {
  async encodeRecord1(value, options) {
    await initCodec(zstdWasmUrl)
    return encodeRecord1(value, options).bytes
  },
}
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
