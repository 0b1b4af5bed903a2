import { defineConfig } from 'vite'
import { precacheServiceWorker } from './scripts/precache-plugin.js'
import { voxcache } from './scripts/vite-plugin.js'

export default defineConfig({
  plugins: [
    ...voxcache(),
    // The demo's offline support: sw.js precaching the whole build (written after the copies above).
    precacheServiceWorker(),
  ],
  build: {
    target: 'es2022',
    sourcemap: true,
    // The library's test page (test/harness) is built only for the browser specs, never into the demo.
    rolldownOptions: process.env.VOXCACHE_HARNESS ? { input: { main: 'index.html', harness: 'test/harness/index.html' } } : {},
  },
  preview: { port: 4173, strictPort: true },
  server: { port: 5173, strictPort: true },
})
