// What decode learns of an input: the SHA-256 of its bytes, and whether it is a DICOM Part 10 file.
// With these alone the worker finds a cached decode (worker/decode/decode.ts, knownDecodeId). The
// worker reads and hashes the inputs (worker/service.ts, decode); the page only remembers the digests
// of the Blobs it gave, so that the same Blob is not read again.
import { sha256Hex } from './operation-id.js'

/** The SHA-256 of an input's bytes, and whether 'DICM' stands at byte 128 (see worker/decode/dicom.ts isPart10). */
export interface InputDigest {
  sha256: string
  part10: boolean
}

/**
 * One input of a decode as the page hands it to the worker: a Blob (a handle crosses, not its bytes)
 * with the digest the page remembers of it, if any; or bytes, transferred.
 */
export interface DecodeWireInput {
  name: string
  blob?: Blob
  digest?: InputDigest
  data?: Uint8Array
}

/**
 * Digests of the Blobs (Files included) the worker hashed for this page, while they live. A Blob is an
 * immutable snapshot: its bytes never change, and Chromium refuses to read a File whose file on disk
 * changed since it was picked (NotReadableError) rather than hand out other bytes. So the digest of a
 * Blob object stays its digest. It is keyed by the object, never by name, size or date: another File
 * with the same name, size and date is another object, and is hashed itself.
 */
const remembered = new WeakMap<Blob, InputDigest>()

/** The digest remembered for `blob`, if the worker hashed it for this page before. */
export function rememberedDigest(blob: Blob): InputDigest | undefined {
  return remembered.get(blob)
}

/** Remembers the digest the worker found for `blob`. */
export function rememberDigest(blob: Blob, digest: InputDigest): void {
  remembered.set(blob, digest)
}

/** The digest of bytes, through WebCrypto (native; faster here than hash-wasm: bench/results-decode.md). */
export async function digestOf(bytes: Uint8Array): Promise<InputDigest> {
  const part10 = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
  return { sha256: await sha256Hex(bytes), part10 }
}
