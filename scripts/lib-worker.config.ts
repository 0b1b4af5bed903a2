// The package's worker: worker/cache.worker.ts bundled with everything it imports (sql.js, zstd,
// itk-wasm, Comlink) into lib/worker/, its wasm files beside it and referenced as
// `new URL('…', import.meta.url)`, so that an app's bundler (Vite, webpack 5) needs no alias, no
// CommonJS handling and no pre-bundling to run it.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { zstdAlias } from './vite-plugin.js'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * sql.js ships one UMD file. Bundled as CommonJS, its `typeof module === 'object'` export check sits
 * in an interop wrapper that webpack's production minifier (terser) folds away, so an app built by
 * webpack got `initSqlJs` undefined. As an ES module (its UMD tail replaced by an export) nothing is
 * left to fold.
 */
const sqlJsAsEsm = {
  name: 'voxcache-sql.js-esm',
  transform(code: string, id: string) {
    if (!/[\\/]sql\.js[\\/]dist[\\/]sql-wasm(-browser)?\.js$/.test(id)) return null
    const tail = code.indexOf("if (typeof exports === 'object' && typeof module === 'object'){")
    if (tail < 0) throw new Error(`sql.js: its UMD export block was not found in ${id}`)
    // Its body assigns `module = undefined` (to keep emscripten's own export code quiet): a local here.
    return { code: `var module\n${code.slice(0, tail)}export default initSqlJs\n`, map: null }
  },
}

/**
 * itk-wasm can run a pipeline in a web worker of its own, which its bundle names with
 * `new Worker(new URL(…))`; voxcache runs pipelines in its own worker (`webWorker: false`), so that
 * second worker (117 kB) would only be built into every app and never started.
 */
const noItkPipelineWorker = {
  name: 'voxcache-no-itk-pipeline-worker',
  transform(code: string, id: string) {
    if (!/[\\/]itk-wasm[\\/]dist[\\/]pipeline[\\/]create-web-worker\.js$/.test(id)) return null
    const create = "new Worker(new URL('./web-workers/itk-wasm-pipeline.worker.js', import.meta.url), { type: 'module' })"
    if (!code.includes(create)) throw new Error(`itk-wasm: its pipeline worker is not created as expected in ${id}`)
    return { code: code.replace(create, "(() => { throw new Error('voxcache runs itk-wasm pipelines in its own worker') })()"), map: null }
  },
}

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  resolve: { alias: [zstdAlias] },
  plugins: [sqlJsAsEsm, noItkPipelineWorker],
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../lib/worker', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    minify: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: false,
    copyPublicDir: false,
    rolldownOptions: {
      input: { 'cache.worker': fileURLToPath(new URL('../worker/cache.worker.ts', import.meta.url)) },
      output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', assetFileNames: '[name]-[hash][extname]' },
      preserveEntrySignatures: 'strict',
    },
  },
})
