import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { UnsupportedFormatError } from '../../src/errors.js'
import { bareDataSet, withoutSopUids } from '../../test/dicom-files.js'
import { pydicom } from '../../test/pydicom.js'
import { asPart10, bareEncoding, parseDicom, type DicomInfo } from './dicom.js'
import { assignRoles, prepare, sniff } from './plan.js'

const testdata = (name: string) => new Uint8Array(readFileSync(new URL(`../../../shared/testdata/${name}`, import.meta.url)))
const IMPLICIT_LE = '1.2.840.10008.1.2'
const EXPLICIT_LE = '1.2.840.10008.1.2.1'
const EXPLICIT_BE = '1.2.840.10008.1.2.2'

// MR_small.dcm three times (pydicom's own conversions of one data set): explicit VR little endian, implicit VR
// little endian, explicit VR big endian. Whatever the encoding, the walk must find the same image.
const mr = testdata('MR_small.dcm')
const encodings = [
  { name: 'MR_small.dcm', bytes: mr, ts: EXPLICIT_LE, little: true, explicit: true },
  { name: 'MR_small_implicit.dcm', bytes: pydicom('MR_small_implicit.dcm'), ts: IMPLICIT_LE, little: true, explicit: false },
  { name: 'MR_small_bigendian.dcm', bytes: pydicom('MR_small_bigendian.dcm'), ts: EXPLICIT_BE, little: false, explicit: true },
]
const image = (x: DicomInfo) => ({ rows: x.rows, columns: x.columns, bits: x.bitsAllocated, pixelBytes: x.pixelBytes, position: x.position, orientation: x.orientation, series: x.seriesUid, sopClass: x.sopClass, modality: x.modality })
const reference = image(parseDicom('MR_small.dcm', mr))

describe('old DICOM', () => {
  it('the reference is what MR_small.dcm holds', () => {
    expect(reference).toEqual({
      rows: 64, columns: 64, bits: 16, pixelBytes: 8192, position: [-83.9063, -91.2, 6.6406], orientation: [1, 0, 0, 0, 1, 0],
      series: '1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457', sopClass: '1.2.840.10008.5.1.4.1.1.4', modality: 'MR',
    })
  })

  for (const { name, bytes, ts } of encodings) {
    it(`${name}: a Part 10 file in its transfer syntax, read as it is`, () => {
      const info = parseDicom(name, bytes)
      expect(info).toMatchObject({ transferSyntax: ts, part10: true, fileMeta: true })
      expect(image(info)).toEqual(reference)
      expect(asPart10(info, bytes)).toBe(bytes)
    })
  }

  for (const { name, bytes, ts, little, explicit } of encodings) {
    it(`${name} stripped of preamble and file meta (ACR-NEMA style): encoding guessed, given to GDCM as Part 10`, async () => {
      const bare = bareDataSet(bytes)
      expect(sniff(bare)).toBe('dicom')
      expect(bareEncoding(bare)).toEqual({ little, explicit, meta: false })
      const info = parseDicom(name, bare)
      expect(info).toMatchObject({ transferSyntax: ts, part10: false, fileMeta: false })
      expect(image(info)).toEqual(reference)
      const part10 = asPart10(info, bare)
      expect(part10.subarray(0, 128).every((b) => b === 0)).toBe(true)
      // The data set itself is untouched, behind a file meta group that names the guessed syntax.
      expect(part10.subarray(part10.length - bare.length)).toEqual(bare)
      const again = parseDicom(name, part10)
      expect(again).toMatchObject({ transferSyntax: ts, part10: true, fileMeta: true })
      expect(image(again)).toEqual(reference)
      const prepared = await prepare(await assignRoles([{ name, data: bare }]))
      expect(prepared.reader).toBe('gdcm')
      expect(prepared.inputs[0]!.data).toEqual(part10)
    })
  }

  it('a file meta group without preamble gets only the preamble and DICM', () => {
    const bytes = pydicom('MR_small_implicit.dcm')
    const noPreamble = bytes.subarray(132)
    expect(bareEncoding(noPreamble)).toEqual({ little: true, explicit: true, meta: true })
    const info = parseDicom('x', noPreamble)
    expect(info).toMatchObject({ transferSyntax: IMPLICIT_LE, part10: false, fileMeta: true })
    expect(asPart10(info, noPreamble)).toEqual(bytes.map((b, i) => (i < 128 ? 0 : b)))
  })

  it('an ACR-NEMA data set without SOP class and instance UIDs gets a file meta group without them', () => {
    const bare = withoutSopUids(bareDataSet(pydicom('MR_small_implicit.dcm')))
    const info = parseDicom('acr', bare)
    expect(info.sopClass).toBeUndefined()
    const again = parseDicom('acr', asPart10(info, bare))
    expect(again).toMatchObject({ transferSyntax: IMPLICIT_LE, part10: true, fileMeta: true, sopClass: undefined, rows: 64 })
  })

  it('DICOM objects without pixel data (RT plans and structure sets, with or without file meta) are UnsupportedFormatErrors naming what they are', async () => {
    for (const [name, what] of [
      ['ExplVR_LitEndNoMeta.dcm', 'Modality RTPLAN, SOP class 1.2.840.10008.5.1.4.1.1.481.8'],
      ['ExplVR_BigEndNoMeta.dcm', 'Modality RTPLAN, SOP class 1.2.840.10008.5.1.4.1.1.481.8'],
      ['rtstruct.dcm', 'Modality RTSTRUCT, SOP class 1.2.840.10008.5.1.4.1.1.481.3'],
    ]) {
      const roles = await assignRoles([{ name: name!, data: pydicom(name!) }])
      expect(roles.format).toBe('dicom')
      const failure = prepare(roles)
      await expect(failure).rejects.toThrow(UnsupportedFormatError)
      await expect(failure).rejects.toThrow(`${name}: is a DICOM object without pixel data (${what}), not an image`)
    }
  })

  it("pydicom's no_meta.dcm (a stray byte before CT_small's data set) is refused; without that byte it is CT_small", async () => {
    const noMeta = pydicom('no_meta.dcm')
    await expect(assignRoles([{ name: 'no_meta.dcm', data: noMeta }])).rejects.toThrow(UnsupportedFormatError)
    const ct = testdata('CT_small.dcm')
    const info = parseDicom('fixed', noMeta.subarray(1))
    expect(info).toMatchObject({ transferSyntax: EXPLICIT_LE, part10: false, fileMeta: false })
    expect(image(info)).toEqual(image(parseDicom('CT_small.dcm', ct)))
    expect(noMeta.subarray(1)).toEqual(bareDataSet(ct))
  })
})
