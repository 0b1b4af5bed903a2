import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { viteStaticCopy } from 'vite-plugin-static-copy'
import { precacheServiceWorker } from './scripts/precache-plugin.js'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/**
 * @bokuweb/zstd-wasm exports only its high-level API, which copies whole buffers through wasm memory;
 * voxcache drives its emscripten module frame by frame, so it reaches the files directly.
 */
export const aliases = [
  { find: /^zstd-wasm:(.*)$/, replacement: here('./node_modules/@bokuweb/zstd-wasm/dist/web/') + '$1' },
]

/**
 * itk-wasm fetches its pipelines at run time (from a CDN unless told otherwise), so the few that
 * worker/decode uses are copied into the build and served by the app itself: offline, same origin.
 */
const itkPipelines = [
  { dir: 'node_modules/@itk-wasm/image-io/dist/pipelines', dest: 'itk/image-io', names: [
    ...['nifti', 'nrrd', 'meta', 'gdcm', 'wasm'].map((f) => `${f}-read-image`),
    ...['nifti', 'nrrd', 'meta', 'wasm'].map((f) => `${f}-write-image`),
  ] },
  { dir: 'node_modules/@itk-wasm/dicom/dist/pipelines', dest: 'itk/dicom', names: ['read-image-dicom-file-series'] },
]

export default defineConfig({
  plugins: [
    // The demo's offline support: sw.js precaching the whole build (written after the copies below).
    precacheServiceWorker(),
    viteStaticCopy({
      targets: itkPipelines.map(({ dir, dest, names }) => ({
        src: names.flatMap((n) => [`${dir}/${n}.js`, `${dir}/${n}.wasm.zst`]),
        dest,
      })),
    }),
  ],
  resolve: { alias: aliases },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  preview: { port: 4173, strictPort: true },
  server: { port: 5173, strictPort: true },
})
