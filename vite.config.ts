// The library's own test page (test/harness), on the library's source, for the browser specs (e2e/).
// The demo has its own config (demo/vite.config.ts) and uses the built package instead.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { voxcache } from './scripts/vite-plugin.js'

/**
 * The cache worker of the test page reaches its backend through test/harness/stuck-writes.ts, which
 * can make a write never settle (for e2e/watchdog.spec.ts), and its coordinator through
 * test/harness/kept-lease.ts, which can keep a lease until asked (for e2e/lease.spec.ts); the
 * published worker has neither.
 */
const testHooks: Record<string, string> = {
  './payloads/choose.js': './test/harness/stuck-writes.ts',
  './tabs.js': './test/harness/kept-lease.ts',
}
const hooks = {
  name: 'voxcache-test-hooks',
  enforce: 'pre' as const,
  resolveId(source: string, importer: string | undefined) {
    const hook = testHooks[source]
    if (!hook || !importer?.endsWith('/worker/cache.ts')) return null
    return fileURLToPath(new URL(hook, import.meta.url))
  },
}

export default defineConfig({
  plugins: [...voxcache()],
  worker: { plugins: () => [hooks] },
  build: { target: 'es2022', sourcemap: true, rolldownOptions: { input: { harness: 'test/harness/index.html' } } },
  server: { port: 5174, strictPort: true },
})
