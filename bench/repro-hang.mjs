// Repro of a hang seen while filling caches (README, Limits: the known issue): stores of a 128³ volume
// into fresh caches, round after round, two caches (two workers) filling at once; now and then one
// store was seen to keep the exclusive Web Lock forever. Build first: npx vite build --config
// bench/vite.config.ts (BENCH_TRACE=1 to log every OPFS backend call and every request of the cache's
// lock). Run: node bench/repro-hang.mjs; HUNT_MINUTES (default 10) bounds it, HUNT_WAYS (default 2)
// caches fill at once. On a store that does not settle within 20 s it prints the backend calls and
// lock requests that started and never finished, and what navigator.locks.query() sees.
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { serve, findTestdata } from './server.mjs'
import { createHash } from 'node:crypto'
import os from 'node:os'
const minutes = Number(process.env.HUNT_MINUTES ?? 10)
const ways = Number(process.env.HUNT_WAYS ?? 2)
const { url, server } = await serve(new URL('./.tmp/dist', import.meta.url).pathname, findTestdata(new URL('..', import.meta.url).pathname))
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
const page = await browser.newPage()
const lines = []
page.on('console', (m) => {
  lines.push(m.text())
  if (lines.length > 20000) lines.splice(0, 10000)
})
await page.goto(`${url}/bench/bench.html`)
await page.waitForFunction(() => document.body.dataset.ready === 'true')
await page.evaluate(() => window.bench.load('f', { kind: 'phantom', n: 128, type: 'u8' }))
const until = Date.now() + minutes * 60_000
let stores = 0
let round = 0
let hung = false
const loads = []
for (; Date.now() < until && !hung; round++) {
  lines.length = 0
  const handles = Array.from({ length: ways }, (_, w) => `w${w}r${round}`)
  for (const [w, h] of handles.entries()) {
    await page.evaluate(([h, name, codec]) => window.bench.open(h, 'vox', name, codec), [h, `hang-${h}-${Date.now()}`, w % 2 ? 'none' : 'zstd'])
  }
  const fills = handles.map((h) => {
    const ids = Array.from({ length: 20 }, (_, j) => createHash('sha256').update(`${h}${j}${Date.now()}`).digest('hex'))
    return page.evaluate(([h, ids]) => window.bench.fill(h, 'f', ids), [h, ids]).then(() => (stores += ids.length))
  })
  await Promise.all(fills)
  const hangs = await page.evaluate(() => window.bench.hangs())
  loads.push(os.loadavg()[0])
  if (hangs.length) {
    hung = true
    console.log('HANG', JSON.stringify(hangs))
    const open = new Map()
    for (const l of lines) {
      const m = l.match(/^\[(opfs|lock)\] ([<>=]) (\S+) (\S+)(.*)/)
      if (!m) continue
      if (m[1] === 'opfs') m[2] === '>' ? open.set(m[4], `opfs ${m[3]}${m[5]}`) : open.delete(m[4])
      else if (m[2] === '>') open.set(m[3], `lock ${m[4]} asked${m[5]}`)
      else if (m[2] === '=') open.set(m[3], `lock held ${m[4]}`)
      else open.delete(m[3])
    }
    console.log('UNFINISHED', JSON.stringify([...open.values()]))
    console.log(lines.filter((l) => !l.startsWith('[')).slice(-20).join('\n'))
  }
  await page.evaluate((hs) => Promise.all(hs.map((h) => window.bench.close(h))), handles)
}
const mean = loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)
console.log(`${hung ? 'hang' : 'no hang'} in ${round} rounds, ${stores} stores, ${ways} caches at once, load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (mean ${mean.toFixed(1)})`)
await browser.close()
server.close()
