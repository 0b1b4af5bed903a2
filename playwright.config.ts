import { resolve } from 'node:path'
import { defineConfig } from '@playwright/test'
import { chromiumArgs, chromiumPath } from './scripts/chromium.mjs'

// PORT and OUT_DIR let several checkouts (or sessions) run the suite at once without sharing a server.
// Not 4173, `npm start`'s port: the suite builds and serves its own copy and never reuses a server,
// so a stale build or someone's running demo is never what gets tested (--strictPort fails instead).
const port = Number(process.env.PORT ?? 4317)
const outDir = process.env.OUT_DIR ?? 'dist'
const demoOut = resolve(`${outDir}-demo`)

export default defineConfig({
  testDir: 'e2e',
  globalSetup: './scripts/testdata-setup.mjs',
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
  // The library's specs run on its test page (test/harness, the library's source); the demo's spec on
  // the demo, built as an app from the built package (lib/, rebuilt here so it is never stale).
  projects: [
    { name: 'library', testIgnore: 'demo.spec.ts' },
    {
      name: 'demo',
      testMatch: 'demo.spec.ts',
      // The demo registers its service worker like for anyone; specs that want it allow it.
      use: { baseURL: `http://localhost:${port + 1}`, serviceWorkers: 'block' },
    },
  ],
  webServer: [
    {
      command: `npx vite build --logLevel warn --outDir ${outDir} && npx vite preview --outDir ${outDir} --port ${port} --strictPort`,
      url: `http://localhost:${port}/test/harness/index.html`,
      reuseExistingServer: false,
      timeout: 180_000,
    },
    {
      command: `node scripts/build-lib.mjs && npx vite build demo --logLevel warn --outDir ${demoOut} --emptyOutDir && npx vite preview demo --outDir ${demoOut} --port ${port + 1} --strictPort`,
      url: `http://localhost:${port + 1}`,
      reuseExistingServer: false,
      timeout: 180_000,
    },
  ],
})
