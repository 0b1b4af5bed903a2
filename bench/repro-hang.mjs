// Repro of a hang seen while filling caches: 20 concurrent store() calls into a fresh cache, repeated;
// now and then one store keeps the exclusive Web Lock forever (also seen with one store at a time,
// filling 10,000 entries). Seen in roughly 1 of 50 rounds here; with BENCH_TRACE=1 it has not shown. Build first: npx vite build --config
// bench/vite.config.ts (BENCH_TRACE=1 to log every OPFS backend call). Run: node bench/repro-hang.mjs
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { serve, findTestdata } from './server.mjs'
import { createHash } from 'node:crypto'
const { url, server } = await serve(new URL('./.tmp/dist', import.meta.url).pathname, findTestdata(new URL('..', import.meta.url).pathname))
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
const page = await browser.newPage()
const lines = []
page.on('console', (m) => lines.push(m.text()))
await page.goto(`${url}/bench/bench.html`)
await page.waitForFunction(() => document.body.dataset.ready === 'true')
await page.evaluate(() => window.bench.load('f', { kind: 'phantom', n: 128, type: 'u8' }))
for (let round = 0; round < 30; round++) {
  lines.length = 0
  await page.evaluate((r) => window.bench.open('a' + r, 'vox', 'hang-a-' + r + '-' + Date.now(), 'zstd'), round)
  await page.evaluate((r) => window.bench.open('b' + r, 'vox', 'hang-b-' + r + '-' + Date.now(), 'none'), round)
  for (const h of ['a', 'b']) {
    const ids = Array.from({ length: 20 }, (_, j) => createHash('sha256').update(`${round}${h}${j}${Date.now()}`).digest('hex'))
    const t0 = Date.now()
    const r = await Promise.race([page.evaluate(([h, ids]) => window.bench.fill(h, 'f', ids), [h + round, ids]), new Promise((r) => setTimeout(() => r('TIMEOUT'), 20000))])
    console.log(round, h, r === 'TIMEOUT' ? r : Math.round(r), Date.now() - t0)
    if (r === 'TIMEOUT') {
      console.log(lines.slice(-30).join('\n'))
      const open = new Map()
      for (const l of lines) { const m = l.match(/\[opfs\] ([<>]) (\S+) (\S+)(.*)/); if (m) m[1] === '>' ? open.set(m[3], m[2] + m[4]) : open.delete(m[3]) }
      console.log('UNFINISHED', [...open.values()])
      process.exit(0)
    }
  }
  await page.evaluate((r) => Promise.all([window.bench.close('a' + r), window.bench.close('b' + r)]), round)
}
await browser.close(); server.close()
