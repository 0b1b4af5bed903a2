import canonicalize from 'canonicalize'
import { InvalidKeyError } from './errors.js'
import { jsonProblem, type JsonCheck } from './json-check.js'

/** An operation id: lowercase hex SHA-256. */
export type OperationId = string

const HEX64 = /^[0-9a-f]{64}$/

/** True when `id` has the shape of an operation id (64 lowercase hex digits). */
export function isOperationId(id: unknown): id is OperationId {
  return typeof id === 'string' && HEX64.test(id)
}

/** @throws {InvalidKeyError} when `id` is not 64 lowercase hex digits. */
export function assertOperationId(id: unknown): asserts id is OperationId {
  if (!isOperationId(id)) {
    throw new InvalidKeyError(`not an operation id (64 lowercase hex digits): ${JSON.stringify(String(id)).slice(0, 80)}`)
  }
}

/** Lowercase hex SHA-256 of bytes, through WebCrypto (present in browsers, workers and Node). */
export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  // WebCrypto refuses views on SharedArrayBuffer: hash a copy of those.
  const input = view.buffer instanceof ArrayBuffer ? view : view.slice()
  const digest = await crypto.subtle.digest('SHA-256', input as Uint8Array<ArrayBuffer>)
  return toHex(new Uint8Array(digest))
}

function toHex(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

/**
 * The argument that names input content: `{ sha256: <hex of the bytes> }`. Files are keyed by what
 * they contain, never by name or path, so an edited file never finds a stale result.
 */
export async function contentRef(bytes: Uint8Array | ArrayBuffer | Blob): Promise<{ sha256: string }> {
  const data = bytes instanceof Blob ? new Uint8Array(await bytes.arrayBuffer()) : bytes
  return { sha256: await sha256Hex(data) }
}

/** The argument that names another cached result, making pipelines a Merkle DAG. */
export function ref(id: OperationId): { ref: OperationId } {
  assertOperationId(id)
  return { ref: id }
}

/** What an operation's arguments must be: plain, canonicalizable JSON; bytes go in by contentRef(). */
const KEY_CHECK: JsonCheck = {
  wellFormed: true,
  hint: (v) => (ArrayBuffer.isView(v) || v instanceof ArrayBuffer ? 'hash its bytes with contentRef() instead' : undefined),
}

const HASH_KEYS = ['ref', 'sha256'] as const

/** `{ref}` and `{sha256}` objects must hold real hashes, or they would name nothing. */
function assertReferences(value: unknown, path: string): void {
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertReferences(item, `${path}[${i}]`))
    return
  }
  const keys = Object.keys(value)
  const record = value as Record<string, unknown>
  if (keys.length === 1 && (HASH_KEYS as readonly string[]).includes(keys[0]!)) {
    const key = keys[0]!
    if (!isOperationId(record[key])) {
      throw new InvalidKeyError(`${path}.${key} must be 64 lowercase hex digits`)
    }
    return
  }
  for (const key of keys) assertReferences(record[key], `${path}.${key}`)
}

/**
 * The canonical text an operation id hashes: RFC 8785 (JCS) JSON of `{"v":1,"op":op,"args":args}`.
 * @throws {InvalidKeyError} when `op` is not a non-empty string or `args` is not plain JSON.
 */
export function canonicalOperation(op: string, args: unknown): string {
  if (typeof op !== 'string' || op.length === 0) throw new InvalidKeyError('op must be a non-empty string')
  for (const [value, path] of [[op, 'op'], [args, 'args']] as const) {
    const problem = jsonProblem(value, path, KEY_CHECK)
    if (problem) throw new InvalidKeyError(problem)
  }
  assertReferences(args, 'args')
  const text = canonicalize({ v: 1, op, args })
  if (text === undefined) throw new InvalidKeyError('args cannot be canonicalized')
  return text
}

/**
 * The id of an operation: lowercase hex SHA-256 of its canonical JSON. Pass input content as
 * `await contentRef(bytes)` and earlier results as `ref(id)`.
 * @throws {InvalidKeyError} when `op` or `args` is not plain JSON (undefined, NaN, functions, class
 * instances and typed arrays are refused, not coerced).
 */
export async function operationId(op: string, args: unknown): Promise<OperationId> {
  const text = canonicalOperation(op, args)
  return sha256Hex(new TextEncoder().encode(text))
}
