// `node bench/webcrypto-probe.mjs`: how fast WebCrypto decrypts AES-GCM in a worker of Debian's Chromium here,
// 128 frames of 1 MiB with 1 to 16 decrypt() calls in flight, against allocating and copying as much (the
// floor a sealed read adds to a clear one). Prints medians of 5.
import http from 'node:http'
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
const worker = `
onmessage = async (e) => {
  const { n, size, ahead } = e.data
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
  const plain = new Uint8Array(size); crypto.getRandomValues(plain.subarray(0, 65536))
  const iv = new Uint8Array(12)
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain))
  const out = new Uint8Array(n * size)
  const res = {}
  for (const a of [1, 2, 4, 8, 16]) {
    const times = []
    for (let rep = 0; rep < 5; rep++) {
      const t0 = performance.now()
      const pending = []
      for (let i = 0; i < n; i++) {
        if (i >= a) { const [j, p] = pending.shift(); out.set(new Uint8Array(await p), j * size) }
        pending.push([i, crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, ct)])
      }
      for (const [j, p] of pending) out.set(new Uint8Array(await p), j * size)
      times.push(performance.now() - t0)
    }
    times.sort((x, y) => x - y); res['ahead ' + a] = times[2].toFixed(0) + ' ms'
  }
  const t0 = performance.now(); for (let r = 0; r < 5; r++) out.set(new Uint8Array(n*size).fill(1)); res.copy = ((performance.now()-t0)/5).toFixed(0) + ' ms (alloc+fill+copy)'
  postMessage(res)
}`
const server = http.createServer((req, res) => {
  if (req.url === '/w.js') { res.setHeader('content-type', 'text/javascript'); res.end(worker) }
  else { res.setHeader('content-type', 'text/html'); res.end('<html></html>') }
}).listen(0)
const port = server.address().port
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
const page = await browser.newPage()
await page.goto(`http://localhost:${port}/`)
const r = await page.evaluate(() => new Promise((resolve) => { const w = new Worker('/w.js'); w.onmessage = (e) => resolve(e.data); w.postMessage({ n: 128, size: 1 << 20 }) }))
console.log(JSON.stringify(r))
await browser.close(); server.close()
