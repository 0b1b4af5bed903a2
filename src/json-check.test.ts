import { expect, it } from 'vitest'
import { InvalidKeyError, UnsupportedValueError } from './errors.js'
import { assertJsonValue } from './codec/values.js'
import { jsonProblem, MAX_JSON_DEPTH } from './json-check.js'
import { canonicalOperation } from './operation-id.js'

const nest = (n: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < n; i++) v = [v]
  return v
}

it('one walker says why, and each caller throws its own class', () => {
  const sym = { a: 1, [Symbol('s')]: 2 }
  expect(jsonProblem(sym, 'meta')).toBe('meta has symbol keys')
  expect(() => assertJsonValue(sym, 'metadata')).toThrow(new UnsupportedValueError('metadata has symbol keys'))
  expect(() => canonicalOperation('op', { x: sym })).toThrow(new InvalidKeyError('args.x has symbol keys'))
  // Deep arguments are a typed error, not a stack overflow in canonicalization.
  expect(jsonProblem(nest(MAX_JSON_DEPTH), 'args')).toBeUndefined()
  expect(() => canonicalOperation('op', nest(MAX_JSON_DEPTH + 1))).toThrow(new InvalidKeyError(`args nests deeper than ${MAX_JSON_DEPTH} levels`))
  expect(() => canonicalOperation('op', nest(200_000))).toThrow(InvalidKeyError)
  // The hints differ: bytes in an operation's args are hashed by contentRef; a value may be bytes.
  expect(() => canonicalOperation('op', { b: new Uint8Array(1) })).toThrow(/args\.b is a Uint8Array, not plain JSON; hash its bytes with contentRef\(\) instead/)
  expect(() => assertJsonValue({ d: new Date(0) })).toThrow(/value\.d is a Date, not plain JSON; store images, typed arrays, ArrayBuffers or plain JSON/)
  // Lone surrogates: refused in ids (RFC 8785), kept in values (JSON escapes them).
  expect(jsonProblem({ s: '\ud800' }, 'v')).toBeUndefined()
  expect(jsonProblem({ s: '\ud800' }, 'v', { wellFormed: true })).toBe('v.s is a string with a lone surrogate')
})
