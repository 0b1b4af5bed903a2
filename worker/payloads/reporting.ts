// Every backend call that completes, and every read of an open handle, is a step of progress for the
// client's watchdog (worker/progress.ts): a store or read that moves is never taken for a stuck one.
import { progress } from '../progress.js'
import type { Backend, Durability, HeldFile, ReadHandle } from './backend.js'

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
  // A held file's calls are synchronous, and each is a step as the backend's own calls are.
  const heldFile = (held: HeldFile): HeldFile => ({
    size: () => held.size(),
    read(at, length) {
      const out = held.read(at, length)
      progress()
      return out
    },
    append(bytes, durability) {
      held.append(bytes, durability)
      progress()
    },
    truncate(size) {
      held.truncate(size)
      progress()
    },
    close() {
      held.close()
      progress()
    },
  })
  return {
    kind: backend.kind,
    writeAtomic: (name, parts, durability) => step(backend.writeAtomic(name, parts, durability)),
    ...(backend.writeNew ? { writeNew: (name: string, parts: readonly Uint8Array[], durability?: Durability) => step(backend.writeNew!(name, parts, durability)) } : {}),
    ...(backend.hold ? { hold: async (name: string) => {
      const held = await step(backend.hold!(name))
      return held && heldFile(held)
    } } : {}),
    read: (name, at, length) => step(backend.read(name, at, length)),
    file: (name) => step(backend.file(name)),
    ...(backend.openRead ? { openRead: async (name: string) => {
      const handle = await step(backend.openRead!(name))
      return handle && readHandle(handle)
    } } : {}),
    size: (name) => step(backend.size(name)),
    append: (name, bytes, durability) => step(backend.append(name, bytes, durability)),
    truncate: (name, size) => step(backend.truncate(name, size)),
    delete: (name) => step(backend.delete(name)),
    move: (from, to) => step(backend.move(from, to)),
    list: (dir) => step(backend.list(dir)),
    destroy: () => step(backend.destroy()),
  }
}
