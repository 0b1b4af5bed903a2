import { defineConfig } from '@playwright/test'
import { chromiumArgs, chromiumPath } from './scripts/chromium.mjs'

// PORT and OUT_DIR let several checkouts (or sessions) run the suite at once without sharing a server.
// Not 4173, `npm start`'s port: the suite builds and serves its own copy and never reuses a server,
// so a stale build or someone's running demo is never what gets tested (--strictPort fails instead).
const port = Number(process.env.PORT ?? 4317)
const outDir = process.env.OUT_DIR ?? 'dist'

export default defineConfig({
  testDir: 'e2e',
  outputDir: process.env.OUT_DIR ? `test-results-${outDir}` : 'test-results',
  timeout: 120_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.PW_JSON ? [['list'], ['json', { outputFile: process.env.PW_JSON }]] : [['list']],
  use: {
    baseURL: `http://localhost:${port}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
    screenshot: 'only-on-failure',
  },
  webServer: {
    command: `VOXCACHE_HARNESS=1 npx vite build --logLevel warn --outDir ${outDir} && npx vite preview --outDir ${outDir} --port ${port} --strictPort`,
    url: `http://localhost:${port}`,
    reuseExistingServer: false,
    timeout: 180_000,
  },
})
