// pydicom's test DICOM files, fetched at test time by scripts/ensure-testdata.sh (which Vitest's and
// Playwright's global setup run): which ones and why, test/TESTDATA.md.
import { existsSync, readFileSync } from 'node:fs'

const DIR = new URL('../.testdata/pydicom/', import.meta.url)

/** The bytes of one of pydicom's test files. */
export function pydicom(name: string): Uint8Array {
  const url = new URL(name, DIR)
  if (!existsSync(url)) throw new Error(`.testdata/pydicom/${name} is missing: run bash scripts/ensure-testdata.sh`)
  return new Uint8Array(readFileSync(url))
}
