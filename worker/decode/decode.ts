// decode and exportImage as the service runs them: content-addressed ids, then itk-wasm on a miss.
import { UnsupportedValueError } from '../../src/errors.js'
import { isImage } from '../../src/codec/values.js'
import { contentRef, operationId } from '../../src/operation-id.js'
import type { Image, JsonValue, Value } from '../../src/types.js'
import { read, write, EXPORT_FORMATS, type ExportFormat } from './itk.js'
import { modeArgs, type MetadataMode } from './deidentify.js'
import type { DecodeFile } from './input.js'
import type { InputDigest } from '../../src/input-digest.js'
import { assignRoles, prepare, type Roles } from './plan.js'
import { DECODER } from './version.js'

export type { DecodeFile, ExportFormat, InputDigest }



/**
 * The operation id of decoding `files`, and which file is which. The id hashes the bytes of the files
 * in their roles (header, then data; a DICOM series in hash order) — never their names — and the
 * metadata mode unless it is 'keep'. A file's `sha256`, when it has one, stands for its bytes' digest:
 * only the worker that hashed those very bytes sets it.
 * @throws {DecodeError} @throws {UnsupportedFormatError}
 */
export async function planDecode(files: DecodeFile[], mode: MetadataMode = 'keep'): Promise<{ id: string; roles: Roles }> {
  const roles = await assignRoles(files)
  let refs = await Promise.all(roles.files.map((f) => (f.sha256 !== undefined ? { sha256: f.sha256 } : contentRef(f.data))))
  if (roles.format === 'dicom-series') {
    const order = refs.map((r, i) => [r.sha256, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    roles.files = order.map(([, i]) => roles.files[i]!)
    refs = order.map(([, i]) => refs[i]!)
  }
  return { id: await decodeId(refs, mode), roles }
}

/** The operation id of a decode of files whose content refs are `refs`, in role order. */
async function decodeId(refs: { sha256: string }[], mode: MetadataMode): Promise<string> {
  return operationId('decode', { decoder: DECODER, files: refs, ...(await modeArgs(mode)) })
}


/**
 * The id planDecode gives these files, when it follows from their digests alone (else undefined): so a
 * cached image is found without the files' bytes, their roles or their names.
 * - One file: assignRoles makes its roles [that file] whatever its format (or throws, and then no
 *   decode ever stored an image under this id).
 * - Several files, each with 'DICM' at byte 128: every head sniffs as DICOM (isPart10 is tested first),
 *   so assignRoles makes them a series, which planDecode orders by hash whatever the order given.
 * Any other set (a header and its data file, which one is the header depends on content and order, and
 * whether it is complete on names) needs the files.
 * @throws {InvalidKeyError} when a digest is not 64 lowercase hex digits.
 */
export async function knownDecodeId(inputs: InputDigest[], mode: MetadataMode): Promise<string | undefined> {
  if (!inputs.length) return undefined
  if (inputs.length > 1 && !inputs.every((i) => i.part10 === true)) return undefined
  const hashes = inputs.map((i) => i.sha256).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return decodeId(hashes.map((sha256) => ({ sha256 })), mode)
}

/** Validates and decodes. @throws {DecodeError} @throws {UnsupportedFormatError} */
export async function decodeRoles(roles: Roles): Promise<Image> {
  return read(await prepare(roles))
}

/** Entry metadata for a decoded image, shown by list()/info(): the file's name only in 'keep' mode. */
export function decodeMetadata(roles: Roles, mode: MetadataMode = 'keep'): JsonValue {
  if (mode === 'strip-phi') return { op: 'decode', format: roles.format, files: roles.files.length, metadata: mode }
  return { op: 'decode', name: roles.name, format: roles.format, files: roles.files.length }
}

/**
 * Writes `value` (which must be an Image) to `format`.
 * @throws {UnsupportedValueError} when the value is not an image.
 * @throws {UnsupportedFormatError} when the format is not one of EXPORT_FORMATS.
 */
export async function exportValue(value: Value, format: ExportFormat, what: string): Promise<{ name: string; data: Uint8Array }> {
  if (!isImage(value)) throw new UnsupportedValueError(`${what} is not an image, so it cannot be exported as .${format}`)
  if (!Object.hasOwn(EXPORT_FORMATS, format)) {
    throw new UnsupportedValueError(`cannot export to "${String(format)}" (supported: ${Object.keys(EXPORT_FORMATS).join(', ')})`)
  }
  const baseName = (value.name || 'image').replace(/^.*[\\/]/, '').replace(/(\.nii)?(\.gz)?$|\.[^.]*$/i, '') || 'image'
  return write(value, format, baseName)
}
