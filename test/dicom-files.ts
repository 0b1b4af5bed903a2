// DICOM test files made from real ones at test time, for worker/decode's unit tests and
// e2e/decode.spec.ts: preambles full of other formats' headers, data sets stripped of preamble and
// file meta (ACR-NEMA style), and a series written from a real volume. Plain Uint8Array and DataView, so
// that the benchmark page can build series with it too.

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))

/**
 * Preambles real DICOM files could carry (the 128 bytes before 'DICM' are free-form: TIFF headers of
 * dual-personality files, leftovers of other formats), each a header or magic number that another
 * reader looks for at the start of a file. `nifti1` is a NIfTI-1 header's first 128 bytes (its magic,
 * at byte 344, is past the preamble: see `withNiftiMagicAt344`).
 */
export function preambles(nifti1: Uint8Array): Record<string, Uint8Array> {
  const pad = (bytes: Uint8Array) => {
    const out = new Uint8Array(128)
    out.set(bytes.subarray(0, 128))
    return out
  }
  const be348 = new Uint8Array(128)
  new DataView(be348.buffer).setInt32(0, 348, false)
  // NIfTI-2's start: sizeof_hdr 540, its 8-byte magic, datatype int16, bitpix 16, dim[0] 3.
  const nifti2 = new Uint8Array(128)
  const dv2 = new DataView(nifti2.buffer)
  dv2.setInt32(0, 540, true)
  nifti2.set(latin1('n+2\0\r\n\x1a\n'), 4)
  dv2.setInt16(12, 4, true)
  dv2.setInt16(14, 16, true)
  dv2.setBigInt64(16, 3n, true)
  // A CBOR map (0xa6: 6 pairs) whose first key is "imageType", as itk-wasm's .iwi.cbor starts.
  const cbor = Uint8Array.from([0xa6, 0x69, ...latin1('imageType'), 0xa4])
  return {
    'NIfTI-1 header (sizeof_hdr 348, little endian)': pad(nifti1),
    'sizeof_hdr 348, big endian (Analyze 7.5)': be348,
    'NIfTI-2 header (sizeof_hdr 540, n+2 magic)': nifti2,
    NRRD: pad(latin1('NRRD0004\ntype: short\ndimension: 2\nsizes: 64 64\nencoding: raw\n\n')),
    MetaImage: pad(latin1('ObjectType = Image\nNDims = 2\nDimSize = 64 64\nElementType = MET_SHORT\nElementDataFile = LOCAL\n')),
    gzip: pad(Uint8Array.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3])),
    'itk-wasm CBOR': pad(cbor),
    'TIFF (a dual-personality file)': pad(Uint8Array.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0])),
    'a bare DICOM data set': pad(Uint8Array.from([8, 0, 5, 0, ...latin1('CS'), 10, 0, ...latin1('ISO_IR 100')])),
  }
}

/** `dicom` (a Part 10 file) with its preamble replaced. */
export function withPreamble(dicom: Uint8Array, preamble: Uint8Array): Uint8Array {
  const out = new Uint8Array(dicom)
  out.set(preamble.subarray(0, 128))
  return out
}

/**
 * MR_small.dcm's bytes 344–347, inside its ImageType value (DERIVED\SECONDARY\OTHER from byte 342),
 * replaced by NIfTI-1's magic `n+1\0`: with a NIfTI-1 preamble the file carries both formats' magics.
 */
export function withNiftiMagicAt344(dicom: Uint8Array): Uint8Array {
  const out = new Uint8Array(dicom)
  if (String.fromCharCode(...out.subarray(342, 349)) !== 'DERIVED') throw new Error('expected MR_small.dcm (ImageType at byte 342)')
  out.set(latin1('n+1\0'), 344)
  return out
}

/** Offset of the data set of a Part 10 file: after the preamble, 'DICM' and the file meta group. */
export function dataSetOffset(dicom: Uint8Array): number {
  const dv = new DataView(dicom.buffer, dicom.byteOffset, dicom.byteLength)
  if (String.fromCharCode(...dicom.subarray(128, 132)) !== 'DICM') throw new Error('not a Part 10 file')
  let at = 132
  while (dv.getUint16(at, true) === 0x0002) {
    const vr = String.fromCharCode(dicom[at + 4]!, dicom[at + 5]!)
    at += ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr) ? 12 + dv.getUint32(at + 8, true) : 8 + dv.getUint16(at + 6, true)
  }
  return at
}

/** The data set alone, as an ACR-NEMA style file has it: no preamble, no 'DICM', no file meta. */
export function bareDataSet(dicom: Uint8Array): Uint8Array {
  return dicom.slice(dataSetOffset(dicom))
}

/**
 * An implicit VR little endian data set without the elements ACR-NEMA files predate: SOP Class UID
 * (0008,0016) and SOP Instance UID (0008,0018).
 */
export function withoutSopUids(implicitDataSet: Uint8Array): Uint8Array {
  const dv = new DataView(implicitDataSet.buffer, implicitDataSet.byteOffset, implicitDataSet.byteLength)
  const kept: Uint8Array[] = []
  for (let at = 0; at < implicitDataSet.length; ) {
    const group = dv.getUint16(at, true)
    const element = dv.getUint16(at + 2, true)
    const end = at + 8 + dv.getUint32(at + 4, true)
    if (!(group === 0x0008 && (element === 0x0016 || element === 0x0018))) kept.push(implicitDataSet.subarray(at, end))
    at = end
  }
  return concat(kept)
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
