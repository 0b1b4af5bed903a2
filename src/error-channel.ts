// The one channel errors take across the worker boundary: a Comlink 'throw' handler, installed on
// both sides, that carries every field voxcache's errors have (name, code, message, entryId, stack)
// and their cause, recursively, and revives them to their classes on the main thread. Not exported
// from the package: apps see only the classes.
import * as Comlink from 'comlink'
import { CacheFullError, ClosedError, CorruptEntryError, DecodeError, InvalidImportError, InvalidKeyError, KeyMismatchError, SchemaVersionError, StorageUnavailableError, UnsupportedFormatError, UnsupportedValueError, VoxCacheError, WorkerStalledError } from './errors.js'
import { describeThrown } from './thrown.js'

/**
 * A thrown value as plain data. The shape is Comlink's own (`isError`, `value` with message, name,
 * stack) with fields added, so that a Comlink endpoint of the app's that knows nothing of voxcache
 * still reads it, and so that errors from such endpoints still read here.
 */
export type WireThrown =
  | { isError: true; value: WireError }
  | { isError: false; value: unknown }

export interface WireError {
  name: string
  message: string
  stack?: string
  code?: string
  entryId?: string
  cause?: WireThrown
}

const classes: Record<string, new (message: string, options?: { cause?: unknown }) => VoxCacheError> = {
  VoxCacheError,
  DecodeError,
  UnsupportedFormatError,
  CacheFullError,
  StorageUnavailableError,
  InvalidKeyError,
  UnsupportedValueError,
  InvalidImportError,
  ClosedError,
  WorkerStalledError,
}

/** Causes nest; past this depth the rest of the chain is dropped. */
const MAX_CAUSES = 8

/** Plain data for a thrown value: errors field by field (cause included), anything else as it is if it clones. */
export function toWire(thrown: unknown, depth = 0): WireThrown {
  if (!(thrown instanceof Error)) {
    try {
      return { isError: false, value: structuredClone(thrown) }
    } catch {
      return { isError: true, value: { name: 'Error', message: describeThrown(thrown) } }
    }
  }
  const value: WireError = { name: thrown.name, message: thrown.message }
  if (thrown.stack) value.stack = thrown.stack
  const { code, entryId } = thrown as { code?: unknown; entryId?: unknown }
  if (typeof code === 'string') value.code = code
  if (typeof entryId === 'string') value.entryId = entryId
  if ('cause' in thrown && depth < MAX_CAUSES) value.cause = toWire(thrown.cause, depth + 1)
  return { isError: true, value }
}

/** The thrown value again: voxcache's errors as their classes (matched by name and code), others as Error. */
export function fromWire(wire: WireThrown): unknown {
  if (!wire.isError) return wire.value
  const w = wire.value
  const options = w.cause === undefined ? undefined : { cause: fromWire(w.cause) }
  const Class = classes[w.name]
  let error: Error
  if (w.name === 'CorruptEntryError' && w.code === 'CORRUPT_ENTRY') {
    error = new CorruptEntryError(w.entryId ?? 'unknown', '', options)
  } else if (w.name === 'SchemaVersionError' && w.code === 'SCHEMA_VERSION') {
    error = new SchemaVersionError('', { ...options, entryId: w.entryId })
  } else if (w.name === 'KeyMismatchError' && w.code === 'KEY_MISMATCH') {
    error = new KeyMismatchError('', { ...options, entryId: w.entryId })
  } else if (Class && w.code === new Class('').code) {
    error = new Class(w.message, options)
  } else {
    // Not one of ours (or from an endpoint that does not send codes): an Error with its fields.
    error = new Error(w.message, options)
    error.name = w.name
    if (w.code !== undefined) Object.assign(error, { code: w.code })
  }
  error.message = w.message
  if (w.stack) error.stack = `${w.name}: ${w.message}\n    (in the voxcache worker)\n${w.stack.split('\n').slice(1).join('\n')}`
  return error
}

let installed = false

/**
 * Replaces Comlink's 'throw' handler with this channel, in the module instance of Comlink that this
 * code imports. Called by the worker before it exposes the cache, and by the client before it wraps it.
 */
export function installErrorChannel(): void {
  if (installed) return
  installed = true
  const builtIn = Comlink.transferHandlers.get('throw')!
  Comlink.transferHandlers.set('throw', {
    canHandle: builtIn.canHandle,
    serialize: (marked) => [toWire((marked as { value: unknown }).value), []],
    deserialize: (wire) => {
      throw fromWire(wire as WireThrown)
    },
  })
}
