// Where a cache keeps its files, inside its own folder of the backend.

export const PAYLOADS = 'payloads'
export const QUARANTINE = 'quarantine'
/** Written and removed at once, under the lock, to learn whether the quota has room. */
export const QUOTA_PROBE = 'quota-probe'

export const payloadPath = (id: string): string => `${PAYLOADS}/${id}.vxc`
export const quarantinePath = (id: string): string => `${QUARANTINE}/${id}.${Date.now()}.vxc`
