// zstd through @bokuweb/zstd-wasm's emscripten module, used directly: its simple API copies whole
// buffers in and out of wasm memory at once, which for a 512 MiB volume would grow the wasm heap past a
// gigabyte. Here data moves one frame at a time through two reusable heap buffers.
import { Module, waitInitialized } from 'zstd-wasm:module.js'

/** Instantiates the runtime's wasm itself (Emscripten's `instantiateWasm`): from a module compiled elsewhere. */
export interface WasmHook {
  instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object
}

interface ZstdModule {
  init(source: string | ArrayBuffer | Uint8Array | undefined): void
  instantiateWasm?: WasmHook['instantiateWasm']
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

/**
 * Loads the zstd wasm from a URL (in the browser), from its bytes (in Node), or through a hook that
 * instantiates a module compiled elsewhere (the worker: worker/cache.ts, wasmModule). Idempotent.
 */
export function initZstd(source: string | ArrayBuffer | Uint8Array | WasmHook): Promise<void> {
  initialized ??= (async () => {
    if (typeof source === 'object' && 'instantiateWasm' in source) {
      // The runtime takes this hook before any source of its own (@bokuweb/zstd-wasm's dist/web/zstd.js, init).
      zstd.instantiateWasm = source.instantiateWasm
      zstd.init(undefined)
    } else zstd.init(source)
    await waitInitialized()
  })()
  return initialized
}

let srcPtr = 0
let srcCap = 0
let dstPtr = 0
let dstCap = 0

function heapBuffers(srcSize: number, dstSize: number): void {
  // A failed malloc leaves the capacity at 0, so the next call asks again instead of reusing a null
  // pointer forever (one oversized frame must not break zstd for the rest of the worker's life).
  if (srcSize > srcCap) {
    if (srcPtr) zstd._free(srcPtr)
    srcPtr = zstd._malloc(srcSize)
    srcCap = srcPtr ? srcSize : 0
  }
  if (dstSize > dstCap) {
    if (dstPtr) zstd._free(dstPtr)
    dstPtr = zstd._malloc(dstSize)
    dstCap = dstPtr ? dstSize : 0
  }
  if (!srcPtr || !dstPtr) throw new Error('zstd: out of wasm memory')
}

const ZSTD_MAGIC = 0xfd2fb528
/** zstd's largest block; every block that yields bytes takes at least 4 stored bytes (3 header + 1). */
const BLOCK_MAX = 128 * 1024
/** The most of a frame that checkFrameHeader reads: magic, descriptor, window, dictionary id, 8-byte size. */
export const FRAME_HEADER_MAX = 4 + 1 + 1 + 4 + 8

/**
 * Checks a frame's header (RFC 8878 §3.1.1) against the raw size the record expects of it, without
 * decompressing: a record can then be refused before its output is allocated, whatever its header
 * claims. `head` is the frame's first bytes (up to FRAME_HEADER_MAX), `stored` its whole size. voxcache
 * writes single frames with their content size and no dictionary; anything else is refused.
 * @throws Error naming what is wrong.
 */
export function checkFrameHeader(head: Uint8Array, stored: number, expected: number): void {
  if (head.byteLength < 6 || stored < 6) throw new Error('zstd frame shorter than a frame header')
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength)
  if (dv.getUint32(0, true) !== ZSTD_MAGIC) throw new Error('not a zstd frame (bad magic)')
  const descriptor = head[4]!
  const sizeFlag = descriptor >> 6
  const singleSegment = (descriptor >> 5) & 1
  if (descriptor & 0x08) throw new Error('zstd frame header has its reserved bit set')
  if (descriptor & 0x03) throw new Error('zstd frame needs a dictionary')
  const sizeBytes = [singleSegment, 2, 4, 8][sizeFlag]!
  if (sizeBytes === 0) throw new Error('zstd frame does not declare its content size')
  const at = 5 + (singleSegment ? 0 : 1)
  if (head.byteLength < at + sizeBytes || stored < at + sizeBytes) throw new Error('zstd frame header is cut short')
  const declared =
    sizeBytes === 1 ? head[at]!
    : sizeBytes === 2 ? dv.getUint16(at, true) + 256
    : sizeBytes === 4 ? dv.getUint32(at, true)
    : dv.getUint32(at + 4, true) * 2 ** 32 + dv.getUint32(at, true)
  if (declared !== expected) throw new Error(`zstd frame declares ${declared} bytes, the record ${expected}`)
  const checksumBytes = descriptor & 0x04 ? 4 : 0
  if (stored < at + sizeBytes + checksumBytes + Math.max(3, 4 * Math.ceil(expected / BLOCK_MAX))) {
    throw new Error(`a zstd frame of ${stored} bytes cannot hold ${expected} bytes`)
  }
}

/**
 * Compresses one frame into `out` at `at` when the result is at most `max` bytes; returns its length,
 * or -1 when it is larger (nothing written).
 */
export function compressFrameInto(chunk: Uint8Array, out: Uint8Array, at: number, max: number, level = LEVEL): number {
  const bound = zstd._ZSTD_compressBound(chunk.byteLength)
  heapBuffers(chunk.byteLength, bound)
  zstd.HEAPU8.set(chunk, srcPtr)
  const written = zstd._ZSTD_compress(dstPtr, bound, srcPtr, chunk.byteLength, level)
  if (zstd._ZSTD_isError(written)) throw new Error(`zstd compression failed (code ${written})`)
  if (written > max || at + written > out.byteLength) return -1
  out.set(zstd.HEAPU8.subarray(dstPtr, dstPtr + written), at)
  return written
}

/** Compresses one frame; returns it as its own copy. */
export function compressFrame(chunk: Uint8Array, level = LEVEL): Uint8Array {
  const bound = zstd._ZSTD_compressBound(chunk.byteLength)
  heapBuffers(chunk.byteLength, bound)
  zstd.HEAPU8.set(chunk, srcPtr)
  const written = zstd._ZSTD_compress(dstPtr, bound, srcPtr, chunk.byteLength, level)
  if (zstd._ZSTD_isError(written)) throw new Error(`zstd compression failed (code ${written})`)
  return zstd.HEAPU8.slice(dstPtr, dstPtr + written)
}

/** Compresses `raw` in frames of `frameSize`; returns each compressed frame as its own copy. */
export function compressFrames(raw: Uint8Array, frameSize = FRAME_SIZE, level = LEVEL): Uint8Array[] {
  const frames: Uint8Array[] = []
  for (let at = 0; at < raw.byteLength; at += frameSize) {
    frames.push(compressFrame(raw.subarray(at, Math.min(at + frameSize, raw.byteLength)), level))
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
  // Before the wasm heap grows to what the frame asks for.
  checkFrameHeader(frame.subarray(0, FRAME_HEADER_MAX), frame.byteLength, expected)
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
 * Every frame's header is checked against its share of `rawLength` first, so a record that lies about
 * its size is refused before the output is allocated.
 * @throws Error when a frame is malformed or does not decompress to the expected length.
 */
export function decompressFrames(
  body: Uint8Array,
  frameSizes: readonly number[],
  rawLength: number,
  frameSize: number,
): Uint8Array {
  let at = 0
  for (let i = 0; i < frameSizes.length; i++) {
    const size = frameSizes[i]!
    checkFrameHeader(body.subarray(at, at + Math.min(size, FRAME_HEADER_MAX)), size, Math.min(frameSize, rawLength - i * frameSize))
    at += size
  }
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
