// How large a DICOM series decodes, and what it costs in memory (issue 16): for each series size, in
// a fresh Chromium each time, the bench page builds the series in its memory (int16 slices of ch2bet
// resampled, written by test/dicom-files.ts), then decodes it
//   - with itk-wasm alone: the pipeline call voxcache makes, in the page's thread, on the same files;
//   - with voxcache: cache.decode (files transferred to its worker, decoded, stored in OPFS), and then,
//     from files built anew, the same decode again (a hit from the cache).
// Peak memory is the renderer's (page and workers) VmHWM from /proc (bench/proc-memory.mjs), above its
// VmRSS once the files were built: `extra`. What voxcache adds is its extra minus itk-wasm's.
//
//   node bench/dicom-series.mjs                          # the sizes below (~4 min, up to 6 GiB of RAM)
//   SERIES=543x181x217,1000x512x512 node bench/dicom-series.mjs     # slices x columns x rows
//   SERIES_OUT=bench/results-series node bench/dicom-series.mjs      # the committed results
//
// Writes bench/.tmp/results-series.md and .json (SERIES_OUT=<path without extension> elsewhere). The
// default sizes end at the decode limit: 4,064 slices of 512×512 int16 are 2032 MiB, 4,065 one too many.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { memoryProbeAvailable, peakExtra } from './proc-memory.mjs'
import { findTestdata, serve } from './server.mjs'

const repo = fileURLToPath(new URL('..', import.meta.url))
const out = process.env.SERIES_OUT ?? 'bench/.tmp/results-series'
const sizes = (process.env.SERIES ?? '543x181x217,500x512x512,1000x512x512,2000x512x512,3000x512x512,4064x512x512,4065x512x512')
  .split(',')
  .map((s) => s.trim().split('x').map(Number))
const LIMIT_MS = 20 * 60_000
const started = Date.now()
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)}s]`, ...a)
const MiB = 2 ** 20

if (spawnSync('npx', ['vite', 'build', '--config', 'bench/vite.config.ts'], { cwd: repo, stdio: 'inherit' }).status !== 0) {
  throw new Error('vite build of the bench page failed')
}
const { url, server } = await serve(fileURLToPath(new URL('./.tmp/dist', import.meta.url)), findTestdata(repo))
log(`serving ${url}`)

/** One fresh browser (a persistent profile: an incognito context's quota is a fraction of memory). */
async function inBrowser(work) {
  const profile = mkdtempSync(join(os.tmpdir(), 'voxcache-bench-series-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: [...chromiumArgs, '--js-flags=--expose-gc'] })
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    page.on('pageerror', (e) => log('page error:', e.message))
    await page.goto(`${url}/bench/bench.html`)
    await page.waitForFunction(() => document.body.dataset.ready === 'true')
    const call = (fn, ...args) => {
      let timer
      const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${fn} did not settle in ${LIMIT_MS / 60000} min`)), LIMIT_MS)))
      return Promise.race([page.evaluate(({ fn, args }) => window.bench[fn](...args), { fn, args }), timeout]).finally(() => clearTimeout(timer))
    }
    const gc = () => page.evaluate(() => globalThis.gc?.())
    return await work(call, gc)
  } finally {
    await context.close().catch(() => undefined)
    rmSync(profile, { recursive: true, force: true })
  }
}

/** Builds the series, collects garbage, then measures `fn`'s peak. */
async function measured(call, gc, [slices, columns, rows], fn, ...args) {
  const built = await call('seriesBuild', slices, columns, rows)
  await gc()
  const { extra, before, peak, result } = await peakExtra(() => call(fn, ...args))
  return { built, extra, before, peak, ...result }
}

const results = []
let probe = true
for (const size of sizes) {
  const [slices, columns, rows] = size
  const label = `${slices} × ${columns}×${rows} int16`
  const voxelBytes = slices * columns * rows * 2
  log(`${label} (${(voxelBytes / MiB).toFixed(0)} MiB of voxels)`)
  const row = { slices, columns, rows, voxelBytes }
  try {
    row.itk = await inBrowser(async (call, gc) => {
      probe &&= memoryProbeAvailable()
      return measured(call, gc, size, 'seriesItk')
    })
    log(`  itk-wasm alone: ${row.itk.error ?? `${(row.itk.ms / 1000).toFixed(1)} s`}, peak extra ${(row.itk.extra / MiB).toFixed(0)} MiB`)
    await inBrowser(async (call, gc) => {
      row.voxcache = await measured(call, gc, size, 'seriesDecode', 'series')
      log(`  voxcache decode: ${row.voxcache.error ?? `${(row.voxcache.ms / 1000).toFixed(1)} s`}, peak extra ${(row.voxcache.extra / MiB).toFixed(0)} MiB`)
      if (!row.voxcache.error) {
        row.hit = await measured(call, gc, size, 'seriesDecode', 'series')
        log(`  voxcache again: ${row.hit.error ?? `${row.hit.hit ? 'hit' : 'MISS'}, ${(row.hit.ms / 1000).toFixed(1)} s`}, peak extra ${(row.hit.extra / MiB).toFixed(0)} MiB`)
      }
    })
  } catch (e) {
    row.failure = String(e.message ?? e).slice(0, 400)
    log(`  failed: ${row.failure}`)
  }
  results.push(row)
  writeReport()
}
server.close()

function writeReport() {
  mkdirSync(join(out, '..'), { recursive: true })
  const git = (...args) => spawnSync('git', args, { cwd: repo, encoding: 'utf8' }).stdout.trim()
  const meta = { date: new Date().toISOString(), commit: git('rev-parse', '--short', 'HEAD'), uncommitted: git('status', '--porcelain', '--untracked-files=no') !== '', cpus: os.cpus().length, memory: os.totalmem(), chromium: chromiumPath, memoryProbe: probe }
  writeFileSync(`${out}.json`, JSON.stringify({ meta, results }, null, 2))
  const mib = (b) => (Number.isFinite(b) ? (b / MiB).toFixed(0) : '–')
  const x = (b, of) => (Number.isFinite(b) && of ? `×${(b / of).toFixed(2)}` : '–')
  const cell = (r) => (!r ? 'not run' : r.error ? `**fails**: ${r.error.replace(/\|/g, '/').slice(0, 160)}` : `${(r.ms / 1000).toFixed(1)} s`)
  const lines = [
    `# Large DICOM series: decode and peak memory`,
    '',
    `${meta.date}, commit ${meta.commit}${meta.uncommitted ? ' plus uncommitted changes' : ''}, ${meta.cpus} CPUs, ${(meta.memory / 2 ** 30).toFixed(0)} GiB, \`node bench/dicom-series.mjs\`` +
      (process.env.SERIES ? ` with \`SERIES=${process.env.SERIES}\`` : '') + '.',
    'Peak extra: the renderer\'s VmHWM during the decode above its VmRSS before it, once the files were built in the page',
    '(so the input files themselves are not counted); ×files: that over the size of the files.',
    '',
    '| series | files | itk-wasm alone | peak extra (×files) | voxcache decode | peak extra (×files) | voxcache adds | again (hit) | peak extra |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => {
      const files = r.itk?.built?.bytes ?? r.voxcache?.built?.bytes
      const adds = r.itk && r.voxcache && !r.itk.error && !r.voxcache.error ? `${mib(r.voxcache.extra - r.itk.extra)} MiB (${x(r.voxcache.extra - r.itk.extra, files)})` : '–'
      return `| ${r.slices} × ${r.columns}×${r.rows} (${mib(r.voxelBytes)} MiB voxels) | ${mib(files)} MiB | ${r.failure ? `**fails**: ${r.failure}` : cell(r.itk)} | ${mib(r.itk?.extra)} MiB (${x(r.itk?.extra, files)}) | ${cell(r.voxcache)} | ${mib(r.voxcache?.extra)} MiB (${x(r.voxcache?.extra, files)}) | ${adds} | ${r.hit ? `${r.hit.hit ? '' : 'MISS '}${cell(r.hit)}` : '–'} | ${r.hit ? `${mib(r.hit.extra)} MiB` : '–'} |`
    }),
  ]
  writeFileSync(`${out}.md`, lines.join('\n') + '\n')
}
log(`wrote ${out}.md`)
