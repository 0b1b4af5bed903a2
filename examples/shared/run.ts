// What every example app does with voxcache: decode a NIfTI (cached by its content), memoize a step on
// it (an intensity histogram), and say where each came from. Reload the page: both come from the cache.
import { openCache, pixels, ref, type Image, type VoxCache } from 'voxcache'

declare global {
  interface Window {
    /** The open cache, for Playwright: the examples' spec exports it to seed a fresh browser profile. */
    voxcache?: VoxCache
  }
}

const log = document.querySelector<HTMLPreElement>('#log')!
const say = (line: string): void => {
  log.textContent += `${line}\n`
}

function histogram(image: Image, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0)
  for (const v of pixels(image, Uint8Array)) counts[Math.min(bins - 1, Math.floor((v / 256) * bins))]! += 1
  return counts
}

/** Runs the example in the page, reporting in #log and in data- attributes of the body. */
export async function run(name: string): Promise<void> {
  try {
    await decodeAndMemoize(name)
  } catch (error: unknown) {
    say(`error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`)
    document.body.dataset.error = 'true'
  }
}

async function decodeAndMemoize(name: string): Promise<void> {
  const cache = await openCache({ name })
  window.voxcache = cache
  const bytes = await (await fetch('/brain.nii.gz')).arrayBuffer()
  const before = await cache.stats()
  const { id, image } = await cache.decodeEntry(new File([bytes], 'brain.nii.gz'))
  const decoded = (await cache.stats()).decodeHits > before.decodeHits ? 'cache' : 'itk-wasm'
  say(`decode ${image.size.join('x')} from ${decoded}`)
  const step = await cache.memoizeEntry('histogram', { image: ref(id), bins: 16 }, async () => histogram(image, 16))
  say(`histogram ${step.hit ? 'from cache' : 'computed'}: ${step.value.join(',')}`)
  document.body.dataset.decode = decoded
  document.body.dataset.histogram = step.hit ? 'cache' : 'computed'
  document.body.dataset.done = 'true'
}
