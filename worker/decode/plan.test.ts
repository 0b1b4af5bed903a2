import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { DecodeError, UnsupportedFormatError } from '../../src/errors.js'
import { IMAGE_IO_VERSION } from './version.js'
import { assignRoles, prepare, sniff } from './plan.js'

const data = (name: string) => new Uint8Array(readFileSync(new URL(`../../../shared/testdata/${name}`, import.meta.url)))
const file = (name: string, bytes = data(name)) => ({ name, data: bytes })

describe('sniff and roles', () => {
  it('finds each test file by content, whatever its name', async () => {
    expect((await assignRoles([file('x.dat', data('functional.nii'))])).format).toBe('nifti')
    expect((await assignRoles([file('noext', data('MR_small.dcm'))])).format).toBe('dicom')
    expect((await assignRoles([file('a.bin', data('ch2bet.nii.gz'))])).format).toBe('nifti')
    const meta = await assignRoles([file('RatLungSlice1.raw'), file('RatLungSlice1.mha')])
    expect(meta.format).toBe('meta')
    expect(meta.files.map((f) => f.name)).toEqual(['RatLungSlice1.mha', 'RatLungSlice1.raw'])
  })

  it('refuses empty, text, random and incomplete inputs with typed errors naming the file', async () => {
    await expect(assignRoles([file('empty.nii', new Uint8Array())])).rejects.toThrow(DecodeError)
    await expect(assignRoles([file('notes.txt', new TextEncoder().encode('hello\nworld\n'))])).rejects.toThrow(UnsupportedFormatError)
    const random = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24)
    await expect(assignRoles([file('noise.nii', random)])).rejects.toThrow(/noise\.nii/)
    await expect(assignRoles([file('RatLungSlice1.mha')])).rejects.toThrow(/RatLungSlice1\.raw, which was not given/)
  })

  it('refuses a truncated .nii.gz and a truncated DICOM in prepare', async () => {
    const gz = data('standard.nii.gz')
    const roles = await assignRoles([file('cut.nii.gz', gz.subarray(0, gz.length - 9))])
    await expect(prepare(roles)).rejects.toThrow(/cut\.nii\.gz: gzip stream is truncated|trailer/)
    const dcm = data('CT_small.dcm')
    await expect(prepare(await assignRoles([file('cut.dcm', dcm.subarray(0, dcm.length - 100))]))).rejects.toThrow(/cut\.dcm: DICOM file is truncated/)
  })

  it('refuses a header claiming an absurd size before allocating', async () => {
    const nii = new Uint8Array(data('functional.nii'))
    const dv = new DataView(nii.buffer)
    dv.setInt16(40, 3, true)
    for (const i of [1, 2, 3]) dv.setInt16(40 + 2 * i, 30000, true)
    await expect(assignRoles([file('huge.nii', nii)])).rejects.toThrow(/huge\.nii: .*over the .* limit/)
    const bomb = gzipSync(nii)
    await expect(assignRoles([file('huge.nii.gz', bomb)])).rejects.toThrow(/over the .* limit/)
  })

  it('sniffs text as text', () => {
    expect(sniff(new TextEncoder().encode('just some words'))).toBe('text')
  })
})

it('names the installed @itk-wasm/image-io version in decode ids', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../node_modules/@itk-wasm/image-io/package.json', import.meta.url), 'utf8'))
  expect(IMAGE_IO_VERSION).toBe(pkg.version)
})
