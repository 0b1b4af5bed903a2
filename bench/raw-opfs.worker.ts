// The hardware ceiling: bytes written and read through an OPFS sync access handle, nothing else.
// Times are taken inside the worker; the page also times the round trip (transfer included).
interface Request {
  cmd: 'write' | 'read' | 'readBlob' | 'delete' | 'readRange' | 'readRangeBlob' | 'hold' | 'copyOut'
  name: string
  /** readRange, readRangeBlob: the bytes [at, at + length) of the file. */
  at?: number
  length?: number
  /** Skip flush(): what a store costs when durability is left to the OS (as IndexedDB's default is). */
  noFlush?: boolean
  bytes?: Uint8Array
}

let dir: FileSystemDirectoryHandle | undefined

async function home(): Promise<FileSystemDirectoryHandle> {
  dir ??= await (await navigator.storage.getDirectory()).getDirectoryHandle('voxcache-bench-raw', { create: true })
  return dir
}

/** The memory section's floor: bytes held in this worker's RAM ('hold'), handed out as a copy ('copyOut'). */
const held = new Map<string, Uint8Array>()

async function handle(msg: Request): Promise<{ ms: number; bytes?: Uint8Array }> {
  if (msg.cmd === 'hold') {
    held.set(msg.name, msg.bytes!)
    return { ms: 0 }
  }
  if (msg.cmd === 'copyOut') {
    const t0 = performance.now()
    const bytes = held.get(msg.name)!.slice()
    return { ms: performance.now() - t0, bytes }
  }
  const d = await home()
  if (msg.cmd === 'delete') {
    await d.removeEntry(msg.name).catch(() => undefined)
    return { ms: 0 }
  }
  const t0 = performance.now()
  if (msg.cmd === 'readBlob') {
    // How voxcache reads: the file as a Blob, no lock needed, the bytes come through the browser process.
    const blob = await (await d.getFileHandle(msg.name)).getFile()
    const bytes = new Uint8Array(await blob.arrayBuffer())
    return { ms: performance.now() - t0, bytes }
  }
  if (msg.cmd === 'readRangeBlob') {
    const blob = await (await d.getFileHandle(msg.name)).getFile()
    const bytes = new Uint8Array(await blob.slice(msg.at!, msg.at! + msg.length!).arrayBuffer())
    return { ms: performance.now() - t0, bytes }
  }
  const file = await d.getFileHandle(msg.name, { create: msg.cmd === 'write' })
  const h = await file.createSyncAccessHandle()
  try {
    if (msg.cmd === 'write') {
      const bytes = msg.bytes!
      h.truncate(0)
      let done = 0
      while (done < bytes.byteLength) done += h.write(bytes.subarray(done), { at: done })
      if (!msg.noFlush) h.flush()
      h.close()
      return { ms: performance.now() - t0 }
    }
    // A range: the bytes of one slice, read where they lie in the raw volume (no checks, no decoding).
    const from = msg.cmd === 'readRange' ? msg.at! : 0
    const out = new Uint8Array(msg.cmd === 'readRange' ? msg.length! : h.getSize())
    let done = 0
    while (done < out.byteLength) {
      const n = h.read(out.subarray(done), { at: from + done })
      if (n <= 0) break
      done += n
    }
    h.close()
    return { ms: performance.now() - t0, bytes: out }
  } catch (error) {
    h.close()
    throw error
  }
}

self.onmessage = async (event: MessageEvent<Request & { seq: number }>) => {
  const { seq } = event.data
  try {
    const result = await handle(event.data)
    const transfer = result.bytes ? [result.bytes.buffer] : []
    ;(self as unknown as Worker).postMessage({ seq, ...result }, transfer)
  } catch (error) {
    ;(self as unknown as Worker).postMessage({ seq, error: String(error) })
  }
}
