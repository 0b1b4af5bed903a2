import { describe, expect, it } from 'vitest'
import { deriveCacheKey, formatRecord, newSalt, parseRecord, PBKDF2_ITERATIONS, protectionState, SALT_BYTES } from './protect.js'

async function seal(key: CryptoKey, text: string): Promise<{ iv: Uint8Array<ArrayBuffer>; data: ArrayBuffer }> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  return { iv, data: await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(text)) }
}

describe('deriveCacheKey', () => {
  it('gives the same key for the same passphrase and salt, another for another passphrase or salt', async () => {
    const salt = newSalt()
    const key = await deriveCacheKey('correct horse', salt)
    expect(key.extractable).toBe(false)
    expect(key.algorithm).toMatchObject({ name: 'AES-GCM', length: 256 })
    const sealed = await seal(key, 'marker')
    const again = await deriveCacheKey('correct horse', salt)
    expect(new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, again, sealed.data))).toBe('marker')
    for (const other of [await deriveCacheKey('correct horse!', salt), await deriveCacheKey('correct horse', newSalt())]) {
      await expect(crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, other, sealed.data)).rejects.toThrow()
    }
  })

  it('refuses fewer iterations than the floor', async () => {
    await expect(deriveCacheKey('correct horse', newSalt(), PBKDF2_ITERATIONS - 1)).rejects.toThrow(/at least 600000/)
  })
})

describe('the record beside the cache', () => {
  it('reads back what it wrote', () => {
    const salt = newSalt()
    expect(salt).toHaveLength(SALT_BYTES)
    expect(parseRecord(formatRecord({ salt, iterations: PBKDF2_ITERATIONS, keyId: 'ab'.repeat(16) }))).toEqual({ salt, iterations: PBKDF2_ITERATIONS, keyId: 'ab'.repeat(16) })
  })

  it('is ignored when missing, damaged, short of iterations or of salt', () => {
    const good = JSON.parse(formatRecord({ salt: newSalt(), iterations: PBKDF2_ITERATIONS })) as Record<string, unknown>
    for (const text of [null, '', '{', 'null', JSON.stringify({ ...good, v: 2 }), JSON.stringify({ ...good, iterations: 1000 }), JSON.stringify({ ...good, salt: btoa('short') }), JSON.stringify({ ...good, salt: '%%' })]) {
      expect(parseRecord(text), String(text)).toBeUndefined()
    }
  })
})

describe('protectionState', () => {
  const record = { salt: newSalt(), iterations: PBKDF2_ITERATIONS, keyId: 'k1' }
  it('trusts the cache, not the record: a record beside a clear cache is stale', () => {
    expect(protectionState(null, undefined)).toEqual({ kind: 'clear', stale: false })
    expect(protectionState(null, record)).toEqual({ kind: 'clear', stale: true })
  })
  it('is locked only with a record for the key that protects the cache', () => {
    expect(protectionState({ keyId: 'k1', locked: true }, record)).toEqual({ kind: 'locked', keyId: 'k1', record })
    expect(protectionState({ keyId: 'k1', locked: true }, { ...record, keyId: undefined })).toMatchObject({ kind: 'locked' })
    expect(protectionState({ keyId: 'k2', locked: true }, record)).toEqual({ kind: 'no-salt', keyId: 'k2' })
    expect(protectionState({ keyId: 'k1', locked: true }, undefined)).toEqual({ kind: 'no-salt', keyId: 'k1' })
    expect(protectionState({ keyId: 'k1', locked: false }, undefined)).toEqual({ kind: 'unlocked', keyId: 'k1' })
  })
})
