import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { serve, findTestdata } from './server.mjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// `node bench/profile-probe.mjs` (after a bench build, `npm run bench` or `npx vite build --config
// bench/vite.config.ts`): raw OPFS writes and reads from a worker, in an incognito context and in a
// persistent profile on disk, medians of 7 per size. Why the bench runs in a persistent profile: the
// incognito context keeps OPFS in the browser process's memory, behind IPC.
const repo = fileURLToPath(new URL('..', import.meta.url))
const { url, server } = await serve(join(repo, 'bench/.tmp/dist'), findTestdata(repo))
const workerCode = `
let dir
onmessage = async (e) => {
  const { cmd, name, bytes } = e.data
  dir ??= await (await navigator.storage.getDirectory()).getDirectoryHandle('probe', { create: true })
  const t0 = performance.now()
  if (cmd === 'write') {
    const f = await dir.getFileHandle(name, { create: true })
    const h = await f.createSyncAccessHandle()
    h.truncate(0); let d = 0; while (d < bytes.byteLength) d += h.write(bytes.subarray(d), { at: d }); h.flush(); h.close()
    postMessage({ ms: performance.now() - t0 })
  } else if (cmd === 'read' || cmd === 'readro') {
    const f = await dir.getFileHandle(name)
    const h = await f.createSyncAccessHandle(cmd === 'readro' ? { mode: 'read-only' } : undefined)
    const t1 = performance.now()
    const out = new Uint8Array(h.getSize()); let d = 0
    while (d < out.byteLength) { const n = h.read(out.subarray(d), { at: d }); if (n <= 0) break; d += n }
    h.close()
    postMessage({ ms: performance.now() - t0, readMs: performance.now() - t1, bytes: out }, [out.buffer])
  } else if (cmd === 'blob') {
    const f = await dir.getFileHandle(name)
    const out = new Uint8Array(await (await f.getFile()).arrayBuffer())
    postMessage({ ms: performance.now() - t0, bytes: out }, [out.buffer])
  }
}`
async function run(label, context) {
  const page = await context.newPage()
  await page.goto(url + '/bench/bench.html')
  const r = await page.evaluate(async (code) => {
    const w = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })))
    const call = (msg, t) => new Promise((res) => { w.onmessage = (e) => res(e.data); w.postMessage(msg, t || []) })
    const out = {}
    for (const size of [7 << 20, 64 << 20, 134 << 20]) {
      const rows = { write: [], read: [], readro: [], blob: [], inner: [] }
      for (let i = 0; i < 7; i++) {
        const b = new Uint8Array(size); crypto.getRandomValues(b.subarray(0, 65536)); b.fill(7, 65536)
        const name = 'f' + size + '-' + i
        let t0 = performance.now(); await call({ cmd: 'write', name, bytes: b }, [b.buffer]); rows.write.push(performance.now() - t0)
        for (const cmd of ['read', 'readro', 'blob']) { t0 = performance.now(); const x = await call({ cmd, name }); rows[cmd].push(performance.now() - t0); if (cmd === 'read') rows.inner.push(x.readMs) }
      }
      const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1].toFixed(1)
      out[size >> 20] = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, med(v)]))
    }
    return out
  }, workerCode)
  console.log(label, JSON.stringify(r))
}
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
console.log('median ms per size in MiB: write+flush, read (sync handle), readro (read-only sync handle), blob (getFile().arrayBuffer()), all from the page; inner: the sync-handle read inside the worker')
await run('incognito', await browser.newContext())
await browser.close()
const dir = mkdtempSync(join(tmpdir(), 'voxcache-probe-'))
const ctx = await chromium.launchPersistentContext(dir, { executablePath: chromiumPath, args: chromiumArgs })
await run('persistent', ctx)
await ctx.close()
rmSync(dir, { recursive: true, force: true })
server.close()
