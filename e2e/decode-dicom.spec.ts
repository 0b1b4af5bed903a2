// Real-world DICOM files in Chromium: preambles that carry other formats' headers.
import type { Page } from '@playwright/test'
import { preambles, withNiftiMagicAt344, withPreamble } from '../test/dicom-files.js'
import { fixture, serve } from './decode-reference.js'
import { expect, openPage, test } from './fixtures.js'

/** What decode gave for one file (or series): the image's geometry and a digest of every voxel, or the error. */
type Outcome =
  | { ok: true; size: number[]; spacing: number[]; origin: number[]; direction: number[]; componentType: string; components: number; sum: number; sha256: string }
  | { ok: false; unsupported: boolean; decodeError: boolean; message: string }

/** Decodes each entry of `inputs` (one file name, or the names of a series) in the page, one after the other. */
async function decodeAll(page: Page, inputs: Record<string, string[]>): Promise<Record<string, Outcome>> {
  return page.evaluate(async (inputs) => {
    const lib = window.voxcacheLib!
    const out: Record<string, Outcome> = {}
    for (const [key, names] of Object.entries(inputs)) {
      const files = await Promise.all(names.map(async (name) => ({ name, data: new Uint8Array(await (await fetch(`/__fixtures/${encodeURIComponent(name)}`)).arrayBuffer()) })))
      try {
        const image = await window.voxcache!.decode(files)
        const data = image.data as unknown as ArrayLike<number> & ArrayBufferView<ArrayBuffer>
        let sum = 0
        for (let i = 0; i < data.length; i++) sum += Number(data[i])
        const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        out[key] = {
          ok: true,
          size: [...image.size],
          spacing: [...image.spacing],
          origin: [...image.origin],
          direction: Array.from(image.direction as unknown as ArrayLike<number>),
          componentType: image.imageType.componentType,
          components: image.imageType.components,
          sum,
          sha256: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join(''),
        }
      } catch (e) {
        out[key] = { ok: false, unsupported: e instanceof lib.UnsupportedFormatError, decodeError: e instanceof lib.DecodeError, message: String((e as Error).message) }
      }
    }
    return out
  }, inputs)
}

const buf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
const one = (names: string[]) => Object.fromEntries(names.map((n) => [n, [n]]))

test.use({ serviceWorkers: 'block' })

test.describe('decode DICOM', () => {
  test.beforeEach(async ({ page }) => {
    await openPage(page, `cache=dicom-${test.info().title.replace(/\W+/g, '-').slice(0, 40)}&storage=memory`)
  })

  test("a preamble holding another format's header or magic number decodes as the DICOM file it is", async ({ page }) => {
    const mr = new Uint8Array(fixture('MR_small.dcm'))
    const nifti = new Uint8Array(fixture('functional.nii'))
    const files: Record<string, Buffer> = { 'MR_small.dcm': fixture('MR_small.dcm') }
    for (const [what, preamble] of Object.entries(preambles(nifti))) files[`preamble ${what}`] = buf(withPreamble(mr, preamble))
    files['preamble NIfTI-1 and n+1 at 344'] = buf(withPreamble(withNiftiMagicAt344(mr), nifti))
    await serve(page, files)
    const got = await decodeAll(page, one(Object.keys(files)))
    const reference = got['MR_small.dcm']!
    expect(reference).toMatchObject({ ok: true, size: [64, 64, 1], componentType: 'int16' })
    expect(Object.keys(got)).toHaveLength(11)
    for (const [name, outcome] of Object.entries(got)) {
      // n+1 at 344 replaced 4 bytes of ImageType, which GDCM reads but does not put in the image.
      expect(outcome, name).toEqual(reference)
    }
  })
})
