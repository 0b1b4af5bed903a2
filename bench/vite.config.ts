// The benchmark page's build: the app's own Vite config (aliases, worker format, any plugins the app
// adds) with bench/bench.html as the only input, into bench/.tmp/dist so `vite build` of index.html and
// its dist/ are left alone.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { mergeConfig } from 'vite'
import app from '../vite.config.js'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * `voxcache-prev`: the library as a previous commit had it, extracted by run.mjs (BENCH_PREV=<rev>)
 * into bench/.tmp/prev, so that the old and the new build run as contenders in one run. Without it,
 * a module that offers no openCache, and the contender is left out.
 */
const prevEntry = fileURLToPath(new URL('./.tmp/prev/src/index.ts', import.meta.url))
const prevAlias = {
  find: /^voxcache-prev$/,
  replacement: existsSync(prevEntry) ? prevEntry : fileURLToPath(new URL('./no-prev.ts', import.meta.url)),
}

/**
 * BENCH_TRACE=1 logs every payload-backend call of the cache worker (start and end) to the console,
 * which run.mjs prints: it finds the await a hung store is stuck in, without editing worker/. It also
 * logs every request of the cache's Web Lock (`[lock] >` asked, `=` granted, `<` let go), so a hang
 * tells a lock never granted from a holder stuck in a call.
 */
const trace = {
  name: 'bench-trace-opfs',
  enforce: 'pre' as const,
  transform(code: string, id: string) {
    if (process.env.BENCH_TRACE && id.endsWith('worker/tabs.ts')) {
      return code.replace(
        'const locks = (globalThis.navigator as Navigator | undefined)?.locks',
        `const untraced = (globalThis.navigator as Navigator | undefined)?.locks
  const locks = untraced && {
    request(name: string, options: LockOptions, fn: (lock: Lock | null) => Promise<unknown>) {
      const t = Math.random().toString(36).slice(2, 6)
      console.log('[lock] >', options.mode, t, name)
      return untraced.request(name, options, async (lock) => {
        console.log('[lock] =', t, lock ? 'held' : 'not-free')
        try {
          return await fn(lock)
        } finally {
          console.log('[lock] <', t)
        }
      })
    },
  }`,
      )
    }
    if (!process.env.BENCH_TRACE || !id.endsWith('worker/payloads/opfs.ts')) return null
    return code.replace(
      /\n  return backend\n\}/,
      `
  for (const [k, f] of Object.entries(backend)) {
    if (typeof f !== 'function') continue
    ;(backend as any)[k] = async (...a: unknown[]) => {
      const t = Math.random().toString(36).slice(2, 6)
      console.log('[opfs] >', k, t, String(a[0]))
      try {
        return await (f as any)(...a)
      } finally {
        console.log('[opfs] <', k, t)
      }
    }
  }
  return backend
}`,
    )
  },
}

export default mergeConfig(app, {
  root,
  resolve: { alias: [prevAlias] },
  worker: { plugins: () => [trace] },
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./.tmp/dist', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    rolldownOptions: { input: fileURLToPath(new URL('./bench.html', import.meta.url)) },
  },
})
