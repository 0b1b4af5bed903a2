import { initChecksum } from './checksum.js'
import { initZstd, type WasmHook } from './zstd.js'

export * from './body.js'
export * from './record.js'
export { checkRegion, readRegion, type Region } from './region.js'
export { CHUNK_BYTES, isSealed, PREFIX2_BYTES } from './layout.js'
export { createKeyring, type Keyring, type Keyrings } from './seal.js'
export { classify, imageInfoOf, isImage, reconstruct, type ImageHeader } from './values.js'

/** Loads the codec's wasm: the hashers (embedded) and zstd (from `zstdWasm`: a URL, the bytes, or a hook that instantiates it). */
export async function initCodec(zstdWasm: string | ArrayBuffer | Uint8Array | WasmHook): Promise<void> {
  await Promise.all([initChecksum(), initZstd(zstdWasm)])
}
