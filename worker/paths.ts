// Where a cache keeps its files, inside its own folder of the backend.

export const PAYLOADS = 'payloads'
export const QUARANTINE = 'quarantine'
/** Written and removed at once, under the lock, to learn whether the quota has room. */
export const QUOTA_PROBE = 'quota-probe'

export const payloadPath = (id: string): string => `${PAYLOADS}/${id}.vxc`
/** A chunk past the first of a format-2 record: named by its entry and its SHA-256, so a replaced value's chunks never share a name with the new one's (unless they hold the same bytes). */
export const chunkPath = (id: string, sha256: string): string => `${PAYLOADS}/${id}.${sha256}.vxb`
/** The entry a chunk file belongs to and its SHA-256, from its name; undefined for other names. */
export function chunkName(name: string): { id: string; sha256: string } | undefined {
  const m = /^([0-9a-f]{64})\.([0-9a-f]{64})\.vxb$/.exec(name)
  return m ? { id: m[1]!, sha256: m[2]! } : undefined
}
export const quarantinePath = (id: string): string => `${QUARANTINE}/${id}.${Date.now()}.vxc`
