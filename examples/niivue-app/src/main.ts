// A NiiVue viewer backed by voxcache: the brain is decoded once (cached by its content), a threshold
// mask is a cached pipeline step, and both are shown in NiiVue straight from Images, no file between.
// Reload the page: both come from the cache.
import { Niivue } from '@niivue/niivue'
import { deriveImage, openCache, pixels, ref } from 'voxcache'
import { toNVImage } from 'voxcache/niivue'

declare global {
  interface Window {
    /** The viewer, for Playwright: the example's spec compares it with NiiVue reading the file itself. */
    niivue?: Niivue
  }
}

const log = document.querySelector<HTMLPreElement>('#log')!
const say = (line: string): void => {
  log.textContent += `${line}\n`
}

async function main(): Promise<void> {
  const nv = new Niivue({ backColor: [0, 0, 0, 1] })
  window.niivue = nv
  await nv.attachTo('gl')
  nv.setSliceType(nv.sliceTypeMultiplanar)

  const cache = await openCache({ name: 'niivue-app' })
  const before = await cache.stats()
  const bytes = await (await fetch('/brain.nii.gz')).arrayBuffer()
  const { id, image } = await cache.decodeEntry(new File([bytes], 'brain.nii.gz'))
  const decoded = (await cache.stats()).decodeHits > before.decodeHits ? 'cache' : 'itk-wasm'
  say(`decode ${image.size.join('x')} from ${decoded}`)

  const level = 100
  const mask = await cache.memoizeEntry('threshold', { image: ref(id), level }, async () => {
    const voxels = pixels(image, Uint8Array)
    const out = new Uint8Array(voxels.length)
    for (let i = 0; i < voxels.length; i++) out[i] = voxels[i]! > level ? 1 : 0
    return deriveImage(image, out)
  })
  say(`threshold ${mask.hit ? 'from cache' : 'computed'}`)

  nv.addVolume(toNVImage(image))
  nv.addVolume(toNVImage(mask.value, { name: 'mask', colormap: 'red', opacity: 0.35, calMin: 0, calMax: 1 }))
  document.body.dataset.decode = decoded
  document.body.dataset.threshold = mask.hit ? 'cache' : 'computed'
  document.body.dataset.done = 'true'
  await cache.close()
}

main().catch((error: unknown) => {
  say(`error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`)
  document.body.dataset.error = 'true'
})
