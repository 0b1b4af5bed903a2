// Tabs: three pages of one origin store, retrieve, delete and evict in one small cache at once, hundreds
// of operations each. Every value is derived from its key, so any tab can check any value it reads.
// Afterwards every committed entry is there exactly once, the index matches the payload files, and a
// fresh open (which reconciles) finds nothing to repair.
import type { Page } from '@playwright/test'
import { listCacheFiles } from './cache-files.js'
import { installHarness } from './harness.js'
import { expect, openPage, test } from './fixtures.js'

const CACHE = 'tabs-reliability'
const TABS = ['a', 'b', 'c'] as const
const OPS = Number(process.env.TABS_OPS ?? 300)
const OWN_KEYS = 40
const SHARED_KEYS = 20
/** Own keys below this are always stored pinned and never deleted: they must all survive eviction. */
const PINNED_KEYS = 3
const BUDGET = 1_500_000
const SEED = Number(process.env.TABS_SEED ?? 7)

interface TabReport {
  tab: string
  ops: Record<string, number>
  /** The last thing this tab did to each of its own keys. */
  own: Record<number, 'stored' | 'deleted'>
  shared: number[]
  hits: number
  misses: number
  wrong: string[]
  errors: string[]
  evictions: number
}

/** Runs in a page: OPS random operations in four lanes; a lane owns every fourth own key. */
declare global {
  interface Window {
    /** A key's value: its size class and bytes come from a hash of the key, so any tab can check it. */
    tabsValue(key: Record<string, unknown>): Uint8Array
  }
}

function installValues(pinnedKeys: number): void {
  window.tabsValue = (key) => {
    const text = JSON.stringify(key)
    let s = 0x811c9dc5
    for (let i = 0; i < text.length; i++) s = Math.imul(s ^ text.charCodeAt(i), 0x01000193) >>> 0
    const pinned = key.tab !== undefined && (key.k as number) < pinnedKeys
    // Inline-sized (≤ 3 kB), payload files of 8–64 kB, and a few of 150–300 kB.
    const size = pinned ? 4_000 + (s % 16_000) : s % 10 < 3 ? 1 + (s % 3_000) : s % 10 < 9 ? 8_000 + (s % 56_000) : 150_000 + (s % 150_000)
    return window.vxHarness.bytes(s, size, s & 1 ? 'smooth' : 'random')
  }
}

async function runTab({ tab, tabs, ops, seed, ownKeys, sharedKeys, pinnedKeys }: {
  tab: string
  tabs: readonly string[]
  ops: number
  seed: number
  ownKeys: number
  sharedKeys: number
  pinnedKeys: number
}): Promise<TabReport> {
  const cache = window.voxcache!
  const lib = window.voxcacheLib!
  const h = window.vxHarness
  const valueOf = window.tabsValue
  const report: TabReport = { tab, ops: {}, own: {}, shared: [], hits: 0, misses: 0, wrong: [], errors: [], evictions: 0 }
  const rng = h.prng(seed)
  const count = (op: string) => (report.ops[op] = (report.ops[op] ?? 0) + 1)
  const shared = new Set<number>()
  // Draw the whole plan first, so that the lanes' interleaving does not change it.
  const plan = Array.from({ length: ops }, () => ({ r: rng(), k: Math.floor(rng() * ownKeys), s: Math.floor(rng() * sharedKeys), t: Math.floor(rng() * tabs.length) }))
  const lanes = [0, 1, 2, 3].map(async (lane) => {
    for (const step of plan.filter((_, i) => i % 4 === lane)) {
      const k = step.k - (step.k % 4) + lane
      const own = { tab, k }
      const pinned = k < pinnedKeys
      try {
        if (step.r < 0.3 || (pinned && step.r >= 0.45 && step.r < 0.6)) {
          count('store')
          await cache.store(await lib.operationId('tabs', own), valueOf(own), { pin: pinned })
          report.own[k] = 'stored'
        } else if (step.r < 0.45) {
          count('store shared')
          const key = { shared: step.s }
          await cache.store(await lib.operationId('tabs', key), valueOf(key))
          shared.add(step.s)
        } else if (step.r < 0.6) {
          count('delete')
          await cache.delete(await lib.operationId('tabs', own))
          report.own[k] = 'deleted'
        } else {
          count('retrieve')
          const key = step.r < 0.75 ? { shared: step.s } : { tab: tabs[step.t], k: step.k }
          const got = await cache.retrieve(await lib.operationId('tabs', key))
          if (got === undefined) report.misses++
          else {
            report.hits++
            const view = got as Uint8Array
            if ((await h.digest(view)) !== (await h.digest(valueOf(key)))) report.wrong.push(JSON.stringify(key))
          }
        }
      } catch (error) {
        report.errors.push(`${(error as Error).name}: ${(error as Error).message}`)
      }
    }
  })
  await Promise.all(lanes)
  report.shared = [...shared]
  report.evictions = (await cache.stats()).evictions
  return report
}

/** What one page sees of the cache: entries checked against their keys' values, and the totals. */
async function audit(page: Page, keys: Record<string, unknown>[]) {
  return page.evaluate(
    async ({ keys }) => {
      const cache = window.voxcache!
      const lib = window.voxcacheLib!
      const byId = new Map<string, Record<string, unknown>>()
      for (const key of keys) byId.set(await lib.operationId('tabs', key), key)
      const list = await cache.list({ orderBy: 'id' })
      const stats = await cache.stats()
      const unknown: string[] = []
      const wrong: string[] = []
      for (const e of list) {
        const key = byId.get(e.id)
        if (!key) {
          unknown.push(e.id)
          continue
        }
        const got = (await cache.retrieve(e.id)) as Uint8Array | undefined
        const h = window.vxHarness
        if (got === undefined || (await h.digest(got)) !== (await h.digest(window.tabsValue(key)))) wrong.push(JSON.stringify(key))
      }
      return {
        entries: list.map((e) => ({ id: e.id, key: byId.get(e.id) ?? null, size: e.sizeBytes, inline: e.inline, pinned: e.pinned })),
        unknown,
        wrong,
        stats: { entries: stats.entries, bytes: stats.bytes, maxBytes: stats.maxBytes },
      }
    },
    { keys },
  )
}

test.setTimeout(10 * 60_000)

test(`three tabs × ${OPS} concurrent operations: every committed entry once, index = payloads`, async ({ context }) => {
  await installHarness(context)
  await context.addInitScript(installValues, PINNED_KEYS)
  const pages = await Promise.all(TABS.map(() => context.newPage()))
  for (const page of pages) await openPage(page, `cache=${CACHE}&maxBytes=${BUDGET}`)
  await pages[0]!.evaluate(() => window.voxcache!.clear())

  const reports = await Promise.all(
    pages.map((page, i) =>
      page.evaluate(runTab, {
        tab: TABS[i]!,
        tabs: TABS,
        ops: OPS,
        seed: SEED * 1000 + i,
        ownKeys: OWN_KEYS,
        sharedKeys: SHARED_KEYS,
        pinnedKeys: PINNED_KEYS,
      }),
    ),
  )
  for (const r of reports) {
    expect(r.errors, `tab ${r.tab}: operations that failed`).toEqual([])
    expect(r.wrong, `tab ${r.tab}: values read back different`).toEqual([])
  }

  const keys = [
    ...TABS.flatMap((tab) => Array.from({ length: OWN_KEYS }, (_, k) => ({ tab, k }))),
    ...Array.from({ length: SHARED_KEYS }, (_, s) => ({ shared: s })),
  ]
  const seen = await audit(pages[1]!, keys)
  expect(seen.unknown, 'entries that no tab stored').toEqual([])
  expect(seen.wrong, 'entries that read back wrong').toEqual([])
  const ids = seen.entries.map((e) => e.id)
  expect(new Set(ids).size, 'each entry once').toBe(ids.length)
  expect(seen.stats.entries).toBe(ids.length)
  expect(seen.stats.bytes).toBe(seen.entries.reduce((n, e) => n + e.size, 0))
  expect(seen.stats.bytes).toBeLessThanOrEqual(BUDGET)

  // The index matches the payload files: a file for every entry kept outside the index, of its size,
  // and no file without an entry; nothing half-written, nothing quarantined.
  const files = await listCacheFiles(pages[2]!, CACHE)
  const payloads = Object.fromEntries(
    Object.entries(files)
      .filter(([f]) => f.startsWith('payloads/'))
      .map(([f, size]) => [f.slice('payloads/'.length), size]),
  )
  const expectedPayloads = Object.fromEntries(seen.entries.filter((e) => !e.inline).map((e) => [`${e.id}.vxc`, e.size]))
  expect(payloads).toEqual(expectedPayloads)
  expect(Object.keys(files).filter((f) => f.endsWith('.tmp') || f.startsWith('quarantine/'))).toEqual([])

  // Committed: what each tab last stored of its own keys, and the shared keys any tab stored. Those
  // not present must have been evicted; deleted keys must not come back; pinned ones all survive.
  const present = new Set(seen.entries.map((e) => JSON.stringify(e.key)))
  const committed: string[] = []
  for (const r of reports) {
    for (const [k, state] of Object.entries(r.own)) {
      const key = JSON.stringify({ tab: r.tab, k: Number(k) })
      if (state === 'stored') committed.push(key)
      else expect(present.has(key), `${key} was deleted last, yet is present`).toBe(false)
      if (Number(k) < PINNED_KEYS) expect(present.has(key), `pinned ${key} is gone`).toBe(true)
    }
  }
  for (const s of new Set(reports.flatMap((r) => r.shared))) committed.push(JSON.stringify({ shared: s }))
  const missing = committed.filter((key) => !present.has(key))
  const evictions = reports.reduce((n, r) => n + r.evictions, 0)
  expect(missing.length, 'committed entries missing beyond what was evicted').toBeLessThanOrEqual(evictions)
  expect(evictions, 'the budget must have made the tabs evict').toBeGreaterThan(0)

  // A fresh open reconciles: it must find nothing to add, drop or quarantine.
  const fresh = await context.newPage()
  await openPage(fresh, `cache=${CACHE}&maxBytes=${BUDGET}`)
  const again = await audit(fresh, keys)
  expect(again.entries).toEqual(seen.entries)
  expect(Object.keys(await listCacheFiles(fresh, CACHE)).filter((f) => f.startsWith('quarantine/'))).toEqual([])

  const total = (op: string) => reports.reduce((n, r) => n + (r.ops[op] ?? 0), 0)
  const summary = {
    operations: reports.reduce((n, r) => n + Object.values(r.ops).reduce((a, b) => a + b, 0), 0),
    stores: total('store') + total('store shared'),
    deletes: total('delete'),
    retrieves: total('retrieve'),
    hits: reports.reduce((n, r) => n + r.hits, 0),
    evictions,
    committed: committed.length,
    present: ids.length,
  }
  console.log(`tabs: ${JSON.stringify(summary)}`)
  test.info().annotations.push({ type: 'tabs', description: JSON.stringify(summary) })
})
