// Where a seed for the cache `name` waits in the origin's OPFS: written there by voxcache/playwright's
// seedCache (src/playwright.ts), imported and removed by the worker as that cache opens (worker/seed.ts).
export const SEEDS = 'voxcache-seeds'
export const seedFileName = (name: string): string => `${encodeURIComponent(name)}.sqlite`
