import { test as base, expect, type BrowserContext, type Page } from '@playwright/test'

/** What a guard saw in one browser context: requests that tried to leave localhost, uncaught page errors. */
export interface Guard {
  escaped: string[]
  errors: string[]
}

/** Every request that leaves localhost fails the test: voxcache must work offline, with no CDN. */
async function blockNetwork(context: BrowserContext, escaped: string[]): Promise<void> {
  await context.route(
    (url) => !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) && url.protocol !== 'data:' && url.protocol !== 'blob:',
    async (route) => {
      escaped.push(route.request().url())
      await route.abort('blockedbyclient')
    },
  )
}

/**
 * Blocks every request that leaves localhost and records uncaught errors of every page the context
 * has or opens. Every context of every spec is guarded: the `context` fixture below does it for the
 * test's own, and a spec that makes another (browser.newContext, launchPersistentContext) calls this
 * and then {@link checkGuard}.
 */
export async function guardContext(context: BrowserContext): Promise<Guard> {
  const guard: Guard = { escaped: [], errors: [] }
  await blockNetwork(context, guard.escaped)
  const watch = (page: Page) => page.on('pageerror', (e) => guard.errors.push(`${page.url()}: ${e.message}`))
  context.pages().forEach(watch)
  context.on('page', watch)
  return guard
}

/** Fails the test when a guarded context let a request out or a page threw. */
export function checkGuard(guard: Guard): void {
  expect(guard.escaped, 'requests that tried to leave localhost').toEqual([])
  expect(guard.errors, 'uncaught errors in the pages').toEqual([])
}

/** The library's test page (test/harness): the public API on window, no demo. */
export const HARNESS = '/test/harness/index.html'

/** Waits for a page keeping the window.voxcache contract (harness or demo) to have its cache open. */
async function ready(page: Page): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-ready', /true|error/)
  const state = await page.locator('body').getAttribute('data-ready')
  if (state !== 'true') throw new Error(`page failed to open its cache: ${await page.locator('#status').textContent()}`)
}

/** Opens the library's test page with a cache ready at window.voxcache (query: cache, storage, maxBytes). */
export async function openPage(page: Page, query = ''): Promise<void> {
  await page.goto(`${HARNESS}${query ? `?${query}` : ''}`)
  await ready(page)
}

/** Opens the demo viewer (the `demo` project's server) with its cache ready at window.voxcache. */
export async function openDemo(page: Page, query = ''): Promise<void> {
  await page.goto(`/${query ? `?${query}` : ''}`)
  await ready(page)
}

export const test = base.extend<{ guard: Guard }>({
  // The test's context is guarded before any page opens, whether the test asks for `page`, `context`
  // or neither (auto).
  guard: [
    async ({ context }, use) => {
      const guard = await guardContext(context)
      await use(guard)
      checkGuard(guard)
    },
    { auto: true },
  ],
})

export { expect }
