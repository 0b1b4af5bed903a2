// `npm run bench [-- --quick]`: builds the bench page, serves it, drives it in Debian's headless
// Chromium and writes bench/results.md and bench/results.json. Contenders are interleaved within each
// repetition (order rotated), every figure is a median, every comparison a ratio from the same run.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { memoryProbeAvailable, peakExtra } from './proc-memory.mjs'
import { renderMarkdown } from './report.mjs'
import { findTestdata, serve } from './server.mjs'

const quick = process.argv.includes('--quick')
const repo = fileURLToPath(new URL('..', import.meta.url))
const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const started = Date.now()
const runTag = started.toString(36)
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...a)
const idOf = (...parts) => createHash('sha256').update(parts.join(':')).digest('hex')
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (!s.length) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const CALL_TIMEOUT_MS = 120_000
const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length])

const plan = quick
  ? {
      reps: 3,
      memReps: 2,
      sizes: ['ch2bet', 'u8-256', 'f32-256'],
      seedSizes: ['ch2bet'],
      indexSizes: [10, 1000],
      indexReps: 7,
      decodeReps: 3,
    }
  : {
      reps: 7,
      memReps: 3,
      sizes: ['ch2bet', 'u8-256', 'f32-256', 'u8-512'],
      seedSizes: ['ch2bet', 'u8-256'],
      indexSizes: [10, 1000, 10000],
      indexReps: 11,
      decodeReps: 7,
    }
// BENCH_SIZES=u8-512,ch2bet and BENCH_REPS=15 narrow or lengthen the store/retrieve section (to look
// closer at one figure).
if (process.env.BENCH_SIZES) plan.sizes = process.env.BENCH_SIZES.split(',')
if (process.env.BENCH_REPS) plan.reps = Number(process.env.BENCH_REPS)
const VOLUMES = {
  ch2bet: { spec: { kind: 'ch2bet' }, label: 'ch2bet 181×217×181 uint8 (real)' },
  'u8-256': { spec: { kind: 'phantom', n: 256, type: 'u8' }, label: '256³ uint8 (synthetic)' },
  'f32-256': { spec: { kind: 'phantom', n: 256, type: 'f32' }, label: '256³ float32 (synthetic)' },
  'u8-512': { spec: { kind: 'phantom', n: 512, type: 'u8' }, label: '512³ uint8 (synthetic)' },
  'u8-128': { spec: { kind: 'phantom', n: 128, type: 'u8' }, label: '128³ uint8 (synthetic)' },
  'small-64k': { spec: { kind: 'small', bytes: 65536 }, label: '64 KiB Uint8 (random)' },
  'filler-8k': { spec: { kind: 'small', bytes: 8192 }, label: '8 KiB Uint8 (random)' },
  'small-200': { spec: { kind: 'small', bytes: 200 }, label: '200 B Uint8 (random)' },
  'small-4k': { spec: { kind: 'small', bytes: 4096 }, label: '4 KiB Uint8 (random)' },
}

// ---------------------------------------------------------------------------------------------------

// BENCH_PREV=<git rev>: the library as that commit had it runs beside this one (vox-prev-*), so that a
// change's cost is a ratio from the same run. Its src/ and worker/ are extracted into bench/.tmp/prev.
const prevRev = process.env.BENCH_PREV
const prevDir = here('./.tmp/prev')
rmSync(prevDir, { recursive: true, force: true })
if (prevRev) {
  mkdirSync(prevDir, { recursive: true })
  const archive = spawnSync('git', ['archive', prevRev, 'src', 'worker'], { cwd: repo, maxBuffer: 1 << 30 })
  if (archive.status !== 0) throw new Error(`git archive ${prevRev}: ${archive.stderr}`)
  const untar = spawnSync('tar', ['-x', '-C', prevDir], { input: archive.stdout })
  if (untar.status !== 0) throw new Error(`extracting ${prevRev}: ${untar.stderr}`)
}
const prevCommit = prevRev ? spawnSync('git', ['rev-parse', '--short', prevRev], { cwd: repo, encoding: 'utf8' }).stdout.trim() : null

log(`voxcache bench (${quick ? 'quick' : 'full'}): building the bench page${prevRev ? ` with ${prevCommit} as vox-prev` : ''}…`)
const built = spawnSync('npx', ['vite', 'build', '--config', 'bench/vite.config.ts'], { cwd: repo, stdio: 'inherit' })
if (built.status !== 0) throw new Error('vite build of the bench page failed')
const testdata = findTestdata(repo)
const { url, server, ch2bet } = await serve(here('./.tmp/dist'), testdata)
log(`serving ${url} (testdata ${testdata}, ch2bet ${ch2bet.size.join('×')})`)

// A persistent profile on disk, as a user's browser has. An incognito context (browser.newContext())
// keeps OPFS in the browser process's memory and serves every sync-access-handle call over IPC: its
// reads came out 2–3× slower than a real profile's (bench/results.md, "Why the ceilings differ"), which
// made every ratio against the raw ceiling flatter voxcache.
const profileDir = mkdtempSync(join(os.tmpdir(), 'voxcache-bench-profile-'))
const context = await chromium.launchPersistentContext(profileDir, { executablePath: chromiumPath, args: [...chromiumArgs, '--js-flags=--expose-gc'] })
const page = context.pages()[0] ?? (await context.newPage())
const browserVersion = await page.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? navigator.userAgent)
page.on('pageerror', (e) => log('page error:', e.message))
// With a BENCH_TRACE=1 build the cache workers log every OPFS backend call; on a hang, the calls that
// started and never finished are printed.
const traceRing = []
page.on('console', (m) => {
  const text = m.text()
  if (text.startsWith('[opfs]')) {
    traceRing.push(text)
    if (traceRing.length > 400) traceRing.shift()
  } else if (text.startsWith('BENCH-HANG')) {
    const open = new Map()
    for (const line of traceRing) {
      const hit = line.match(/^\[opfs\] ([<>]) (\S+) (\S+)(.*)$/)
      if (hit) hit[1] === '>' ? open.set(hit[3], `${hit[2]}${hit[4]}`) : open.delete(hit[3])
    }
    log(`${text}; backend calls never finished: ${traceRing.length ? JSON.stringify([...open.values()]) : '(build with BENCH_TRACE=1 to see them)'}`)
  } else if (m.type() === 'error') log('console error:', text)
})
await page.goto(`${url}/bench/bench.html`)
await page.waitForFunction(() => document.body.dataset.ready === 'true')
const memoryProbe = memoryProbeAvailable()

const debug = Boolean(process.env.BENCH_DEBUG)
/** What every context of the page holds and waits for, when a call hangs (Web Locks are per origin). */
async function dumpLocks() {
  for (const w of [page, ...page.workers()]) {
    const state = await w.evaluate(() => navigator.locks.query()).catch((e) => String(e))
    log(`locks seen from ${w === page ? 'page' : w.url()}: ${JSON.stringify(state)}`)
  }
}

const call = (fn, ...args) => callWithin(CALL_TIMEOUT_MS, fn, ...args)
async function callWithin(timeoutMs, fn, ...args) {
  if (debug) log('→', fn, ...args.map((a) => (typeof a === 'string' ? a.slice(0, 24) : JSON.stringify(a).slice(0, 80))))
  // A call that never settles (a lost worker message, a stuck lock) fails its section instead of the run.
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench.${fn} did not settle within ${timeoutMs / 1000} s`)), timeoutMs)
  })
  try {
    return await Promise.race([page.evaluate(({ fn, args }) => window.bench[fn](...args), { fn, args }), timeout])
  } catch (error) {
    if (String(error.message).includes('did not settle')) await dumpLocks()
    throw error
  } finally {
    clearTimeout(timer)
  }
}
const results = {
  meta: {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
    browser: `Chromium ${browserVersion} (headless=new, /usr/bin/chromium, a persistent profile on disk)`,
    node: process.version,
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout.trim(),
    /** BENCH_PREV: the commit whose build ran as vox-prev-none / vox-prev-zstd. */
    previous: prevCommit,
    /** BENCH_ONLY: the sections this run was limited to. */
    only: process.env.BENCH_ONLY ?? null,
    loadavgStart: os.loadavg(),
    plan,
    memoryProbe,
  },
  sizes: {},
  seed: {},
  index: {},
  compression: {},
  decode: null,
  region: null,
  layout: null,
  encryption: null,
  memory: null,
  errors: [],
}

async function load(key) {
  const r = await call('load', key, VOLUMES[key].spec)
  return r.bytes
}

/** Opens contenders with fresh names; returns their handles. */
async function openAll(scenario, defs) {
  const handles = []
  for (const [handle, kind, codec, memoryBytes] of defs) {
    await call('open', handle, kind, `${runTag}-${scenario}-${handle}`, codec, memoryBytes)
    handles.push(handle)
  }
  return handles
}

async function closeAll(handles) {
  for (const h of handles) await call('close', h).catch((e) => log(`close ${h}: ${e.message}`))
}

/**
 * Drops the profile's storage files (OPFS, IndexedDB) from the OS page cache, dirty pages written out
 * first, so that the next read of them comes from the disk: `dd iflag=nocache count=0` is
 * posix_fadvise(POSIX_FADV_DONTNEED) on the whole file. Only these files: the browser's own code and
 * everything else stay cached, as they would be on a user's machine.
 */
function dropFileCaches() {
  spawnSync('sync')
  const dirs = ['File System', 'IndexedDB'].map((d) => join(profileDir, 'Default', d))
  const dropped = spawnSync('sh', ['-c', 'find "$@" -type f -exec dd iflag=nocache count=0 status=none if={} \\;', 'drop', ...dirs], { encoding: 'utf8' })
  if (dropped.status !== 0) throw new Error(`dropping the profile's files from the page cache: ${dropped.stderr}`)
}

/**
 * Interleaved store and retrieve of one volume: per repetition, every contender stores (rotated
 * order), then every contender retrieves, then the entries are deleted (untimed).
 */
async function interleaved(scenario, key, handles, reps, bytes, cold = false) {
  const samples = Object.fromEntries(handles.map((h) => [h, { store: [], retrieve: [], storeInner: [], retrieveInner: [], retrieveCold: [], retrieveColdInner: [] }]))
  // A contender that cannot hold the value at all (IndexedDB refuses values over ~127 MiB) drops out,
  // and the failure is reported in its place.
  const failed = {}
  for (let rep = 0; rep < reps; rep++) {
    const order = rotate(handles, rep).filter((h) => !failed[h])
    const stored = []
    for (const h of order) {
      await call('prepare', key)
      try {
        const [ms, inner] = await call('store', h, idOf(runTag, scenario, h, rep))
        samples[h].store.push(ms)
        samples[h].storeInner.push(inner)
        stored.push(h)
      } catch (error) {
        if (String(error.message).includes('did not settle')) throw error
        failed[h] = String(error.message).replace(/^page\.evaluate: /, '')
        log(`${scenario}: ${h} fails: ${failed[h]}`)
      }
    }
    for (const h of stored) {
      if (h === 'copy') continue
      const [ms, inner] = await call('retrieve', h, idOf(runTag, scenario, h, rep), bytes)
      samples[h].retrieve.push(ms)
      samples[h].retrieveInner.push(inner)
    }
    if (cold) {
      // Cold reads: another copy stored (untimed), the profile's files dropped from the OS page cache,
      // then each contender's first read of it.
      const readers = stored.filter((h) => h !== 'copy')
      for (const h of readers) {
        await call('prepare', key)
        await call('store', h, idOf(runTag, scenario, h, rep, 'cold'))
      }
      dropFileCaches()
      for (const h of rotate(readers, rep)) {
        const [ms, inner] = await call('retrieve', h, idOf(runTag, scenario, h, rep, 'cold'), bytes)
        samples[h].retrieveCold.push(ms)
        samples[h].retrieveColdInner.push(inner)
      }
      for (const h of readers) await call('remove', h, idOf(runTag, scenario, h, rep, 'cold'))
    }
    for (const h of stored) await call('remove', h, idOf(runTag, scenario, h, rep))
  }
  for (const [h, message] of Object.entries(failed)) samples[h].error = message
  return samples
}

/**
 * Peak extra memory of contender `h` storing, then (reopened) retrieving, volume `key`, as a multiple of
 * its bytes: medians of plan.memReps.
 */
async function peakMemory(key, h, bytes) {
  const store = []
  const retrieve = []
  for (let rep = 0; rep < plan.memReps; rep++) {
    const id = idOf(runTag, key, 'mem', h, rep)
    await call('prepare', key)
    await call('gc')
    store.push((await peakExtra(() => call('store', h, id))).extra / bytes)
    await call('reopen', h)
    await call('gc')
    retrieve.push((await peakExtra(() => call('retrieve', h, id, bytes))).extra / bytes)
    await call('remove', h, id)
    await call('gc')
  }
  return { store: { median: median(store), samples: store }, retrieve: { median: median(retrieve), samples: retrieve } }
}

/** Paired ratios a[i]/b[i] (same repetition), and their median. */
function ratio(a = [], b = []) {
  const r = a.map((x, i) => x / b[i]).filter(Number.isFinite)
  return { median: median(r), samples: r }
}

function summarize(samples) {
  const out = {}
  for (const [h, s] of Object.entries(samples)) {
    out[h] = {}
    for (const [k, v] of Object.entries(s)) out[h][k] = k === 'error' ? v : { median: median(v), samples: v }
  }
  return out
}

// BENCH_ONLY=index,decode runs only the sections whose names start with one of these words.
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean)

async function section(name, fn) {
  if (only && !only.some((w) => name.startsWith(w))) return
  try {
    await fn()
  } catch (error) {
    log(`section ${name} failed: ${error.stack ?? error}`)
    results.errors.push({ section: name, error: String(error.message ?? error) })
  }
}

// --- 1. sizes: voxcache ('none', 'zstd') against the ceilings and idb-keyval ------------------------
for (const key of plan.sizes) {
  await section(`size ${key}`, async () => {
    const bytes = await load(key)
    log(`${key}: ${(bytes / 1e6).toFixed(1)} MB, ${plan.reps} interleaved repetitions`)
    const handles = await openAll(key, [
      ['vox-none', 'vox', 'none'],
      ['vox-strict', 'voxstrict', 'none'],
      ['vox-zstd', 'vox', 'zstd'],
      ['raw-opfs', 'raw'],
      ['raw-noflush', 'rawnoflush'],
      ['raw-blob', 'rawblob'],
      ['copy', 'copy'],
      ['idb-keyval', 'idbkv'],
      ...(prevRev ? [['vox-prev-none', 'voxprev', 'none'], ['vox-prev-zstd', 'voxprev', 'zstd']] : []),
    ])
    try {
      const samples = await interleaved(key, key, handles, plan.reps, bytes, true)
      const s = summarize(samples)
      const raw = samples['raw-opfs']
      const entry = {
        label: VOLUMES[key].label,
        bytes,
        contenders: s,
        ratios: {
          storeNoneVsRawWrite: ratio(samples['vox-none'].store, raw.store),
          // Like with like: the default ('relaxed') against a raw write without flush, 'strict' against one with.
          storeNoneVsRawNoFlush: ratio(samples['vox-none'].store, samples['raw-noflush'].store),
          storeStrictVsRawWrite: ratio(samples['vox-strict'].store, raw.store),
          retrieveNoneVsRawRead: ratio(samples['vox-none'].retrieve, raw.retrieve),
          retrieveNoneColdVsRawCold: ratio(samples['vox-none'].retrieveCold, raw.retrieveCold),
          retrieveZstdColdVsRawCold: ratio(samples['vox-zstd'].retrieveCold, raw.retrieveCold),
          blobColdVsRawCold: ratio(samples['raw-blob'].retrieveCold, raw.retrieveCold),
          storeZstdVsRawWrite: ratio(samples['vox-zstd'].store, raw.store),
          retrieveZstdVsRawRead: ratio(samples['vox-zstd'].retrieve, raw.retrieve),
          storeNoneVsRawWriteInWorker: ratio(samples['vox-none'].store, raw.storeInner),
          retrieveNoneVsRawReadInWorker: ratio(samples['vox-none'].retrieve, raw.retrieveInner),
          retrieveNoneVsBlobRead: ratio(samples['vox-none'].retrieve, samples['raw-blob'].retrieve),
          blobReadVsRawRead: ratio(samples['raw-blob'].retrieve, raw.retrieve),
          idbStoreVsNone: ratio(samples['idb-keyval'].store, samples['vox-none'].store),
          idbRetrieveVsNone: ratio(samples['idb-keyval'].retrieve, samples['vox-none'].retrieve),
          ...(prevRev
            ? {
                storeNoneVsPrevious: ratio(samples['vox-none'].store, samples['vox-prev-none'].store),
                retrieveNoneVsPrevious: ratio(samples['vox-none'].retrieve, samples['vox-prev-none'].retrieve),
                storeZstdVsPrevious: ratio(samples['vox-zstd'].store, samples['vox-prev-zstd'].store),
                retrieveZstdVsPrevious: ratio(samples['vox-zstd'].retrieve, samples['vox-prev-zstd'].retrieve),
              }
            : {}),
        },
        memory: {},
      }
      results.sizes[key] = entry
      log(
        `${key}: store none ${s['vox-none'].store.median.toFixed(1)} ms, raw write ${s['raw-opfs'].store.median.toFixed(1)} ms; ` +
          `retrieve none ${s['vox-none'].retrieve.median.toFixed(1)} ms, raw read ${s['raw-opfs'].retrieve.median.toFixed(1)} ms`,
      )
      if (memoryProbe) {
        for (const h of ['vox-none', 'vox-zstd', 'raw-opfs', 'idb-keyval']) {
          if (!samples[h].error) entry.memory[h] = await peakMemory(key, h, bytes)
        }
        log(`${key}: peak extra memory ×payload`, JSON.stringify(Object.fromEntries(Object.entries(entry.memory).map(([h, m]) => [h, [m.store.median.toFixed(2), m.retrieve.median.toFixed(2)]]))))
      }
    } finally {
      await closeAll(handles)
      await call('unload', key)
      await call('gc')
    }
  })
}

// --- 1b. small values: a store's fixed cost, against idb-keyval and raw OPFS files ---------------------
// Issue 14: a store's fixed cost at most 3 ms, and faster than idb-keyval's for values of 64 KiB and less.
results.small = {}
for (const key of ['small-200', 'small-4k', 'small-64k']) {
  await section(`small ${key}`, async () => {
    const bytes = await load(key)
    const reps = quick ? 15 : 40
    const handles = await openAll(key, [
      ['vox-none', 'vox', 'none'],
      ['vox-strict', 'voxstrict', 'none'],
      ['idb-keyval', 'idbkv'],
      ['raw-opfs', 'raw'],
      ['raw-noflush', 'rawnoflush'],
    ])
    try {
      const samples = await interleaved(key, key, handles, reps, bytes)
      results.small[key] = {
        label: VOLUMES[key].label,
        bytes,
        contenders: summarize(samples),
        ratios: {
          idbStoreVsVox: ratio(samples['idb-keyval'].store, samples['vox-none'].store),
          idbStoreVsStrict: ratio(samples['idb-keyval'].store, samples['vox-strict'].store),
          idbRetrieveVsVox: ratio(samples['idb-keyval'].retrieve, samples['vox-none'].retrieve),
          voxVsRawNoFlush: ratio(samples['vox-none'].store, samples['raw-noflush'].store),
          strictVsRaw: ratio(samples['vox-strict'].store, samples['raw-opfs'].store),
        },
      }
      const m = (h, k = 'store') => median(samples[h][k]).toFixed(2)
      log(`${key}: store vox ${m('vox-none')} ms, strict ${m('vox-strict')}, idb-keyval ${m('idb-keyval')}, raw ${m('raw-opfs')} / no flush ${m('raw-noflush')}; retrieve vox ${m('vox-none', 'retrieve')}, idb-keyval ${m('idb-keyval', 'retrieve')}`)
    } finally {
      await closeAll(handles)
      await call('unload', key)
    }
  })
}

// --- 2. the seed's design and idb-keyval, 20 entries already present ---------------------------------
for (const key of plan.seedSizes) {
  await section(`seed ${key}`, async () => {
    const bytes = await load(key)
    const capacity = await call('seedCapacity', key, 20)
    log(`${key}: the seed's design with 20 such entries: ${capacity.ok ? 'persists' : capacity.error}`)
    await load('u8-128')
    const handles = await openAll(`seed-${key}`, [
      ['vox-zstd', 'vox', 'zstd'],
      ['vox-none', 'vox', 'none'],
      ['seed', 'seed'],
      ['idb-keyval', 'idbkv'],
      ['raw-opfs', 'raw'],
      ['raw-noflush', 'rawnoflush'],
    ])
    try {
      log(`${key}: filling every contender with 20 entries of 128³ uint8`)
      const fillIds = Array.from({ length: 20 }, (_, i) => idOf(runTag, 'seedfill', key, i))
      for (const h of handles) await call('fill', h, 'u8-128', fillIds)
      const samples = await interleaved(`seed-${key}`, key, handles, plan.reps, bytes)
      const s = summarize(samples)
      results.seed[key] = {
        label: VOLUMES[key].label,
        bytes,
        present: 20,
        presentLabel: VOLUMES['u8-128'].label,
        capacity,
        contenders: s,
        ratios: {
          seedStoreVsZstd: ratio(samples.seed.store, samples['vox-zstd'].store),
          seedRetrieveVsZstd: ratio(samples.seed.retrieve, samples['vox-zstd'].retrieve),
          seedStoreVsNone: ratio(samples.seed.store, samples['vox-none'].store),
          seedRetrieveVsNone: ratio(samples.seed.retrieve, samples['vox-none'].retrieve),
          idbStoreVsZstd: ratio(samples['idb-keyval'].store, samples['vox-zstd'].store),
          idbRetrieveVsZstd: ratio(samples['idb-keyval'].retrieve, samples['vox-zstd'].retrieve),
          idbStoreVsNone: ratio(samples['idb-keyval'].store, samples['vox-none'].store),
          idbRetrieveVsNone: ratio(samples['idb-keyval'].retrieve, samples['vox-none'].retrieve),
          idbStoreVsRawNoFlush: ratio(samples['idb-keyval'].store, samples['raw-noflush'].store),
          flushShareOfRawWrite: ratio(samples['raw-noflush'].store, samples['raw-opfs'].store),
        },
      }
      log(`${key}: seed store ${s.seed.store.median.toFixed(0)} ms vs voxcache zstd ${s['vox-zstd'].store.median.toFixed(0)} ms`)
    } finally {
      await closeAll(handles)
      await call('unload', key)
      await call('unload', 'u8-128')
      await call('gc')
    }
  })
}

// --- 3. index cost as the cache grows ----------------------------------------------------------------
await section('index', async () => {
  await load('filler-8k')
  const handles = []
  try {
    // With BENCH_PREV, the previous build is filled to the largest size too and runs beside it.
    const largest = plan.indexSizes[plan.indexSizes.length - 1]
    const fills = [...plan.indexSizes.map((n) => [`vox-${n}`, 'vox', n]), ...(prevRev ? [[`vox-prev-${largest}`, 'voxprev', largest]] : [])]
    for (const [h, kind, n] of fills) {
      await call('open', h, kind, `${runTag}-index-${h}`, 'none')
      handles.push(h)
      log(`index: filling a cache with ${n} entries of 8 KiB`)
      const ids = Array.from({ length: n }, (_, i) => idOf(runTag, 'fill', n, i))
      let ms = 0
      for (let i = 0; i < n; i += 500) ms += await call('fill', h, 'filler-8k', ids.slice(i, i + 500))
      results.index[`fill-${h.replace(/^vox-/, '')}`] = { ms, perEntryMs: ms / n, entries: await call('entries', h) }
    }
    for (const key of ['small-64k', 'ch2bet']) {
      const bytes = await load(key)
      const samples = await interleaved(`index-${key}`, key, handles, plan.indexReps, bytes)
      const first = `vox-${plan.indexSizes[0]}`
      const last = `vox-${largest}`
      const prevLast = `vox-prev-${largest}`
      results.index[key] = {
        label: VOLUMES[key].label,
        bytes,
        sizes: plan.indexSizes,
        contenders: summarize(samples),
        ratios: {
          storeLargestVsSmallest: ratio(samples[last].store, samples[first].store),
          retrieveLargestVsSmallest: ratio(samples[last].retrieve, samples[first].retrieve),
          ...(prevRev
            ? {
                storeLargestVsPrevious: ratio(samples[last].store, samples[prevLast].store),
                retrieveLargestVsPrevious: ratio(samples[last].retrieve, samples[prevLast].retrieve),
              }
            : {}),
        },
      }
      log(`index ${key}: store ×${results.index[key].ratios.storeLargestVsSmallest.median.toFixed(2)}, retrieve ×${results.index[key].ratios.retrieveLargestVsSmallest.median.toFixed(2)} (${last} vs ${first})`)
      await call('unload', key)
    }
  } finally {
    await closeAll(handles)
    await call('unload', 'filler-8k')
  }
})

// --- 4. compression ------------------------------------------------------------------------------------
await section('compression', async () => {
  for (const key of ['ch2bet', 'f32-256']) {
    const bytes = await load(key)
    results.compression[key] = { label: VOLUMES[key].label, bytes }
    for (const codec of ['none', 'zstd']) {
      const runs = []
      for (let i = 0; i < plan.reps; i++) runs.push(await call('codec', key, codec))
      results.compression[key][codec] = {
        stored: runs[0].stored,
        codec: runs[0].codec,
        ratio: runs[0].stored / bytes,
        encodeMBps: median(runs.map((r) => bytes / 1e6 / (r.encodeMs / 1000))),
        decodeMBps: median(runs.map((r) => bytes / 1e6 / (r.decodeMs / 1000))),
      }
    }
    log(`compression ${key}: zstd ${(results.compression[key].zstd.ratio * 100).toFixed(1)}% at ${results.compression[key].zstd.encodeMBps.toFixed(0)} MB/s`)
    await call('unload', key)
  }
})

// --- 5. decode ----------------------------------------------------------------------------------------
// Every format of ../shared/testdata and a DICOM series made from ch2bet: a warm itk-wasm decode against
// voxcache's cached decode as a reload meets it (a File the page has not hashed, the memory tier empty),
// from a 'zstd' and a 'none' cache, all interleaved; then SHA-256 throughput (WebCrypto, hash-wasm).
const DECODE_CASES = [
  ['ch2bet.nii.gz'],
  ['standard.nii.gz'],
  ['KmeansTest_T1UCharRaw.nii.gz'],
  ['functional.nii'],
  ['BrainProtonDensity3Slices.mha', 'BrainProtonDensity3Slices.raw'],
  ['RatLungSlice1.mha', 'RatLungSlice1.raw'],
  ['CT_small.dcm'],
  ['MR_small.dcm'],
  ['JPEG2000.dcm'],
  ['series:120x256x256'],
]
// BENCH_DECODE=ch2bet,series: only the cases whose first file starts with one of these words.
const decodeOnly = process.env.BENCH_DECODE?.split(',').filter(Boolean)
await section('decode', async () => {
  results.decode = { cases: [], hash: null }
  const stat = (xs) => ({ median: median(xs), samples: xs })
  for (const input of DECODE_CASES.filter((c) => !decodeOnly || decodeOnly.some((w) => c[0].startsWith(w)))) {
    const label = input.join(' + ').replace(/^series:(\d+)x(\d+)x(\d+)$/, 'DICOM series of $1 slices $2×$3 int16 (from ch2bet)')
    try {
      const r = await call('decodeCase', input, plan.decodeReps, `${runTag}-decode-${results.decode.cases.length}`)
      const c = {
        label,
        files: r.files,
        bytes: r.bytes,
        voxelBytes: r.voxelBytes,
        itkColdMs: r.itkColdMs,
        cacheFirstMs: r.cacheFirstMs,
        itkWarmMs: stat(r.itkWarmMs),
        diskZstdMs: stat(r.diskZstdMs),
        diskNoneMs: stat(r.diskNoneMs),
        againMs: stat(r.againMs),
        reopenedMs: stat(r.reopenedMs),
        hits: r.hits,
        calls: r.calls,
        speedupZstd: ratio(r.itkWarmMs, r.diskZstdMs),
        speedupNone: ratio(r.itkWarmMs, r.diskNoneMs),
        speedupAgain: ratio(r.itkWarmMs, r.againMs),
      }
      results.decode.cases.push(c)
      log(`decode ${label}: warm itk-wasm ${c.itkWarmMs.median.toFixed(1)} ms; cached zstd ${c.diskZstdMs.median.toFixed(1)} ms (×${c.speedupZstd.median.toFixed(1)}), none ${c.diskNoneMs.median.toFixed(1)} ms (×${c.speedupNone.median.toFixed(1)}), same File ${c.againMs.median.toFixed(1)} ms, reopened ${c.reopenedMs.median.toFixed(1)} ms; ${r.hits}/${r.calls} hits`)
    } catch (error) {
      log(`decode ${label} failed: ${error.message}`)
      results.decode.cases.push({ label, error: String(error.message).replace(/^page\.evaluate: /, '') })
      results.errors.push({ section: `decode ${label}`, error: String(error.message) })
    }
  }
  const h = await call('hashSpeed', 256, quick ? 3 : 5)
  results.decode.hash = { mb: 256, webCryptoMBps: stat(h.webCryptoMBps), hashWasmMBps: stat(h.hashWasmMBps), fileMBps: stat(h.fileMBps) }
  log(`SHA-256 of 256 MB: WebCrypto ${median(h.webCryptoMBps).toFixed(0)} MB/s, hash-wasm ${median(h.hashWasmMBps).toFixed(0)} MB/s, File read + WebCrypto ${median(h.fileMBps).toFixed(0)} MB/s`)
})

// --- 6. region reads: one axial slice of a cached 512³ uint8 volume ------------------------------------
// retrieveRegion (issue 13's figure) against the fastest honest way of reading the same slice: a worker
// reading its 256 KiB where they lie in a file of the raw volume, through a sync access handle (and
// through a Blob, the way voxcache reads); the whole volume's retrieve is what a viewer did before.
await section('region', async () => {
  const key = 'u8-512'
  const n = 512
  const bytes = await load(key)
  const sliceBytes = n * n
  const handles = await openAll('region', [
    ['vox-none', 'vox', 'none'],
    ['vox-zstd', 'vox', 'zstd'],
    ['raw-opfs', 'raw'],
    ['raw-blob', 'rawblob'],
  ])
  try {
    const id = idOf(runTag, 'region')
    for (const h of handles) {
      await call('prepare', key)
      await call('store', h, h === 'raw-blob' ? idOf(runTag, 'region', 'blob') : id)
    }
    const reps = quick ? 15 : 41
    const samples = Object.fromEntries(handles.map((h) => [h, []]))
    for (let rep = 0; rep < reps; rep++) {
      // A different slice each time, spread over the volume (never the frame read just before).
      const z = (rep * 97 + 31) % n
      for (const h of rotate(handles, rep)) {
        samples[h].push(await call('region', h, h === 'raw-blob' ? idOf(runTag, 'region', 'blob') : id, [0, 0, z], [n, n, 1], [z * sliceBytes, sliceBytes]))
      }
    }
    const whole = []
    for (let rep = 0; rep < 3; rep++) whole.push((await call('retrieve', 'vox-none', id, bytes))[0])
    const memory = {}
    if (memoryProbe) {
      for (const h of ['vox-none', 'vox-zstd']) {
        const extra = []
        for (let rep = 0; rep < plan.memReps; rep++) {
          await call('gc')
          extra.push((await peakExtra(() => call('region', h, id, [0, 0, 200 + rep], [n, n, 1], [(200 + rep) * sliceBytes, sliceBytes]))).extra)
        }
        memory[h] = { median: median(extra), samples: extra }
      }
    }
    results.region = {
      label: VOLUMES[key].label,
      volumeBytes: bytes,
      sliceBytes,
      contenders: Object.fromEntries(handles.map((h) => [h, { median: median(samples[h]), samples: samples[h] }])),
      ratios: {
        noneVsRaw: ratio(samples['vox-none'], samples['raw-opfs']),
        zstdVsRaw: ratio(samples['vox-zstd'], samples['raw-opfs']),
        noneVsBlob: ratio(samples['vox-none'], samples['raw-blob']),
      },
      wholeRetrieveMs: { median: median(whole), samples: whole },
      memory,
    }
    log(`region: one slice of 512³: none ${median(samples['vox-none']).toFixed(2)} ms, zstd ${median(samples['vox-zstd']).toFixed(2)} ms, raw read ${median(samples['raw-opfs']).toFixed(2)} ms; whole retrieve ${median(whole).toFixed(0)} ms`)
  } finally {
    await closeAll(handles)
    await call('unload', key)
    await call('gc')
  }
})

// --- 7. record layout: small records inside the index, or one file each -------------------------------
// Issue 11's decision, measured on the speed issue's two targets: a small store's fixed cost, and
// opening a cache of 100,000 entries. The large caches are written by the bulk fixture
// (bench/bulk.worker.ts) in either layout; the stores go through the library (inlineBytes 4096 keeps a
// record in the index, 0 makes every record a file).
await section('layout', async () => {
  const valueChars = 200
  // BENCH_LAYOUT_SIZES=100000 times one size alone (to look closer at it).
  const sizes = process.env.BENCH_LAYOUT_SIZES ? process.env.BENCH_LAYOUT_SIZES.split(',').map(Number) : quick ? [20_000] : [20_000, 100_000]
  // BENCH_LAYOUTS=inline runs one layout alone.
  const layouts = process.env.BENCH_LAYOUTS ? process.env.BENCH_LAYOUTS.split(',') : ['inline', 'files']
  const out = { valueChars, sizes, opens: {}, stores: {} }
  results.layout = out
  const inlineBytes = { inline: 4096, files: 0 }
  for (const n of sizes) {
    for (const layout of layouts) {
      const name = `${runTag}-layout-${layout}-${n}`
      log(`layout: writing ${n.toLocaleString('en')} entries, ${layout}`)
      const built = await callWithin(1_800_000, 'bulk', { cmd: 'build', name, n, layout, valueChars })
      const opens = []
      for (let i = 0; i < (quick ? 3 : 5); i++) opens.push(await callWithin(600_000, 'timedOpen', name))
      const listing = await callWithin(600_000, 'bulk', { cmd: 'list', name, n, layout, valueChars })
      // Stores into the large cache, in batches that alternate with the other layout's below.
      const stores = await callWithin(600_000, 'smallStores', name, inlineBytes[layout], quick ? 40 : 100, valueChars, n)
      out.opens[`${layout}-${n}`] = {
        buildMs: built.ms,
        recordBytes: built.recordBytes,
        entries: opens[0].entries,
        openMs: { median: median(opens.map((o) => o.openMs)), samples: opens.map((o) => o.openMs) },
        listLimitMs: median(opens.map((o) => o.listMs)),
        listed: opens[0].listed,
        statsMs: median(opens.map((o) => o.statsMs)),
        settledMs: median(opens.map((o) => o.settledMs)),
        listMs: listing.ms,
        listedFiles: listing.files,
        storeMs: { median: median(stores), samples: stores },
      }
      log(
        `layout ${layout}-${n}: open ${median(opens.map((o) => o.openMs)).toFixed(0)} ms, list({limit: 50}) ${median(opens.map((o) => o.listMs)).toFixed(1)} ms, ` +
          `stats() ${median(opens.map((o) => o.statsMs)).toFixed(1)} ms, reconciled ${median(opens.map((o) => o.settledMs)).toFixed(0)} ms after open began ` +
          `(payloads/ lists in ${listing.ms.toFixed(0)} ms), store ${median(stores).toFixed(2)} ms`,
      )
      await callWithin(600_000, 'destroyCache', name)
    }
  }
  // A small store's fixed cost in a small cache: the two layouts in alternating batches.
  const samples = { inline: [], files: [] }
  for (let rep = 0; rep < (quick ? 4 : 10); rep++) {
    for (const layout of rotate(layouts, rep)) {
      samples[layout].push(...(await call('smallStores', `${runTag}-layout-small-${layout}`, inlineBytes[layout], 20, valueChars, rep * 20)))
    }
  }
  for (const layout of layouts) {
    out.stores[layout] = { median: median(samples[layout]), samples: samples[layout] }
    await call('destroyCache', `${runTag}-layout-small-${layout}`)
  }
  // A cache as the library leaves it (issue 14 saw one of 2,000 small entries open in 0.31 s): small
  // values stored one by one, then opened; the open replays what the journal holds since the last
  // checkpoint (at 1 MiB).
  const journaled = { name: `${runTag}-layout-journaled`, entries: quick ? 500 : 2000 }
  await callWithin(600_000, 'smallStores', journaled.name, 4096, journaled.entries, valueChars, 0)
  const journalBytes = await call('indexFileBytes', journaled.name)
  const jopens = []
  for (let i = 0; i < (quick ? 3 : 5); i++) jopens.push(await call('timedOpen', journaled.name))
  out.journaled = { entries: journaled.entries, ...journalBytes, openMs: { median: median(jopens.map((o) => o.openMs)), samples: jopens.map((o) => o.openMs) } }
  await call('destroyCache', journaled.name)
  log(`layout: ${journaled.entries} stores through the library (journal ${journalBytes.journal} bytes), open ${out.journaled.openMs.median.toFixed(0)} ms`)
  log(`layout: small store ${layouts.map((l) => `${out.stores[l].median.toFixed(2)} ms ${l === 'inline' ? 'inline' : 'as a file'}`).join(', ')}`)
})

// --- 8. encryption: a protected cache (AES-GCM, a non-extractable key) against the same cache in clear ---
// Issue 15's targets: an encrypted store or retrieve of the 134 MB volume at most ×1.3 the clear one,
// peak memory at most ×1.5 the payload.
await section('encryption', async () => {
  const key = quick ? 'u8-256' : 'u8-512'
  const bytes = await load(key)
  log(`encryption: ${key}, ${plan.reps} interleaved repetitions`)
  const handles = await openAll(`enc-${key}`, [
    // Without the memory tier: its copy of each value read (its own section) would be in both sides'
    // times and peaks, and the comparison is of what sealing costs.
    ['vox-none', 'vox', 'none', 0],
    ['sealed-none', 'voxsealed', 'none', 0],
    ['vox-zstd', 'vox', 'zstd', 0],
    ['sealed-zstd', 'voxsealed', 'zstd', 0],
  ])
  try {
    const samples = await interleaved(`enc-${key}`, key, handles, plan.reps, bytes)
    const out = {
      key,
      label: VOLUMES[key].label,
      bytes,
      contenders: summarize(samples),
      ratios: {
        storeNone: ratio(samples['sealed-none'].store, samples['vox-none'].store),
        retrieveNone: ratio(samples['sealed-none'].retrieve, samples['vox-none'].retrieve),
        storeZstd: ratio(samples['sealed-zstd'].store, samples['vox-zstd'].store),
        retrieveZstd: ratio(samples['sealed-zstd'].retrieve, samples['vox-zstd'].retrieve),
      },
      memory: {},
    }
    results.encryption = out
    if (memoryProbe) {
      for (const h of handles) out.memory[h] = await peakMemory(key, h, bytes)
    }
    log(`encryption: sealed/clear store ×${out.ratios.storeNone.median.toFixed(2)} (none) ×${out.ratios.storeZstd.median.toFixed(2)} (zstd), retrieve ×${out.ratios.retrieveNone.median.toFixed(2)} (none) ×${out.ratios.retrieveZstd.median.toFixed(2)} (zstd)`)
  } finally {
    await closeAll(handles)
    await call('unload', key)
    await call('gc')
  }
})

// --- 9. the memory tier: a retrieve served from the worker's RAM against a plain copy and a disk read --
// Issue 14's target: a memory hit at most ×1.5 the cost of a plain copy (the 'copy' contender: a new
// buffer and one set(), on the page). Per repetition the tier is emptied (trimMemory), the volume read
// from disk (which keeps it), then read again (a memory hit); the copy runs before or after, alternately.
await section('memory', async () => {
  const keys = ['u8-256', 'u8-512', 'small-64k']
  const reps = quick ? 7 : 15
  results.memory = { reps, sizes: {} }
  const handles = await openAll('memory', [['vox-none', 'vox', 'none'], ['copy', 'copy'], ['worker', 'raw']])
  try {
    for (const key of keys) {
      const bytes = await load(key)
      const id = idOf(runTag, 'memory', key)
      await call('prepare', key)
      await call('store', 'vox-none', id)
      // The worker holds its own copy of the volume: the floor of a memory hit (a copy made in a worker
      // and transferred, without voxcache).
      await call('prepare', key)
      await call('workerCopy', 'worker', id, bytes)
      const s = { disk: [], fill: [], memory: [], copy: [], has: [], worker: [], workerInner: [] }
      const copy = async () => {
        await call('prepare', key)
        s.copy.push((await call('store', 'copy', id))[0])
        const [ms, inner] = await call('workerCopy', 'worker', id, bytes)
        s.worker.push(ms)
        s.workerInner.push(inner)
      }
      const before = await call('memoryStats', 'vox-none')
      let fellBack = 0
      for (let rep = 0; rep < reps; rep++) {
        if (rep % 2 === 0) await copy()
        await call('trimMemory', 'vox-none')
        s.disk.push((await call('retrieve', 'vox-none', id, bytes))[0])
        // A value over 1 MiB is kept at its second read (which copies it): timed apart, not as a disk read.
        if (bytes > 2 ** 20) s.fill.push((await call('retrieve', 'vox-none', id, bytes))[0])
        // A memory hit needs the cache's lock free at once; when this worker's batched access-time
        // commit holds it, the retrieve reads the disk instead. Such a read is counted, not timed as a hit.
        const hits = (await call('memoryStats', 'vox-none')).memoryHits
        const [ms] = await call('retrieve', 'vox-none', id, bytes)
        const hit = (await call('memoryStats', 'vox-none')).memoryHits === hits + 1
        s.memory.push(hit ? ms : NaN)
        if (!hit) fellBack++
        s.has.push(await call('has', 'vox-none', id))
        if (rep % 2 === 1) await copy()
      }
      const after = await call('memoryStats', 'vox-none')
      // What was timed as a disk read was not a memory hit.
      const reads = (bytes > 2 ** 20 ? 3 : 2) * reps
      if (after.memoryHits - before.memoryHits !== reps - fellBack || after.hits - before.hits !== reads) {
        throw new Error(`${key}: ${after.memoryHits - before.memoryHits} memory hits of ${after.hits - before.hits} hits, expected ${reps - fellBack} of ${reads}`)
      }
      const entry = {
        label: VOLUMES[key].label,
        bytes,
        memoryMaxBytes: after.memoryMaxBytes,
        heldBytes: after.memoryBytes,
        /** Second retrieves that read the disk because the lock was not free at once (not timed as hits). */
        fellBack,
        contenders: summarize({ 'vox-none': { disk: s.disk, fill: s.fill, memory: s.memory, has: s.has }, copy: { copy: s.copy }, worker: { copy: s.worker, inner: s.workerInner } }),
        ratios: { memoryVsCopy: ratio(s.memory, s.copy), memoryVsDisk: ratio(s.memory, s.disk), memoryVsWorkerCopy: ratio(s.memory, s.worker), workerCopyVsCopy: ratio(s.worker, s.copy) },
        memory: null,
      }
      if (memoryProbe) {
        // Peak extra memory of the page: a disk read that fills the tier (the tier's copy included) and a memory hit.
        // A first read (over 1 MiB: not kept), the read that fills the tier, and a memory hit.
        const first = []
        const disk = []
        const hit = []
        for (let rep = 0; rep < 3; rep++) {
          await call('trimMemory', 'vox-none')
          await call('gc')
          if (bytes > 2 ** 20) {
            first.push((await peakExtra(() => call('retrieve', 'vox-none', id, bytes))).extra / bytes)
            await call('gc')
          }
          disk.push((await peakExtra(() => call('retrieve', 'vox-none', id, bytes))).extra / bytes)
          await call('gc')
          hit.push((await peakExtra(() => call('retrieve', 'vox-none', id, bytes))).extra / bytes)
        }
        entry.memory = { diskFirst: { median: median(first), samples: first }, diskFill: { median: median(disk), samples: disk }, hit: { median: median(hit), samples: hit } }
      }
      results.memory.sizes[key] = entry
      log(
        `memory ${key}: memory hit ${median(s.memory).toFixed(2)} ms, copy ${median(s.copy).toFixed(2)} ms (×${entry.ratios.memoryVsCopy.median.toFixed(2)}), ` +
          `worker copy ${median(s.worker).toFixed(2)} ms (${median(s.workerInner).toFixed(2)} inside), ` +
          `disk ${median(s.disk).toFixed(2)} ms, has ${median(s.has).toFixed(2)} ms; held ${after.memoryBytes} of ${after.memoryMaxBytes}; ${fellBack} of ${reps} second reads fell back to disk`,
      )
      await call('remove', 'vox-none', id)
      await call('unload', key)
      await call('gc')
    }
  } finally {
    await closeAll(handles)
  }
})

results.hangs = await call('hangs').catch(() => [])
results.meta.loadavgEnd = os.loadavg()
results.meta.durationS = (Date.now() - started) / 1000
await context.close()
rmSync(profileDir, { recursive: true, force: true })
server.close()
const outBase = process.env.BENCH_OUT ?? here('./results')
writeFileSync(`${outBase}.json`, JSON.stringify(results, null, 1) + '\n')
writeFileSync(`${outBase}.md`, renderMarkdown(results))
log(`wrote ${outBase}.md and .json in ${results.meta.durationS.toFixed(0)} s`)
if (results.errors.length) process.exitCode = 1
