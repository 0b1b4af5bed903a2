// What decode is given, and how it reads and refuses it: the input file, its header text, and the
// DecodeError that names the file.
import { DecodeError } from '../../src/errors.js'

/** One input file, as the client hands it to the worker. */
export interface DecodeFile {
  name: string
  data: Uint8Array
  /** The SHA-256 of `data`, when this worker hashed these very bytes (then planDecode need not again). */
  sha256?: string
}

/** A DecodeError that names the file and the reason (and keeps what failed underneath as `cause`). */
export function fail(file: string, reason: string, cause?: unknown): DecodeError {
  return new DecodeError(`${file}: ${reason}`, cause === undefined ? undefined : { cause })
}

const latin1 = new TextDecoder('latin1')
/** Bytes as text, one char per byte (headers are ASCII; this never throws). */
export function ascii(bytes: Uint8Array): string {
  return latin1.decode(bytes)
}
