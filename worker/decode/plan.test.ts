import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { DecodeError, UnsupportedFormatError } from '../../src/errors.js'
import { IMAGE_IO_VERSION } from './version.js'
import { assignRoles, prepare, sniff } from './plan.js'
import { parseNiftiHeader } from './nifti.js'
import { preambles, withNiftiMagicAt344, withPreamble } from '../../test/dicom-files.js'

const data = (name: string) => new Uint8Array(readFileSync(new URL(`../../../shared/testdata/${name}`, import.meta.url)))
const file = (name: string, bytes: Uint8Array = data(name)) => ({ name, data: bytes })

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

  it('refuses a DICOM series whose voxels would pass the limit before reading it, though each file is within the limit', async () => {
    // Three copies of JPEG2000.dcm claiming 30000×30000 pixels (1.7 GiB each): compressed pixel data
    // says nothing of its size, so only Rows and Columns count.
    const usValue = (bytes: Uint8Array, element: number, value: number) => {
      const tag = Uint8Array.from([0x28, 0, element, 0, 0x55, 0x53, 2, 0])
      const at = Buffer.from(bytes).indexOf(tag, 132)
      expect(at).toBeGreaterThan(0)
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(at + 8, value, true)
    }
    const files = [1, 2, 3].map((k) => {
      const bytes = new Uint8Array(data('JPEG2000.dcm'))
      usValue(bytes, 0x10, 30000)
      usValue(bytes, 0x11, 30000)
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ k // three different files
      return file(`j${k}.dcm`, bytes)
    })
    const roles = await assignRoles(files)
    expect(roles.format).toBe('dicom-series')
    await expect(prepare(roles)).rejects.toThrow(DecodeError)
    await expect(prepare(roles)).rejects.toThrow(/^j1\.dcm: the series' 3 files hold 30000×30000×3 voxels \(5\.0 GiB\), over the 2032 MiB limit$/)
    await expect(prepare({ ...roles, files: roles.files.slice(0, 1), format: 'dicom' })).resolves.toMatchObject({ reader: 'gdcm' })
  })

  it('sniffs text as text', () => {
    expect(sniff(new TextEncoder().encode('just some words'))).toBe('text')
  })
})

describe('sniffing by magic numbers', () => {
  const mr = data('MR_small.dcm')
  const nifti = data('functional.nii')

  it("a DICOM file whose preamble holds another format's header or magic is DICOM, and reaches GDCM unchanged", async () => {
    const variants = Object.entries(preambles(nifti)).map(([what, preamble]) => [what, withPreamble(mr, preamble)] as const)
    variants.push(['NIfTI-1 header in the preamble and n+1 at byte 344', withPreamble(withNiftiMagicAt344(mr), nifti)])
    for (const [what, bytes] of variants) {
      expect(sniff(bytes.subarray(0, 65536)), what).toBe('dicom')
      const roles = await assignRoles([file('scan', bytes)])
      expect(roles.format, what).toBe('dicom')
      const prepared = await prepare(roles)
      expect(prepared.reader, what).toBe('gdcm')
      expect(prepared.inputs[0]!.data, what).toBe(bytes)
    }
  })

  it('NIfTI by its magic (n+1, ni1, n+2), and a bare sizeof_hdr 348 as Analyze 7.5', async () => {
    expect(sniff(nifti)).toBe('nifti')
    expect(parseNiftiHeader('f.nii', nifti).layout).toBe('single')
    const pair = new Uint8Array(nifti.subarray(0, 352))
    pair.set([0x6e, 0x69, 0x31, 0], 344) // ni1
    expect(sniff(pair)).toBe('nifti')
    expect(parseNiftiHeader('f.hdr', pair).layout).toBe('pair')
    const analyze = new Uint8Array(pair)
    analyze.fill(0, 344, 348)
    expect(sniff(analyze)).toBe('nifti')
    expect(parseNiftiHeader('f.hdr', analyze).layout).toBe('analyze')
    const nifti2 = new Uint8Array(1024)
    nifti2.set(preambles(nifti)['NIfTI-2 header (sizeof_hdr 540, n+2 magic)']!)
    expect(sniff(nifti2)).toBe('nifti')
    // sizeof_hdr 540 without NIfTI-2's magic is nothing.
    nifti2.fill(0, 4, 8)
    expect(sniff(nifti2)).toBe('unknown')
  })
})

it('names the installed @itk-wasm/image-io version in decode ids', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../node_modules/@itk-wasm/image-io/package.json', import.meta.url), 'utf8'))
  expect(IMAGE_IO_VERSION).toBe(pkg.version)
})
