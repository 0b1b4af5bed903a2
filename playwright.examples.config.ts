import { defineConfig } from '@playwright/test'
import suite from './playwright.config.js'

// The example apps, built from the packed tarball: the browser suite's settings, without its server
// (examples/examples.spec.ts builds and serves each app itself).
export default defineConfig({
  ...suite,
  testDir: 'examples',
  outputDir: 'test-results-examples',
  use: { ...suite.use, baseURL: undefined },
  webServer: undefined,
  projects: undefined,
})
