// zstd through @bokuweb/zstd-wasm's emscripten module, used directly: its simple API copies whole
// buffers in and out of wasm memory at once, which for a 512 MiB volume would grow the wasm heap past a
// gigabyte. Here data moves one frame at a time through two reusable heap buffers.
import { Module, waitInitialized } from 'zstd-wasm:module.js'

interface ZstdModule {
  init(source: string | ArrayBuffer | Uint8Array): void
  HEAPU8: Uint8Array
  _malloc(size: number): number
  _free(ptr: number): void
  _ZSTD_compress(dst: number, dstCapacity: number, src: number, srcSize: number, level: number): number
  _ZSTD_compressBound(size: number): number
  _ZSTD_decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number
  _ZSTD_isError(code: number): number
}

const zstd = Module as unknown as ZstdModule
let initialized: Promise<void> | undefined

/**
 * Frames are compressed independently, so the wasm heap never holds more than one of them. 1 MiB keeps
 * that heap near 2 MiB (the benchmark saw 4 MiB frames add 0.5–0.9× a ch2bet-sized payload to a
 * retrieve's peak memory) and costs little ratio: zstd level 1 looks back only 512 KiB anyway.
 * Records carry their frame size, so this can change without invalidating stored ones.
 */
export const FRAME_SIZE = 1024 * 1024
export const MIN_FRAME_SIZE = 64 * 1024
export const MAX_FRAME_SIZE = 64 * 1024 * 1024
export const LEVEL = 1

/** Loads the zstd wasm from a URL (in the browser) or from its bytes (in Node). Idempotent. */
export function initZstd(source: string | ArrayBuffer | Uint8Array): Promise<void> {
  initialized ??= (async () => {
    zstd.init(source)
    await waitInitialized()
  })()
  return initialized
}

let srcPtr = 0
let srcCap = 0
let dstPtr = 0
let dstCap = 0

function heapBuffers(srcSize: number, dstSize: number): void {
  if (srcSize > srcCap) {
    if (srcPtr) zstd._free(srcPtr)
    srcPtr = zstd._malloc(srcSize)
    srcCap = srcSize
  }
  if (dstSize > dstCap) {
    if (dstPtr) zstd._free(dstPtr)
    dstPtr = zstd._malloc(dstSize)
    dstCap = dstSize
  }
  if (!srcPtr || !dstPtr) throw new Error('zstd: out of wasm memory')
}

/** Compresses `raw` in frames of `frameSize`; returns each compressed frame as its own copy. */
export function compressFrames(raw: Uint8Array, frameSize = FRAME_SIZE, level = LEVEL): Uint8Array[] {
  const frames: Uint8Array[] = []
  for (let at = 0; at < raw.byteLength; at += frameSize) {
    const chunk = raw.subarray(at, Math.min(at + frameSize, raw.byteLength))
    const bound = zstd._ZSTD_compressBound(chunk.byteLength)
    heapBuffers(chunk.byteLength, bound)
    zstd.HEAPU8.set(chunk, srcPtr)
    const written = zstd._ZSTD_compress(dstPtr, bound, srcPtr, chunk.byteLength, level)
    if (zstd._ZSTD_isError(written)) throw new Error(`zstd compression failed (code ${written})`)
    frames.push(zstd.HEAPU8.slice(dstPtr, dstPtr + written))
  }
  return frames
}

/**
 * Decompresses one frame into `out` at `outAt`; it must fill min(frameSize, rest of out) bytes.
 * Synchronous from copy-in to copy-out, so the shared heap buffers are never used by two callers.
 * @throws Error when the frame is malformed or does not decompress to that length.
 */
export function decompressFrameInto(frame: Uint8Array, out: Uint8Array, outAt: number, frameSize: number): number {
  const expected = Math.min(frameSize, out.byteLength - outAt)
  heapBuffers(frame.byteLength, Math.max(expected, 1))
  zstd.HEAPU8.set(frame, srcPtr)
  const got = zstd._ZSTD_decompress(dstPtr, Math.max(expected, 1), srcPtr, frame.byteLength)
  if (zstd._ZSTD_isError(got) || got !== expected) {
    throw new Error(`zstd frame at raw byte ${outAt} does not decompress to ${expected} bytes`)
  }
  out.set(zstd.HEAPU8.subarray(dstPtr, dstPtr + got), outAt)
  return got
}

/**
 * Decompresses frames (their stored sizes in `frameSizes`) into one new buffer of `rawLength` bytes.
 * @throws Error when a frame is malformed or does not decompress to the expected length.
 */
export function decompressFrames(
  body: Uint8Array,
  frameSizes: readonly number[],
  rawLength: number,
  frameSize: number,
): Uint8Array {
  const out = new Uint8Array(rawLength)
  let inAt = 0
  let outAt = 0
  for (const size of frameSizes) {
    outAt += decompressFrameInto(body.subarray(inAt, inAt + size), out, outAt, frameSize)
    inAt += size
  }
  if (outAt !== rawLength || inAt !== body.byteLength) throw new Error('zstd frames do not cover the body')
  return out
}
