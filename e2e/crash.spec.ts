// Crashes: store values of 1–134 MB and kill the writer at a random moment — close the page, crash its
// renderer, or terminate the cache's worker — then reopen and check DESIGN's promise: the cache opens,
// everything stored before reads back bit for bit, the write in flight is complete or absent, and no
// temporary file is left. The loop is seeded (CRASH_SEED) and ends after CRASH_KILLS kills.
import type { BrowserContext, Page } from '@playwright/test'
import { listCacheFiles } from './cache-files.js'
import { installHarness, prng } from './harness.js'
import { expect, HARNESS, openPage, test } from './fixtures.js'
import { recordFigures } from '../test/figures.js'

const KILLS = Number(process.env.CRASH_KILLS ?? 54)
const KILLS_IDB = Number(process.env.CRASH_KILLS_IDB ?? 15)
const SEED = Number(process.env.CRASH_SEED ?? 20261125)
const MB = 1_000_000
/** Entries kept alive across kills; the oldest are deleted past this, so each check stays short. */
const LIVE_BYTES = 360 * MB
const METHODS = ['close page', 'crash renderer', 'terminate worker'] as const

interface Entry {
  id: string
  size: number
  digest: string
}

interface Outcome {
  method: (typeof METHODS)[number]
  size: number
  delayMs: number
  /** The big store had resolved when the kill was decided: the entry must be there. */
  acknowledged: boolean
  /** Small stores in flight beside it, how many were acknowledged before the kill, and of the others how many came back. */
  small: number
  smallAcknowledged: number
  smallUnacknowledgedComplete: number
  /** Temporary files found before reopening: the kill landed inside a write. */
  tmpBefore: string[]
  /**
   * Files of the big write in flight were on disk before reopening and it came back absent: a new
   * entry's files are written in place (no temporary file), and reconcile removed what the kill cut short.
   */
  unfinishedBefore: boolean
  inFlight: 'complete' | 'absent'
}

/** Small entries kept alive; beyond this the oldest are deleted. */
const LIVE_SMALL = 600

test.setTimeout(40 * 60_000)

test(`OPFS: ${KILLS} kills at random moments of 1–134 MB writes lose nothing that was stored`, async ({ context }) => {
  await crashLoop(context, { storage: 'opfs', kills: KILLS, maxSize: 134 * MB })
})

// The IndexedDB fallback: fewer and smaller writes (IndexedDB stores each as one Blob), same promises.
test(`IndexedDB: ${KILLS_IDB} kills at random moments of 1–64 MB writes lose nothing that was stored`, async ({ context }) => {
  await crashLoop(context, { storage: 'idb', kills: KILLS_IDB, maxSize: 64 * MB })
})

async function crashLoop(
  context: BrowserContext,
  { storage, kills: KILLS, maxSize }: { storage: 'opfs' | 'idb'; kills: number; maxSize: number },
): Promise<void> {
  const CACHE = `crash-loop-${storage}`
  await installHarness(context)
  const random = prng(SEED)
  const live: Entry[] = []
  const liveSmall: Entry[] = []
  const outcomes: Outcome[] = []
  let pending: { big: Entry; small: Entry[]; acked: number[]; outcome: Outcome } | undefined

  for (let round = 0; round <= KILLS; round++) {
    // A page that opens another cache for the demo, so ours is opened only by the code below.
    const page = await context.newPage()
    await page.goto(`${HARNESS}?cache=crash-probe`)
    await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
    const before = await listCacheFiles(page, CACHE, storage)
    const tmpBefore = Object.keys(before).filter((f) => f.endsWith('.tmp'))

    // Reopen: the cache must open and reconcile whatever the kill left. Then read back everything.
    const inFlight = pending ? [pending.big, ...pending.small] : []
    const check = await page.evaluate(
      async ({ cache, ids, storage }) => {
        const lib = window.voxcacheLib!
        const c = await lib.openCache({ name: cache, maxBytes: 4e9, storage })
        ;(window as unknown as { crashCache: unknown }).crashCache = c
        const read = async (id: string) => {
          const v = await c.retrieve(id)
          if (v === undefined) return null
          const view = (v as { data?: ArrayBufferView }).data ?? (v as ArrayBufferView)
          return window.vxHarness.digest(view)
        }
        const digests: (string | null)[] = []
        // Big ones one at a time (memory), small ones 64 at a time.
        for (let i = 0; i < ids.length; ) {
          const batch = ids.slice(i, i + (ids[i]!.big ? 1 : 64))
          digests.push(...(await Promise.all(batch.map((e) => read(e.id)))))
          i += batch.length
        }
        return { digests, listed: (await c.list()).map((e) => e.id) }
      },
      {
        cache: CACHE,
        storage,
        ids: [...live.map((e) => ({ id: e.id, big: true })), ...liveSmall.map((e) => ({ id: e.id, big: false })), ...inFlight.map((e) => ({ id: e.id, big: e.size > 65536 }))],
      },
    )
    const stored = [...live, ...liveSmall]
    expect(check.digests.slice(0, stored.length), `round ${round}: entries stored before the kill`).toEqual(stored.map((e) => e.digest))
    if (pending) {
      const { big, small, acked, outcome } = pending
      const got = check.digests.slice(stored.length)
      // Each write in flight is there and whole, or not there at all; acknowledged ones are there.
      inFlight.forEach((e, i) => {
        if (got[i] !== null) expect(got[i], `round ${round}: write in flight ${i} came back different`).toBe(e.digest)
      })
      expect(got[0] !== null || !outcome.acknowledged, `round ${round}: an acknowledged big store is gone`).toBe(true)
      for (const i of acked) expect(got[i + 1], `round ${round}: acknowledged small store ${i} is gone`).not.toBeNull()
      outcome.inFlight = got[0] === null ? 'absent' : 'complete'
      if (got[0] !== null) live.push(big)
      small.forEach((e, i) => got[i + 1] !== null && liveSmall.push(e))
      outcome.smallUnacknowledgedComplete = small.filter((_, i) => got[i + 1] !== null && !acked.includes(i)).length
      outcome.tmpBefore = tmpBefore
      outcome.unfinishedBefore = got[0] === null && Object.keys(before).some((f) => f.startsWith(`payloads/${big.id}`))
      outcomes.push(outcome)
    }
    expect(new Set(check.listed), `round ${round}: the index holds only what was stored`).toEqual(new Set([...live, ...liveSmall].map((e) => e.id)))
    const after = await listCacheFiles(page, CACHE, storage)
    expect(Object.keys(after).filter((f) => f.endsWith('.tmp')), `round ${round}: temporary files after reopening`).toEqual([])
    expect(Object.keys(after).filter((f) => f.startsWith('quarantine/')), `round ${round}: quarantined records`).toEqual([])
    if (round === KILLS) {
      await page.close()
      break
    }

    // Make room, then start the next writes and kill them at a random moment.
    const drop: string[] = []
    while (live.reduce((n, e) => n + e.size, 0) > LIVE_BYTES) drop.push(live.shift()!.id)
    while (liveSmall.length > LIVE_SMALL) drop.push(liveSmall.shift()!.id)
    await page.evaluate(async (ids) => {
      const c = (window as unknown as { crashCache: import('../src/client.js').VoxCache }).crashCache
      for (const id of ids) await c.delete(id)
    }, drop)
    const size = Math.round(Math.exp(Math.log(MB) + random() * (Math.log(maxSize) - Math.log(MB))))
    const method = METHODS[round % METHODS.length]!
    // Up to about how long such a write takes here, so kills land before, inside and after it.
    const bigMs = 40 + (size / MB) * (storage === 'opfs' ? 9 : 3)
    const spec = { seed: Math.floor(random() * 2 ** 32), size, kind: random() < 0.5 ? ('random' as const) : ('smooth' as const), image: random() < 0.3 }
    // Every other round, a stream of small stores runs beside it: they live in the index's journal,
    // whose growth triggers checkpoints (snapshot rewrites), so kills land in those too.
    const small = round % 2 ? Array.from({ length: 100 + Math.floor(random() * 200) }, () => ({ seed: Math.floor(random() * 2 ** 32), size: 300 + Math.floor(random() * 3500) })) : []
    // Small stores queue behind the big one (one lock) and take about 8 ms each here.
    const delayMs = Math.round(random() * (bigMs + small.length * 8))
    const started = await page.evaluate(
      async ({ spec, small, delayMs, method, round }) => {
        const h = window.vxHarness
        const lib = window.voxcacheLib!
        const c = (window as unknown as { crashCache: import('../src/client.js').VoxCache }).crashCache
        const bytes = h.bytes(spec.seed, spec.size, spec.kind)
        const digest = await h.digest(bytes)
        const id = await lib.operationId('crash', { round, seed: spec.seed })
        const value = spec.image
          ? {
              imageType: { dimension: 2, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
              name: `round ${round}`,
              origin: [0, 0],
              spacing: [1, 1],
              direction: new Float64Array([1, 0, 0, 1]),
              size: [spec.size, 1],
              metadata: new Map(),
              data: bytes,
            }
          : bytes
        const smalls = await Promise.all(
          small.map(async (s, i) => {
            const bytes = h.bytes(s.seed, s.size, 'random')
            return { id: await lib.operationId('crash-small', { round, i }), size: s.size, digest: await h.digest(bytes), bytes }
          }),
        )
        const state = { acknowledged: false, acked: [] as number[], kill: false }
        ;(window as unknown as { crashState: typeof state }).crashState = state
        void c.store(id, value as never, { codec: spec.kind === 'smooth' ? 'zstd' : 'none' }).then(() => {
          state.acknowledged = true
        })
        void (async () => {
          for (let i = 0; i < smalls.length; i++) {
            await c.store(smalls[i]!.id, smalls[i]!.bytes)
            state.acked.push(i)
          }
        })()
        // The random moment. The kill itself is done here for the worker, by the test for the page.
        setTimeout(() => {
          state.kill = true
          if (method === 'terminate worker') {
            const ours = h.workers.filter((w) => w.url.includes('cache.worker')).at(-1)!
            ours.worker.terminate()
          }
        }, delayMs)
        return { big: { id, digest, size: spec.size }, small: smalls.map(({ id, size, digest }) => ({ id, size, digest })) }
      },
      { spec, small, delayMs, method, round },
    )
    await page.waitForFunction(() => (window as unknown as { crashState: { kill: boolean } }).crashState.kill, undefined, { polling: 5 })
    const state = await page.evaluate(() => (window as unknown as { crashState: { acknowledged: boolean; acked: number[] } }).crashState)
    await kill(page, method)
    pending = {
      ...started,
      acked: state.acked,
      outcome: {
        method,
        size,
        delayMs,
        acknowledged: state.acknowledged,
        small: small.length,
        smallAcknowledged: state.acked.length,
        smallUnacknowledgedComplete: 0,
        tmpBefore: [],
        unfinishedBefore: false,
        inFlight: 'absent',
      },
    }
  }

  const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length
  const summary = {
    kills: outcomes.length,
    byMethod: Object.fromEntries(METHODS.map((m) => [m, count((o) => o.method === m)])),
    // The big write of each round: acknowledged before the kill (then it must be there), or truly in
    // flight when killed (then it is whole or absent, never partial: checked by digest each round).
    acknowledgedBeforeKill: count((o) => o.acknowledged),
    inFlightComplete: count((o) => !o.acknowledged && o.inFlight === 'complete'),
    inFlightAbsent: count((o) => !o.acknowledged && o.inFlight === 'absent'),
    killedInsideWrite: count((o) => o.unfinishedBefore || o.tmpBefore.some((f) => f.startsWith('payloads/'))),
    killedInsideCheckpoint: count((o) => o.tmpBefore.some((f) => !f.startsWith('payloads/'))),
    smallStores: outcomes.reduce((n, o) => n + o.small, 0),
    smallAcknowledged: outcomes.reduce((n, o) => n + o.smallAcknowledged, 0),
    smallInFlightComplete: outcomes.reduce((n, o) => n + o.smallUnacknowledgedComplete, 0),
    megabytesWritten: Math.round(outcomes.reduce((n, o) => n + o.size, 0) / MB),
  }
  console.log(`crash loop, ${storage} (seed ${SEED}): ${JSON.stringify(summary)}`)
  test.info().annotations.push({ type: `crash-loop-${storage}`, description: JSON.stringify(summary) })
  recordFigures(`crash-${storage}`, { seed: SEED, ...summary })
  expect(summary.kills).toBe(KILLS)
  expect(Object.values(summary.byMethod)).toEqual(METHODS.map((_, i) => Math.floor(KILLS / 3) + (i < KILLS % 3 ? 1 : 0)))
  // Every kill's big write is accounted for exactly once (the per-round checks already proved that
  // acknowledged ones came back, and none came back different).
  expect(summary.acknowledgedBeforeKill + summary.inFlightComplete + summary.inFlightAbsent).toBe(KILLS)
  // The loop must really have hit writes in progress, or it proves nothing: some truly in flight were
  // lost whole, and (OPFS) some kills left a half-written payload for reconcile to remove.
  expect(summary.inFlightAbsent).toBeGreaterThan(0)
  if (storage === 'opfs') expect(summary.killedInsideWrite).toBeGreaterThan(0)
  // Small stores beside the big ones: some acknowledged before a kill (all came back, checked each
  // round), and some killed unacknowledged.
  expect(summary.smallAcknowledged).toBeGreaterThan(0)
  expect(summary.smallAcknowledged).toBeLessThan(summary.smallStores)
}

async function kill(page: Page, method: (typeof METHODS)[number]): Promise<void> {
  if (method === 'close page') {
    await page.close()
  } else if (method === 'crash renderer') {
    const crashed = page.waitForEvent('crash')
    const cdp = await page.context().newCDPSession(page)
    void cdp.send('Page.crash').catch(() => undefined) // never answers: the renderer is gone
    await crashed
    await page.close()
  } else {
    await page.close() // the worker is already terminated; the page goes too, to start clean
  }
}

test('temporary files of every kind a killed write leaves are removed on open, and entries stay', async ({ page, context }) => {
  await installHarness(context)
  await openPage(page, 'cache=crash-tmp-probe')
  const ids = await page.evaluate(async () => {
    const lib = window.voxcacheLib!
    const c = await lib.openCache({ name: 'crash-tmp' })
    const ids = [await lib.operationId('tmp', { big: true }), await lib.operationId('tmp', { inline: true })]
    await c.store(ids[0]!, window.vxHarness.bytes(1, 300_000, 'random'))
    await c.store(ids[1]!, { small: 'inline' })
    await c.close()
    // What a kill leaves: a quota probe, a checkpoint's snapshot and journal half written, a payload
    // and an inline record on its way to quarantine cut short.
    const root = await navigator.storage.getDirectory()
    const home = await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle('crash-tmp')
    const plant = async (dir: FileSystemDirectoryHandle, name: string) => {
      const w = await (await dir.getFileHandle(name, { create: true })).createWritable()
      await w.write(new Uint8Array(777).fill(0x53))
      await w.close()
    }
    await plant(home, 'quota-probe')
    await plant(home, 'index.sqlite.tmp')
    await plant(home, 'index.journal.tmp')
    await plant(await home.getDirectoryHandle('payloads'), `${'e'.repeat(64)}.vxc.tmp`)
    await plant(await home.getDirectoryHandle('quarantine', { create: true }), `${'d'.repeat(64)}.1.vxc.tmp`)
    return ids
  })
  expect(Object.keys(await listCacheFiles(page, 'crash-tmp')).filter((f) => f.endsWith('.tmp'))).toHaveLength(4)
  const reopened = await page.evaluate(async (ids) => {
    const c = await window.voxcacheLib!.openCache({ name: 'crash-tmp' })
    const big = (await c.retrieve(ids[0]!)) as Uint8Array
    const out = { big: await window.vxHarness.digest(big), small: await c.retrieve(ids[1]!), entries: (await c.stats()).entries }
    await c.close()
    return out
  }, ids)
  expect(reopened).toEqual({
    big: await page.evaluate(() => window.vxHarness.digest(window.vxHarness.bytes(1, 300_000, 'random'))),
    small: { small: 'inline' },
    entries: 2,
  })
  expect(Object.keys(await listCacheFiles(page, 'crash-tmp')).filter((f) => f.endsWith('.tmp') || f === 'quota-probe')).toEqual([])
})
