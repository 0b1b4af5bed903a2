import { initChecksum } from './checksum.js'
import { initZstd } from './zstd.js'

export * from './body.js'
export * from './record.js'
export { checkRegion, readRegion, type Region } from './region.js'
export { CHUNK_BYTES, isSealed, PREFIX2_BYTES } from './layout.js'
export { createKeyring, type Keyring, type Keyrings } from './seal.js'
export { classify, imageInfoOf, isImage, reconstruct, type ImageHeader } from './values.js'

/** Loads the codec's wasm: the hashers (embedded) and zstd (from `zstdWasm`, a URL or the bytes). */
export async function initCodec(zstdWasm: string | ArrayBuffer | Uint8Array): Promise<void> {
  await Promise.all([initChecksum(), initZstd(zstdWasm)])
}
