// The benchmark page. It holds the volumes and the contenders, and times single operations with
// performance.now(); bench/run.mjs decides what runs when (interleaving, repetitions, memory probes).
import { openCache, type Image, type VoxCache } from '../src/index.js'
// The previous build (BENCH_PREV), or a module without openCache. Its caches are driven through the
// same methods, so it is typed as the current VoxCache.
import * as prev from 'voxcache-prev'
import { decodeBody, encodeRecord, initCodec, parseHeader, concatParts } from '../src/codec/index.js'
import zstdWasmUrl from 'zstd-wasm:zstd.wasm?url'
import { createStore, del, get, set, clear, type UseStore } from 'idb-keyval'
import { SeedPort } from './seed-port.js'
import { copyImage, imageOf, phantom, smallValue } from './volumes.js'
import { decodeCase, hashSpeed } from './decode.js'
import { seriesBench } from './series.js'
import type { BulkRequest } from './bulk.worker.js'

type Spec = { kind: 'ch2bet' } | { kind: 'phantom'; n: number; type: 'u8' | 'f32' } | { kind: 'small'; bytes: number }

interface RawWorker {
  kind: 'raw'
  /** Read through a Blob (getFile().arrayBuffer()) instead of the sync access handle. */
  blob: boolean
  noFlush: boolean
  worker: Worker
  seq: number
  waiting: Map<number, (data: { ms: number; bytes?: Uint8Array; error?: string }) => void>
}
type Contender =
  | { kind: 'vox'; name: string; cache: VoxCache; codec: 'none' | 'zstd'; open: typeof openCache; key?: CryptoKey; memoryBytes?: number; durability?: 'strict' }
  | RawWorker
  | { kind: 'idbkv'; store: UseStore; name: string }
  | { kind: 'seed'; seed: SeedPort }
  | { kind: 'copy' }
type Kind = Contender['kind'] | 'rawblob' | 'rawnoflush' | 'voxprev' | 'voxsealed' | 'voxstrict'

const volumes = new Map<string, Image>()
const contenders = new Map<string, Contender>()
const STORE_HANG_MS = 20_000
const hangs: { cache: string; id: string; at: string }[] = []
let prepared: Image | undefined
let kept: unknown

function gc(): void {
  ;(globalThis as unknown as { gc?: () => void }).gc?.()
}

function bytesOf(image: Image): Uint8Array {
  const d = image.data as Uint8Array | Float32Array
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

async function ch2bet(): Promise<Image> {
  const meta = (await (await fetch('/data/ch2bet.json')).json()) as { size: number[]; spacing: number[] }
  const bytes = new Uint8Array(await (await fetch('/data/ch2bet.raw')).arrayBuffer())
  return imageOf(bytes, meta.size, meta.spacing, 'ch2bet')
}

function rawCall(c: RawWorker, msg: { cmd: string; name: string; bytes?: Uint8Array; noFlush?: boolean; at?: number; length?: number }) {
  const seq = ++c.seq
  return new Promise<{ ms: number; bytes?: Uint8Array; error?: string }>((resolve, reject) => {
    c.waiting.set(seq, (data) => (data.error ? reject(new Error(data.error)) : resolve(data)))
    c.worker.postMessage({ seq, ...msg }, msg.bytes ? [msg.bytes.buffer] : [])
  })
}

function contender(handle: string): Contender {
  const c = contenders.get(handle)
  if (!c) throw new Error(`no contender ${handle}`)
  return c
}

const bench = {
  async load(key: string, spec: Spec): Promise<{ bytes: number; ms: number }> {
    const t0 = performance.now()
    if (!volumes.has(key)) {
      const image =
        spec.kind === 'ch2bet'
          ? await ch2bet()
          : spec.kind === 'phantom'
            ? phantom(spec.n, spec.type)
            : imageOf(crypto.getRandomValues(new Uint8Array(spec.bytes)), [spec.bytes, 1, 1], [1, 1, 1], 'small')
      volumes.set(key, image)
    }
    return { bytes: bytesOf(volumes.get(key)!).byteLength, ms: performance.now() - t0 }
  },

  unload(key: string): void {
    volumes.delete(key)
    prepared = undefined
    kept = undefined
  },

  async open(handle: string, kind: Kind, name: string, codec: 'none' | 'zstd' = 'none', memoryBytes?: number): Promise<string> {
    let c: Contender
    if (kind === 'vox' || kind === 'voxprev' || kind === 'voxsealed' || kind === 'voxstrict') {
      const open = kind !== 'voxprev' ? openCache : (prev.openCache as typeof openCache | undefined)
      if (!open) throw new Error('no previous build: run with BENCH_PREV=<git rev>')
      // 'voxsealed': the cache protected by a non-extractable AES-GCM key, as an app would hold one.
      const key = kind === 'voxsealed' ? await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) : undefined
      const tier = memoryBytes === undefined ? {} : { memoryBytes }
      // 'voxstrict': every store flushed to the disk before it resolves (durability 'strict').
      const durability = kind === 'voxstrict' ? ({ durability: 'strict' } as const) : {}
      c = { kind: 'vox', name, codec, cache: await open({ name, storage: 'opfs', codec, ...tier, ...durability, ...(key ? { encryption: { key } } : {}) }), open, key, memoryBytes, ...durability }
    } else if (kind === 'raw' || kind === 'rawblob' || kind === 'rawnoflush') {
      const worker = new Worker(new URL('./raw-opfs.worker.ts', import.meta.url), { type: 'module' })
      const raw: RawWorker = { kind: 'raw', blob: kind === 'rawblob', noFlush: kind === 'rawnoflush', worker, seq: 0, waiting: new Map() }
      worker.onmessage = (e: MessageEvent<{ seq: number; ms: number; bytes?: Uint8Array; error?: string }>) => {
        raw.waiting.get(e.data.seq)?.(e.data)
        raw.waiting.delete(e.data.seq)
      }
      c = raw
    } else if (kind === 'idbkv') {
      c = { kind, name, store: createStore(`bench-${name}`, 'keyval') }
    } else if (kind === 'seed') {
      c = { kind, seed: await SeedPort.open(name) }
    } else {
      c = { kind: 'copy' }
    }
    contenders.set(handle, c)
    return c.kind === 'vox' ? c.cache.storage : kind
  },

  /** Closes a voxcache contender and opens it again in a fresh worker (for memory probes). */
  async reopen(handle: string): Promise<void> {
    const c = contender(handle)
    if (c.kind !== 'vox') return
    await c.cache.close()
    c.cache = await c.open({ name: c.name, storage: 'opfs', codec: c.codec, ...(c.memoryBytes === undefined ? {} : { memoryBytes: c.memoryBytes }), ...(c.durability ? { durability: c.durability } : {}), ...(c.key ? { encryption: { key: c.key } } : {}) })
  },

  async close(handle: string): Promise<void> {
    const c = contenders.get(handle)
    contenders.delete(handle)
    if (!c) return
    if (c.kind === 'vox') await c.cache.destroy()
    else if (c.kind === 'raw') c.worker.terminate()
    else if (c.kind === 'idbkv') await clear(c.store)
    else if (c.kind === 'seed') await c.seed.destroy()
  },

  /** Copies a volume into a buffer of its own, ready for the next store (outside the timing). */
  prepare(key: string): void {
    prepared = undefined
    kept = undefined
    prepared = copyImage(volumes.get(key)!)
  },

  gc(): void {
    gc()
  },

  /** Times one store of the prepared copy. Returns [ms from the page, ms inside the worker or NaN]. */
  async store(handle: string, id: string): Promise<[number, number]> {
    const image = prepared
    if (!image) throw new Error('prepare() first')
    prepared = undefined
    const c = contender(handle)
    const t0 = performance.now()
    let inner = NaN
    if (c.kind === 'vox') await c.cache.store(id, image, { codec: c.codec })
    else if (c.kind === 'raw') inner = (await rawCall(c, { cmd: 'write', name: id, bytes: bytesOf(image), noFlush: c.noFlush })).ms
    else if (c.kind === 'idbkv') await set(id, image, c.store)
    else if (c.kind === 'seed') await c.seed.store(id, image)
    else {
      const out = new Uint8Array(bytesOf(image).byteLength)
      out.set(bytesOf(image))
      kept = out
    }
    return [performance.now() - t0, inner]
  },

  /** Times one retrieve; checks the size of what came back. Returns [ms, ms inside the worker or NaN]. */
  async retrieve(handle: string, id: string, expectBytes: number): Promise<[number, number]> {
    const c = contender(handle)
    kept = undefined
    const t0 = performance.now()
    let inner = NaN
    let got: number
    if (c.kind === 'vox') got = bytesOf((await c.cache.retrieve(id)) as Image).byteLength
    else if (c.kind === 'raw') {
      const r = await rawCall(c, { cmd: c.blob ? 'readBlob' : 'read', name: id })
      inner = r.ms
      got = r.bytes!.byteLength
      kept = r.bytes
    } else if (c.kind === 'idbkv') got = bytesOf((await get<Image>(id, c.store))!).byteLength
    else if (c.kind === 'seed') got = bytesOf((await c.seed.retrieve(id))!).byteLength
    else return [NaN, NaN]
    const ms = performance.now() - t0
    if (got !== expectBytes) throw new Error(`${handle} returned ${got} bytes, expected ${expectBytes}`)
    return [ms, inner]
  },

  /**
   * Times one read of a box of a stored volume: voxcache's retrieveRegion, or the raw contender reading
   * the box's bytes where they lie in its file (a box of whole slices is one range). Checks the size.
   */
  async region(handle: string, id: string, index: number[], size: number[], range: [number, number]): Promise<number> {
    const c = contender(handle)
    kept = undefined
    const t0 = performance.now()
    let got: number
    if (c.kind === 'vox') got = bytesOf((await c.cache.retrieveRegion(id, { index, size }))!).byteLength
    else if (c.kind === 'raw') got = (await rawCall(c, { cmd: c.blob ? 'readRangeBlob' : 'readRange', name: id, at: range[0], length: range[1] })).bytes!.byteLength
    else throw new Error(`${handle} has no region read`)
    const ms = performance.now() - t0
    if (got !== range[1]) throw new Error(`${handle} returned ${got} bytes, expected ${range[1]}`)
    return ms
  },

  async remove(handle: string, id: string): Promise<void> {
    const c = contender(handle)
    kept = undefined
    if (c.kind === 'vox') await c.cache.delete(id)
    else if (c.kind === 'raw') await rawCall(c, { cmd: 'delete', name: id })
    else if (c.kind === 'idbkv') await del(id, c.store)
    else if (c.kind === 'seed') await c.seed.remove(id)
  },

  /** Fills a contender with `ids.length` copies of a volume (untimed; the seed port persists once). */
  async fill(handle: string, key: string, ids: string[]): Promise<number> {
    const c = contender(handle)
    const t0 = performance.now()
    const source = volumes.get(key)!
    if (c.kind === 'seed') {
      for (const id of ids) c.seed.insert(id, source)
      await c.seed.persist()
    } else if (c.kind === 'vox') {
      // One store at a time. A store now and then never settles and keeps the cache's Web Lock (see
      // bench/repro-hang.mjs): it is logged, the cache's worker is closed (which frees the lock) and
      // reopened, and the fill goes on.
      for (const id of ids) {
        const settled = await Promise.race([
          c.cache.store(id, copyImage(source), { codec: 'none' }).then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), STORE_HANG_MS)),
        ])
        if (settled) continue
        hangs.push({ cache: c.name, id, at: new Date().toISOString() })
        console.warn(`BENCH-HANG store ${id} in ${c.name}`)
        await Promise.race([c.cache.close(), new Promise((resolve) => setTimeout(resolve, 5000))])
        c.cache = await c.open({ name: c.name, storage: 'opfs', codec: c.codec, ...(c.memoryBytes === undefined ? {} : { memoryBytes: c.memoryBytes }), ...(c.key ? { encryption: { key: c.key } } : {}) })
      }
    } else if (c.kind === 'idbkv') {
      for (const id of ids) await set(id, source, c.store)
    }
    return performance.now() - t0
  },

  /** Whether the seed's design can persist `count` copies of a volume at all (one export, one put). */
  async seedCapacity(key: string, count: number): Promise<{ ok: boolean; exportBytes: number; error: string }> {
    const seed = await SeedPort.open(`capacity-${Date.now()}`)
    const source = volumes.get(key)!
    try {
      for (let i = 0; i < count; i++) seed.insert(String(i).padStart(64, '0'), source)
      const exportBytes = bytesOf(source).byteLength * count
      try {
        await seed.persist()
        return { ok: true, exportBytes, error: '' }
      } catch (error) {
        return { ok: false, exportBytes, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }
      }
    } finally {
      await seed.destroy()
    }
  },

  /** The memory tier's counters of a voxcache contender (the memory section checks what it timed). */
  async memoryStats(handle: string): Promise<{ hits: number; memoryHits: number; memoryBytes: number; memoryMaxBytes: number }> {
    const c = contender(handle)
    if (c.kind !== 'vox') throw new Error(`${handle} has no memory tier`)
    const { hits, memoryHits, memoryBytes, memoryMaxBytes } = await c.cache.stats()
    return { hits, memoryHits, memoryBytes, memoryMaxBytes }
  },

  /**
   * The floor of a memory hit: the prepared volume held in a raw worker, then a copy made there and
   * transferred to the page, nothing else. Returns [ms from the page, ms of the copy inside the worker].
   */
  async workerCopy(handle: string, id: string, expectBytes: number): Promise<[number, number]> {
    const c = contender(handle)
    if (c.kind !== 'raw') throw new Error(`${handle} is not a raw worker`)
    if (prepared) {
      await rawCall(c, { cmd: 'hold', name: id, bytes: bytesOf(prepared) })
      prepared = undefined
    }
    kept = undefined
    const t0 = performance.now()
    const r = await rawCall(c, { cmd: 'copyOut', name: id })
    const ms = performance.now() - t0
    if (r.bytes!.byteLength !== expectBytes) throw new Error(`${handle} returned ${r.bytes!.byteLength} bytes, expected ${expectBytes}`)
    return [ms, r.ms]
  },

  async trimMemory(handle: string): Promise<void> {
    const c = contender(handle)
    if (c.kind === 'vox') await c.cache.trimMemory()
  },

  /** Times has(): a round trip to the worker and an index look-up, no record read and no journal check. */
  async has(handle: string, id: string): Promise<number> {
    const c = contender(handle)
    if (c.kind !== 'vox') throw new Error(`${handle} has no has()`)
    const t0 = performance.now()
    if (!(await c.cache.has(id))) throw new Error(`${handle} has no ${id}`)
    return performance.now() - t0
  },

  async entries(handle: string): Promise<number> {
    const c = contender(handle)
    return c.kind === 'vox' ? (await c.cache.stats()).entries : NaN
  },

  /** Record encode/decode throughput and size per codec, in this thread (no I/O). */
  async codec(key: string, codec: 'none' | 'zstd'): Promise<{ encodeMs: number; decodeMs: number; stored: number; raw: number; codec: string }> {
    await initCodec(zstdWasmUrl)
    const image = volumes.get(key)!
    const id = '0'.repeat(64)
    const t0 = performance.now()
    const record = await encodeRecord(image, { operationId: id, codec })
    const t1 = performance.now()
    const bytes = concatParts(record.parts, record.byteLength)
    const t2 = performance.now()
    const parsed = parseHeader(id, bytes, bytes.byteLength)
    decodeBody(parsed, bytes.slice(parsed.bodyOffset))
    const t3 = performance.now()
    return { encodeMs: t1 - t0, decodeMs: t3 - t2, stored: record.byteLength, raw: parsed.header.rawLength, codec: parsed.header.codec }
  },

  /** Runs the bulk fixture (bench/bulk.worker.ts) in a worker of its own, then ends that worker. */
  async bulk(request: BulkRequest): Promise<{ ms: number; recordBytes?: number; files?: number }> {
    const worker = new Worker(new URL('./bulk.worker.ts', import.meta.url), { type: 'module' })
    try {
      const reply = await new Promise<{ ms: number; error?: string }>((resolve) => {
        worker.onmessage = (e) => resolve(e.data)
        worker.postMessage(request)
      })
      if (reply.error) throw new Error(reply.error)
      return reply
    } finally {
      worker.terminate()
    }
  },

  /**
   * Times openCache (a new worker, the index loaded), then what a page does next: a list() of the 50
   * most recently used entries and a stats(); then a miss, which waits for the reconcile open started
   * in the background (a miss reads the index again under the lock, after it): `settledMs` is from the
   * start of openCache to that answer.
   */
  async timedOpen(name: string): Promise<{ openMs: number; listMs: number; statsMs: number; settledMs: number; listed: number; entries: number; storage: string }> {
    const t0 = performance.now()
    const cache = await openCache({ name, storage: 'opfs' })
    const t1 = performance.now()
    const listed = (await cache.list({ limit: 50 })).length
    const t2 = performance.now()
    const { entries } = await cache.stats()
    const t3 = performance.now()
    await cache.has('f'.repeat(64))
    const t4 = performance.now()
    await cache.close()
    return { openMs: t1 - t0, listMs: t2 - t1, statsMs: t3 - t2, settledMs: t4 - t0, listed, entries, storage: cache.storage }
  },

  /** The sizes of a cache's index files in OPFS (the snapshot and the journal). */
  async indexFileBytes(name: string): Promise<{ snapshot: number; journal: number }> {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache')).getDirectoryHandle(name)
    const size = async (file: string) => (await (await dir.getFileHandle(file)).getFile()).size
    return { snapshot: await size('index.sqlite').catch(() => 0), journal: await size('index.journal') }
  },

  async destroyCache(name: string): Promise<void> {
    await (await openCache({ name, storage: 'opfs' })).destroy()
  },

  /**
   * Stores `n` small JSON values one after another in a cache whose records up to `inlineBytes` live
   * in the index; returns each store's time, taken from this page.
   */
  async smallStores(name: string, inlineBytes: number, n: number, chars: number, from: number): Promise<number[]> {
    const cache = await openCache({ name, storage: 'opfs', inlineBytes, codec: 'none' })
    const times: number[] = []
    try {
      for (let i = from; i < from + n; i++) {
        const id = i.toString(16).padStart(64, '0')
        const value = smallValue(i, chars)
        const t0 = performance.now()
        await cache.store(id, value)
        times.push(performance.now() - t0)
      }
    } finally {
      await cache.close()
    }
    return times
  },

  hangs: () => hangs,
  decodeCase,
  hashSpeed,
  ...seriesBench,
}

declare global {
  interface Window {
    bench: typeof bench
  }
}

window.bench = bench
document.querySelector('#status')!.textContent = 'ready'
document.body.dataset.ready = 'true'
