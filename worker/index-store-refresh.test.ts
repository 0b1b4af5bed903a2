// Refreshes of one context that overlap (two readers of one tab under the shared lock) must leave its
// index current: the tabs spec found a tab whose overlapping refreshes both advanced its journal
// offset, so that it skipped later lines and evicted entries another tab had already evicted.
import initSqlJs, { type SqlJsStatic } from 'sql.js'
import { beforeAll, expect, it } from 'vitest'
import type { EntryInfo } from '../src/types.js'
import { rowRecord } from './index-db.js'
import { IndexStore } from './index-store.js'
import { createMemoryBackend } from './payloads/memory.js'

let SQL: SqlJsStatic
beforeAll(async () => {
  SQL = await initSqlJs()
})

const hex = (n: number) => n.toString(16).padStart(64, '0')
const put = (n: number) => {
  const info: EntryInfo = {
    id: hex(n), dataType: 'json', sizeBytes: 100, rawBytes: 100, codec: 'none', checksum: '0123456789abcdef',
    createdAt: new Date(1_700_000_000_000).toISOString(), lastAccessedAt: null, hits: 0, pinned: false, metadata: null, inline: false,
  }
  return { t: 'put' as const, row: rowRecord(info, null) }
}

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
