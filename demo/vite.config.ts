// The demo is an app of voxcache's like any other: it imports 'voxcache' (the built package in lib/,
// `npm run build:lib`) and uses the published Vite plugin, nothing from the library's source.
import { defineConfig } from 'vite'
import { voxcache } from 'voxcache/vite'
import { precacheServiceWorker } from './precache-plugin.js'

export default defineConfig({
  plugins: [
    voxcache(),
    // The demo's offline support: sw.js precaching the whole build (written after every other file).
    precacheServiceWorker(),
  ],
  build: { target: 'es2022', sourcemap: true },
  preview: { port: 4173, strictPort: true },
  server: { port: 5173, strictPort: true },
})
