import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { UnsupportedValueError } from '../../src/errors.js'
import { planDecode } from './decode.js'
import { applyMode, isProfileAttribute, metadataMode, stripMetadata } from './deidentify.js'
import { BASIC_PROFILE } from './phi-table.js'
import type { Image } from '../../src/types.js'

const data = (name: string) => new Uint8Array(readFileSync(new URL(`../../../shared/testdata/${name}`, import.meta.url)))

/** Part of what itk-wasm's GDCM reader gave for MR_small.dcm and CT_small.dcm (keys as it spells them), and a private tag, a curve and an overlay. */
const READ: [string, string][] = [
  ['0008|0020', '20040826'], ['0008|0060', 'MR'], ['0008|0070', 'TOSHIBA_MEC '], ['0008|0080', 'TOSHIBA '],
  ['0008|0090', ''], ['0008|1010', '000000000 '], ['0008|1060', '----'], ['0008|1070', '----'],
  ['0010|0010', 'CompressedSamples^MR1 '], ['0010|0020', '4MR1'], ['0010|0030', ''], ['0010|0040', 'F '],
  ['0010|1010', '000Y'], ['0010|1030', '80.0000 '], ['0010|21b0', ''], ['0018|0050', '0.8000'], ['0018|1000', '-0000200'],
  ['0020|000d', '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457'], ['0020|000e', '1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457'],
  ['0020|0010', '4MR1'], ['0020|0013', '1 '], ['0020|0032', '-83.9063\\-91.2000\\6.6406'], ['0020|0037', '1.0000\\0.0000\\0.0000\\0.0000\\1.0000\\0.0000 '],
  ['0020|0052', '1.3.6.1.4.1.5962.1.4.4.1.20040826185059.5457'], ['0028|0004', 'MONOCHROME2 '], ['0028|0010', '64'],
  ['0028|0030', '0.3125\\0.3125 '], ['0028|1050', '600 '], ['fffc|fffc', 'CgD+AAQAAQAAAAAA'],
  ['0029|1010', 'SIEMENS CSA HEADER'], ['0009|0010', 'GEMS_IDEN_01'], ['5002|3000', 'curve'], ['601e|3000', 'overlay'], ['6000|4000', 'overlay comment'],
  ['6000|0010', '512'], ['ITK_InputFilterName', 'GDCMImageIO'],
]

describe("the basic profile's table", () => {
  it('is rows of tags, each once', () => {
    expect(BASIC_PROFILE.length).toBeGreaterThan(600)
    for (const [tag, name, action] of BASIC_PROFILE) {
      expect(tag).toMatch(/^[0-9A-Fx]{4},[0-9A-Fx]{4}$/)
      expect(name).not.toBe('')
      expect(action).toMatch(/^[XZDUC*/]+$/)
    }
    expect(new Set(BASIC_PROFILE.map((r) => r[0])).size).toBe(BASIC_PROFILE.length)
  })

  it('lists the identifying attributes and not what a viewer needs to show the image', () => {
    const tags = new Set(BASIC_PROFILE.map((r) => r[0]))
    for (const tag of [
      '0010,0010', '0010,0020', '0010,0030', '0010,0040', '0010,1000', '0010,1001', '0010,1010', '0010,2160', '0010,4000',
      '0008,0018', '0008,0020', '0008,0021', '0008,0022', '0008,0023', '0008,0030', '0008,0031', '0008,0032', '0008,0033',
      '0008,0050', '0008,0080', '0008,0090', '0008,1010', '0008,1030', '0008,103E', '0008,1048', '0008,1050', '0008,1060',
      '0008,1070', '0018,1000', '0020,000D', '0020,000E', '0020,0010', '0032,1032', '0040,0244', '50xx,xxxx', '60xx,3000',
    ]) expect(tags.has(tag), tag).toBe(true)
    // Modality, pixel description, position, orientation, spacing, slice thickness, window: kept.
    for (const tag of ['0008,0060', '0028,0004', '0028,0010', '0028,0030', '0028,0100', '0028,1050', '0020,0013', '0020,0032', '0020,0037', '0018,0050']) {
      expect(tags.has(tag), tag).toBe(false)
    }
  })
})

describe('stripMetadata', () => {
  it("removes the table's attributes, private ones, curves and overlays; keeps the rest and other keys", () => {
    const stripped = stripMetadata(new Map(READ))
    expect([...stripped.keys()]).toEqual([
      '0008|0060', '0008|0070', '0018|0050', '0020|0013', '0020|0032', '0020|0037', '0028|0004', '0028|0010', '0028|0030', '0028|1050',
      '6000|0010', 'ITK_InputFilterName',
    ])
    expect(stripped.get('0020|0032')).toBe('-83.9063\\-91.2000\\6.6406')
    // The input is not changed: a 'keep' caller's Map stays whole.
    expect(new Map(READ).size).toBe(READ.length)
  })

  it('reads tags in either case and with a comma', () => {
    for (const key of ['0010|0010', '0010,0010', '0020|000D', '0020,000d', '0011|0010', '5010|0000']) expect(isProfileAttribute(key), key).toBe(true)
    for (const key of ['0008|0060', '0008,0060', '0010|0010 ', '10|10', 'PatientName']) expect(isProfileAttribute(key), key).toBe(false)
  })

  it("applyMode drops the image's name only for 'strip-phi', and leaves the pixels", () => {
    const image = { name: 'DOE_JANE.dcm', metadata: new Map(READ), data: new Int16Array(4), size: [2, 2] } as unknown as Image
    expect(applyMode(image, 'keep')).toBe(image)
    const out = applyMode(image, 'strip-phi')
    expect(out.name).toBe('')
    expect(out.metadata.has('0010|0010')).toBe(false)
    expect(out.data).toBe(image.data)
    expect(image.name).toBe('DOE_JANE.dcm')
  })
})

describe('metadataMode', () => {
  it("is 'keep' by default", () => {
    expect(metadataMode(undefined)).toBe('keep')
    expect(metadataMode({})).toBe('keep')
    expect(metadataMode({ metadata: undefined })).toBe('keep')
    expect(metadataMode({ metadata: 'keep' })).toBe('keep')
    expect(metadataMode({ metadata: 'strip-phi' })).toBe('strip-phi')
  })

  it('refuses other values and misspelt keys with UnsupportedValueError', () => {
    for (const bad of ['strip-phi', null, [], { metadata: 'strip' }, { metadata: true }, { metdata: 'strip-phi' }, { metadata: 'strip-phi', name: 'x' }]) {
      expect(() => metadataMode(bad), JSON.stringify(bad)).toThrow(UnsupportedValueError)
    }
  })
})

describe("decode's operation id", () => {
  const mr = () => [{ name: 'MR_small.dcm', data: data('MR_small.dcm') }]

  it("is unchanged for 'keep' (caches made before the option still hit), other for 'strip-phi'", async () => {
    // The id of MR_small.dcm's decode before the option existed (decoder of image-io 1.6.1).
    const before = '98b3dd553d83fbb842be4c60db2c11f5db7e52254c726a8c512a6b4ac6f5cb95'
    expect((await planDecode(mr())).id).toBe(before)
    expect((await planDecode(mr(), 'keep')).id).toBe(before)
    const stripped = (await planDecode(mr(), 'strip-phi')).id
    expect(stripped).toMatch(/^[0-9a-f]{64}$/)
    expect(stripped).not.toBe(before)
    // Names never count, in either mode.
    expect((await planDecode([{ name: 'other.dcm', data: data('MR_small.dcm') }], 'strip-phi')).id).toBe(stripped)
  })
})
