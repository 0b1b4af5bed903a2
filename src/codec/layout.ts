// Record format 2's fixed-size parts: the 64-byte prefix and the 48-byte frame-table entries, and how
// a value is cut into frames. The README's "Record format 2" section is this file in prose; the
// header (JSON) and the checks are in record2.ts.
//
//   prefix (64 bytes, little-endian, never sealed)
//     0  "VXC2"
//     4  u32 flags: bit 0 sealed (AES-GCM, seal.ts); other bits zero
//     8  u32 stored header length H
//    12  u32 xxhash32 of prefix bytes 0..64 (this field read as zero) then the H stored header bytes
//    16  16 bytes key id (zero when not sealed)
//    32  12 bytes nonce base (zero when not sealed)
//    44  u32 frame count F
//    48  u64 table offset T = align8(64 + H)
//    56  8 bytes reserved, zero
//   64       header (UTF-8 JSON; AES-GCM ciphertext and tag when sealed), zero padding to T
//   T        frame table: F entries of 48 bytes
//   T + 48F  chunk 0's stored bytes (the body, when the value fits one chunk)
//
//   frame-table entry (48 bytes)
//     0  u64 raw offset          8  u32 raw length
//    12  u32 first slice        16  u32 slice count   (along the slowest axis; zero for non-images)
//    20  u32 chunk              24  u64 stored offset in that chunk
//    32  u32 stored length      36  u32 flags: bit 0 zstd (else stored as it is)
//    40  u64 xxhash64 of the stored bytes (zero when sealed: the GCM tag checks them)
import type { ImageHeader } from './values.js'
import { COMPONENT_ARRAYS, TYPED_ARRAYS, type TypedArrayName } from './values.js'

export const MAGIC2 = [0x56, 0x58, 0x43, 0x32] as const // "VXC2"
export const PREFIX2_BYTES = 64
export const ENTRY_BYTES = 48
export const FLAG_SEALED = 1
export const FRAME_ZSTD = 1
/** A frame holds about this many raw bytes: whole slices when a slice fits, else whole rows, else pixels. */
export const FRAME_TARGET = 1024 * 1024
/** No frame may be larger (a forged header must not buy a bigger buffer per frame). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024
/**
 * Stored bytes per chunk at most: a chunk fits IndexedDB (which refused 512 MiB, bench/results-large.md)
 * and crosses the worker boundary (postMessage refuses ~2 GiB) with room to spare.
 */
export const CHUNK_BYTES = 256 * 1024 * 1024

export const align8 = (n: number) => Math.ceil(n / 8) * 8

export interface Prefix2 {
  flags: number
  headerLength: number
  hash: number
  keyId: Uint8Array
  nonceBase: Uint8Array
  frameCount: number
  tableOffset: number
}

/** A u64 that must stay a safe integer; undefined when it does not (a forged or damaged field). */
export function getU64(dv: DataView, at: number): number | undefined {
  const lo = dv.getUint32(at, true)
  const hi = dv.getUint32(at + 4, true)
  return hi < 0x200000 ? hi * 0x1_0000_0000 + lo : undefined
}

export function setU64(dv: DataView, at: number, n: number): void {
  dv.setUint32(at, n % 0x1_0000_0000, true)
  dv.setUint32(at + 4, Math.floor(n / 0x1_0000_0000), true)
}

export function readPrefix2(bytes: Uint8Array): Prefix2 | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, PREFIX2_BYTES)
  const tableOffset = getU64(dv, 48)
  if (tableOffset === undefined) return undefined
  return {
    flags: dv.getUint32(4, true),
    headerLength: dv.getUint32(8, true),
    hash: dv.getUint32(12, true),
    keyId: bytes.subarray(16, 32),
    nonceBase: bytes.subarray(32, 44),
    frameCount: dv.getUint32(44, true),
    tableOffset,
  }
}

/** The 64 bytes of a prefix, its hash field zero (filled once the header is known). */
export function writePrefix2(out: Uint8Array, p: Omit<Prefix2, 'hash' | 'keyId' | 'nonceBase'> & { keyId?: Uint8Array; nonceBase?: Uint8Array }): void {
  out.set(MAGIC2, 0)
  if (p.keyId) out.set(p.keyId, 16)
  if (p.nonceBase) out.set(p.nonceBase, 32)
  const dv = new DataView(out.buffer, out.byteOffset, PREFIX2_BYTES)
  dv.setUint32(4, p.flags, true)
  dv.setUint32(8, p.headerLength, true)
  dv.setUint32(44, p.frameCount, true)
  setU64(dv, 48, p.tableOffset)
}

export interface FrameEntry {
  rawOffset: number
  rawLength: number
  firstSlice: number
  sliceCount: number
  chunk: number
  storedOffset: number
  storedLength: number
  flags: number
  /** xxhash64 of the stored bytes, 16 hex digits (as hash-wasm writes it). */
  hash: string
}

export function writeEntry(table: Uint8Array, i: number, e: FrameEntry): void {
  const dv = new DataView(table.buffer, table.byteOffset + i * ENTRY_BYTES, ENTRY_BYTES)
  setU64(dv, 0, e.rawOffset)
  dv.setUint32(8, e.rawLength, true)
  dv.setUint32(12, e.firstSlice, true)
  dv.setUint32(16, e.sliceCount, true)
  dv.setUint32(20, e.chunk, true)
  setU64(dv, 24, e.storedOffset)
  dv.setUint32(32, e.storedLength, true)
  dv.setUint32(36, e.flags, true)
  dv.setBigUint64(40, BigInt(`0x${e.hash}`), true)
}

/** An entry as stored; undefined when a u64 field is past 2^53. */
export function readEntry(table: Uint8Array, i: number): FrameEntry | undefined {
  const dv = new DataView(table.buffer, table.byteOffset + i * ENTRY_BYTES, ENTRY_BYTES)
  const rawOffset = getU64(dv, 0)
  const storedOffset = getU64(dv, 24)
  if (rawOffset === undefined || storedOffset === undefined) return undefined
  return {
    rawOffset,
    rawLength: dv.getUint32(8, true),
    firstSlice: dv.getUint32(12, true),
    sliceCount: dv.getUint32(16, true),
    chunk: dv.getUint32(20, true),
    storedOffset,
    storedLength: dv.getUint32(32, true),
    flags: dv.getUint32(36, true),
    hash: dv.getBigUint64(40, true).toString(16).padStart(16, '0'),
  }
}

export interface FrameLayout {
  /** Raw bytes per frame (the last frame may hold fewer). */
  frameBytes: number
  /** Raw bytes per index along the slowest axis (a slice of a 3-D image); 0 for values that are not images. */
  sliceBytes: number
}

/**
 * How a value is cut into frames. For an image (x fastest, C order) a frame is a whole number of the
 * largest unit that fits FRAME_TARGET: slices, else rows, else pixels, so a region touches only the
 * frames of its own slices. Other values are cut into FRAME_TARGET bytes (whole elements).
 */
export function frameLayout(dataType: string, image?: ImageHeader): FrameLayout {
  if (dataType === 'Image' && image) {
    const pixel = image.imageType.components * TYPED_ARRAYS[COMPONENT_ARRAYS[image.imageType.componentType]].BYTES_PER_ELEMENT
    let unit = pixel
    let stride = pixel
    for (let axis = 0; axis < image.size.length; axis++) {
      stride *= image.size[axis]!
      if (stride > FRAME_TARGET || stride === 0) break
      unit = stride
    }
    const sliceBytes = image.size.slice(0, -1).reduce((a, b) => a * b, pixel)
    return { frameBytes: Math.min(MAX_FRAME_BYTES, unit * Math.max(1, Math.floor(FRAME_TARGET / unit))), sliceBytes }
  }
  const element = dataType === 'json' || dataType === 'ArrayBuffer' ? 1 : TYPED_ARRAYS[dataType as TypedArrayName].BYTES_PER_ELEMENT
  return { frameBytes: element * Math.floor(FRAME_TARGET / element), sliceBytes: 0 }
}

/** The slice range of raw bytes [offset, offset + length): what an entry's slice fields must say. */
export function sliceRange(sliceBytes: number, offset: number, length: number): { firstSlice: number; sliceCount: number } {
  if (!sliceBytes || !length) return { firstSlice: 0, sliceCount: 0 }
  const firstSlice = Math.floor(offset / sliceBytes)
  return { firstSlice, sliceCount: Math.floor((offset + length - 1) / sliceBytes) - firstSlice + 1 }
}

/** A format-2 record whose prefix says it is sealed (what it holds is checked when it is opened). */
export function isSealed(bytes: Uint8Array): boolean {
  return bytes.byteLength >= PREFIX2_BYTES && MAGIC2.every((b, i) => bytes[i] === b) && (new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true) & FLAG_SEALED) !== 0
}
