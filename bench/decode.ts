// First decode of a .nii.gz by itk-wasm (cold and warm) against voxcache's cached decode of the same file.
import { readImage, setPipelinesBaseUrl } from '@itk-wasm/image-io'
import { openCache, VoxCache, type Image } from '../src/index.js'

type Decoding = VoxCache & { decode(input: { name: string; data: Uint8Array }): Promise<Image> }

export interface DecodeResult {
  available: boolean
  itkColdMs: number
  itkWarmMs: number[]
  cacheFirstMs: number
  cachedMs: number[]
  /** Lower bounds of a cached decode: hashing the input, and retrieving the decoded image stored with 'none'. */
  hashMs: number[]
  retrieveNoneMs: number[]
  voxels: number
}

export function hasDecode(): boolean {
  return typeof (VoxCache.prototype as Partial<Decoding>).decode === 'function'
}

export async function decodeBench(file: string, reps: number, cacheName: string): Promise<DecodeResult> {
  setPipelinesBaseUrl(new URL('/itk/image-io', location.href).href)
  const bytes = new Uint8Array(await (await fetch(`/testdata/${file}`)).arrayBuffer())
  const input = () => ({ path: file, data: bytes.slice() })
  let t0 = performance.now()
  const first = await readImage(input())
  const itkColdMs = performance.now() - t0
  const webWorker = first.webWorker
  const voxels = (first.image.data as ArrayLike<number>).length
  const result: DecodeResult = {
    available: hasDecode(),
    itkColdMs,
    itkWarmMs: [],
    cacheFirstMs: NaN,
    cachedMs: [],
    hashMs: [],
    retrieveNoneMs: [],
    voxels,
  }
  const plain = await openCache({ name: `${cacheName}-none`, storage: 'opfs', codec: 'none' })
  const plainId = 'd'.repeat(64)
  await plain.store(plainId, first.image)
  let cache: Decoding | undefined
  if (result.available) {
    cache = (await openCache({ name: cacheName, storage: 'opfs' })) as Decoding
    t0 = performance.now()
    await cache.decode({ name: file, data: bytes.slice() })
    result.cacheFirstMs = performance.now() - t0
  }
  try {
    for (let i = 0; i < reps; i++) {
      t0 = performance.now()
      await readImage(input(), { webWorker })
      result.itkWarmMs.push(performance.now() - t0)
      if (cache) {
        t0 = performance.now()
        const image = await cache.decode({ name: file, data: bytes.slice() })
        result.cachedMs.push(performance.now() - t0)
        if ((image.data as ArrayLike<number>).length !== voxels) throw new Error('cached decode returned another image')
      }
      t0 = performance.now()
      await crypto.subtle.digest('SHA-256', bytes)
      result.hashMs.push(performance.now() - t0)
      t0 = performance.now()
      await plain.retrieve(plainId)
      result.retrieveNoneMs.push(performance.now() - t0)
    }
  } finally {
    webWorker?.terminate()
    await cache?.destroy()
    await plain.destroy()
  }
  return result
}
