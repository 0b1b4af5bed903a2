// voxcache/playwright: Playwright-driven demos and CI runs that start warm. seedCache leaves an exported
// database (cache.exportDatabase(), saved as .sqlite) in the origin's OPFS; the app's cache of that name
// imports it as it opens, before its first call, and removes it. Nothing leaves the machine.
import { readFile } from 'node:fs/promises'
import type { Page } from '@playwright/test'
import { SEEDS, seedFileName } from './seed-path.js'

const SQLITE_MAGIC = 'SQLite format 3\0'
/** A path of the app's origin that the page never serves: answered by seedCache's own route. */
const SEED_PAGE = '/__voxcache_seed__'

export interface SeedOptions {
  /** The name the app passes to openCache (default 'default'). */
  name?: string
  /** Any URL of the app's origin (default: the page's current URL). */
  url?: string
}

/**
 * Leaves `sqliteFile` (a path, or the bytes of an export) for the cache `name` of the app's origin: the
 * next openCache({ name }) there imports it before anything else, so the app's first memoize or decode
 * of a seeded entry is a hit. Call it before the app's page opens; it leaves the page on a blank page
 * of that origin. Chromium (OPFS) only. Seed a fresh profile (or a context with `serviceWorkers:
 * 'block'`): an app's service worker would answer the routed page itself.
 * @throws {TypeError} when the file is not a SQLite database or the origin is unknown.
 */
export async function seedCache(page: Page, sqliteFile: string | Uint8Array, options: SeedOptions = {}): Promise<void> {
  const bytes = typeof sqliteFile === 'string' ? new Uint8Array(await readFile(sqliteFile)) : sqliteFile
  if (new TextDecoder().decode(bytes.subarray(0, 16)) !== SQLITE_MAGIC) {
    throw new TypeError(`seedCache: ${typeof sqliteFile === 'string' ? sqliteFile : 'the bytes'} is not a SQLite database (cache.exportDatabase() writes one)`)
  }
  const from = options.url ?? page.url()
  const origin = URL.canParse(from) ? new URL(from).origin : 'null'
  if (origin === 'null') throw new TypeError(`seedCache: pass { url } of the app (the page is at ${JSON.stringify(from)}, which has no origin)`)
  const pageUrl = `${origin}${SEED_PAGE}`
  const dataUrl = `${pageUrl}/data`
  await page.route(pageUrl, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>voxcache seed</title>' }))
  await page.route(dataUrl, (route) => route.fulfill({ contentType: 'application/octet-stream', body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }))
  try {
    await page.goto(pageUrl)
    await page.evaluate(
      async ({ folder, file, dataUrl }) => {
        const data = await (await fetch(dataUrl)).arrayBuffer()
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder, { create: true })
        const writable = await (await dir.getFileHandle(file, { create: true })).createWritable()
        await writable.write(data)
        await writable.close()
      },
      { folder: SEEDS, file: seedFileName(options.name ?? 'default'), dataUrl },
    )
  } finally {
    await page.unroute(pageUrl)
    await page.unroute(dataUrl)
  }
}
