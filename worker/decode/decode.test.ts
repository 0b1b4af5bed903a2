import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { digestOf } from '../../src/input-digest.js'
import { withPreamble, preambles } from '../../test/dicom-files.js'
import { knownDecodeId, planDecode } from './decode.js'
import type { MetadataMode } from './deidentify.js'

const data = (name: string) => new Uint8Array(readFileSync(new URL(`../../../shared/testdata/${name}`, import.meta.url)))
const file = (name: string, bytes: Uint8Array = data(name)) => ({ name, data: bytes })

/** A cached decode found from the page's digests must be the very entry decode() would find. */
describe('knownDecodeId', () => {
  const digests = (files: { data: Uint8Array }[]) => Promise.all(files.map((f) => digestOf(f.data)))

  for (const mode of ['keep', 'strip-phi'] as MetadataMode[]) {
    it(`is planDecode's id for every single test file, whatever its name (${mode})`, async () => {
      for (const name of ['ch2bet.nii.gz', 'standard.nii.gz', 'KmeansTest_T1UCharRaw.nii.gz', 'functional.nii', 'CT_small.dcm', 'MR_small.dcm', 'JPEG2000.dcm']) {
        const files = [file(`renamed-${name.length}.bin`, data(name))]
        expect(await knownDecodeId(await digests(files), mode), name).toBe((await planDecode(files, mode)).id)
      }
    })
  }

  it("is planDecode's id for a series of Part 10 files in any order, and none for a pair or a series with a file without 'DICM'", async () => {
    const mr = data('MR_small.dcm')
    const series = [0, 1, 2].map((k) => {
      const b = mr.slice()
      b[b.length - 1 - k] = b[b.length - 1 - k]! ^ 0xff // three contents
      return file(`s${k}.dcm`, b)
    })
    const reversed = [...series].reverse()
    const id = (await planDecode(series)).id
    expect(await knownDecodeId(await digests(series), 'keep')).toBe(id)
    expect(await knownDecodeId(await digests(reversed), 'keep')).toBe(id)
    // A .mha and its .raw: which is the header is for the content and the names to say.
    const pair = [file('RatLungSlice1.raw'), file('RatLungSlice1.mha')]
    expect((await planDecode(pair)).id).toBeTruthy()
    expect(await knownDecodeId(await digests(pair), 'keep')).toBeUndefined()
    // A DICOM data set without its preamble is DICOM to decode() too, but its digest does not show it.
    const bare = file('bare.dcm', mr.subarray(132))
    expect(await knownDecodeId(await digests([...series, bare]), 'keep')).toBeUndefined()
    // 'DICM' at 128 wins over whatever the preamble holds (here a NIfTI header): still a series.
    const dressed = [file('n0.dcm', withPreamble(series[0]!.data, preambles(data('functional.nii'))['NIfTI-1 header (sizeof_hdr 348, little endian)']!)), series[1]!]
    expect((await digestOf(dressed[0]!.data)).part10).toBe(true)
    expect(await knownDecodeId(await digests(dressed), 'keep')).toBe((await planDecode(dressed)).id)
  })
})
