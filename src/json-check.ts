// The one check of "is this plain JSON", for operation ids (InvalidKeyError) and for stored values and
// metadata (UnsupportedValueError): it says why not, and each caller wraps the reason in its own error.
// JSON.stringify would silently drop or coerce what it refuses (undefined → missing, NaN → null,
// Date → string, symbol keys → gone), which would make two different calls share an id, or store
// something other than what was given.

/** Deeper JSON than this is refused: nothing real nests so far, and recursion must not overflow. */
export const MAX_JSON_DEPTH = 256

export interface JsonCheck {
  /** Refuse strings and keys with lone surrogates (RFC 8785 canonical JSON cannot hold them). */
  wellFormed?: boolean
  /** Keys refused anywhere in the value. */
  reservedKeys?: ReadonlySet<string>
  /** What to say after "is a <class>, not plain JSON" for an object that is not plain. */
  hint?: (value: object) => string | undefined
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Why `value` is not plain JSON, naming where (`path`, then `.key` and `[i]`), or undefined when it is. */
export function jsonProblem(value: unknown, path: string, check: JsonCheck = {}): string | undefined {
  const seen = new Set<object>()
  let depth = 0
  const walk = (v: unknown, p: string): string | undefined => {
    switch (typeof v) {
      case 'string':
        return check.wellFormed && !v.isWellFormed() ? `${p} is a string with a lone surrogate` : undefined
      case 'boolean':
        return undefined
      case 'number':
        return Number.isFinite(v) ? undefined : `${p} is ${v}, which JSON cannot hold`
      case 'object':
        break
      default:
        return `${p} is ${typeof v}, not a JSON value`
    }
    if (v === null) return undefined
    if (seen.has(v)) return `${p} is a circular reference`
    if (++depth > MAX_JSON_DEPTH) return `${path} nests deeper than ${MAX_JSON_DEPTH} levels`
    seen.add(v)
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) return `${p}[${i}] is a hole in a sparse array`
        const problem = walk(v[i], `${p}[${i}]`)
        if (problem) return problem
      }
    } else if (isPlainObject(v)) {
      if (Object.getOwnPropertySymbols(v).length > 0) return `${p} has symbol keys`
      for (const [k, item] of Object.entries(v)) {
        if (check.wellFormed && !k.isWellFormed()) return `${p} has a key with a lone surrogate`
        if (check.reservedKeys?.has(k)) return `${p} has the reserved key "${k}"`
        const problem = walk(item, `${p}.${k}`)
        if (problem) return problem
      }
    } else {
      const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object with a prototype'
      const hint = check.hint?.(v)
      return `${p} is a ${name}, not plain JSON${hint ? `; ${hint}` : ''}`
    }
    seen.delete(v)
    depth--
    return undefined
  }
  return walk(value, path)
}
