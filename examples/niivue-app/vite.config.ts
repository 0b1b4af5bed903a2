import { defineConfig } from 'vite'
import { voxcache } from 'voxcache/vite'

export default defineConfig({
  plugins: [voxcache()],
})
