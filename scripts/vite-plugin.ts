// The repository's own Vite needs (the demo, the bench page): voxcache's published plugin, plus the
// alias its source needs. @bokuweb/zstd-wasm exports only its high-level API, which copies whole
// buffers through wasm memory; voxcache drives its emscripten module frame by frame, so the source
// imports the files behind `zstd-wasm:`. The published worker is prebuilt, so apps need no alias.
import type { Plugin } from 'vite'
import { packageFile } from '../plugins/pipelines.js'
import { voxcache as published } from '../plugins/vite.js'

/** The alias to zstd-wasm's browser build (also used by the Node unit tests and the package build). */
export const zstdAlias = {
  find: /^zstd-wasm:(.*)$/,
  replacement: `${packageFile('@bokuweb/zstd-wasm', '../..', 'dist/web')}/$1`,
}

/** The published plugin, with the zstd alias for building voxcache from source. */
export function voxcache(): Plugin[] {
  return [{ name: 'voxcache-source', config: () => ({ resolve: { alias: [zstdAlias] } }) }, published()]
}
