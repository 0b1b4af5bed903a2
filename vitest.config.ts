import { defineConfig } from 'vitest/config'
import { zstdAlias } from './scripts/vite-plugin.js'

// Pure logic only (codec, operation ids, index SQL on real sql.js), in Node. Everything that touches
// the worker, OPFS, IndexedDB or itk-wasm runs in Chromium through Playwright (e2e/).
export default defineConfig({
  resolve: { alias: [zstdAlias] },
  test: {
    include: ['src/**/*.test.ts', 'worker/**/*.test.ts', 'demo/src/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    globalSetup: ['scripts/testdata-setup.mjs'],
  },
})
