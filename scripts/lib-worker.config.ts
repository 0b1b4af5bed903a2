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

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  resolve: { alias: [zstdAlias] },
  plugins: [sqlJsAsEsm],
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
