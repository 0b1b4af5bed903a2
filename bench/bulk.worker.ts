// The bulk fixture: a cache of many small entries written straight to OPFS in the cache's own layout
// (an index snapshot, and in the `files` layout one record file per entry), so that opening a cache of
// 100,000 entries can be timed without first paying for 100,000 stores. The records are real ones
// (encodeRecord) and the index is written by the library's own IndexStore, so the cache opens them as
// its own.
import initSqlJs from 'sql.js'
import sqlWasmUrl from 'sql.js/dist/sql-wasm.wasm?url'
import zstdWasmUrl from 'zstd-wasm:zstd.wasm?url'
import { concatParts, encodeRecord, initCodec } from '../src/codec/index.js'
import { headerInfo, rowRecord } from '../worker/index/changes.js'
import { IndexStore } from '../worker/index/store.js'
import { createOpfsBackend } from '../worker/payloads/opfs.js'
import { PAYLOADS } from '../worker/paths.js'
import { smallValue } from './volumes.js'

export interface BulkRequest {
  cmd: 'build' | 'list'
  name: string
  n: number
  /** `inline`: every record inside the index (today's layout for records ≤ inlineBytes); `files`: one file each. */
  layout: 'inline' | 'files'
  /** Size of each JSON value's text. */
  valueChars: number
}

/** The cache's payloads/ folder, as the OPFS backend lays it out. */
async function payloadsDir(name: string): Promise<FileSystemDirectoryHandle> {
  const top = await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')
  return (await top.getDirectoryHandle(encodeURIComponent(name))).getDirectoryHandle(PAYLOADS, { create: true })
}

async function build({ name, n, layout, valueChars }: BulkRequest): Promise<{ ms: number; recordBytes: number }> {
  const t0 = performance.now()
  const [SQL, backend] = await Promise.all([initSqlJs({ locateFile: () => sqlWasmUrl }), createOpfsBackend(name), initCodec(zstdWasmUrl)])
  const index = await IndexStore.load(backend, SQL)
  const payloads = await payloadsDir(name)
  const createdAt = new Date().toISOString()
  let recordBytes = 0
  // Files are created 64 at a time: each creation is a round trip to the browser process (about 8 ms
  // here one after another), so the fixture runs them concurrently.
  const pending: Promise<void>[] = []
  for (let i = 0; i < n; i++) {
    const id = i.toString(16).padStart(64, '0')
    const record = await encodeRecord(smallValue(i, valueChars), { operationId: id, codec: 'none', createdAt })
    const bytes = concatParts(record.parts, record.byteLength)
    recordBytes += bytes.byteLength
    const info = { ...headerInfo(record.header, bytes.byteLength, layout === 'inline'), lastAccessedAt: createdAt }
    index.db.apply({ t: 'put', row: rowRecord(info, layout === 'inline' ? bytes : null) })
    if (layout === 'files') {
      // No flush: a fixture, not a store (the cache's own writes flush).
      pending.push(
        payloads.getFileHandle(`${id}.vxc`, { create: true }).then(async (file) => {
          const handle = await file.createSyncAccessHandle()
          handle.write(bytes, { at: 0 })
          handle.close()
        }),
      )
      if (pending.length === 64) await Promise.all(pending.splice(0))
    }
  }
  await Promise.all(pending)
  index.db.generation = 1
  await index.checkpoint()
  index.close()
  return { ms: performance.now() - t0, recordBytes }
}

/** Lists the cache's payloads/ folder, as reconcile does on open: what a files layout adds to every open. */
async function list({ name }: BulkRequest): Promise<{ ms: number; files: number }> {
  const t0 = performance.now()
  const payloads = await payloadsDir(name)
  let files = 0
  for await (const _ of (payloads as unknown as { keys(): AsyncIterable<string> }).keys()) files++
  return { ms: performance.now() - t0, files }
}

self.onmessage = async ({ data }: MessageEvent<BulkRequest>) => {
  try {
    postMessage(data.cmd === 'build' ? await build(data) : await list(data))
  } catch (error) {
    postMessage({ error: String((error as Error)?.stack ?? error) })
  }
}
