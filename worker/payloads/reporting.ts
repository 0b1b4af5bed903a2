// Every backend call that completes, and every read of an open handle, is a step of progress for the
// client's watchdog (worker/progress.ts): a store or read that moves is never taken for a stuck one.
import { progress } from '../progress.js'
import type { Backend, ReadHandle } from './backend.js'

export function reporting(backend: Backend): Backend {
  const step = async <T>(call: Promise<T>): Promise<T> => {
    try {
      return await call
    } finally {
      // A call that failed has completed too: only one that never settles is a stall.
      progress()
    }
  }
  const readHandle = (handle: ReadHandle): ReadHandle => ({
    size: handle.size,
    read(at, length, into) {
      const out = handle.read(at, length, into)
      progress()
      return out
    },
    close: () => handle.close(),
  })
  return {
    kind: backend.kind,
    writeAtomic: (name, parts) => step(backend.writeAtomic(name, parts)),
    read: (name, at, length) => step(backend.read(name, at, length)),
    file: (name) => step(backend.file(name)),
    ...(backend.openRead ? { openRead: async (name: string) => {
      const handle = await step(backend.openRead!(name))
      return handle && readHandle(handle)
    } } : {}),
    size: (name) => step(backend.size(name)),
    append: (name, bytes) => step(backend.append(name, bytes)),
    truncate: (name, size) => step(backend.truncate(name, size)),
    delete: (name) => step(backend.delete(name)),
    move: (from, to) => step(backend.move(from, to)),
    list: (dir) => step(backend.list(dir)),
    destroy: () => step(backend.destroy()),
  }
}
