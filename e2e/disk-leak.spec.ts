// Nothing of a protected cache is readable in Chromium's own files on disk. A persistent profile (the
// test's default context is off the record: its OPFS and IndexedDB live in memory) holds protected
// caches on OPFS and on IndexedDB — a real DICOM file and a series decoded, JSON and metadata carrying
// markers, a seeded random image — and, as the control that proves the scan can see, clear caches with
// markers of their own. After the browser has closed, every file of the profile directory is read, raw
// and with every base64 run in it decoded: the protected markers, the patient's name and any 64-byte
// window of the protected image appear nowhere; the clear ones do.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from '@playwright/test'
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs'
import { dicomTag, mrSeries, setDicomValue } from './decode-reference.js'
import { checkGuard, expect, guardContext, openPage, test } from './fixtures.js'

const SEALED = { patient: 'SEALED^PATIENT^q7', json: 'sealed-json-marker-5b1e', meta: 'sealed-meta-marker-9d42', file: 'sealed-file-name-77c3' }
const CLEAR = { patient: 'CLEAR^PATIENT^z3k', json: 'clear-json-marker-1a8f', meta: 'clear-meta-marker-6e07', file: 'clear-file-name-4b90' }

/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    const stat = statSync(path, { throwIfNoEntry: false })
    return !stat ? [] : stat.isDirectory() ? walk(path) : stat.isFile() ? [path] : []
  })
}

/** The file's bytes, and each base64 run in it (24 characters or more) decoded. */
function views(bytes: Buffer): Buffer[] {
  const out = [bytes]
  const text = bytes.toString('latin1')
  for (const m of text.matchAll(/[A-Za-z0-9+/]{24,}={0,2}/g)) {
    for (let shift = 0; shift < 4; shift++) out.push(Buffer.from(m[0].slice(shift), 'base64'))
  }
  return out
}

/** The 8-byte blocks at multiples of 8 of `raw`: any 64-byte window of it holds one. */
function blocks(raw: Buffer): Set<string> {
  const out = new Set<string>()
  for (let at = 0; at + 8 <= raw.length; at += 8) out.add(raw.subarray(at, at + 8).toString('hex'))
  return out
}

function holdsBlock(bytes: Buffer, set: Set<string>): boolean {
  for (let at = 0; at + 8 <= bytes.length; at++) if (set.has(bytes.subarray(at, at + 8).toString('hex'))) return true
  return false
}

/** MR_small.dcm and a 5-file series of it, with the patient's name replaced by `name` (same length). */
function dicoms(name: string): Record<string, string> {
  const { files } = mrSeries()
  const out: Record<string, string> = {}
  const one = Buffer.from(files['s0.dcm']!)
  for (const [file, bytes] of [['one', one] as const, ...Object.entries(files)]) {
    const b = Buffer.from(bytes)
    const at = dicomTag(b, 0x0010, 0x0010)!
    setDicomValue(b, 0x0010, 0x0010, name.padEnd(at.length, ' ').slice(0, at.length))
    out[file] = b.toString('base64')
  }
  return out
}

test.setTimeout(6 * 60_000)

test("nothing of a protected cache is readable in Chromium's files on disk (OPFS and IndexedDB), where a clear cache's markers are", async ({}, testInfo) => {
  const profile = mkdtempSync(join(tmpdir(), 'voxcache-profile-'))
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      args: chromiumArgs,
      baseURL: testInfo.project.use.baseURL,
    })
    const guard = await guardContext(context)
    const page = context.pages()[0] ?? (await context.newPage())
    await openPage(page, 'cache=leak-page&storage=memory')
    const images = await page.evaluate(
      async ({ SEALED, CLEAR, sealedDicom, clearDicom }) => {
        const lib = window.voxcacheLib!
        const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
        const bin = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
        const seeded = (seed: number) => {
          const data = new Uint8Array(96 * 96 * 24)
          let x = seed
          for (let i = 0; i < data.length; i++) data[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24
          return data
        }
        const fill = async (cache: import('../src/client.js').VoxCache, m: typeof SEALED, dicom: Record<string, string>, seed: number) => {
          const one = await cache.decode({ name: `${m.file}.dcm`, data: bin(dicom.one!) })
          if (![...one.metadata.values()].some((v) => String(v).includes(m.patient.slice(0, 10)))) throw new Error('the decoded file lost its patient name')
          await cache.decode(Object.entries(dicom).filter(([n]) => n !== 'one').map(([n, b]) => ({ name: `${m.file}-${n}`, data: bin(b) })))
          await cache.store(await lib.operationId('leak', m.json), { report: m.json, note: 'x'.repeat(3000) }, { metadata: { note: m.meta } })
          await cache.store(await lib.operationId('leak', m.meta), { small: m.json }, { metadata: m.meta })
          const data = seeded(seed)
          await cache.store(
            await lib.operationId('leak', ['image', seed]),
            {
              imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
              name: m.file, origin: [0, 0, 0], spacing: [1, 1, 1], direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
              size: [96, 96, 24], metadata: new Map([['0010|0010', m.patient]]), data: data.slice(),
            } as unknown as import('../src/types.js').Image,
            { metadata: { patient: m.patient } },
          )
          await cache.close()
          let s = ''
          for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000))
          return btoa(s)
        }
        const out: Record<string, string> = {}
        out.sealedOpfs = await fill(await lib.openCache({ name: 'leak-sealed', storage: 'opfs', encryption: { key } }), SEALED, sealedDicom, 11)
        out.sealedIdb = await fill(await lib.openCache({ name: 'leak-sealed-idb', storage: 'idb', encryption: { key } }), SEALED, sealedDicom, 12)
        out.clearOpfs = await fill(await lib.openCache({ name: 'leak-clear', storage: 'opfs' }), { ...CLEAR, json: `${CLEAR.json}-opfs` }, clearDicom, 13)
        out.clearIdb = await fill(await lib.openCache({ name: 'leak-clear-idb', storage: 'idb' }), { ...CLEAR, json: `${CLEAR.json}-idb` }, clearDicom, 14)
        return out
      },
      { SEALED, CLEAR, sealedDicom: dicoms(SEALED.patient), clearDicom: dicoms(CLEAR.patient) },
    )
    checkGuard(guard)
    await context.close()

    const files = walk(profile).map((path) => ({ path: path.slice(profile.length + 1), bytes: readFileSync(path) }))
    const found = (needle: string | Set<string>) =>
      files.filter(({ bytes }) => views(bytes).some((v) => (typeof needle === 'string' ? v.includes(needle) || v.includes(Buffer.from(needle, 'utf16le')) : holdsBlock(v, needle)))).map((f) => f.path)
    // The control: the scan sees what the clear caches stored, on OPFS and on IndexedDB.
    expect(found(`${CLEAR.json}-opfs`).some((p) => p.startsWith('Default/File System/')), 'a clear OPFS marker on disk').toBe(true)
    expect(found(`${CLEAR.json}-idb`).some((p) => p.startsWith('Default/IndexedDB/')), 'a clear IndexedDB marker on disk').toBe(true)
    expect(found(CLEAR.patient).length, 'the clear patient name on disk').toBeGreaterThan(0)
    expect(found(CLEAR.file).length, 'the clear file name on disk').toBeGreaterThan(0)
    expect(found(CLEAR.meta).length, 'the clear metadata on disk').toBeGreaterThan(0)
    expect(found(blocks(Buffer.from(images.clearOpfs!, 'base64'))).length, 'the clear OPFS image on disk').toBeGreaterThan(0)
    expect(found(blocks(Buffer.from(images.clearIdb!, 'base64'))).length, 'the clear IndexedDB image on disk').toBeGreaterThan(0)
    // The protected caches: nothing.
    for (const needle of [SEALED.patient, SEALED.patient.slice(0, 10), SEALED.json, SEALED.meta, SEALED.file]) expect(found(needle), needle).toEqual([])
    expect(found(blocks(Buffer.from(images.sealedOpfs!, 'base64'))), 'the protected OPFS image').toEqual([])
    expect(found(blocks(Buffer.from(images.sealedIdb!, 'base64'))), 'the protected IndexedDB image').toEqual([])
  } finally {
    rmSync(profile, { recursive: true, force: true })
  }
})
