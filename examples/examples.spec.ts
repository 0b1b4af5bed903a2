// The package as an app meets it: `npm pack` (its prepack builds lib/), the tarball installed with
// --no-save into a copy of examples/ outside this repository (so nothing resolves from the repo's own
// node_modules), then the app type-checked under create-vite's flags, built, dev-served and driven.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Niivue } from '@niivue/niivue'
import type { Page } from '@playwright/test'
import { checkGuard, expect, guardContext, test } from '../e2e/fixtures.js'

declare global {
  interface Window {
    /** niivue-app's viewer. */
    niivue?: Niivue
  }
}

const repo = fileURLToPath(new URL('..', import.meta.url))
const work = join(tmpdir(), `voxcache-examples-${process.pid}`)
const APPS = ['vite-app', 'webpack-app', 'niivue-app'] as const
const appDir = (name: (typeof APPS)[number]) => join(work, name)

function sh(cmd: string, args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

function mustRun(cmd: string, args: string[], cwd: string): string {
  const r = sh(cmd, args, cwd)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${r.output}`)
  return r.output
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Starts `vite <args>` in the app (its own process group, stopped whole) once it serves the page. */
async function serve(app: string, args: string[], port: number): Promise<{ stop(): void }> {
  const child: ChildProcess = spawn('npx', ['vite', ...args, '--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
    cwd: app,
    stdio: 'pipe',
    detached: true,
  })
  const stop = () => {
    if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM')
  }
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  try {
    await expect
      .poll(async () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.status, () => 0), { timeout: 60_000, message: output })
      .toBe(200)
  } catch (error) {
    stop()
    throw new Error(`vite ${args.join(' ')} did not serve the app:\n${output}`, { cause: error })
  }
  return { stop }
}

/** What the app's page reports once it has decoded and memoized (or failed). */
async function outcome(page: Page): Promise<Record<string, string | undefined>> {
  await page.waitForFunction(() => document.body.dataset.done || document.body.dataset.error, undefined, { timeout: 120_000 })
  return page.evaluate(() => ({ ...document.body.dataset, log: document.querySelector('#log')?.textContent ?? '' }))
}

test.describe.configure({ mode: 'serial' })

test.beforeAll(async () => {
  test.setTimeout(600_000)
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  mustRun('npm', ['pack', '--pack-destination', work], repo)
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!
  cpSync(join(repo, 'examples', 'package.json'), join(work, 'package.json'))
  cpSync(join(repo, 'examples', 'shared'), join(work, 'shared'), { recursive: true })
  for (const name of APPS) {
    cpSync(join(repo, 'examples', name), appDir(name), { recursive: true })
    mkdirSync(join(appDir(name), 'public'), { recursive: true })
    copyFileSync(fileURLToPath(new URL('../../shared/testdata/ch2bet.nii.gz', import.meta.url)), join(appDir(name), 'public', 'brain.nii.gz'))
  }
  mustRun('npm', ['install', '--no-save', '--no-audit', '--no-fund', `./${tarball}`], work)

  // The oldest Vite the plugin's peer range names, in an install of its own: its dependency
  // pre-bundling and its worker parsing differ from Vite 8's.
  const old = join(work, 'vite5')
  mkdirSync(old, { recursive: true })
  writeFileSync(join(old, 'package.json'), JSON.stringify({ name: 'voxcache-example-vite5', private: true, type: 'module', devDependencies: { vite: '^5.4.0' } }))
  cpSync(join(repo, 'examples', 'shared'), join(old, 'shared'), { recursive: true })
  cpSync(appDir('vite-app'), join(old, 'vite-app'), { recursive: true })
  mustRun('npm', ['install', '--no-save', '--no-audit', '--no-fund', `../${tarball}`], old)
  expect(mustRun('npx', ['vite', '--version'], vite5App())).toMatch(/^vite\/5\./)
})

test.afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

for (const name of APPS) {
  test(`${name} type-checks under create-vite's flags, with voxcache's types and nothing changed`, () => {
    const r = sh('npx', ['tsc', '--noEmit', '-p', '.'], appDir(name))
    expect(r.output).toBe('')
    expect(r.status).toBe(0)
  })
}

test('Node imports the package: operationId works, openCache says storage is unavailable', () => {
  const script = `
    const m = await import('voxcache')
    const id = await m.operationId('threshold', { lo: 1 })
    const error = await m.openCache().then(() => null, (e) => e)
    console.log(JSON.stringify({ id, name: error?.name, typed: error instanceof m.StorageUnavailableError }))`
  const out = JSON.parse(mustRun('node', ['--input-type=module', '-e', script], work).trim()) as { id: string; name: string; typed: boolean }
  expect(out.id).toMatch(/^[0-9a-f]{64}$/)
  expect(out).toMatchObject({ name: 'StorageUnavailableError', typed: true })
})

test('the app installs no itk-wasm package: the pipelines ship inside voxcache, with their licences', () => {
  for (const name of ['itk-wasm', '@itk-wasm/image-io', '@itk-wasm/dicom']) expect(existsSync(join(work, 'node_modules', name)), name).toBe(false)
  const itk = join(work, 'node_modules', 'voxcache', 'lib', 'itk')
  expect(readdirSync(join(itk, 'image-io'))).toContain('nifti-read-image.wasm.zst')
  for (const dest of ['image-io', 'dicom']) expect(readFileSync(join(itk, dest, 'LICENSE'), 'utf8')).toContain('Apache License')
})

const vite5App = () => join(work, 'vite5', 'vite-app')
const RUNS = [
  { name: 'vite-app', what: 'vite build + preview', dir: () => appDir('vite-app'), build: ['npx', 'vite', 'build', '--logLevel', 'warn'], serve: ['preview'] },
  { name: 'vite-app', what: 'the Vite dev server', dir: () => appDir('vite-app'), build: null, serve: [] },
  { name: 'vite-app', what: 'Vite 5 build + preview', dir: vite5App, build: ['npx', 'vite', 'build', '--logLevel', 'warn'], serve: ['preview'] },
  { name: 'vite-app', what: 'the Vite 5 dev server', dir: vite5App, build: null, serve: [] },
  // Any static server will do for webpack's output; vite preview is one.
  { name: 'webpack-app', what: 'webpack build', dir: () => appDir('webpack-app'), build: ['npx', 'webpack', '--config', 'webpack.config.mjs'], serve: ['preview', '--outDir', 'dist'] },
] as const

for (const { name, what, dir, build, serve: serveArgs } of RUNS) {
  test(`${name}, ${what}: decode and memoize, then both from the cache after a reload`, async ({ page }) => {
    test.setTimeout(300_000)
    const app = dir()
    if (build) mustRun(build[0], build.slice(1), app)
    const port = await freePort()
    const server = await serve(app, [...serveArgs], port)
    try {
      await page.goto(`http://127.0.0.1:${port}/`)
      const first = await outcome(page)
      expect(first).toMatchObject({ decode: 'itk-wasm', histogram: 'computed' })
      expect(first.log).toContain('decode 181x217x181')
      await page.reload()
      const again = await outcome(page)
      expect(again).toMatchObject({ decode: 'cache', histogram: 'cache' })
      expect(again.log?.split('\n')[1]).toBe(first.log?.split('\n')[1]?.replace('computed', 'from cache'))
    } finally {
      server.stop()
    }
  })
}

test('vite-app seeded with voxcache/playwright from an export: the first load of a fresh profile is all hits', async ({ page, browser }) => {
  test.setTimeout(300_000)
  const app = appDir('vite-app')
  mustRun('npx', ['vite', 'build', '--logLevel', 'warn'], app)
  const port = await freePort()
  const server = await serve(app, ['preview'], port)
  const url = `http://127.0.0.1:${port}/`
  const context = await browser.newContext()
  const guard = await guardContext(context)
  try {
    await page.goto(url)
    expect(await outcome(page)).toMatchObject({ decode: 'itk-wasm', histogram: 'computed' })
    const exported = await page.evaluate(async () => {
      const data = new Uint8Array(await (await window.voxcache!.exportDatabase()).arrayBuffer())
      let binary = ''
      for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000))
      return btoa(binary)
    })
    const seedFile = join(work, 'vite-app.sqlite')
    writeFileSync(seedFile, Buffer.from(exported, 'base64'))

    // The package's own seedCache, as a test suite that installed voxcache imports it.
    const { seedCache } = (await import(pathToFileURL(join(work, 'node_modules', 'voxcache', 'lib', 'playwright.js')).href)) as typeof import('../src/playwright.js')
    const fresh = await context.newPage()
    await seedCache(fresh, seedFile, { name: 'vite-app', url })
    await fresh.goto(url)
    expect(await outcome(fresh)).toMatchObject({ decode: 'cache', histogram: 'cache' })
  } finally {
    await context.close()
    server.stop()
  }
  checkGuard(guard)
})

test('niivue-app: the cached brain and mask in NiiVue, drawn as NiiVue draws the file it reads itself', async ({ page }) => {
  test.setTimeout(300_000)
  const app = appDir('niivue-app')
  mustRun('npx', ['vite', 'build', '--logLevel', 'warn'], app)
  const port = await freePort()
  const server = await serve(app, ['preview'], port)
  const canvas = page.locator('#gl')
  /** The canvas once NiiVue has drawn what it holds now. */
  const drawn = async (): Promise<Buffer> => {
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(window.niivue!.drawScene()))))
    return canvas.screenshot()
  }
  try {
    await page.goto(`http://127.0.0.1:${port}/`)
    expect(await outcome(page)).toMatchObject({ decode: 'itk-wasm', threshold: 'computed' })
    const first = await drawn()
    await page.reload()
    expect(await outcome(page)).toMatchObject({ decode: 'cache', threshold: 'cache' })
    const cached = await drawn()
    writeFileSync(test.info().outputPath('niivue-app.png'), cached) // to look at
    expect(cached.equals(first), 'the view after a reload, from the cache, is the first one').toBe(true)

    // The brain alone, from voxcache; then the same file read by NiiVue's own loader, in its place.
    await page.evaluate(() => window.niivue!.removeVolume(window.niivue!.volumes[1]!))
    const ours = await drawn()
    await page.evaluate(() => window.niivue!.loadVolumes([{ url: '/brain.nii.gz' }]))
    const theirs = await drawn()
    writeFileSync(test.info().outputPath('niivue-own-reader.png'), theirs)
    expect(ours.equals(first), 'the mask shows over the brain').toBe(false)
    expect(ours.equals(theirs), 'the cached brain is drawn as NiiVue draws brain.nii.gz').toBe(true)
  } finally {
    server.stop()
  }
})
