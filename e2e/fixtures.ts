import { test as base, expect, type BrowserContext, type Page } from '@playwright/test'

/** Every request that leaves localhost fails the test: voxcache must work offline, with no CDN. */
export async function blockNetwork(context: BrowserContext, escaped: string[]): Promise<void> {
  await context.route(
    (url) => !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) && url.protocol !== 'data:' && url.protocol !== 'blob:',
    async (route) => {
      escaped.push(route.request().url())
      await route.abort('blockedbyclient')
    },
  )
}

/** Opens the page with a cache ready at window.voxcache. */
export async function openPage(page: Page, query = ''): Promise<void> {
  await page.goto(`/${query ? `?${query}` : ''}`)
  await expect(page.locator('body')).toHaveAttribute('data-ready', /true|error/)
  const state = await page.locator('body').getAttribute('data-ready')
  if (state !== 'true') throw new Error(`page failed to open its cache: ${await page.locator('#status').textContent()}`)
}

export const test = base.extend<{ escaped: string[] }>({
  escaped: async ({ context }, use) => {
    const escaped: string[] = []
    await blockNetwork(context, escaped)
    await use(escaped)
    expect(escaped, 'requests that tried to leave localhost').toEqual([])
  },
  page: async ({ page, escaped }, use) => {
    void escaped
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await use(page)
    expect(errors, 'uncaught errors in the page').toEqual([])
  },
})

export { expect }
