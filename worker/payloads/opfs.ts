import { progress } from '../progress.js'
import { quotaError, splitPath, TMP_SUFFIX, type Backend, type Durability, type HeldFile, type ReadHandle } from './backend.js'

/** FileSystemHandle.move() ships in Chromium (and OPFS elsewhere) but not yet in lib.dom. */
type MovableHandle = FileSystemFileHandle & { move(dir: FileSystemDirectoryHandle, name: string): Promise<void> }
/** The read-only mode of sync access handles (Chromium 121+) is not in lib.dom either. */
type ReadOnlyOpen = { createSyncAccessHandle(options: { mode: 'read-only' }): Promise<FileSystemSyncAccessHandle> }

/**
 * File handles kept by path (a handle names a path, so it stays valid across replacements; a file
 * removed since makes its handle's calls fail with NotFoundError, and the handle is looked up again).
 * Each look-up is a round trip to the browser process, about 0.5 ms.
 */
const FILE_HANDLES = 1024
/** Bytes writeNew writes last (a record's magic): see writeParts. */
export const HEAD_LAST = 8
/** Bytes per write() call of a large write (see writeParts). */
const WRITE_PIECE = 4 << 20

/**
 * The Origin Private File System through sync access handles, which only dedicated workers have:
 * measured here at 0.9–1.6 GB/s write+flush. Handles are exclusive, so each is opened, used and
 * closed within one call (the service calls these only while it holds the cache's Web Lock).
 */
export async function createOpfsBackend(cacheName: string): Promise<Backend> {
  const root = await navigator.storage.getDirectory()
  const top = await root.getDirectoryHandle('voxcache', { create: true })
  const home = await top.getDirectoryHandle(encodeURIComponent(cacheName), { create: true })
  const dirs = new Map<string, FileSystemDirectoryHandle>([['', home]])

  async function dirOf(path: string): Promise<FileSystemDirectoryHandle> {
    let handle = dirs.get(path)
    if (!handle) {
      handle = await home.getDirectoryHandle(path, { create: true })
      dirs.set(path, handle)
    }
    return handle
  }

  async function fileHandle(name: string, create = false): Promise<FileSystemFileHandle | undefined> {
    const { dir, base } = splitPath(name)
    try {
      return await (await dirOf(dir)).getFileHandle(base, { create })
    } catch (error) {
      if (error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'TypeMismatchError')) {
        return undefined
      }
      throw error
    }
  }

  const known = new Map<string, FileSystemFileHandle>()

  /** `name`'s file handle, from those kept when it is there (created when `create`), else undefined. */
  async function keptHandle(name: string, create = false): Promise<FileSystemFileHandle | undefined> {
    let file = known.get(name)
    if (file) return file
    file = await fileHandle(name, create)
    if (!file) return undefined
    if (known.size >= FILE_HANDLES) known.delete(known.keys().next().value!)
    known.set(name, file)
    return file
  }

  /**
   * A sync access handle on `name` (created when missing, if `create`), through the kept file handle;
   * when that handle's file was removed since, looked up again once. In a profile on disk such a handle
   * fails with NotFoundError. In an incognito profile (Chromium 156) it opens — a file that is nowhere,
   * whose getSize() is 2^64 and whose write() returns 2^32 − 4 (seen by the three-tab spec as quota
   * errors): a size past 2^53 is taken for that and the file looked up again.
   */
  async function accessHandle(name: string, options?: { mode: 'read-only' }, create = options === undefined): Promise<FileSystemSyncAccessHandle | undefined> {
    for (let attempt = 0; ; attempt++) {
      const file = await keptHandle(name, create)
      if (!file) return undefined
      let handle: FileSystemSyncAccessHandle | undefined
      try {
        handle = options ? await (file as unknown as ReadOnlyOpen).createSyncAccessHandle(options) : await file.createSyncAccessHandle()
        if (Number.isSafeInteger(handle.getSize())) return handle
        handle.close()
        known.delete(name)
        if (attempt > 0) throw new DOMException(`${name}: the browser opened a file that is not there`, 'NotFoundError')
      } catch (error) {
        known.delete(name)
        if (attempt > 0 || !(error instanceof DOMException && error.name === 'NotFoundError')) throw error
      }
    }
  }

  /** Opens `name` (creating it), runs `use` on an access handle, closes it; returns the file handle. */
  async function withHandle(name: string, use: (h: FileSystemSyncAccessHandle) => void): Promise<FileSystemFileHandle> {
    const file = (await fileHandle(name, true))!
    const handle = await file.createSyncAccessHandle()
    try {
      use(handle)
    } finally {
      handle.close()
    }
    return file
  }

  /**
   * Writes `bytes` at `at`, part of a write of `total` bytes that began at `start`; a short write means
   * the quota ran out, and becomes a quota error saying how many bytes of this write fitted.
   */
  function writeAll(handle: FileSystemSyncAccessHandle, bytes: Uint8Array, at: number, start: number, total: number): number {
    const n = handle.write(bytes, { at })
    if (n !== bytes.byteLength) {
      // Out of quota, write() returns fewer bytes, or (this Chromium, 156) 2^32 − 8 whether it wrote
      // part or none: a count cannot be trusted then. The file's size says what landed.
      const landed = Math.max(0, Math.min(handle.getSize(), at + bytes.byteLength) - at)
      throw quotaError(at + landed - start, total)
    }
    return at + n
  }

  /**
   * Writes the parts from the start of the open file, flushed unless relaxed; checks what landed. With
   * `headLast`, the first HEAD_LAST bytes are written after all the others: until the write completes
   * the file starts with zeros, which reconcile reads as a write that never finished.
   */
  function writeParts(h: FileSystemSyncAccessHandle, parts: readonly Uint8Array[], durability: Durability, headLast = false): void {
    h.truncate(0)
    const total = parts.reduce((n, p) => n + p.byteLength, 0)
    const skip = headLast && parts[0] && parts[0].byteLength >= HEAD_LAST ? HEAD_LAST : 0
    let at = skip
    for (let i = 0; i < parts.length; i++) {
      const part = i === 0 ? parts[0]!.subarray(skip) : parts[i]!
      // In pieces of WRITE_PIECE: see bench/results.md.
      for (let o = 0; o < part.byteLength; o += WRITE_PIECE) {
        at = writeAll(h, part.subarray(o, o + WRITE_PIECE), at, 0, total)
        progress() // a write of 256 MiB moves: the watchdog counts each piece
      }
    }
    if (skip) writeAll(h, parts[0]!.subarray(0, skip), 0, 0, total)
    if (durability === 'strict') h.flush()
    if (h.getSize() !== total) throw quotaError(h.getSize(), total)
  }

  const backend: Backend = {
    kind: 'opfs',
    async writeAtomic(name, parts, durability = 'strict') {
      const tmp = name + TMP_SUFFIX
      try {
        const file = await withHandle(tmp, (h) => writeParts(h, parts, durability))
        await (file as MovableHandle).move(await dirOf(splitPath(name).dir), splitPath(name).base)
      } catch (error) {
        await backend.delete(tmp).catch(() => undefined)
        throw error
      }
    },
    async writeNew(name, parts, durability = 'strict') {
      const handle = (await accessHandle(name))!
      try {
        writeParts(handle, parts, durability, true)
      } catch (error) {
        // Refused (the quota): nothing names the file, so it goes (an empty one, were that to fail,
        // would be removed by reconcile as unfinished).
        handle.truncate(0)
        handle.close()
        await backend.delete(name).catch(() => undefined)
        throw error
      }
      handle.close()
    },
    async hold(name) {
      // Never created here: an empty journal left behind (a hold that committed nothing) would read as
      // damage to the next opener. A missing file is written by the caller's own calls.
      const handle = await accessHandle(name, undefined, false)
      return handle && heldFileOf(handle)
    },
    async read(name, at = 0, length) {
      const file = await fileHandle(name)
      if (!file) return undefined
      const blob = await file.getFile()
      const end = length === undefined ? blob.size : Math.min(blob.size, at + length)
      return new Uint8Array(await blob.slice(at, end).arrayBuffer())
    },
    async file(name) {
      // Through the kept handle: one round trip instead of two (index and key files are looked at in
      // every write). A handle whose file went is looked up again.
      const file = await keptHandle(name)
      try {
        return await file?.getFile()
      } catch (error) {
        if (!(error instanceof DOMException && error.name === 'NotFoundError')) throw error
        known.delete(name)
        return (await fileHandle(name))?.getFile()
      }
    },
    async openRead(name) {
      // Measured here: getFileHandle 0.3 ms; opening and closing the access handle 0.5 ms; 1 MiB read
      // 1.7 ms, against 3.2 ms through a Blob (plus 0.4 ms for getFile).
      let handle: FileSystemSyncAccessHandle | undefined
      try {
        handle = await accessHandle(name, { mode: 'read-only' })
      } catch (error) {
        // Gone (NotFoundError), or open in a mode that excludes this one (NoModificationAllowedError,
        // e.g. a browser without read-only handles opening them exclusive in two tabs): the caller
        // reads a Blob instead, which says which.
        if (error instanceof DOMException) return undefined
        throw error
      }
      return handle && readHandleOf(handle)
    },
    async size(name) {
      const file = await fileHandle(name)
      return file ? (await file.getFile()).size : undefined
    },
    async append(name, bytes, durability = 'strict') {
      await withHandle(name, (h) => appendTo(h, bytes, durability))
    },
    async truncate(name, size) {
      await withHandle(name, (h) => {
        h.truncate(size)
        h.flush()
      })
    },
    async delete(name) {
      known.delete(name)
      const { dir, base } = splitPath(name)
      try {
        await (await dirOf(dir)).removeEntry(base)
      } catch (error) {
        if (!(error instanceof DOMException && error.name === 'NotFoundError')) throw error
      }
    },
    async move(from, to) {
      known.delete(from)
      const file = await fileHandle(from)
      if (!file) throw new DOMException(`${from} not found`, 'NotFoundError')
      await (file as MovableHandle).move(await dirOf(splitPath(to).dir), splitPath(to).base)
    },
    async list(dir) {
      const names: string[] = []
      for await (const [name, handle] of (await dirOf(dir)) as unknown as AsyncIterable<[string, FileSystemHandle]>) {
        if (handle.kind === 'file') names.push(name)
        // Listing 100,000 files takes seconds: the watchdog sees it move.
        if (names.length % 1024 === 0) progress()
      }
      return names
    },
    async destroy() {
      dirs.clear()
      known.clear()
      await top.removeEntry(encodeURIComponent(cacheName), { recursive: true })
    },
  }
  return backend
}

/** Appends `bytes` at the end; a refused append leaves nothing behind. */
function appendTo(h: FileSystemSyncAccessHandle, bytes: Uint8Array, durability: Durability): void {
  const size = h.getSize()
  try {
    const n = h.write(bytes, { at: size })
    if (n !== bytes.byteLength) {
      const landed = Math.max(0, Math.min(h.getSize(), size + bytes.byteLength) - size)
      throw quotaError(landed, bytes.byteLength)
    }
  } catch (error) {
    h.truncate(size)
    throw error
  } finally {
    if (durability === 'strict') h.flush()
  }
}

/** Fills `out` with the file's bytes from `at`; a file shorter than that is NotReadableError. */
function readInto(handle: FileSystemSyncAccessHandle, out: Uint8Array, at: number): Uint8Array {
  let done = 0
  while (done < out.byteLength) {
    const n = handle.read(out.subarray(done), { at: at + done })
    if (n <= 0) throw new DOMException(`${out.byteLength - done} bytes of the file could not be read at ${at + done}`, 'NotReadableError')
    done += n
  }
  return out
}

function heldFileOf(handle: FileSystemSyncAccessHandle): HeldFile {
  return {
    size: () => handle.getSize(),
    read: (at, length) => readInto(handle, new Uint8Array(Math.max(0, Math.min(length, handle.getSize() - at))), at),
    append: (bytes, durability = 'strict') => appendTo(handle, bytes, durability),
    truncate: (size) => handle.truncate(size),
    close: () => handle.close(),
  }
}

function readHandleOf(handle: FileSystemSyncAccessHandle): ReadHandle {
  const size = handle.getSize()
  return {
    size,
    read(at, length, into) {
      const n = Math.max(0, Math.min(length, size - at))
      return readInto(handle, into && into.byteLength >= n ? into.subarray(0, n) : new Uint8Array(n), at)
    },
    close: () => handle.close(),
  }
}
