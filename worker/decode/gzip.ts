// Complete inflation. itk-wasm's readers accept a truncated gzip stream and pad the image with zeros;
// DecompressionStream checks the whole stream (deflate blocks, CRC-32, ISIZE) and fails instead.
import { fail } from './input.js'
import { fmtBytes } from './limits.js'

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b
}

/**
 * `bytes` as a stream of views on them, handed out as the reader pulls: DecompressionStream takes only
 * what it inflates. A Blob's stream, the obvious way, copies the bytes into a Blob first and reads
 * them back from the browser's blob store, which cost 15-70 ms for the first 64 KiB of ch2bet.nii.gz.
 */
export function streamOf(bytes: Uint8Array, chunk = 256 * 1024): ReadableStream<BufferSource> {
  let at = 0
  return new ReadableStream<BufferSource>(
    {
      pull(controller) {
        if (at >= bytes.length) {
          controller.close()
          return
        }
        controller.enqueue(bytes.subarray(at, at + chunk) as Uint8Array<ArrayBuffer>)
        at += chunk
      },
    },
    { highWaterMark: 0 },
  )
}

export interface InflateOptions {
  /** Fail as soon as the output exceeds this many bytes (a gzip bomb is refused before it lands). */
  limit: number
  /** Called once the first `peek` bytes are out, to learn (from a header) a tighter limit. */
  peek?: { bytes: number; limitFrom: (head: Uint8Array) => number }
}

/**
 * Inflates a whole gzip (`format = 'gzip'`) or zlib (`'deflate'`) stream.
 * @throws {DecodeError} naming `file` when the stream is truncated, corrupt or longer than allowed.
 */
export async function inflate(
  file: string,
  bytes: Uint8Array,
  format: 'gzip' | 'deflate',
  options: InflateOptions,
): Promise<Uint8Array> {
  if (format === 'gzip' && bytes.length < 18) throw fail(file, 'gzip stream is truncated (shorter than its header and trailer)')
  let limit = options.limit
  const chunks: Uint8Array[] = []
  let total = 0
  let peeked = !options.peek
  const reader = streamOf(bytes).pipeThrough(new DecompressionStream(format)).getReader()
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>
      try {
        step = await reader.read()
      } catch (error) {
        throw fail(file, `${format === 'gzip' ? 'gzip' : 'zlib'} stream is truncated or corrupt`, error)
      }
      if (step.done) break
      chunks.push(step.value)
      total += step.value.byteLength
      if (!peeked && total >= options.peek!.bytes) {
        peeked = true
        limit = Math.min(limit, options.peek!.limitFrom(joined(chunks, total)))
      }
      if (total > limit) throw fail(file, `compressed data inflates to more than ${fmtBytes(limit)}, more than its header describes`)
    }
  } finally {
    reader.cancel().catch(() => undefined)
  }
  const out = joined(chunks, total)
  if (!peeked) options.peek!.limitFrom(out) // short outputs still get their header checked
  if (format === 'gzip') {
    // ISIZE: the inflated length mod 2^32, which DecompressionStream already compared. Kept as a second,
    // explicit check because itk-wasm's readers skip it.
    const isize = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true)
    if (isize !== total % 2 ** 32) throw fail(file, 'gzip trailer length does not match the inflated data')
  }
  return out
}

function joined(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  chunks.splice(0, chunks.length, out)
  return out
}
