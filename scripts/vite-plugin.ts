// What an app that uses voxcache adds to its Vite config: `plugins: [voxcache()]`. The demo uses it too.
//
// - @bokuweb/zstd-wasm exports only its high-level API, which copies whole buffers through wasm memory;
//   voxcache drives its emscripten module frame by frame, so it imports the files behind `zstd-wasm:`.
// - itk-wasm fetches its pipelines at run time (from a CDN unless told otherwise): the few that decode
//   uses are copied into the build and served by the app itself, so decoding works offline.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Plugin } from 'vite'
import { viteStaticCopy } from 'vite-plugin-static-copy'

const require = createRequire(import.meta.url)

/** A file inside an installed package, found the way Node finds the package (hoisted or nested). */
function packageFile(name: string, entryToRoot: string, path: string): string {
  return join(dirname(require.resolve(name)), entryToRoot, path).replaceAll('\\', '/')
}

/** The alias to zstd-wasm's browser build (also used by the Node unit tests). */
export const zstdAlias = {
  find: /^zstd-wasm:(.*)$/,
  replacement: `${packageFile('@bokuweb/zstd-wasm', '../..', 'dist/web')}/$1`,
}

const READERS = ['nifti', 'nrrd', 'meta', 'gdcm', 'wasm']
const WRITERS = ['nifti', 'nrrd', 'meta', 'wasm']

/** itk-wasm pipelines served under `<base>itk/`, where worker/decode/itk.ts loads them. */
const pipelines = [
  {
    pkg: '@itk-wasm/image-io',
    dest: 'itk/image-io',
    names: [...READERS.map((f) => `${f}-read-image`), ...WRITERS.map((f) => `${f}-write-image`)],
  },
  { pkg: '@itk-wasm/dicom', dest: 'itk/dicom', names: ['read-image-dicom-file-series'] },
]

/** The Vite plugins voxcache needs: the zstd alias, ES-module workers, and the itk-wasm pipelines. */
export function voxcache(): Plugin[] {
  return [
    {
      name: 'voxcache',
      config: () => ({ resolve: { alias: [zstdAlias] }, worker: { format: 'es' } }),
    },
    ...viteStaticCopy({
      targets: pipelines.map(({ pkg, dest, names }) => ({
        src: names.flatMap((n) => ['js', 'wasm.zst'].map((ext) => packageFile(pkg, '..', `dist/pipelines/${n}.${ext}`))),
        dest,
      })),
    }),
  ]
}
