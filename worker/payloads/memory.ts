import { concatParts } from '../../src/codec/record.js'
import { splitPath, type Backend } from './backend.js'

/** Keeps everything in this worker's memory: nothing survives close(). For tests and private sessions. */
export function createMemoryBackend(): Backend {
  const files = new Map<string, Uint8Array>()
  const own = (parts: readonly Uint8Array[]) => concatParts(parts)
  return {
    kind: 'memory',
    async writeAtomic(name, parts) {
      files.set(name, own(parts))
    },
    async read(name, at = 0, length) {
      const file = files.get(name)
      if (!file) return undefined
      return file.slice(at, length === undefined ? undefined : at + length)
    },
    async file(name) {
      const file = files.get(name)
      return file ? new Blob([file as Uint8Array<ArrayBuffer>]) : undefined
    },
    async size(name) {
      return files.get(name)?.byteLength
    },
    async append(name, bytes) {
      files.set(name, own([files.get(name) ?? new Uint8Array(0), bytes]))
    },
    async truncate(name, size) {
      const file = files.get(name)
      if (file) files.set(name, file.slice(0, size))
    },
    async delete(name) {
      files.delete(name)
    },
    async move(from, to) {
      const file = files.get(from)
      if (!file) throw new DOMException(`${from} not found`, 'NotFoundError')
      files.set(to, file)
      files.delete(from)
    },
    async list(dir) {
      return [...files.keys()].filter((n) => splitPath(n).dir === dir).map((n) => splitPath(n).base)
    },
    async destroy() {
      files.clear()
    },
  }
}
