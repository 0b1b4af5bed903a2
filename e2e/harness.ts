// In-page helpers for the reliability specs (crash, tabs, space): deterministic values that any page
// can regenerate from a seed and check by digest, and the cache's own worker (so a test can terminate
// it). The cache's files are listed by listCacheFiles in cache-files.ts. Installed with context.addInitScript before any page opens.
import type { BrowserContext } from '@playwright/test'

/** What the init script adds to every page of the context. */
export interface Harness {
  /** Workers the page created, by script URL: the real ones, recorded as the page starts them. */
  workers: { url: string; worker: Worker }[]
  /** `n` bytes from xorshift32(seed); 'smooth' keeps 4 bits a byte, so zstd has something to find. */
  bytes(seed: number, n: number, kind: 'random' | 'smooth'): Uint8Array
  /** The test process's seeded PRNG (below), in the page. */
  prng(seed: number): () => number
  /** Lowercase hex SHA-256 of the bytes a view covers. */
  digest(view: ArrayBufferView): Promise<string>
}

declare global {
  interface Window {
    vxHarness: Harness
  }
}

function install(prngSource: string): void {
  const workers: Harness['workers'] = []
  const Native = window.Worker
  window.Worker = class extends Native {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options)
      workers.push({ url: String(url), worker: this })
    }
  }
  const harness: Harness = {
    workers,
    // One definition for both sides: the page gets the test process's function as source text.
    prng: new Function(`return (${prngSource})`)() as Harness['prng'],
    bytes(seed, n, kind) {
      const out = new Uint8Array(n)
      const words = new Uint32Array(out.buffer, 0, n >>> 2)
      let x = seed >>> 0 || 0x9e3779b9
      const mask = kind === 'smooth' ? 0x0f0f0f0f : 0xffffffff
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        words[i] = (x & mask) >>> 0
      }
      for (let i = words.length * 4; i < n; i++) out[i] = (seed + i) & 0xff
      return out
    },
    async digest(view) {
      const bytes = new Uint8Array(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength)
      const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
      return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('')
    },
  }
  window.vxHarness = harness
}

export async function installHarness(context: BrowserContext): Promise<void> {
  await context.addInitScript(install, prng.toString())
}

/** A small seeded PRNG for the test process (mulberry32): the same seed replays the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
