// `voxcache/pipelines`: the itk-wasm pipeline files that voxcache's decode() and exportImage() run, for
// an app's build to copy next to its pages (the Vite plugin does it; a webpack config copies them with
// copy-webpack-plugin). Served from the app's own origin, decoding works offline.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/**
 * A file inside an installed package, found the way Node finds the package (hoisted or nested).
 * @internal also the repository's zstd alias (scripts/vite-plugin.ts)
 */
export function packageFile(name: string, entryToRoot: string, path: string): string {
  return join(dirname(require.resolve(name)), entryToRoot, path).replaceAll('\\', '/')
}

const READERS = ['nifti', 'nrrd', 'meta', 'gdcm', 'wasm']
const WRITERS = ['nifti', 'nrrd', 'meta', 'wasm']

/** The itk-wasm pipeline files voxcache runs, and where under the pipelines folder each goes. */
export function pipelineFiles(): { dest: string; files: string[] }[] {
  const sets = [
    {
      pkg: '@itk-wasm/image-io',
      dest: 'image-io',
      names: [...READERS.map((f) => `${f}-read-image`), ...WRITERS.map((f) => `${f}-write-image`)],
    },
    { pkg: '@itk-wasm/dicom', dest: 'dicom', names: ['read-image-dicom-file-series'] },
  ]
  return sets.map(({ pkg, dest, names }) => ({
    dest,
    files: names.flatMap((n) => ['js', 'wasm.zst'].map((ext) => packageFile(pkg, '..', `dist/pipelines/${n}.${ext}`))),
  }))
}
