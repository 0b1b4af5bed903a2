// What decode learns of an input on the page before anything is sent to the worker: the SHA-256 of its
// bytes, and whether it is a DICOM Part 10 file. With these alone the worker finds a cached decode, so
// a hit moves no input bytes at all (worker/decode/decode.ts, knownDecodeId).
import { sha256Hex } from './operation-id.js'

/** The SHA-256 of an input's bytes, and whether 'DICM' stands at byte 128 (see worker/decode/dicom.ts isPart10). */
export interface InputDigest {
  sha256: string
  part10: boolean
}

/**
 * Digests of the Blobs (Files included) this page has hashed, while they live. A Blob is an immutable
 * snapshot: its bytes never change, and Chromium refuses to read a File whose file on disk changed
 * since it was picked (NotReadableError) rather than hand out other bytes. So the digest of a Blob
 * object stays its digest. It is keyed by the object, never by name, size or date: another File with the
 * same name, size and date is another object, and is hashed itself.
 */
const remembered = new WeakMap<Blob, Promise<InputDigest>>()

/** The digest of bytes, through WebCrypto (native, off the main thread; faster here than hash-wasm: bench/results-decode.md). */
export async function digestOf(bytes: Uint8Array): Promise<InputDigest> {
  const part10 = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
  return { sha256: await sha256Hex(bytes), part10 }
}

/**
 * The digest of a Blob: remembered, or read and hashed now. When it was read now, its bytes too, so
 * that a miss sends them without reading the Blob again. A read that fails is not remembered.
 */
export async function blobDigest(blob: Blob): Promise<{ digest: InputDigest; bytes?: Uint8Array }> {
  const known = remembered.get(blob)
  if (known) return { digest: await known }
  const read = blob.arrayBuffer().then((buffer) => new Uint8Array(buffer))
  const digest = read.then(digestOf)
  remembered.set(blob, digest)
  digest.catch(() => {
    if (remembered.get(blob) === digest) remembered.delete(blob)
  })
  return { digest: await digest, bytes: await read }
}
