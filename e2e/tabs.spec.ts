// Tabs: three pages of one origin store, retrieve, delete and evict in one small cache at once, hundreds
// of operations each. Every value is derived from its key, so any tab can check any value it reads.
// Every store tags its version; afterwards the last write of every key is present as that version or
// in some tab's eviction log as that version, the index matches the payload files, and a fresh open
// (which reconciles) finds nothing to repair.
import type { Page } from '@playwright/test'
import { listCacheFiles } from './cache-files.js'
import { installHarness } from './harness.js'
import { expect, openPage, test } from './fixtures.js'
import { recordFigures } from '../test/figures.js'

const CACHE = 'tabs-reliability'
const TABS = ['a', 'b', 'c'] as const
const OPS = Number(process.env.TABS_OPS ?? 300)
const OWN_KEYS = 40
const SHARED_KEYS = 20
/** Own keys below this are always stored pinned and never deleted: they must all survive eviction. */
const PINNED_KEYS = 3
const BUDGET = 1_500_000
const SEED = Number(process.env.TABS_SEED ?? 7)

/** One version of an entry: which store wrote it. Versions are told apart by the tag in their metadata. */
interface Version {
  key: string
  id: string
  v: string
  /** Stores of a locked shared key run one at a time across tabs: this orders them (ms, sub-ms precise). */
  t?: number
}

interface TabReport {
  tab: string
  ops: Record<string, number>
  /** The last thing this tab did to each of its own keys (each lane owns its keys, so this is exact). */
  own: Record<number, { state: 'stored'; version: Version } | { state: 'deleted' }>
  /** Every shared-key store that this tab committed. */
  shared: Version[]
  /** Every version this tab committed, own keys and shared. */
  written: string[]
  hits: number
  misses: number
  wrong: string[]
  errors: string[]
  /** What this tab's cache evicted: id and the version tag of the evicted record. */
  evicted: { id: string; v: string; reason: string; at: string }[]
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
  const report: TabReport = { tab, ops: {}, own: {}, shared: [], written: [], hits: 0, misses: 0, wrong: [], errors: [], evicted: [], evictions: 0 }
  const rng = h.prng(seed)
  const count = (op: string) => (report.ops[op] = (report.ops[op] ?? 0) + 1)
  // Draw the whole plan first, so that the lanes' interleaving does not change it.
  const plan = Array.from({ length: ops }, () => ({ r: rng(), k: Math.floor(rng() * ownKeys), s: Math.floor(rng() * sharedKeys), t: Math.floor(rng() * tabs.length) }))
  let serial = 0
  const tag = () => `${tab}:${serial++}`
  const lanes = [0, 1, 2, 3].map(async (lane) => {
    for (const step of plan.filter((_, i) => i % 4 === lane)) {
      const k = step.k - (step.k % 4) + lane
      const own = { tab, k }
      const pinned = k < pinnedKeys
      try {
        if (step.r < 0.3 || (pinned && step.r >= 0.45 && step.r < 0.6)) {
          count('store')
          const id = await lib.operationId('tabs', own)
          const v = tag()
          await cache.store(id, valueOf(own), { pin: pinned, metadata: { v } })
          report.own[k] = { state: 'stored', version: { key: JSON.stringify(own), id, v } }
          report.written.push(`${id} ${v}`)
        } else if (step.r < 0.45) {
          count('store shared')
          const key = { shared: step.s }
          const id = await lib.operationId('tabs', key)
          const v = tag()
          if (step.s % 2 === 0) {
            // Even shared keys: one store at a time across tabs (a test-side lock), so that the last
            // write is known and its fate can be checked exactly. Odd ones race each other freely.
            await navigator.locks.request(`tabs-spec:shared:${step.s}`, async () => {
              const t = performance.timeOrigin + performance.now()
              await cache.store(id, valueOf(key), { metadata: { v } })
              report.shared.push({ key: JSON.stringify(key), id, v, t })
              report.written.push(`${id} ${v}`)
            })
          } else {
            await cache.store(id, valueOf(key), { metadata: { v } })
            report.shared.push({ key: JSON.stringify(key), id, v })
            report.written.push(`${id} ${v}`)
          }
        } else if (step.r < 0.6) {
          count('delete')
          await cache.delete(await lib.operationId('tabs', own))
          report.own[k] = { state: 'deleted' }
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
  report.evicted = (await cache.evictions()).map((e) => ({ id: e.id, v: (e.metadata as { v: string }).v, reason: e.reason, at: e.evictedAt }))
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
        entries: list.map((e) => ({
          id: e.id,
          key: byId.get(e.id) ?? null,
          v: (e.metadata as { v?: string } | null)?.v ?? null,
          size: e.sizeBytes,
          inline: e.inline,
          pinned: e.pinned,
        })),
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

  // Every version a tab committed is accounted for. The last committed version of each key is either
  // present (that very version, by its tag) or in some tab's eviction log; a key deleted last is
  // absent; pinned keys are all present; no version is evicted twice (two tabs evicting the same
  // record would mean one of them worked on a stale index), and nothing evicted was never written.
  const present = new Map(seen.entries.map((e) => [e.id, e]))
  const evicted = reports.flatMap((r) => r.evicted)
  const evictedVersions = evicted.map((e) => `${e.id} ${e.v}`)
  const twice = evictedVersions.filter((x, i) => evictedVersions.indexOf(x) !== i)
  expect(
    twice.map((x) => `${x} by ${reports.filter((r) => r.evicted.some((e) => `${e.id} ${e.v}` === x)).map((r) => `${r.tab}@${r.evicted.filter((e) => `${e.id} ${e.v}` === x).map((e) => e.at).join('+')}`).join(', ')}`),
    'versions evicted twice',
  ).toEqual([])
  const written = new Set(reports.flatMap((r) => r.written))
  expect(evicted.filter((e) => !written.has(`${e.id} ${e.v}`)), 'evicted versions nobody wrote').toEqual([])
  expect(evicted.filter((e) => e.reason !== 'budget'), 'evictions not for the budget').toEqual([])

  /** The fate of the last committed version of a key: present, evicted, or lost. */
  const fate = (last: Version): 'present' | 'evicted' | 'lost' | 'stale' => {
    const entry = present.get(last.id)
    if (entry) return entry.v === last.v ? 'present' : 'stale'
    return evictedVersions.includes(`${last.id} ${last.v}`) ? 'evicted' : 'lost'
  }
  const fates: Record<string, number> = {}
  const wrongFates: string[] = []
  const lastOf: Version[] = []
  for (const r of reports) {
    for (const [k, o] of Object.entries(r.own)) {
      const key = JSON.stringify({ tab: r.tab, k: Number(k) })
      if (o.state === 'deleted') {
        if ([...present.values()].some((e) => JSON.stringify(e.key) === key)) wrongFates.push(`${key} was deleted last, yet is present`)
        continue
      }
      lastOf.push(o.version)
      if (Number(k) < PINNED_KEYS && fate(o.version) !== 'present') wrongFates.push(`pinned ${key} is ${fate(o.version)}`)
    }
  }
  // Locked shared keys: the last write is the latest by t. Racing ones: whichever committed last is
  // unknown, so the present version must be one that was written, and an absent key must have had a
  // written version evicted.
  const sharedStores = reports.flatMap((r) => r.shared)
  for (const key of new Set(sharedStores.map((v) => v.key))) {
    const stores = sharedStores.filter((v) => v.key === key)
    if (stores[0]!.t !== undefined) {
      lastOf.push(stores.reduce((a, b) => (b.t! > a.t! ? b : a)))
      continue
    }
    const id = stores[0]!.id
    const entry = present.get(id)
    const ok = entry ? stores.some((v) => v.v === entry.v) : stores.some((v) => evictedVersions.includes(`${id} ${v.v}`))
    fates[ok ? (entry ? 'racing present' : 'racing evicted') : 'racing lost'] = (fates[ok ? (entry ? 'racing present' : 'racing evicted') : 'racing lost'] ?? 0) + 1
    if (!ok) wrongFates.push(`${key} (racing) is ${entry ? `present as ${entry.v}, which nobody wrote` : 'absent, and none of its versions was evicted'}`)
  }
  for (const last of lastOf) {
    const f = fate(last)
    fates[f] = (fates[f] ?? 0) + 1
    if (f === 'lost' || f === 'stale') wrongFates.push(`${last.key}: its last write ${last.v} is ${f === 'lost' ? 'absent and was never evicted' : `replaced by ${present.get(last.id)!.v}`}`)
  }
  expect(wrongFates, 'committed writes lost, stale or resurrected').toEqual([])
  const evictions = reports.reduce((n, r) => n + r.evictions, 0)
  expect(evicted.length, 'every eviction is in a log').toBe(evictions)
  expect(fates.evicted ?? 0, 'the budget must have evicted last writes, so that the check above bites').toBeGreaterThan(0)
  expect(fates.present ?? 0).toBeGreaterThan(0)

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
    lastWrites: fates,
    present: ids.length,
  }
  console.log(`tabs: ${JSON.stringify(summary)}`)
  recordFigures('tabs', { seed: SEED, ...summary })
  test.info().annotations.push({ type: 'tabs', description: JSON.stringify(summary) })
})
