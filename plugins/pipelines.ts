// `voxcache/pipelines`: the itk-wasm pipeline files that voxcache's decode() and exportImage() run, for
// an app's build to copy next to its pages (the Vite plugin does it; a webpack config copies them with
// copy-webpack-plugin). Served from the app's own origin, decoding works offline.
//
// The published package carries them (lib/itk/, copied from @itk-wasm/image-io and @itk-wasm/dicom by
// scripts/build-lib.mjs with their licences), so an app installs none of itk-wasm's packages; in this
// repository they come from node_modules.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

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

/** The pipelines voxcache runs: the package each comes from and the folder it goes to. */
const SETS = [
  { pkg: '@itk-wasm/image-io', dest: 'image-io', names: [...READERS.map((f) => `${f}-read-image`), ...WRITERS.map((f) => `${f}-write-image`)] },
  { pkg: '@itk-wasm/dicom', dest: 'dicom', names: ['read-image-dicom-file-series'] },
]

/** lib/itk/ beside this module in the published package; absent in the repository. */
const VENDORED = fileURLToPath(new URL('./itk/', import.meta.url))

/** The itk-wasm pipeline files voxcache runs, and where under the pipelines folder each goes. */
export function pipelineFiles(): { dest: string; files: string[] }[] {
  const vendored = existsSync(VENDORED)
  return SETS.map(({ pkg, dest, names }) => ({
    dest,
    files: names.flatMap((n) =>
      ['js', 'wasm.zst'].map((ext) =>
        vendored ? join(VENDORED, dest, `${n}.${ext}`).replaceAll('\\', '/') : packageFile(pkg, '..', `dist/pipelines/${n}.${ext}`),
      ),
    ),
  }))
}

/**
 * The licence file of each package the pipelines come from, and the folder it goes to (build-lib).
 * @internal
 */
export function pipelineLicences(): { dest: string; file: string }[] {
  return SETS.map(({ pkg, dest }) => ({ dest, file: packageFile(pkg, '..', 'LICENSE') }))
}
