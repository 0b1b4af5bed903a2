// The demo viewer, driven as a person would: open an image, look at it, run the pipeline, reload,
// change a parameter, break it with a bad file, go offline, move the cache to another profile.
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import type { Page } from '@playwright/test'
import initSqlJs from 'sql.js'
import { mrSeries } from './decode-reference.js'
import { expect, openDemo, test } from './fixtures.js'
import { recordFigures } from '../test/figures.js'
import { createSigner, withOperationId } from '../test/fuzz-cases.js'

test.use({ viewport: { width: 1440, height: 900 } })

const testdata = (name: string): string => fileURLToPath(new URL(`../../shared/testdata/${name}`, import.meta.url))

const STEPS = ['smooth', 'mask', 'components', 'downsample'] as const
type StepState = Record<(typeof STEPS)[number], string>

async function openSample(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Open sample brain' }).click()
  await expect(page.locator('body')).toHaveAttribute('data-image', /ch2bet/)
  await expect(page.locator('#image-info')).toContainText('181 × 217 × 181')
  await expect(page.locator('body')).toHaveAttribute('data-slices', '90,108,90') // painted, cursor centred
}

async function runPipeline(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Run pipeline' }).click()
  await expect(page.locator('body')).toHaveAttribute('data-pipeline', 'done')
}

async function stepStates(page: Page): Promise<StepState> {
  const out = {} as StepState
  for (const step of STEPS) out[step] = (await page.locator(`.step[data-step="${step}"]`).getAttribute('data-state')) ?? ''
  return out
}

/** A short fingerprint of what a view shows, to tell whether it changed. */
function viewPixels(page: Page, view: string): Promise<string> {
  return page.locator(`#view-${view}`).evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
    let h = 0
    let lit = 0
    for (let i = 0; i < d.length; i += 4) {
      h = (h * 31 + d[i]! + d[i + 1]! * 7 + d[i + 2]! * 13) >>> 0
      if (d[i]! > 40) lit++
    }
    return `${lit}:${h}`
  })
}

/** Forgets the demo's last session (it restores it on a reload, as it does for anyone). */
async function forgetSession(page: Page): Promise<void> {
  await page.evaluate(() => localStorage.removeItem('voxcache-demo:last'))
}

test('opens the bundled sample and steps through slices with the keyboard', async ({ page }) => {
  await openDemo(page)
  await openSample(page)
  const slider = page.getByRole('slider', { name: 'Axial' })
  await expect(slider).toHaveValue('90')
  await expect.poll(() => viewPixels(page, 'axial')).toMatch(/^[1-9]\d*:/) // some of the brain is lit
  const before = await viewPixels(page, 'axial')
  const coronal = await viewPixels(page, 'coronal')
  await slider.focus()
  for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight')
  await expect(slider).toHaveValue('100')
  await expect(page.locator('#slider-axial-value')).toHaveText('101 / 181')
  await expect.poll(() => viewPixels(page, 'axial')).not.toBe(before)
  // The crosshair in the other views moved with it; their slices did not.
  await expect(page.locator('body')).toHaveAttribute('data-slices', '90,108,100')
  expect(await viewPixels(page, 'coronal')).not.toBe(coronal)
  // Arrow keys on the view itself step its slice too.
  await page.locator('#view-sagittal').focus()
  await page.keyboard.press('PageDown')
  await expect(page.getByRole('slider', { name: 'Sagittal' })).toHaveValue('80')
  // The readout names the voxel under the pointer.
  const box = (await page.locator('#view-axial').boundingBox())!
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await expect(page.locator('#readout')).toContainText(/voxel \(\d+, \d+, 100\) · LPS .* value \d+/)
  // Dragging right widens the window; a click without a drag moves the cursor there.
  const width = Number(await page.getByRole('spinbutton', { name: 'Window' }).inputValue())
  await page.mouse.down()
  await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2, { steps: 5 })
  await page.mouse.up()
  await expect.poll(async () => Number(await page.getByRole('spinbutton', { name: 'Window' }).inputValue())).toBeGreaterThan(width)
  await expect(page.getByRole('combobox', { name: 'Preset' })).toHaveValue('custom')
  await page.mouse.click(box.x + box.width / 2 - 40, box.y + box.height / 2 - 30)
  await expect(page.locator('body')).not.toHaveAttribute('data-slices', '90,108,100')
  await expect(page.locator('body')).toHaveAttribute('data-slices', /,100$/) // same axial slice
})

test('opens a MetaImage header with its separate .raw, folders holding a DICOM file and a DICOM series, and a dropped file', async ({ page }) => {
  await openDemo(page)
  await page.locator('#open-files').setInputFiles([testdata('BrainProtonDensity3Slices.mha'), testdata('BrainProtonDensity3Slices.raw')])
  await expect(page.locator('#image-info')).toContainText('BrainProtonDensity3Slices.mha + BrainProtonDensity3Slices.raw — 181 × 217 × 3 uint8')
  await expect(page.getByRole('slider', { name: 'Axial' })).toHaveAttribute('max', '2')
  const folder = await mkdtemp(join(tmpdir(), 'voxcache-dicom-'))
  await copyFile(testdata('CT_small.dcm'), join(folder, 'CT_small.dcm'))
  await page.locator('#open-folder').setInputFiles(folder)
  await expect(page.locator('#image-info')).toContainText(/^voxcache-dicom-\w+\/ \(1 file\) — 128 × 128 × 1 /)
  await expect(page.getByRole('alert')).toBeHidden()
  // A folder holding a DICOM series (five slices, stored out of order) opens as one volume.
  const series = await mkdtemp(join(tmpdir(), 'voxcache-series-'))
  for (const [name, bytes] of Object.entries(mrSeries().files)) await writeFile(join(series, name), bytes)
  await page.locator('#open-folder').setInputFiles(series)
  await expect(page.locator('#image-info')).toContainText(/^voxcache-series-\w+\/ \(5 files\) — 64 × 64 × 5 /)
  await expect(page.getByRole('slider', { name: 'Axial' })).toHaveAttribute('max', '4')
  // Dropped files take the same path: drop the sample onto the page.
  await page.evaluate(async () => {
    const blob = await (await fetch('samples/ch2bet.nii.gz')).blob()
    const data = new DataTransfer()
    data.items.add(new File([blob], 'dropped-brain.nii.gz'))
    for (const type of ['dragenter', 'dragover', 'drop']) document.body.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }))
  })
  await expect(page.locator('#image-info')).toContainText('dropped-brain.nii.gz — 181 × 217 × 181 uint8')
  await expect(page.locator('body')).not.toHaveClass(/dragging/)
})

test('runs the pipeline, reads every step back from the cache after a reload, and recomputes only what a change affects', async ({ page }, info) => {
  await openDemo(page)
  await openSample(page)
  await runPipeline(page)
  expect(await stepStates(page)).toEqual({ smooth: 'computed', mask: 'computed', components: 'computed', downsample: 'computed' })
  await expect(page.locator('.step[data-step="smooth"] .step-status')).toHaveText(/^computed in [\d.]+ m?s$/)
  await expect(page.locator('#overlay-layer')).toHaveValue('components')
  await expect(page.locator('#entries tr')).toHaveCount(4 + 1) // four steps and the decoded sample
  await page.screenshot({ path: info.outputPath('pipeline-computed.png') })

  await forgetSession(page) // this test opens and runs by hand after the reload
  await page.reload()
  await openDemo(page)
  await openSample(page)
  await runPipeline(page)
  expect(await stepStates(page)).toEqual({ smooth: 'cache', mask: 'cache', components: 'cache', downsample: 'cache' })
  await expect(page.locator('.step[data-step="components"] .step-status')).toHaveText(/^from cache in [\d.]+ m?s \(was [\d.]+ m?s\)$/)
  await expect(page.locator('[data-stat="hit-rate"] dd')).toContainText('%')
  const view = (await page.locator('#view-axial').boundingBox())!
  await page.mouse.move(view.x + view.width * 0.4, view.y + view.height * 0.45)
  await expect(page.locator('#readout')).toContainText('value')
  await page.screenshot({ path: info.outputPath('pipeline-cached.png') })
  if (process.env.UPDATE_SCREENSHOT) {
    await mkdir('docs', { recursive: true })
    await copyFile(info.outputPath('pipeline-cached.png'), 'docs/screenshot.png')
  }

  // A new threshold: the mask and the components depend on it, smoothing and downsampling do not.
  const threshold = page.getByLabel('Lower bound')
  await threshold.fill(String(Number(await threshold.inputValue()) + 10))
  await threshold.press('Enter')
  await expect(page.locator('body')).toHaveAttribute('data-pipeline', 'done')
  expect(await stepStates(page)).toEqual({ smooth: 'cache', mask: 'computed', components: 'computed', downsample: 'cache' })
  // A new factor: only the downsampling.
  await page.getByLabel('Factor').fill('3')
  await page.getByLabel('Factor').press('Enter')
  await expect(page.locator('.step[data-step="downsample"]')).toHaveAttribute('data-state', 'computed')
  await expect(page.locator('body')).toHaveAttribute('data-pipeline', 'done')
  expect(await stepStates(page)).toEqual({ smooth: 'cache', mask: 'cache', components: 'cache', downsample: 'computed' })
  await page.getByRole('combobox', { name: 'Image', exact: true }).selectOption('downsampled')
  await expect(page.locator('#slider-axial-value')).toHaveText(/ \/ 61$/)
  await page.getByRole('combobox', { name: 'Overlay' }).selectOption('mask')
  await page.screenshot({ path: info.outputPath('downsampled-mask.png') })
})

test('a reload comes straight back to the sample and its parameters, every step from the cache', async ({ page }) => {
  await openDemo(page)
  await openSample(page)
  const threshold = page.getByLabel('Lower bound')
  const changed = String(Number(await threshold.inputValue()) - 7)
  await threshold.fill(changed)
  await threshold.press('Enter') // a change runs the pipeline
  await expect(page.locator('body')).toHaveAttribute('data-pipeline', 'done')
  expect(await stepStates(page)).toEqual({ smooth: 'computed', mask: 'computed', components: 'computed', downsample: 'computed' })

  await page.reload()
  await openDemo(page)
  await expect(page.locator('body')).toHaveAttribute('data-image', /ch2bet/)
  await expect(page.locator('body')).toHaveAttribute('data-pipeline', 'done')
  await expect(threshold).toHaveValue(changed)
  expect(await stepStates(page)).toEqual({ smooth: 'cache', mask: 'cache', components: 'cache', downsample: 'cache' })
})

test('a bad file gets a clear message and the viewer keeps working', async ({ page }) => {
  await openDemo(page)
  await openSample(page)
  const shown = await viewPixels(page, 'axial')
  await page.locator('#open-files').setInputFiles({ name: 'broken.nii.gz', mimeType: 'application/gzip', buffer: Buffer.from('this is not an image') })
  await expect(page.getByRole('alert')).toHaveText(/^Could not open broken\.nii\.gz: \w.+/)
  await page.screenshot({ path: test.info().outputPath('bad-file.png') })
  await expect(page.locator('body')).toHaveAttribute('data-image', /ch2bet/)
  expect(await viewPixels(page, 'axial')).toBe(shown)
  // Still usable: the slider moves the picture, and the pipeline runs.
  await page.getByRole('slider', { name: 'Axial' }).fill('60')
  await expect.poll(() => viewPixels(page, 'axial')).not.toBe(shown)
  await runPipeline(page)
  expect(await stepStates(page)).toEqual({ smooth: 'computed', mask: 'computed', components: 'computed', downsample: 'computed' })
})

test.describe('offline', () => {
  // The project blocks service workers, so that routed requests reach the specs; this one wants it.
  test.use({ serviceWorkers: 'allow' })

  test('works offline after the first visit, through the service worker', async ({ page, context }) => {
    await openDemo(page)
    await expect(page.locator('body')).toHaveAttribute('data-offline', 'ready')
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true)
    await openSample(page)
    await runPipeline(page)

    await context.setOffline(true)
    await forgetSession(page) // this test opens and runs by hand after the reload
    await page.reload()
    await openDemo(page)
    // Really offline: something the service worker never saw cannot load.
    expect(await page.evaluate(() => fetch(`/not-precached-${Date.now()}`).then(() => 'loaded', () => 'failed'))).toBe('failed')
    await openSample(page)
    await runPipeline(page)
    expect(await stepStates(page)).toEqual({ smooth: 'cache', mask: 'cache', components: 'cache', downsample: 'cache' })
    // A parameter change computes offline too (the pipeline worker is precached).
    await page.getByLabel('Sigma').fill('2')
    await page.getByLabel('Sigma').press('Enter')
    await expect(page.locator('.step[data-step="smooth"]')).toHaveAttribute('data-state', 'computed')
    await expect(page.locator('body')).toHaveAttribute('data-pipeline', 'done')
    await context.setOffline(false)
  })
})

test('exports the cache as a .sqlite file and imports it back into an empty cache', async ({ page }, info) => {
  await openDemo(page)
  await openSample(page)
  await runPipeline(page)
  await expect(page.locator('body')).toHaveAttribute('data-entries', '5')
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export .sqlite' }).click()])
  expect(download.suggestedFilename()).toMatch(/\.sqlite$/)
  const file = info.outputPath('cache.sqlite')
  await download.saveAs(file)

  const clear = page.getByRole('button', { name: 'Clear all' })
  await clear.click()
  await page.getByRole('button', { name: 'Click again to clear' }).click()
  await expect(page.locator('body')).toHaveAttribute('data-entries', '0')
  await expect(page.locator('#entries tr')).toHaveCount(0)

  await page.locator('#cache-import').setInputFiles(file)
  await expect(page.getByRole('alert')).toContainText(/Imported 5 entries/)
  await expect(page.locator('body')).toHaveAttribute('data-entries', '5')
  await runPipeline(page)
  expect(await stepStates(page)).toEqual({ smooth: 'cache', mask: 'cache', components: 'cache', downsample: 'cache' })
})

test('pins, deletes and downloads entries from the cache panel', async ({ page }) => {
  await openDemo(page)
  await openSample(page)
  await runPipeline(page)
  const row = page.locator('#entries tr', { hasText: 'Components' })
  await row.getByRole('button', { name: 'Pin Components' }).click()
  await expect(row.getByRole('button', { name: 'Unpin Components' })).toHaveAttribute('aria-pressed', 'true')
  expect((await page.evaluate(() => window.voxcache!.list())).filter((e) => e.pinned)).toHaveLength(1)

  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: /Download as \.nii\.gz/ }).click()])
  expect(download.suggestedFilename()).toBe('components.nii.gz')
  const bytes = await readFile(await download.path())
  expect([...bytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]) // gzip
  expect(gunzipSync(bytes).readInt32LE(0)).toBe(348) // a NIfTI-1 header

  await page.locator('#entries tr', { hasText: 'Downsample' }).getByRole('button', { name: /^Delete/ }).click()
  await expect(page.locator('body')).toHaveAttribute('data-entries', '4')
  await runPipeline(page)
  expect(await stepStates(page)).toEqual({ smooth: 'cache', mask: 'cache', components: 'cache', downsample: 'computed' })
})

test('opens a large cached volume from the cache panel: its middle slices first, from region reads, then the rest', async ({ page }) => {
  await openDemo(page)
  await forgetSession(page)
  // A 384³ int16 volume (113 MB), stored in the app's own cache as a pipeline's result would be.
  await page.evaluate(async () => {
    const n = 384
    const data = new Int16Array(n * n * n)
    for (let z = 0, i = 0; z < n; z++) {
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++, i++) data[i] = Math.hypot(x - n / 2, y - n / 2, z - n / 2) < n * 0.4 ? 400 + ((x + 2 * y + 3 * z) % 200) : 0
      }
    }
    const image = {
      imageType: { dimension: 3, componentType: 'int16', pixelType: 'Scalar', components: 1 }, name: 'large', origin: [0, 0, 0],
      spacing: [0.5, 0.5, 0.5], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), size: [n, n, n], metadata: new Map(), data,
    }
    await window.voxcache!.store(await window.voxcacheLib!.operationId('large', 1), image as never, { metadata: { title: 'Large volume' } })
  })
  await openDemo(page) // the panel lists it
  await page.evaluate(() => {
    const log: string[] = []
    ;(window as unknown as { pictures: string[] }).pictures = log
    new MutationObserver(() => log.push(`${document.body.dataset.picture}: ${document.querySelector('#image-info')!.textContent}`))
      .observe(document.body, { attributes: true, attributeFilter: ['data-picture'] })
  })
  await page.locator('#entries tr', { hasText: 'Large volume' }).getByRole('button', { name: 'Open in the viewer Large volume' }).click()
  await expect(page.locator('body')).toHaveAttribute('data-picture', 'full')
  const pictures = await page.evaluate(() => (window as unknown as { pictures: string[] }).pictures)
  expect(pictures).toEqual([
    expect.stringMatching(/^none: /),
    expect.stringMatching(/^preview-1: Large volume — 384 × 384 × 384: its middle axial slice in [\d.]+ (ms|s); reading the rest…$/),
    expect.stringMatching(/^preview-2: Large volume — 384 × 384 × 384: its middle axial and coronal slices in [\d.]+ (ms|s); reading the rest…$/),
    expect.stringMatching(/^preview-3: Large volume — 384 × 384 × 384: its three middle slices in [\d.]+ (ms|s); reading the rest…$/),
    expect.stringMatching(/^full: Large volume — 384 × 384 × 384 int16, 0\.5 × 0\.5 × 0\.5 mm, opened in /),
  ])
  await expect(page.locator('body')).toHaveAttribute('data-slices', '192,192,192')
  for (const view of ['axial', 'coronal', 'sagittal']) expect(Number((await viewPixels(page, view)).split(':')[0]), view).toBeGreaterThan(1000)
})

test('switching between two cached volumes: the third visit of each is served from the memory tier (time from click to slice drawn recorded as a figure)', async ({ page }) => {
  await openDemo(page)
  await forgetSession(page)
  // Two 256³ int16 volumes (32 MiB each), stored as pipeline results would be: the first visit of each
  // reads its record, the second reads it again and the worker's memory tier keeps it (a value over
  // 1 MiB is kept at its second read), the third finds it there.
  await page.evaluate(async () => {
    const n = 256
    for (const k of [1, 2]) {
      const data = new Int16Array(n * n * n)
      for (let z = 0, i = 0; z < n; z++) {
        for (let y = 0; y < n; y++) {
          for (let x = 0; x < n; x++, i++) data[i] = Math.hypot(x - n / 2, y - n / 2, z - n / 2) < n * 0.3 * k ? 300 * k + ((x + y * k + z) % 100) : 0
        }
      }
      const image = {
        imageType: { dimension: 3, componentType: 'int16', pixelType: 'Scalar', components: 1 }, name: `switch ${k}`, origin: [0, 0, 0],
        spacing: [1, 1, 1], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), size: [n, n, n], metadata: new Map(), data,
      }
      await window.voxcache!.store(await window.voxcacheLib!.operationId('switch', k), image as never, { metadata: { title: `Switch volume ${k}` } })
    }
  })
  await openDemo(page) // the panel lists them
  await page.evaluate(() => {
    // The click's time (captured before the app's own listener), and the time of each picture state.
    const w = window as unknown as { clicked: number; pictures: [string, number][] }
    w.pictures = []
    document.addEventListener('click', () => ((w.clicked = performance.now()), (w.pictures = [])), { capture: true })
    new MutationObserver(() => w.pictures.push([document.body.dataset.picture ?? '', performance.now() - w.clicked]))
      .observe(document.body, { attributes: true, attributeFilter: ['data-picture'] })
  })
  const visits: { volume: number; firstSliceMs: number; fullMs: number; memoryHits: number }[] = []
  for (const k of [1, 2, 1, 2, 1, 2]) {
    const before = (await page.evaluate(() => window.voxcache!.stats())).memoryHits
    await page.locator('#entries tr', { hasText: `Switch volume ${k}` }).getByRole('button', { name: `Open in the viewer Switch volume ${k}` }).click()
    await expect(page.locator('#image-info')).toContainText(`Switch volume ${k} — 256 × 256 × 256 int16`) // the whole volume, shown
    await expect(page.locator('body')).toHaveAttribute('data-picture', 'full')
    const pictures = await page.evaluate(() => (window as unknown as { pictures: [string, number][] }).pictures)
    const at = (state: string) => pictures.find(([s]) => s === state)?.[1] ?? NaN
    visits.push({ volume: k, firstSliceMs: at('preview-1'), fullMs: at('full'), memoryHits: (await page.evaluate(() => window.voxcache!.stats())).memoryHits - before })
  }
  // First and second visits read records; third visits are served from memory: three slices and the whole volume.
  expect(visits.map((v) => v.memoryHits)).toEqual([0, 0, 0, 0, 4, 4])
  recordFigures('demo-switch', { visits })
})

test('the cache panel says when the index was found damaged and rebuilt, with every entry back', async ({ page }) => {
  await openDemo(page, 'cache=demo-health')
  await page.evaluate(async () => {
    const cache = window.voxcache!
    await cache.clear()
    for (let i = 0; i < 3; i++) {
      await cache.store(await window.voxcacheLib!.operationId('health', { i }), new Float32Array(5000).fill(i), { codec: 'none' })
    }
  })
  await expect(page.locator('[data-stat="health"] dd')).toHaveText('no damage found')
  // A digit of a size in the journal changes, as a bad disk sector might: still valid JSON. Changed
  // under the cache's lock, as anything that touches its files must: the worker that holds the lock
  // keeps the journal open (worker/tabs.ts).
  await page.evaluate(async () => {
    await navigator.locks.request('voxcache:demo-health', { mode: 'exclusive' }, async () => {
      const root = await navigator.storage.getDirectory()
      const home = await (await root.getDirectoryHandle('voxcache')).getDirectoryHandle('demo-health')
      const file = await home.getFileHandle('index.journal')
      const text = await (await file.getFile()).text()
      const at = text.indexOf('"sizeBytes":') + '"sizeBytes":'.length
      const damaged = text.slice(0, at) + (text[at] === '9' ? '8' : '9') + text.slice(at + 1)
      const w = await file.createWritable()
      await w.write(damaged)
      await w.close()
    })
  })
  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  await expect(page.locator('[data-stat="health"] dd')).toContainText(/index rebuilt at open \(.*journal.*\)/)
  await expect(page.locator('body')).toHaveAttribute('data-entries', '3')
  const values = await page.evaluate(async () =>
    Promise.all([0, 1, 2].map(async (i) => [...((await window.voxcache!.retrieve(await window.voxcacheLib!.operationId('health', { i }))) as Float32Array).slice(0, 2)])),
  )
  expect(values).toEqual([[0, 0], [1, 1], [2, 2]])
})

test.describe('protect this cache', () => {
  const SALT_ITEM = 'voxcache-demo:protection:demo'

  async function protect(page: Page, passphrase: string, submit: string | RegExp = 'Protect'): Promise<void> {
    await page.getByRole('button', { name: 'Protect this cache…' }).click()
    await page.getByLabel('Passphrase', { exact: true }).fill(passphrase)
    await page.getByLabel('Repeat the passphrase').fill(passphrase)
    await page.getByRole('button', { name: submit, exact: true }).click()
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'unlocked')
  }

  async function unlock(page: Page, passphrase: string): Promise<void> {
    await page.getByLabel('Passphrase', { exact: true }).fill(passphrase)
    await page.getByRole('button', { name: 'Unlock' }).click()
  }

  test('a passphrase protects the cache; after a reload it stays locked until the passphrase is entered, and a wrong one changes nothing', async ({ page }, info) => {
    await openDemo(page)
    await openSample(page) // one entry in clear: the decoded sample
    await expect(page.locator('[data-stat="protection"] dd')).toHaveText('none')

    // A key cannot protect entries stored in clear: the form says so, refuses a weak or mistyped passphrase.
    await page.getByRole('button', { name: 'Protect this cache…' }).click()
    await expect(page.getByText('This cache holds 1 entry stored in clear. A key cannot protect them, so they are cleared first')).toBeVisible()
    await page.getByLabel('Passphrase', { exact: true }).fill('short')
    await page.getByLabel('Repeat the passphrase').fill('short')
    await page.getByRole('button', { name: 'Clear 1 entry and protect' }).click()
    await expect(page.getByText('Choose a passphrase of at least 8 characters.')).toBeVisible()
    await page.getByLabel('Passphrase', { exact: true }).fill('correct horse battery')
    await page.getByLabel('Repeat the passphrase').fill('correct horse batery')
    await page.getByRole('button', { name: 'Clear 1 entry and protect' }).click()
    await expect(page.getByText('The two passphrases differ.')).toBeVisible()
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'clear')
    await page.getByRole('button', { name: 'Cancel' }).click()
    await protect(page, 'correct horse battery', 'Clear 1 entry and protect')
    await expect(page.locator('body')).toHaveAttribute('data-entries', '0')
    await expect(page.locator('[data-stat="protection"] dd')).toHaveText(/^unlocked · key [0-9a-f]{8}…$/)
    // The salt beside the cache: 16 random bytes, with the iteration count it was used with.
    const stored = JSON.parse((await page.evaluate((item) => localStorage.getItem(item), SALT_ITEM))!) as { salt: string; iterations: number }
    expect(Buffer.from(stored.salt, 'base64')).toHaveLength(16)
    expect(stored.iterations).toBeGreaterThanOrEqual(600_000)

    await openSample(page) // decoded again, into the protected cache
    await expect(page.locator('body')).toHaveAttribute('data-entries', '1')

    // Every message the page shows from its start: the remembered session must not try to open (and
    // fail) while the cache is locked.
    await page.addInitScript(() => {
      const said: string[] = ((window as unknown as { said: string[] }).said = [])
      document.addEventListener('DOMContentLoaded', () => {
        const p = document.querySelector('#message')!
        new MutationObserver(() => said.push(p.textContent!)).observe(p, { childList: true })
      })
    })
    await page.reload()
    await openDemo(page)
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'locked')
    await expect(page.getByText('Locked — enter the passphrase')).toBeVisible()
    await expect(page.locator('[data-stat="protection"] dd')).toHaveText(/^locked · key /)
    // Listed, but sealed: no name, and nothing to open. The remembered session waits for the key.
    const row = page.locator('#entries tr')
    await expect(row).toHaveCount(1)
    await expect(row.locator('.name')).toHaveText('Sealed image')
    await expect(row.getByRole('button', { name: /^Open in the viewer/ })).toBeDisabled()
    await expect(page.locator('#image-info')).toHaveText('No image open.')
    await page.screenshot({ path: info.outputPath('locked.png') })
    // Whatever tries to read says what to do, and the viewer stays as it was.
    await page.getByRole('button', { name: 'Synthetic phantom (no file)' }).click()
    const locked = 'Could not open the phantom: the cache is locked. Enter its passphrase in the Cache panel first.'
    await expect(page.getByRole('alert')).toHaveText(locked)
    await expect(page.locator('#image-info')).toHaveText('No image open.')
    // Opening waits for any earlier attempt to end, so a restore tried at start would have spoken first.
    expect(await page.evaluate(() => (window as unknown as { said: string[] }).said)).toEqual([locked])

    await unlock(page, 'correct horse batter')
    await expect(page.getByText('Wrong passphrase: the cache stays locked, and nothing was changed.')).toBeVisible()
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'locked')
    await expect(page.locator('body')).toHaveAttribute('data-entries', '1')

    await unlock(page, 'correct horse battery')
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'unlocked')
    await expect(page.locator('body')).toHaveAttribute('data-image', /ch2bet/) // the remembered session came back
    const entry = page.locator('#entries tr', { hasText: 'Decoded file' })
    await entry.getByRole('button', { name: /^Open in the viewer/ }).click()
    await expect(page.locator('#image-info')).toHaveText(/^Decoded file \(ch2bet\.nii\.gz.*\) — 181 × 217 × 181 uint8, .* opened in /)
    await expect.poll(() => viewPixels(page, 'axial')).toMatch(/^[1-9]\d*:/) // a slice is drawn
  })

  test('wiping removes the cache and its salt; a salt that outlived its cache, or a lost salt, is handled', async ({ page }) => {
    await openDemo(page)
    await protect(page, 'correct horse battery')
    await page.getByRole('button', { name: 'Synthetic phantom (no file)' }).click()
    await expect(page.locator('body')).toHaveAttribute('data-entries', '1')
    await page.reload()
    await openDemo(page)
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'locked')
    await page.getByRole('button', { name: 'Wipe all cached data' }).click()
    await page.getByRole('button', { name: 'Click again to wipe everything' }).click()
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'clear')
    await expect(page.locator('body')).toHaveAttribute('data-entries', '0')
    expect(await page.evaluate((item) => localStorage.getItem(item), SALT_ITEM)).toBeNull()
    await page.getByRole('button', { name: 'Synthetic phantom (no file)' }).click() // the new cache works
    await expect(page.locator('body')).toHaveAttribute('data-entries', '1')
    await page.reload()
    await openDemo(page)
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'clear')
    await expect(page.locator('body')).toHaveAttribute('data-image', /phantom/) // the session is back, so nothing is left in flight

    // Another app's logout wipes the origin's caches but not the demo's salt: the demo drops it.
    await page.getByRole('button', { name: 'Clear all' }).click()
    await page.getByRole('button', { name: 'Click again to clear' }).click()
    await expect(page.locator('body')).toHaveAttribute('data-entries', '0')
    await protect(page, 'correct horse battery')
    await page.evaluate(() => window.voxcacheLib!.wipeAll())
    await page.reload()
    await openDemo(page)
    await expect(page.getByText('The protected cache that was here is gone (wiped, or removed by the browser)')).toBeVisible()
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'clear')
    expect(await page.evaluate((item) => localStorage.getItem(item), SALT_ITEM)).toBeNull()
    await expect(page.locator('body')).toHaveAttribute('data-image', /phantom/) // the session came back, into the new cache
    await expect(page.locator('body')).toHaveAttribute('data-entries', '1')

    // A protected cache whose salt is gone cannot be unlocked here: the panel says so and offers the wipe.
    await protect(page, 'correct horse battery', 'Clear 1 entry and protect')
    await page.evaluate((item) => localStorage.removeItem(item), SALT_ITEM)
    await page.reload()
    await openDemo(page)
    await expect(page.locator('body')).toHaveAttribute('data-protection', 'no-salt')
    await expect(page.getByText('Locked, and cannot be unlocked here')).toBeVisible()
    await expect(page.getByLabel('Passphrase', { exact: true })).toHaveCount(0)
    await expect(page.getByRole('button', { name: 'Wipe all cached data' })).toBeVisible()
  })
})

// Issue 14: with 20,000 entries the demo took 2.9 s from reload to ready, its panel listing and drawing
// every entry. The panel now draws the newest 200 and says how many there are; the time from reload
// to ready is recorded as a figure (beside the same reload with the cache empty), not asserted.
// DEMO_MANY=20000 makes the cache (its import takes minutes here); by default 300 entries, enough
// to show the panel's limit.
const MANY = Number(process.env.DEMO_MANY ?? 300)

test(`a cache of ${MANY.toLocaleString('en')} entries: the panel draws the newest 200 and counts them all`, async ({ page }) => {
  test.setTimeout(600_000)
  const N = MANY
  await openDemo(page, 'cache=demo-many')
  // One real record, exported, then copied under N ids in this process and imported at once.
  const exported = await page.evaluate(async () => {
    const cache = window.voxcache!
    await cache.clear()
    await cache.store(await window.voxcacheLib!.operationId('many', { i: -1 }), { value: 'x'.repeat(200) }, { codec: 'none', metadata: { title: 'Many' } })
    const bytes = new Uint8Array(await (await cache.exportDatabase()).arrayBuffer())
    let binary = ''
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
    return btoa(binary)
  })
  const SQL = await initSqlJs()
  const signer = await createSigner()
  const db = new SQL.Database(new Uint8Array(Buffer.from(exported, 'base64')))
  const columns = 'operation_id, data, data_type, created_at, size_bytes, metadata, raw_bytes, codec, checksum, last_accessed_at, hits, pinned'
  const [row] = db.exec(`SELECT ${columns} FROM results`)[0]!.values
  db.run('DELETE FROM results')
  const stmt = db.prepare(`INSERT INTO results (${columns}) VALUES (${columns.split(', ').map(() => '?').join(', ')})`)
  db.run('BEGIN')
  for (let i = 0; i < N; i++) {
    const id = createHash('sha256').update(`many:${i}`).digest('hex')
    const data = withOperationId(signer, row![1] as Uint8Array, id)
    stmt.run([id, data, ...row!.slice(2)])
  }
  db.run('COMMIT')
  stmt.free()
  const file = db.export()
  db.close()
  const report = await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    const cache = window.voxcache!
    await cache.clear()
    const r = await cache.importDatabase(new Blob([bytes]))
    return { imported: r.imported, rejected: r.rejected.length }
  }, Buffer.from(file).toString('base64'))
  expect(report).toEqual({ imported: N, rejected: 0 })

  const started = Date.now()
  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 })
  const readyMs = Date.now() - started
  await expect(page.locator('body')).toHaveAttribute('data-entries', String(N))
  await expect(page.locator('#entries tr')).toHaveCount(200)
  await expect(page.locator('#entries-more')).toHaveText(`The 200 newest of ${N.toLocaleString('en')} entries.`)
  // The same reload with the cache empty: what of the time is the page's own, on this machine now.
  await page.evaluate(() => window.voxcache!.clear())
  const emptyStarted = Date.now()
  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 })
  const emptyMs = Date.now() - emptyStarted
  await expect(page.locator('body')).toHaveAttribute('data-entries', '0')
  recordFigures('demo-many', { entries: N, reloadToReadyMs: readyMs, emptyReloadToReadyMs: emptyMs })
})
