// decode's `metadata` option. 'strip-phi' applies DICOM PS3.15's basic profile (phi-table.ts) to what
// voxcache keeps of a file besides its pixels — the image's metadata, where itk-wasm's GDCM reader puts
// the data set's attributes under `gggg|eeee` keys — and drops every file name, before anything is
// stored or handed back.
import { UnsupportedValueError } from '../../src/errors.js'
import { sha256Hex } from '../../src/operation-id.js'
import type { DecodeOptions, Image } from '../../src/types.js'
import { BASIC_PROFILE, PRIVATE_ATTRIBUTES, PROFILE_EDITION } from './phi-table.js'

export type MetadataMode = NonNullable<DecodeOptions['metadata']>

const MODES: readonly MetadataMode[] = ['keep', 'strip-phi']

/**
 * The metadata mode of decode's options, 'keep' when none is given. Unknown keys are refused, not
 * ignored: a misspelt `metadata` would otherwise keep what the caller asked to remove.
 * @throws {UnsupportedValueError} when `options` is not an object, has another key, or names another mode.
 */
export function metadataMode(options: unknown): MetadataMode {
  if (options === undefined) return 'keep'
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new UnsupportedValueError(`decode options must be an object like { metadata: 'strip-phi' }, not ${describe(options)}`)
  }
  const extra = Object.keys(options).find((k) => k !== 'metadata')
  if (extra !== undefined) throw new UnsupportedValueError(`decode has no option "${extra}" (its only option is metadata: 'keep' | 'strip-phi')`)
  const mode = (options as DecodeOptions).metadata
  if (mode === undefined) return 'keep'
  if (!MODES.includes(mode)) throw new UnsupportedValueError(`decode's metadata option must be 'keep' or 'strip-phi', not ${describe(mode)}`)
  return mode
}

const describe = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v).slice(0, 60) : v === null ? 'null' : typeof v)

const TAG = /^([0-9a-f]{4})[|,]([0-9a-f]{4})$/i
const exact = new Set<string>()
const patterns: RegExp[] = []
for (const [tag] of BASIC_PROFILE) {
  if (tag.includes('x')) patterns.push(new RegExp(`^${tag.replace(/x/g, '[0-9A-F]')}$`))
  else exact.add(tag)
}

/**
 * True when `key` names an attribute the basic profile removes: a row of the table, or a private
 * attribute (odd group). Keys are itk-wasm's `gggg|eeee` (lower-case hex) or `gggg,eeee`, either case;
 * other keys (a NIfTI or NRRD reader's) are not DICOM attributes.
 */
export function isProfileAttribute(key: string): boolean {
  const m = TAG.exec(key)
  if (!m) return false
  if (parseInt(m[1]!, 16) % 2 === 1) return true
  const tag = `${m[1]},${m[2]}`.toUpperCase()
  return exact.has(tag) || patterns.some((p) => p.test(tag))
}

/** A copy of `metadata` without the basic profile's attributes. */
export function stripMetadata<V>(metadata: Map<string, V>): Map<string, V> {
  return new Map([...metadata].filter(([key]) => !isProfileAttribute(key)))
}

/**
 * `image` as `mode` wants it: for 'strip-phi', without the profile's attributes and without a name (it
 * is a file's name). The pixels are not touched. A 'keep' image is returned as it is.
 */
export function applyMode(image: Image, mode: MetadataMode): Image {
  if (mode === 'keep') return image
  return { ...image, name: '', metadata: stripMetadata(image.metadata) }
}

let tableDigest: Promise<string> | undefined

/**
 * What the mode adds to decode's operation id: nothing for 'keep' (so ids from before the option
 * still hit), the mode and a digest of the table for 'strip-phi' (so a table edited in a later
 * version never serves an image stripped under the old one).
 */
export async function modeArgs(mode: MetadataMode): Promise<{ metadata?: { mode: 'strip-phi'; table: string } }> {
  if (mode === 'keep') return {}
  tableDigest ??= sha256Hex(new TextEncoder().encode(JSON.stringify([PROFILE_EDITION, PRIVATE_ATTRIBUTES, BASIC_PROFILE])))
  return { metadata: { mode, table: await tableDigest } }
}
