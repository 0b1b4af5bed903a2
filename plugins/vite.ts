// `voxcache/vite`: what an app that uses voxcache adds to its Vite config, `plugins: [voxcache()]`.
//
// - itk-wasm fetches its pipelines at run time (from a CDN unless told otherwise): the ones decode()
//   and exportImage() use are copied into the app's build under `itk/`, and served by the app itself
//   (openCache's `pipelinesUrl` says where, `/itk/` by default).
// - voxcache's worker is a prebuilt ES module (it finds its wasm files with `new URL(…, import.meta.url)`
//   and loads pipelines with import()): workers are built as ES modules. Vite 8 did so without being
//   told (an example build without this setting worked); it is set because Vite's documented default
//   is 'iife'. The dev server serves voxcache as it is, not pre-bundled (below).
import { readFileSync } from 'node:fs'
import { basename, extname } from 'node:path'
import type { Plugin } from 'vite'
import { pipelineFiles } from './pipelines.js'

export interface VoxcacheViteOptions {
  /** The folder of the build (and of the dev server) the pipelines go to. Default `itk`. */
  pipelinesDir?: string
}

const CONTENT_TYPES: Record<string, string> = { '.js': 'text/javascript', '.zst': 'application/zstd' }

/**
 * The Vite plugin voxcache needs: the itk-wasm pipelines served by the dev server and emitted into the
 * build under `pipelinesDir`, and ES-module workers. It copies by itself (a few lines of Vite hooks)
 * rather than through a copy plugin whose peer dependency would install Vite into webpack apps too.
 */
export function voxcache(options: VoxcacheViteOptions = {}): Plugin {
  const dir = options.pipelinesDir ?? 'itk'
  const files = new Map<string, string>() // URL path under dir/ → file on disk
  for (const { dest, files: paths } of pipelineFiles()) for (const path of paths) files.set(`${dest}/${basename(path)}`, path)
  let prefix = `/${dir}/`
  return {
    name: 'voxcache',
    // Vite 5–7 pre-bundle dependencies into node_modules/.vite/deps, where the worker that voxcache
    // creates with new URL('./worker/cache.worker.js', import.meta.url) is not: the dev server failed
    // with "the voxcache worker failed to start" (Vite 6, tried). voxcache is ES modules throughout,
    // and so are its dependencies, so it needs no pre-bundling.
    config: () => ({ worker: { format: 'es' }, optimizeDeps: { exclude: ['voxcache'] } }),
    configResolved(config) {
      prefix = `${config.base.startsWith('/') ? config.base : '/'}${dir}/`
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = req.url?.split('?')[0]
        const file = path?.startsWith(prefix) ? files.get(path.slice(prefix.length)) : undefined
        if (!file) return next()
        res.setHeader('Content-Type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
        res.end(readFileSync(file))
      })
    },
    generateBundle() {
      for (const [name, file] of files) this.emitFile({ type: 'asset', fileName: `${dir}/${name}`, source: readFileSync(file) })
    },
  }
}
