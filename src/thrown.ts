/** The message of anything thrown, including the strings sql.js throws and the numbers itk-wasm throws. */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message
  if (typeof thrown === 'number') return `native error code ${thrown}`
  return String(thrown)
}
