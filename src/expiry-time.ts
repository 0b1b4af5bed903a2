// An expiry time as voxcache keeps it: the text Date.toISOString() gives, for years 0 to 9999 only, so
// that two expiry times compare as text (the index compares its `expires_at` column with `<=`, through
// its SQL index; a year past 9999 would be written "+010000-…", which sorts before "2026-…"). One
// check, used by the client (before a buffer is detached), the worker's facade and the record decoder.
import { UnsupportedValueError } from './errors.js'

const FIRST = Date.parse('0000-01-01T00:00:00.000Z')
const LAST = Date.parse('9999-12-31T23:59:59.999Z')

/**
 * `expiresAt` as the cache keeps it (ISO 8601 UTC text), or undefined when it is not given. A time
 * already past is accepted: the value is then expired at once.
 * @throws {UnsupportedValueError} when it is neither a valid Date nor finite epoch milliseconds in years 0 to 9999.
 */
export function expiryTime(value: unknown): string | undefined {
  if (value === undefined) return undefined
  const ms = value instanceof Date ? value.getTime() : value
  if (typeof ms !== 'number' || !(ms >= FIRST && ms <= LAST)) {
    const shown = value instanceof Date ? 'an invalid Date' : typeof value === 'number' ? String(value) : typeof value
    throw new UnsupportedValueError(`expiresAt must be a Date or epoch milliseconds in years 0 to 9999, not ${shown}`)
  }
  return new Date(ms).toISOString()
}

/** Whether `text` is an expiry time exactly as expiryTime writes it (what a record header may hold). */
export function isExpiryText(text: unknown): text is string {
  if (typeof text !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(text)) return false
  const ms = Date.parse(text)
  return !Number.isNaN(ms) && new Date(ms).toISOString() === text
}
