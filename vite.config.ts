// The library's own test page (test/harness), on the library's source, for the browser specs (e2e/).
// The demo has its own config (demo/vite.config.ts) and uses the built package instead.
import { defineConfig } from 'vite'
import { voxcache } from './scripts/vite-plugin.js'

export default defineConfig({
  plugins: [...voxcache()],
  build: { target: 'es2022', sourcemap: true, rolldownOptions: { input: { harness: 'test/harness/index.html' } } },
  server: { port: 5174, strictPort: true },
})
