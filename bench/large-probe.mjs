// Where a value past 2 GiB fails today (issue 13's first measurement): stores and retrieves one
// generated Uint8Array of each size on each storage, in Debian's Chromium, on the library's test page,
// and says at which stage it failed (allocate, store, retrieve, check) and with what error.
//
//   node bench/large-probe.mjs                       # 1, 2, 2.5 and 3 GiB on opfs and idb, codec none and zstd
//   PROBE_GIB=3 PROBE_STORAGE=opfs PROBE_CODEC=none node bench/large-probe.mjs
//
// Writes bench/.tmp/results-large.md and .json (PROBE_OUT=<path without extension> elsewhere); each run
// uses a fresh persistent profile. Needs about 4× the largest size in free memory. bench/results-large.md
// gathers the runs behind issue 13's limits.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'

const repo = fileURLToPath(new URL('..', import.meta.url))
const out = 'bench/.tmp/probe'
const port = Number(process.env.PROBE_PORT ?? 4391)
const list = (name, fallback) => (process.env[name] ?? fallback).split(',').map((s) => s.trim())
const sizes = list('PROBE_GIB', '1,2,2.5,3').map(Number)
const storages = list('PROBE_STORAGE', 'opfs,idb')
const codecs = list('PROBE_CODEC', 'none,zstd')
const LIMIT_MS = 15 * 60_000

if (spawnSync('npx', ['vite', 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], { cwd: repo, stdio: 'inherit' }).status !== 0) {
  throw new Error('vite build of the test page failed')
}
const server = spawn('npx', ['vite', 'preview', '--outDir', out, '--port', String(port), '--strictPort'], { cwd: repo, detached: true, stdio: 'ignore' })
const stop = () => server.pid && process.kill(-server.pid, 'SIGTERM')
process.on('exit', stop)
for (let i = 0; ; i++) {
  if (await fetch(`http://localhost:${port}/test/harness/index.html`).then((r) => r.ok, () => false)) break
  if (i > 120) throw new Error('the preview server did not start')
  await new Promise((r) => setTimeout(r, 500))
}

const results = []
for (const storage of storages) {
  for (const codec of codecs) {
    for (const gib of sizes) {
      // A persistent profile per run: an incognito context's quota is a fraction of memory, a profile's
      // a fraction of the disk, as for a person.
      const profile = mkdtempSync(join(tmpdir(), 'voxcache-probe-'))
      const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: chromiumArgs })
      const page = context.pages()[0] ?? (await context.newPage())
      let result
      try {
        await page.goto(`http://localhost:${port}/test/harness/index.html?cache=probe&storage=${storage}&maxBytes=${64 * 2 ** 30}`)
        await page.waitForSelector('body[data-ready]')
        const work = page.evaluate(
          async ({ bytes, codec }) => {
            const now = () => performance.now()
            const { quota } = await navigator.storage.estimate()
            const fail = (stage, e, extra = {}) => ({ stage, quota, error: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : String(e), ...extra })
            let data
            try {
              data = new Uint8Array(bytes)
            } catch (e) {
              return fail('allocate', e)
            }
            for (let i = 0; i < bytes; i += 4096) data[i] = (i / 4096) & 255
            const id = await window.voxcacheLib.operationId('probe', { bytes, codec })
            let t0 = now()
            try {
              await window.voxcache.store(id, data, { codec })
            } catch (e) {
              return fail('store', e)
            }
            const storeMs = Math.round(now() - t0)
            const info = await window.voxcache.info(id)
            t0 = now()
            let back
            try {
              back = await window.voxcache.retrieve(id)
            } catch (e) {
              return fail('retrieve', e, { storeMs, storedBytes: info?.sizeBytes })
            }
            const retrieveMs = Math.round(now() - t0)
            let wrong = 0
            for (let i = 0; i < bytes; i += 4096) if (back[i] !== ((i / 4096) & 255)) wrong++
            return { stage: wrong || back.length !== bytes ? 'check' : 'ok', quota, length: back.length, wrong, storeMs, retrieveMs, storedBytes: info?.sizeBytes }
          },
          { bytes: Math.round(gib * 2 ** 30), codec },
        )
        result = await Promise.race([work, new Promise((r) => setTimeout(() => r({ stage: 'timeout', error: `no answer in ${LIMIT_MS / 60000} min` }), LIMIT_MS))])
      } catch (e) {
        result = { stage: 'page', error: String(e.message ?? e).split('\n')[0].slice(0, 300) }
      }
      console.log(JSON.stringify({ storage, codec, gib, ...result }))
      results.push({ storage, codec, gib, ...result })
      await context.close().catch(() => undefined)
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
stop()

const rows = results.map((r) => `| ${r.storage} | ${r.codec} | ${r.gib} | ${r.stage} | ${r.storeMs ?? ''} | ${r.retrieveMs ?? ''} | ${r.error ?? ''} |`)
const outBase = process.env.PROBE_OUT ?? 'bench/.tmp/results-large'
writeFileSync(
  `${outBase}.md`,
  `# Values past 2 GiB, before format 2 (bench/large-probe.mjs, ${new Date().toISOString()})\n\n` +
    '| storage | codec | GiB | reached | store ms | retrieve ms | error |\n| --- | --- | --- | --- | --- | --- | --- |\n' +
    rows.join('\n') +
    '\n',
)
writeFileSync(`${outBase}.json`, JSON.stringify(results, null, 2) + '\n')
process.exit(0)
