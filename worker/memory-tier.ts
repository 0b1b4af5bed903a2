// The memory tier: values this worker decoded from valid records, kept in RAM (least recently used
// first out) under a byte budget of their own, so that a value read again is copied, not read and
// decoded again. Each is kept with the version of the entry it was read from — the index row's
// checksum and creation time, both new at every store — and served only while the row still says so.
import { checkRegion, cropRaw, regionImage, type Region } from '../src/codec/region.js'
import { classify, isImage } from '../src/codec/values.js'
import type { EntryInfo, Image, StorableTypedArray, Value } from '../src/types.js'

const MiB = 2 ** 20

/**
 * The default budget: 1/16 of the device's memory as `navigator.deviceMemory` says it (GiB, rounded
 * and capped at 8 by Chromium, so 512 MiB at most from it; 4 GiB assumed where the browser does not
 * say), between 64 MiB and 1 GiB. A 256³ float32 volume is 64 MiB, a 512³ uint8 one 128 MiB.
 */
export function defaultMemoryBytes(deviceMemory: number | undefined): number {
  const gib = typeof deviceMemory === 'number' && deviceMemory > 0 ? deviceMemory : 4
  return Math.min(1024 * MiB, Math.max(64 * MiB, Math.floor((gib * 1024 * MiB) / 16)))
}

/** The default budget in this context. */
export function memoryBudget(): number {
  return defaultMemoryBytes((globalThis.navigator as { deviceMemory?: number } | undefined)?.deviceMemory)
}

/**
 * A value larger than this share of the budget is not kept: one value would push out every other, and
 * a volume switched back and forth with another should find both held.
 */
const LARGEST_SHARE = 4

/**
 * A value up to this size is kept at its first read. A larger one is kept at its second read while the
 * first is still among the last SEEN reads: keeping it costs a copy (about 75 ms and a second 134 MB
 * for a 512³ volume), which a volume read once — a scan, a prefetch, a switch that never comes back —
 * should not pay, in time or in the page's peak memory.
 */
export const KEEP_AT_FIRST_READ = 1 * MiB
const SEEN = 1024

interface Held {
  value: Value
  bytes: number
  /** The row's version when the value was read (versionOf). */
  version: string
}

/**
 * What tells one version of an entry from another: its checksum and creation time, new at every store,
 * and, under a key, its sealed metadata, new at every seal (a random IV) — a rekey keeps the first two
 * (the frame table and times do not change), and a context whose key no longer opens the cache must not
 * be served what it read before.
 */
function versionOf(info: EntryInfo): string {
  const m = info.metadata as { $sealed?: unknown } | null
  const sealed = typeof m === 'object' && m !== null && typeof m.$sealed === 'string' ? m.$sealed : ''
  return `${info.checksum}/${info.createdAt}/${sealed}`
}

function copyView<T extends ArrayBufferView>(view: T): T {
  return (view as unknown as StorableTypedArray).slice() as unknown as T
}

/**
 * A copy of `value` that nothing else holds: the caller's buffer is transferred out of the worker, and
 * the held one must stay. The pixels are copied with slice() (one memcpy); structuredClone would
 * serialize them and then copy them again.
 */
export function ownCopy(value: Value): Value {
  if (value instanceof ArrayBuffer) return value.slice(0)
  if (ArrayBuffer.isView(value)) return copyView(value)
  if (isImage(value) && ArrayBuffer.isView(value.data)) {
    const { data, ...shell } = value
    return { ...structuredClone(shell), data: copyView(data) } as Image
  }
  return structuredClone(value)
}

/**
 * The bytes `value` holds in RAM: its buffer, or an image's pixels (its geometry and metadata are not
 * counted); a JSON value counts as its encoded size.
 */
function bytesOf(value: Value, info: EntryInfo): number {
  if (value instanceof ArrayBuffer) return value.byteLength
  if (ArrayBuffer.isView(value)) return value.byteLength
  if (isImage(value) && ArrayBuffer.isView(value.data)) return value.data.byteLength
  return info.rawBytes
}

export class MemoryTier {
  /** Values by entry id, least recently used first (a Map keeps insertion order). */
  private readonly held = new Map<string, Held>()
  /** Versions of large values read once and not kept (by id, oldest first): the next read keeps them. */
  private readonly seen = new Map<string, string>()
  bytes = 0
  hits = 0

  /** `maxBytes` 0 keeps nothing. */
  constructor(readonly maxBytes: number) {}

  get entries(): number {
    return this.held.size
  }

  /** Whether a value of the entry's version `info` is held (no use counted). */
  has(info: EntryInfo): boolean {
    const h = this.held.get(info.id)
    return h !== undefined && h.version === versionOf(info)
  }

  /**
   * A copy of the held value when it is of the version `info` names (then counted as a hit and made
   * the most recently used); undefined otherwise, and a held value of another version is dropped.
   */
  serve(info: EntryInfo): Value | undefined {
    const h = this.use(info)
    if (!h) return undefined
    this.hits++
    return ownCopy(h.value)
  }

  /**
   * A box cut from the held image of the version `info` names (counted as a hit), or undefined when no
   * such image is held.
   * @throws {UnsupportedValueError} when the box does not fit the image.
   */
  cut(info: EntryInfo, region: Region): Image | undefined {
    const h = this.use(info)
    if (!h || !isImage(h.value)) return undefined
    const held = classify(h.value)
    if (held.dataType !== 'Image') return undefined
    checkRegion(held.image, region)
    this.hits++
    return regionImage(held.image, region, cropRaw(held.image, region, held.bytes))
  }

  /** The held value of `info`'s version, made the most recently used; one of another version is dropped. */
  private use(info: EntryInfo): Held | undefined {
    const h = this.held.get(info.id)
    if (!h) return undefined
    this.held.delete(info.id)
    if (h.version !== versionOf(info)) {
      this.bytes -= h.bytes
      return undefined
    }
    this.held.set(info.id, h)
    return h
  }

  /**
   * Keeps a copy of `value`, read from the record of version `info`, dropping the least recently used
   * values until it fits. A value past a quarter of the budget is not kept (and an older version of
   * it goes); one past KEEP_AT_FIRST_READ only at its second read of the same version.
   */
  keep(info: EntryInfo, value: Value): void {
    this.drop(info.id)
    const bytes = bytesOf(value, info)
    if (this.maxBytes === 0 || bytes > this.maxBytes / LARGEST_SHARE) return
    if (bytes > KEEP_AT_FIRST_READ) {
      const version = versionOf(info)
      const before = this.seen.get(info.id)
      this.seen.delete(info.id)
      if (before !== version) {
        this.seen.set(info.id, version)
        if (this.seen.size > SEEN) this.seen.delete(this.seen.keys().next().value!)
        return
      }
    }
    for (const [id, h] of this.held) {
      if (this.bytes + bytes <= this.maxBytes) break
      this.held.delete(id)
      this.bytes -= h.bytes
    }
    this.held.set(info.id, { value: ownCopy(value), bytes, version: versionOf(info) })
    this.bytes += bytes
  }

  drop(id: string): void {
    const h = this.held.get(id)
    if (!h) return
    this.held.delete(id)
    this.bytes -= h.bytes
  }

  /** Drops every value whose entry `current` no longer finds at the same version. */
  prune(current: (id: string) => EntryInfo | undefined): void {
    for (const id of [...this.held.keys()]) {
      const info = current(id)
      if (!info || !this.has(info)) this.drop(id)
    }
  }

  clear(): void {
    this.held.clear()
    this.seen.clear()
    this.bytes = 0
  }
}
