import { describe as group, expect, it } from 'vitest'
import { fromWire, toWire, type WireThrown } from './error-channel.js'
import { CacheFullError, CorruptEntryError, DecodeError, InvalidImportError, KeyMismatchError, SchemaVersionError, VoxCacheError, WorkerStalledError } from './errors.js'

/** Through structured clone, as postMessage carries it. */
const across = (thrown: unknown) => fromWire(structuredClone(toWire(thrown)))

group('the error channel', () => {
  it('revives each class with its code, entryId, message and cause chain', () => {
    const newer = new SchemaVersionError('schema 3 is newer than this voxcache (2)', { entryId: 'a'.repeat(64) })
    const back = across(new InvalidImportError(`written by a newer voxcache: ${newer.message}`, { cause: newer })) as InvalidImportError
    expect(back).toBeInstanceOf(InvalidImportError)
    expect(back).toBeInstanceOf(VoxCacheError)
    expect(back.code).toBe('INVALID_IMPORT')
    expect(back.message).toBe(`written by a newer voxcache: entry ${'a'.repeat(64)} schema 3 is newer than this voxcache (2)`)
    const cause = back.cause as SchemaVersionError
    expect(cause).toBeInstanceOf(SchemaVersionError)
    expect(cause.entryId).toBe('a'.repeat(64))
    expect(cause.message).toBe(newer.message)
    expect(back.stack).toContain('(in the voxcache worker)')

    const corrupt = across(new CorruptEntryError('b'.repeat(64), 'body checksum mismatch')) as CorruptEntryError
    expect(corrupt).toBeInstanceOf(CorruptEntryError)
    expect([corrupt.entryId, corrupt.code, corrupt.message]).toEqual(['b'.repeat(64), 'CORRUPT_ENTRY', `entry ${'b'.repeat(64)} is corrupt: body checksum mismatch`])
    expect('cause' in corrupt).toBe(false)

    const locked = across(new KeyMismatchError('is sealed under another key', { entryId: 'c'.repeat(64) })) as KeyMismatchError
    expect(locked).toBeInstanceOf(KeyMismatchError)
    expect([locked.entryId, locked.code, locked.message]).toEqual(['c'.repeat(64), 'KEY_MISMATCH', `entry ${'c'.repeat(64)} is sealed under another key`])
    const atOpen = across(new KeyMismatchError('this cache is protected by another key')) as KeyMismatchError
    expect([atOpen.entryId, atOpen.message]).toEqual([undefined, 'this cache is protected by another key'])

    // Made on the main thread by the watchdog, but a cause chain may carry it across too.
    const stalled = across(new DecodeError('wrapped', { cause: new WorkerStalledError('no progress for 30 s') })) as Error
    expect(stalled.cause).toBeInstanceOf(WorkerStalledError)
    expect((stalled.cause as WorkerStalledError).code).toBe('WORKER_STALLED')
  })

  it('carries foreign causes: a DOMException, a TypeError, the bare number itk-wasm throws, a string', () => {
    const quota = across(new CacheFullError('full', { cause: new DOMException('quota', 'QuotaExceededError') })) as Error
    expect(quota).toBeInstanceOf(CacheFullError)
    expect((quota.cause as Error).name).toBe('QuotaExceededError')
    const decode = across(new DecodeError('x.nii.gz: gzip stream is truncated', { cause: new TypeError('Failed to fetch') })) as Error
    expect(decode.cause).toBeInstanceOf(Error)
    expect((decode.cause as Error).name).toBe('TypeError')
    expect((across(new DecodeError('itk', { cause: 7 })) as Error).cause).toBe(7)
    expect(across('sql.js says no')).toBe('sql.js says no')
  })

  it('does not turn an app error of the same name into ours, and reads what plain Comlink sends', () => {
    class DecodeErrorOfTheApp extends Error {
      override name = 'DecodeError'
    }
    const theirs = across(new DecodeErrorOfTheApp('their own'))
    expect(theirs).not.toBeInstanceOf(DecodeError)
    expect((theirs as Error).name).toBe('DecodeError')
    // Comlink's own handler sends { isError, value: { message, name, stack } }.
    const plain: WireThrown = { isError: true, value: { message: 'boom', name: 'RangeError', stack: 'RangeError: boom\n    at x' } }
    const back = fromWire(plain) as Error
    expect(back).toBeInstanceOf(Error)
    expect([back.name, back.message]).toEqual(['RangeError', 'boom'])
  })

  it('stops a cause chain that loops, and values that do not clone become errors', () => {
    const a = new VoxCacheError('a') as Error & { cause?: unknown }
    a.cause = a
    let depth = 0
    for (let e: unknown = across(a); e instanceof Error; e = e.cause) depth++
    expect(depth).toBe(9)
    const fn = across(() => 1) as Error
    expect(fn).toBeInstanceOf(Error)
  })
})
