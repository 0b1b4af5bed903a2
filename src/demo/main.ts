import * as lib from '../index.js'
import { openCache, type VoxCache } from '../index.js'

declare global {
  interface Window {
    voxcache?: VoxCache
    voxcacheLib?: typeof import('../index.js')
  }
}

const status = document.querySelector<HTMLElement>('#status')!
const params = new URLSearchParams(location.search)

async function main(): Promise<void> {
  window.voxcacheLib = lib
  const storage = (params.get('storage') ?? 'auto') as 'auto' | 'opfs' | 'idb' | 'memory'
  const maxBytes = params.has('maxBytes') ? Number(params.get('maxBytes')) : undefined
  const cache = await openCache({ name: params.get('cache') ?? 'demo', storage, maxBytes })
  window.voxcache = cache
  const stats = await cache.stats()
  status.textContent = `Cache "${stats.name}" ready on ${stats.storage}: ${stats.entries} entries, ${(stats.bytes / 1e6).toFixed(1)} MB.`
  document.body.dataset.ready = 'true'
}

main().catch((error: unknown) => {
  status.textContent = `The cache could not open: ${error instanceof Error ? error.message : String(error)}`
  document.body.dataset.ready = 'error'
  console.error(error)
})
