// Commits and refreshes under stress: refreshes of one context that overlap (two readers of one tab
// under the shared lock), and a checkpoint that the browser's quota refuses.
import initSqlJs, { type SqlJsStatic } from 'sql.js'
import { beforeAll, expect, it } from 'vitest'
import type { EntryInfo } from '../../src/types.js'
import { rowRecord } from './changes.js'
import { IndexStore, JOURNAL, SNAPSHOT } from './store.js'
import type { Backend } from '../payloads/backend.js'
import { createMemoryBackend } from '../payloads/memory.js'

let SQL: SqlJsStatic
beforeAll(async () => {
  SQL = await initSqlJs()
})

const hex = (n: number) => n.toString(16).padStart(64, '0')
const put = (n: number, pad = 0) => {
  const info: EntryInfo = {
    id: hex(n), dataType: 'json', sizeBytes: 100, rawBytes: 100, codec: 'none', checksum: '0123456789abcdef',
    createdAt: new Date(1_700_000_000_000).toISOString(), lastAccessedAt: null, hits: 0, pinned: false,
    metadata: pad ? { pad: 'x'.repeat(pad) } : null, inline: false, expiresAt: null,
  }
  return { t: 'put' as const, row: rowRecord(info, null) }
}

// The tabs spec found a tab whose overlapping refreshes both advanced its journal offset, so that it
// skipped later lines and evicted entries another tab had already evicted.
it('overlapping refreshes of one context read every line once, and later ones still see new lines', async () => {
  const backend = createMemoryBackend()
  const writer = await IndexStore.load(backend, SQL)
  const reader = await IndexStore.load(backend, SQL)
  await writer.commit([put(1)])
  await writer.commit([put(2)])
  // Two refreshes at once, as two lanes of one tab do after a miss.
  await Promise.all([reader.refresh(), reader.refresh(), reader.refresh()])
  expect(reader.db.ids().sort()).toEqual([hex(1), hex(2)])
  // More lines: a refresh after the overlapping ones must read them from the right offset.
  for (let n = 3; n <= 20; n++) await writer.commit([put(n), { t: 'del', id: hex(n - 2) }])
  await reader.refresh()
  expect(reader.db.ids().sort()).toEqual(writer.db.ids().sort())
  expect(reader.generation).toBe(writer.generation)
})

// A checkpoint is an optimisation: when the quota refuses the snapshot, the commit that triggered it
// has already made its entries durable in the journal, so it must not fail (a failed commit would be
// retried and written twice); the checkpoint is tried again at the next commit.
it('a checkpoint the quota refuses fails no commit, loses nothing, and happens at a later commit', async () => {
  const inner = createMemoryBackend()
  let full = false
  const refusals: string[] = []
  // The memory backend with the quota full for snapshots only.
  const backend: Backend = {
    ...inner,
    async writeAtomic(name, parts) {
      if (full && name === SNAPSHOT) {
        refusals.push(name)
        throw new DOMException('storage quota exceeded', 'QuotaExceededError')
      }
      return inner.writeAtomic(name, parts)
    },
  }
  const store = await IndexStore.load(backend, SQL)
  full = true
  // About 1.3 MB of journal: past the 1 MiB floor, so every commit from there on wants a checkpoint.
  for (let n = 1; n <= 300; n++) await store.commit([put(n, 4000)])
  expect(refusals.length).toBeGreaterThan(20)
  const journal = (await inner.size(JOURNAL))!
  expect(journal).toBeGreaterThan(1 << 20)
  const reopened = await IndexStore.load(inner, SQL)
  expect(reopened.db.ids().length).toBe(300)
  full = false
  await store.commit([put(301, 4000)])
  expect((await inner.size(JOURNAL))!).toBeLessThan(journal / 100)
  const again = await IndexStore.load(inner, SQL)
  expect(again.db.ids().length).toBe(301)
})
