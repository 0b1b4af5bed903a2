import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { serve, findTestdata } from './server.mjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// `node bench/digest-probe.mjs` (after a bench build): how long crypto.subtle.digest('SHA-256') of
// 134 MB keeps a worker's thread, against when its promise settles, three times. In Chromium 156 the
// two are the same: the digest runs on the calling thread, so starting it early overlaps nothing.
const repo = fileURLToPath(new URL('..', import.meta.url))
const { url, server } = await serve(join(repo, 'bench/.tmp/dist'), findTestdata(repo))
const code = `
onmessage = async () => {
  const buf = new Uint8Array(134 << 20); for (let i = 0; i < buf.length; i += 4096) buf[i] = i
  const out = []
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now()
    const p = crypto.subtle.digest('SHA-256', buf)
    const t1 = performance.now()
    await p
    const t2 = performance.now()
    out.push(['sync part', (t1 - t0).toFixed(1), 'total', (t2 - t0).toFixed(1)])
  }
  postMessage(out)
}`
const dir = mkdtempSync(join(tmpdir(), 'voxcache-digest-'))
const ctx = await chromium.launchPersistentContext(dir, { executablePath: chromiumPath, args: chromiumArgs })
const page = ctx.pages()[0]
await page.goto(url + '/bench/bench.html')
console.log(JSON.stringify(await page.evaluate(async (code) => { const w = new Worker(URL.createObjectURL(new Blob([code]))); return new Promise((r) => { w.onmessage = (e) => r(e.data); w.postMessage(0) }) }, code)))
await ctx.close()
rmSync(dir, { recursive: true, force: true })
server.close()
