import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/**
 * @bokuweb/zstd-wasm exports only its high-level API, which copies whole buffers through wasm memory;
 * voxcache drives its emscripten module frame by frame, so it reaches the files directly.
 */
export const aliases = [
  { find: /^zstd-wasm:(.*)$/, replacement: here('./node_modules/@bokuweb/zstd-wasm/dist/web/') + '$1' },
]

export default defineConfig({
  resolve: { alias: aliases },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  preview: { port: 4173, strictPort: true },
  server: { port: 5173, strictPort: true },
})
