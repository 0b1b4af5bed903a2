// Hostile bytes against the record decoder: ≥10,000 seeded mutations of real records, of format 2 (as
// voxcache writes them now, frame tables included) and of format 1 (as 0.x wrote them). Each must be
// refused with a CorruptEntryError, or decode to exactly the original, or (only when the mutation
// re-signed the record, which no disk error can do) decode to exactly what the forged record says.
// Three paths must agree: the whole record in memory, the body read piece by piece (retrieve), and a
// box of an image read from its own frames (retrieveRegion), which may succeed where the whole fails
// only when the damage lies in frames the box does not touch.
// Nothing may touch a prototype, or allocate more than allocationBound() allows: every buffer made in
// JavaScript during the call, every request to zstd's wasm heap and every wasm instance created is
// counted (meter()), so the bound holds for the call's peak, not for what is left after it.
// Time is not asserted (figures of speed go in the benchmark) and only logged: the work is bounded
// instead, by the fixed number of cases, by the size of the mutants (originals of at most 1.6 MB, grown
// by a mutation to at most 8 MiB and a 1.1 MB header), and by the allocation bound, which counts every
// read of the body; a hang fails by the test's timeout.
//
// FUZZ_SEED=<n> replays a run; FUZZ_CASES=<n> changes how many cases (default 12,000).
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { Module } from 'zstd-wasm:module.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, SchemaVersionError, UnsupportedValueError } from '../errors.js'
import type { Image, Value } from '../types.js'
import { recordFigures } from '../../test/figures.js'
import {
  blindMutation,
  buildRecord,
  createSigner,
  frameHash64,
  fuzzSeed,
  hostileMutation,
  readTable,
  recordFormat,
  Rng,
  sameBytes,
  splitRecord,
  type Mutant,
  type Signer,
} from '../../test/fuzz-cases.js'
import { cropByLoops } from '../../test/crop.js'
import { encodeRecord1 } from '../../test/format1.js'
import {
  concatParts,
  decodeRecord,
  encodeRecord,
  initCodec,
  parseHeader,
  readBody,
  readRegion,
  type ChunkReader,
  type RecordHeader,
  type Region,
} from './index.js'
import { compressFrames } from './zstd.js'

const SEED = fuzzSeed(process.env.FUZZ_SEED)
const CASES = Number(process.env.FUZZ_CASES ?? 12_000)
const MIB = 1024 * 1024

/**
 * The most decoding a mutant may allocate, as meter() counts it. Whole (decodeRecord): the output, no
 * larger than the original record's raw value, plus 4 MiB (zstd's two reusable heap buffers for 1 MiB
 * frames, and the small arrays of a header). Frame by frame (decodeBodyInFrames, the retrieve path): the
 * same plus two copies of the mutant, as its body is read twice when every frame header is checked
 * first. A lie about the size must not buy more.
 */
function allocationBound(path: 'whole' | 'frame by frame', inputBytes: number, originalRawBytes: number): number {
  return originalRawBytes + (path === 'whole' ? 0 : 2 * inputBytes) + 4 * MIB
}

/**
 * decodeBodyInFrames allocates the output a header claims before it checks any frame when the claim
 * is at most 8 × storedLength + 1 MiB (past that it checks every frame header first): a forged claim
 * buys at most that much. (The slack used to be the record's own frameSize, which a forged header can
 * set to 64 MiB: a record of a few hundred bytes got 64 MiB allocated before it was refused,
 * FUZZ_SEED=388817, case 8254.) Such a claim counts as the output of the frame-by-frame path.
 */
function claimAllocatedUnchecked(header: RecordHeader | undefined): number {
  // Format 2 checks every frame (hash and zstd header) before it allocates an output held in memory,
  // and read piece by piece, under the same ratio rule as format 1.
  if (header?.codec !== 'zstd') return 0
  return header.rawLength <= 8 * header.storedLength + MIB ? header.rawLength : 0
}

let signer: Signer

beforeAll(async () => {
  await initCodec(readFileSync(new URL('../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url)))
  signer = await createSigner()
})

/** A box of ch2bet (the real brain MRI, uint8) starting at slice z0, `depth` slices deep. */
function brainBox(name: string, x: number, y: number, z0: number, depth: number): Image {
  const file = gunzipSync(readFileSync(new URL('../../../shared/testdata/ch2bet.nii.gz', import.meta.url)))
  const dv = new DataView(file.buffer, file.byteOffset)
  const [nx, ny] = [1, 2].map((i) => dv.getInt16(40 + 2 * i, true)) as [number, number]
  const offset = dv.getFloat32(108, true)
  const data = new Uint8Array(x * y * depth)
  const x0 = (nx - x) >> 1
  const y0 = (ny - y) >> 1
  for (let z = 0; z < depth; z++) {
    for (let j = 0; j < y; j++) {
      const from = file.byteOffset + offset + ((z0 + z) * ny + y0 + j) * nx + x0
      data.set(file.subarray(from - file.byteOffset, from - file.byteOffset + x), (z * y + j) * x)
    }
  }
  return {
    imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
    name,
    origin: [-90, -126, -72 + z0],
    spacing: [1, 1, 1],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    size: [x, y, depth],
    metadata: new Map<string, unknown>([['modality', 'MR'], ['source', 'ch2bet']]),
    data,
  } as Image
}

interface Original {
  name: string
  id: string
  bytes: Uint8Array
  header: RecordHeader
  value: Value
}

/** A reader of a record held in memory, its chunks joined after its table. */
function joinedReader(bytes: Uint8Array, id: string): { read: ChunkReader; parsed: ReturnType<typeof parseHeader> } {
  const parsed = parseHeader(id, bytes, bytes.byteLength, true)
  const starts: number[] = [0]
  if (parsed.header.format === 2) for (const c of parsed.header.chunks) starts.push(starts.at(-1)! + c.storedLength)
  const read: ChunkReader = async (chunk, at, length) => {
    const from = parsed.bodyOffset + (starts[chunk] ?? 0) + at
    return bytes.slice(from, Math.min(from + length, parsed.bodyOffset + (starts[chunk + 1] ?? bytes.byteLength - parsed.bodyOffset)))
  }
  return { read, parsed }
}

/**
 * The originals: real records, as encodeRecord writes them (format 2: several types, both codecs,
 * multi-frame) and as voxcache 0.x wrote them (format 1).
 */
async function originals(): Promise<Original[]> {
  const brain = brainBox('ch2bet-box', 181, 217, 60, 40) // 1.57 MB: two 1 MiB zstd frames
  const small = brainBox('ch2bet-small', 48, 48, 80, 8)
  const floats = new Float32Array(small.data as Uint8Array).map((v, i) => v * 0.25 + (i % 3))
  const ramp = new Uint16Array(1_300_000).map((_, i) => (i >> 8) & 0x3ff) // three frames
  const list: [string, Value, 'none' | 'zstd'][] = [
    ['brain-zstd', brain, 'zstd'],
    ['small-zstd', small, 'zstd'],
    ['small-none', brainBox('ch2bet-small', 48, 48, 80, 8), 'none'],
    ['float32-zstd', floats, 'zstd'],
    ['uint16-3frames', ramp, 'zstd'],
    ['int16-none', new Int16Array(3000).map((_, i) => (i * 7) % 3000 - 1500), 'none'],
    ['bigint-none', new BigInt64Array([-(2n ** 63n), 7n, 2n ** 62n]), 'none'],
    ['arraybuffer', new Uint8Array([9, 8, 7, 6, 5]).buffer, 'none'],
    ['empty-bytes', new Uint8Array(0), 'zstd'],
    ['json-null', null, 'none'],
    ['json-object', { a: [1, 'é', { b: true }], n: -0.5, s: 'x'.repeat(300) }, 'zstd'],
  ]
  const format1: [string, Value, 'none' | 'zstd'][] = [
    ['v1-brain-zstd', brainBox('ch2bet-box', 181, 217, 60, 40), 'zstd'],
    ['v1-small-none', brainBox('ch2bet-small', 48, 48, 80, 8), 'none'],
    ['v1-uint16-3frames', new Uint16Array(1_300_000).map((_, i) => (i >> 8) & 0x3ff), 'zstd'],
    ['v1-json', { a: [1, 2], s: 'y'.repeat(100) }, 'none'],
  ]
  const out: Original[] = []
  for (const [i, [name, value, codec]] of [...list, ...format1].entries()) {
    const id = (i + 1).toString(16).padStart(2, '0').repeat(32)
    const options = { operationId: id, codec, metadata: { name, i }, createdAt: '2024-05-01T12:00:00.000Z' }
    const bytes = name.startsWith('v1-')
      ? encodeRecord1(value, options).bytes
      : await encodeRecord(value, options).then((enc) => concatParts(enc.parts, enc.byteLength))
    // The encoder views the value's bytes; decode a fresh copy as the reference value.
    const decoded = decodeRecord(id, bytes.slice())
    out.push({ name, id, bytes, header: decoded.header, value: decoded.value })
  }
  return out
}

/** What a value is, as comparable plain data: its kind, its bytes, and an image's geometry. */
function describeValue(v: Value): { kind: string; bytes: Uint8Array; geometry?: unknown } {
  if (v instanceof ArrayBuffer) return { kind: 'ArrayBuffer', bytes: new Uint8Array(v) }
  if (ArrayBuffer.isView(v)) return { kind: v.constructor.name, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) }
  if (v && typeof v === 'object' && 'imageType' in v && 'data' in v) {
    const im = v as Image
    const d = im.data as unknown as ArrayBufferView
    return {
      kind: 'Image',
      bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
      geometry: {
        imageType: im.imageType, array: d.constructor.name, name: im.name, origin: im.origin, spacing: im.spacing,
        direction: Array.from(im.direction as Float64Array), size: im.size, metadata: [...im.metadata],
      },
    }
  }
  return { kind: 'json', bytes: new TextEncoder().encode(JSON.stringify(v)) }
}

interface ZstdRaw {
  HEAPU8: Uint8Array
  _malloc(n: number): number
  _free(p: number): void
  _ZSTD_decompress(dst: number, cap: number, src: number, n: number): number
  _ZSTD_isError(code: number): number
}

const TYPED_ARRAY_NAMES = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
].filter((name) => name in globalThis)
const ORIGINAL_TYPED_ARRAYS = TYPED_ARRAY_NAMES.map((name) => (globalThis as Record<string, unknown>)[name])
const ORIGINAL_TYPED_SLICE = (Object.getPrototypeOf(Uint8Array.prototype) as { slice: unknown }).slice
const OriginalArrayBuffer = ArrayBuffer

/** What a call allocated while it ran (see meter()). */
interface Allocation {
  /** Bytes of ArrayBuffer storage created in JavaScript, as requested (a failed request counts). */
  js: number
  /** The largest single one of those. */
  largestJs: number
  /** Bytes asked of zstd's wasm malloc, or the heap's growth if that was more (it never shrinks). */
  zstdHeap: number
  /** Memory of wasm instances created during the call (hash-wasm's body hasher). */
  wasmInstances: number
  total: number
}

/** Bytes a typed-array constructor call allocates: none for a view of a buffer, else length × element size. */
function storageBytes(arg: unknown, bytesPerElement: number): number {
  if (typeof arg !== 'object' || arg === null) return Math.max(0, Math.trunc(Number(arg ?? 0)) || 0) * bytesPerElement
  if (arg instanceof OriginalArrayBuffer || (typeof SharedArrayBuffer === 'function' && arg instanceof SharedArrayBuffer)) return 0
  const length = (arg as { length?: unknown }).length
  if (typeof length === 'number') return length * bytesPerElement
  return Symbol.iterator in arg ? [...(arg as Iterable<unknown>)].length * bytesPerElement : 0
}

/**
 * Counts what runs between meter() and stop(): every ArrayBuffer, typed array (given a length or a list;
 * a view of an existing buffer costs nothing) and slice() created in JavaScript, by the codec, its
 * hashers' and zstd's glue, and the test's own reader; what is asked of zstd's wasm heap; and the memory
 * of any wasm instance created. The globals and methods are patched for the call and restored after.
 * Nothing allocated is assumed freed before stop(), so `total` bounds the call's peak from above.
 */
function meter(): { stop(): Allocation } {
  const a = { js: 0, largestJs: 0, zstdHeap: 0, wasmInstances: 0 }
  const note = (bytes: number) => {
    a.js += bytes
    a.largestJs = Math.max(a.largestJs, bytes)
  }
  const restore: (() => void)[] = []
  const patch = <T extends object>(owner: T, key: keyof T & string, value: unknown) => {
    const before = owner[key]
    ;(owner as Record<string, unknown>)[key] = value
    restore.push(() => ((owner as Record<string, unknown>)[key] = before))
  }
  const g = globalThis as unknown as Record<string, new (...args: unknown[]) => object>
  for (const name of TYPED_ARRAY_NAMES) {
    const Ctor = g[name]! as unknown as { new (...args: unknown[]): object; BYTES_PER_ELEMENT: number }
    const counted: object = new Proxy(Ctor, {
      construct(target, args, newTarget) {
        note(storageBytes(args[0], Ctor.BYTES_PER_ELEMENT))
        return Reflect.construct(target, args, newTarget === counted ? target : newTarget) as object
      },
    })
    patch(g, name, counted)
  }
  const countedBuffer: object = new Proxy(OriginalArrayBuffer, {
    construct(target, args, newTarget) {
      note(storageBytes(args[0], 1))
      return Reflect.construct(target, args, newTarget === countedBuffer ? target : newTarget) as object
    },
  })
  patch(g, 'ArrayBuffer', countedBuffer)
  const typedProto = Object.getPrototypeOf(Uint8Array.prototype) as { slice(...args: unknown[]): ArrayBufferView }
  const typedSlice = typedProto.slice
  patch(typedProto, 'slice', function (this: ArrayBufferView, ...args: unknown[]) {
    const out = typedSlice.apply(this, args)
    note(out.byteLength)
    return out
  })
  const bufferSlice = OriginalArrayBuffer.prototype.slice
  patch(OriginalArrayBuffer.prototype, 'slice', function (this: ArrayBuffer, ...args: [number?, number?]) {
    const out = bufferSlice.apply(this, args)
    note(out.byteLength)
    return out
  })
  const z = Module as unknown as ZstdRaw
  const heapBefore = z.HEAPU8.buffer.byteLength
  let asked = 0
  const malloc = z._malloc
  patch(z, '_malloc', (n: number) => {
    asked += n
    return malloc(n)
  })
  const instantiate = WebAssembly.instantiate
  patch(WebAssembly, 'instantiate', async (...args: unknown[]) => {
    const result = (await (instantiate as (...a: unknown[]) => Promise<unknown>)(...args)) as
      WebAssembly.Instance | WebAssembly.WebAssemblyInstantiatedSource
    const instance = result instanceof WebAssembly.Instance ? result : result.instance
    const memory = instance.exports.memory
    if (memory instanceof WebAssembly.Memory) a.wasmInstances += memory.buffer.byteLength
    return result
  })
  return {
    stop() {
      for (const undo of restore.reverse()) undo()
      a.zstdHeap = Math.max(asked, z.HEAPU8.buffer.byteLength - heapBefore)
      return { ...a, total: a.js + a.zstdHeap + a.wasmInstances }
    },
  }
}

/** Runs `call` under a meter; what it threw is returned, not thrown, so that assertions run unmetered. */
async function metered(call: () => unknown): Promise<{ error: unknown; allocation: Allocation }> {
  const m = meter()
  let error: unknown
  try {
    await call()
  } catch (caught) {
    error = caught ?? new Error('threw nothing')
  }
  return { error, allocation: m.stop() }
}

const zstdHeapBytes = () => (Module as unknown as ZstdRaw).HEAPU8.buffer.byteLength

/** Decompresses one accepted zstd frame outside the code under test, into exactly `expected` bytes. */
function referenceFrame(frame: Uint8Array, expected: number): Uint8Array {
  const z = Module as unknown as ZstdRaw
  const src = z._malloc(frame.byteLength)
  // One byte more than the frame's share of rawLength (not a frame size, which a forger may have set to
  // 64 MiB): the test must not grow the wasm heap the decoder is measured on.
  const cap = expected + 1
  const dst = z._malloc(cap)
  z.HEAPU8.set(frame, src)
  const n = z._ZSTD_decompress(dst, cap, src, frame.byteLength)
  expect(z._ZSTD_isError(n), 'reference decompression of an accepted frame').toBe(0)
  const out = z.HEAPU8.slice(dst, dst + n)
  z._free(src)
  z._free(dst)
  return out
}

/** The raw bytes a forged record's body stands for, decoded here by the record's own frame table. */
function referenceRaw(bytes: Uint8Array, header: RecordHeader, body: Uint8Array, label: string): Uint8Array {
  if (header.format === 2) {
    const parts = splitRecord(bytes)
    const starts = [0]
    for (const c of header.chunks) starts.push(starts.at(-1)! + c.storedLength)
    return concatParts(readTable(parts.table!).map((e, i) => {
      const stored = body.subarray(starts[e.chunk]! + e.storedOffset, starts[e.chunk]! + e.storedOffset + e.storedLength)
      expect(frameHash64(signer, stored), `${label}: frame ${i} hash`).toBe(e.hash)
      return e.flags & 1 ? referenceFrame(stored, e.rawLength) : stored
    }))
  }
  expect(signer.bodyChecksum(body), label).toBe(header.checksum)
  if (header.codec === 'none') return body
  const parts: Uint8Array[] = []
  let at = 0
  for (const [i, size] of header.frames!.entries()) {
    parts.push(referenceFrame(body.subarray(at, at + size), Math.min(header.frameSize!, header.rawLength - i * header.frameSize!)))
    at += size
  }
  return concatParts(parts)
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])
function forbiddenKey(value: unknown, depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || depth > 64) return undefined
  for (const key of Object.keys(value)) {
    if (FORBIDDEN.has(key)) return key
    const inner = forbiddenKey((value as Record<string, unknown>)[key], depth + 1)
    if (inner) return inner
  }
  return undefined
}

/** Asserts an accepted forged record decoded to exactly what it says: its checksum, frames, type and geometry. */
function expectSelfConsistent(bytes: Uint8Array, header: RecordHeader, value: Value, label: string): void {
  const body = bytes.subarray(bytes.byteLength - header.storedLength)
  if (header.format === 2) expect(signer.bodyChecksum(splitRecord(bytes).table!), `${label}: table checksum`).toBe(header.checksum)
  expect(forbiddenKey(header), label).toBeUndefined()
  const raw = referenceRaw(bytes, header, body, label)
  expect(raw.byteLength, label).toBe(header.rawLength)
  const got = describeValue(value)
  if (header.dataType === 'json') {
    expect(got.kind, label).toBe('json')
    expect(JSON.stringify(value), label).toBe(JSON.stringify(JSON.parse(new TextDecoder().decode(raw))))
    return
  }
  expect(got.kind, label).toBe(header.dataType)
  expect(sameBytes(got.bytes, raw), `${label}: value bytes are the body's`).toBe(true)
  if (header.dataType === 'Image') {
    const im = header.image!
    expect(got.geometry, label).toEqual({
      imageType: im.imageType, array: (got.geometry as { array: string }).array, name: im.name, origin: im.origin,
      spacing: im.spacing, direction: im.direction, size: im.size, metadata: im.metadata,
    })
  }
}

type Outcome = 'rejected' | 'identical' | 'forged-valid'

describe('record decoder under hostile bytes', () => {
  it(`refuses or exactly decodes ${CASES} seeded mutations of real records`, { timeout: 600_000 }, async () => {
    const seed = SEED
    console.log(`record fuzz: seed ${seed} (FUZZ_SEED=${seed} replays), ${CASES} cases`)
    const rng = new Rng(seed)
    const origs = await originals()
    // A real frame of a given raw size holding other content: a bomb-like (all zero) frame.
    const bombFrame = (raw: number) => compressFrames(new Uint8Array(raw), Math.max(raw, 1))[0] ?? new Uint8Array(0)
    const protoBefore = {
      object: Object.getOwnPropertyNames(Object.prototype).sort(),
      array: Object.getOwnPropertyNames(Array.prototype).sort(),
      fn: Object.getOwnPropertyNames(Function.prototype).sort(),
    }
    const counts = new Map<string, Record<Outcome, number>>()
    const total: Record<Outcome, number> = { rejected: 0, identical: 0, 'forged-valid': 0 }
    let slowest = { ms: 0, label: '' }
    let largestInput = 0
    let refusedAsNewer = 0
    let regionDespiteDamage = 0
    const mostBeyondOutput: Partial<Record<'whole' | 'frame by frame', { bytes: number; allocation: Allocation; label: string }>> = {}
    // The meter must see what it is meant to count: a decode's output and reads, a request to zstd's
    // heap, a body hasher's memory; and it must leave the globals as they were.
    const brain = origs[0]!
    const brain1 = origs.find((o) => o.name === 'v1-brain-zstd')!
    const { error: probeError, allocation: probed } = await metered(async () => {
      decodeRecord(brain.id, brain.bytes)
      const { parsed, read } = joinedReader(brain.bytes, brain.id)
      await readBody(parsed, read)
      // Format 1 read piece by piece makes a body hasher of its own (a wasm instance).
      const v1 = joinedReader(brain1.bytes, brain1.id)
      await readBody(v1.parsed, v1.read)
      const z = Module as unknown as ZstdRaw
      z._free(z._malloc(MIB))
    })
    expect(probeError).toBeUndefined()
    expect(probed.js, JSON.stringify(probed)).toBeGreaterThanOrEqual(2 * brain.header.rawLength + brain.header.storedLength)
    expect(probed.zstdHeap, JSON.stringify(probed)).toBeGreaterThanOrEqual(MIB)
    expect(probed.wasmInstances, JSON.stringify(probed)).toBeGreaterThan(0)
    expect(TYPED_ARRAY_NAMES.every((name, i) => (globalThis as Record<string, unknown>)[name] === ORIGINAL_TYPED_ARRAYS[i])).toBe(true)
    expect(ArrayBuffer === OriginalArrayBuffer && Object.getPrototypeOf(Uint8Array.prototype).slice === ORIGINAL_TYPED_SLICE).toBe(true)
    const heapAtStart = zstdHeapBytes()
    const started = performance.now()

    for (let n = 0; n < CASES; n++) {
      const orig = origs[rng.int(origs.length)]!
      const hostile = rng.chance(0.5)
      const mutant: Mutant = hostile
        ? hostileMutation(rng, signer, orig.bytes, bombFrame)
        : blindMutation(rng, orig.bytes, origs[rng.int(origs.length)]!.bytes)
      const label = `case ${n} (seed ${seed}, ${orig.name}, ${mutant.family}${mutant.resigned ? ', re-signed' : ''})`
      const input = mutant.bytes
      largestInput = Math.max(largestInput, input.byteLength)

      const claimsNewer = claimsNewerVersion(input)
      const checkAllocation = (path: 'whole' | 'frame by frame', allocation: Allocation, outputBytes = orig.header.rawLength) => {
        const bound = allocationBound(path, input.byteLength, outputBytes)
        const beyond = allocation.total - outputBytes
        if (beyond > (mostBeyondOutput[path]?.bytes ?? -Infinity)) mostBeyondOutput[path] = { bytes: beyond, allocation, label }
        expect(allocation.total, `${label}, ${path}: allocated ${JSON.stringify(allocation)} for ${input.byteLength} bytes of input`)
          .toBeLessThanOrEqual(bound)
      }
      const t0 = performance.now()
      let outcome: Outcome
      let decoded: { header: RecordHeader; value: Value } | undefined
      const { error: wholeError, allocation: wholeAllocation } = await metered(() => (decoded = decodeRecord(orig.id, input)))
      checkAllocation('whole', wholeAllocation)
      const ms = performance.now() - t0
      if (ms > slowest.ms) slowest = { ms, label }
      if (wholeError !== undefined) {
        // A magic that reads VXC2–VXC9 over a header that no longer verifies as format 1 is, as far as
        // any reader can tell, a newer voxcache's record: refused as such (and left on disk), not
        // quarantined. Every other refusal is corruption.
        const error = wholeError
        const typed = error instanceof CorruptEntryError || (claimsNewer && error instanceof SchemaVersionError)
        if (!typed) {
          throw new Error(`${label}: threw ${(error as Error)?.name}: ${(error as Error)?.message}, not a CorruptEntryError`, { cause: error })
        }
        expect((error as CorruptEntryError | SchemaVersionError).entryId, label).toBe(orig.id)
        if (error instanceof SchemaVersionError) refusedAsNewer++
      }

      if (!decoded) {
        outcome = 'rejected'
      } else if (
        sameBytes(describeValue(decoded.value).bytes, describeValue(orig.value).bytes) &&
        JSON.stringify(describeValue(decoded.value).geometry) === JSON.stringify(describeValue(orig.value).geometry) &&
        describeValue(decoded.value).kind === describeValue(orig.value).kind &&
        JSON.stringify(decoded.header) === JSON.stringify(orig.header)
      ) {
        outcome = 'identical'
      } else {
        // Only a forger (who recomputes the hashes) can make a valid record of another value.
        expect(mutant.resigned, `${label}: a blind mutation decoded to something else`).toBe(true)
        expectSelfConsistent(input, decoded.header, decoded.value, label)
        outcome = 'forged-valid'
      }
      // A blind mutation that changed any byte must be refused (the header and body hashes cover all).
      if (!mutant.resigned && !sameBytes(input, orig.bytes)) expect(outcome, label).toBe('rejected')

      // The retrieve path (header, then the body frame by frame) must agree.
      let framed: Value | undefined
      let claimed: RecordHeader | undefined
      const { error: framedError, allocation: framedAllocation } = await metered(async () => {
        const { parsed, read } = joinedReader(input, orig.id)
        claimed = parsed.header
        framed = await readBody(parsed, read)
      })
      checkAllocation('frame by frame', framedAllocation, Math.max(orig.header.rawLength, claimAllocatedUnchecked(claimed)))
      if (framedError !== undefined) {
        expect(framedError, `${label}: frame-by-frame decode`).toBeInstanceOf(claimsNewer && framedError instanceof SchemaVersionError ? SchemaVersionError : CorruptEntryError)
        expect(outcome, `${label}: refused frame by frame but decoded whole`).toBe('rejected')
      } else {
        expect(outcome, `${label}: decoded frame by frame but refused whole`).not.toBe('rejected')
        expect(sameBytes(describeValue(framed!).bytes, describeValue(decoded!.value).bytes), label).toBe(true)
      }

      // The region path: a box of the original image, read from the frames it touches. It may read
      // what the whole refuses only when the damage lies outside the box, and then reads the original.
      const origImage = orig.header.dataType === 'Image' ? orig.header.image : undefined
      if (origImage) {
        const index = origImage.size.map((n) => rng.int(n))
        const region: Region = { index, size: index.map((i, axis) => 1 + rng.int(Math.min(origImage.size[axis]! - i, axis === 2 ? 3 : 64))) }
        let boxed: Image | undefined
        let maxFrameRaw = 0
        const { error: regionError, allocation: regionAllocation } = await metered(async () => {
          const { parsed, read } = joinedReader(input, orig.id)
          for (const e of parsed.frames ?? []) if (e.flags & 1) maxFrameRaw = Math.max(maxFrameRaw, e.rawLength)
          boxed = await readRegion(parsed, read, region)
        })
        const regionBytes = region.size.reduce((a, b) => a * b, 1)
        const bound = claimed?.format === 1
          ? allocationBound('frame by frame', input.byteLength, Math.max(orig.header.rawLength, claimAllocatedUnchecked(claimed))) + regionBytes
          : regionBytes + input.byteLength + 2 * maxFrameRaw + 4 * MIB
        expect(regionAllocation.total, `${label}, region: allocated ${JSON.stringify(regionAllocation)}`).toBeLessThanOrEqual(bound)
        if (regionError !== undefined) {
          const typed = regionError instanceof CorruptEntryError || regionError instanceof UnsupportedValueError ||
            (claimsNewer && regionError instanceof SchemaVersionError)
          if (!typed) throw new Error(`${label}: region threw ${(regionError as Error)?.name}: ${(regionError as Error)?.message}`, { cause: regionError })
        } else if (decoded) {
          expect(sameBytes(describeValue(boxed!).bytes, cropByLoops(decoded.value as Image, region)), `${label}: region of what decoded`).toBe(true)
        } else {
          regionDespiteDamage++
          if (!mutant.resigned) expect(sameBytes(describeValue(boxed!).bytes, cropByLoops(orig.value as Image, region)), `${label}: region of the original`).toBe(true)
        }
      }

      total[outcome]++
      const row = counts.get(mutant.family) ?? { rejected: 0, identical: 0, 'forged-valid': 0 }
      row[outcome]++
      counts.set(mutant.family, row)
    }

    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const lines = [...counts].sort().map(([family, r]) => `  ${family.padEnd(15)} ${JSON.stringify(r)}`)
    console.log(
      `record fuzz: ${CASES} cases in ${seconds} s (seed ${seed}): ${total.rejected} rejected (${refusedAsNewer} of them as a newer version), ${total.identical} decoded identical, ` +
        `${total['forged-valid']} re-signed into valid records of another value (decoded exactly as forged)\n${lines.join('\n')}\n` +
        `  region reads that succeeded where the whole was refused (damage outside the box): ${regionDespiteDamage}\n` +
        `  largest mutant ${largestInput} bytes; slowest case ${slowest.ms.toFixed(1)} ms (${slowest.label}), for information only\n` +
        Object.entries(mostBeyondOutput).map(([path, w]) => `  most allocated beyond the output, ${path}: ${w.bytes} bytes, ${JSON.stringify(w.allocation)} (${w.label})\n`).join('') +
        `  zstd wasm heap: ${heapAtStart} bytes before the cases, ${zstdHeapBytes()} after`,
    )
    recordFigures('record-fuzz', {
      seed, cases: CASES, rejected: total.rejected, refusedAsNewer, identical: total.identical, forgedValid: total['forged-valid'],
      mostBeyondOutput: Object.fromEntries(Object.entries(mostBeyondOutput).map(([path, w]) => [path, w.bytes])),
    })
    expect(total.rejected + total.identical + total['forged-valid']).toBe(CASES)
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore.object)
    expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(protoBefore.array)
    expect(Object.getOwnPropertyNames(Function.prototype).sort()).toEqual(protoBefore.fn)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('refuses frames that claim more than they hold, before allocating the output', async () => {
    // Each frame claims 64 MiB, consistently everywhere the header says (hashes and checksum recomputed):
    // gigabytes declared by a body of a megabyte or two. Whole or frame by frame, the claim must be
    // refused before the output is allocated.
    const claim = 64 * MIB
    const brain = (await originals()).find((o) => o.name === 'v1-brain-zstd')!
    const forge = (body: Uint8Array, frames: number[]) => {
      const { header } = splitRecord(brain.bytes)
      const { image: _image, ...rest } = header
      const forged = {
        ...rest, dataType: 'Uint8Array', codec: 'zstd', frameSize: claim, frames, rawLength: frames.length * claim,
        storedLength: body.byteLength, checksum: signer.bodyChecksum(body),
      }
      return buildRecord(signer, JSON.stringify(forged), body)
    }
    const id = brain.id
    // The brain record's body cut into 40 pieces: only the first starts with a frame header.
    const brainBody = splitRecord(brain.bytes).body
    const pieces = new Array<number>(40).fill(Math.floor(brainBody.byteLength / 40))
    pieces[39] = brainBody.byteLength - pieces[0]! * 39
    // 16 real frames of 64 KiB (noise, so each holds the blocks 64 MiB would take: only the content
    // size each frame declares can tell).
    const real = compressFrames(new Rng(7).bytes(16 * 64 * 1024), 64 * 1024)
    // One real frame of 300 bytes: a record of a few hundred bytes whose forged frameSize (64 MiB)
    // once let the frame-by-frame path allocate 64 MiB without checking (its preflight slack was the
    // record's own frameSize).
    const tiny = compressFrames(new Rng(8).bytes(300), 64 * 1024)
    const cases: [string, Uint8Array, number, RegExp][] = [
      ['one frame of 300 bytes', forge(concatParts(tiny), tiny.map((f) => f.byteLength)), 300,
        /compressed body does not decode: zstd frame declares 300 bytes, the record 67108864$/],
      ['40 pieces of a real body', forge(brainBody, pieces), brain.header.rawLength, /compressed body does not decode/],
      ['16 whole frames of 64 KiB', forge(concatParts(real), real.map((f) => f.byteLength)), 16 * 64 * 1024,
        /compressed body does not decode: zstd frame declares 65536 bytes, the record 67108864$/],
    ]
    for (const [name, bytes, honestRaw, reason] of cases) {
      const whole = await metered(() => decodeRecord(id, bytes))
      expect(whole.error, name).toBeInstanceOf(CorruptEntryError)
      expect(whole.allocation.total, `${name}: ${JSON.stringify(whole.allocation)}`).toBeLessThanOrEqual(allocationBound('whole', bytes.byteLength, honestRaw))
      expect((whole.error as Error).message, name).toMatch(reason)
      const { parsed, read } = joinedReader(bytes, id)
      expect(claimAllocatedUnchecked(parsed.header), name).toBe(0)
      const framed = await metered(() => readBody(parsed, read))
      expect(framed.error, name).toBeInstanceOf(CorruptEntryError)
      expect(framed.allocation.total, `${name}: ${JSON.stringify(framed.allocation)}`)
        .toBeLessThanOrEqual(allocationBound('frame by frame', bytes.byteLength, honestRaw))
      expect((framed.error as Error).message, name).toMatch(reason)
    }
  })
})

/**
 * The record says a newer voxcache wrote it: its magic reads VXC3–VXC9, a VXC1 header's format is
 * past 2, or a VXC2 prefix has flags (sealed, or unknown to this version).
 */
function claimsNewerVersion(bytes: Uint8Array): boolean {
  if (bytes.byteLength >= 4 && /^VXC[3-9]$/.test(String.fromCharCode(...bytes.subarray(0, 4)))) return true
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.byteLength >= 64 && recordFormat(bytes) === 2) return dv.getUint32(4, true) !== 0
  if (bytes.byteLength < 16) return false
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + dv.getUint32(4, true)))) as { format?: unknown }
    return Number.isSafeInteger(header.format) && (header.format as number) > 2
  } catch {
    return false
  }
}
