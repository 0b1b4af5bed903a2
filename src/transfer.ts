// Which buffer of a value crosses the worker boundary, and how, so that it moves without a copy.
import * as Comlink from 'comlink'
import { isImage } from './codec/values.js'
import type { Image, StorableTypedArray, Value } from './types.js'

/**
 * The largest buffer voxcache sends across the worker boundary in one message: Chromium's postMessage
 * refused 1.999 GiB and took 1.99 GiB (bench/results-large.md).
 */
export const MAX_MESSAGE_BYTES = 2 ** 31 - 2 ** 24

function owned<T extends ArrayBufferView>(view: T): T {
  // A view on part of a buffer (or on shared memory) cannot be handed over without taking the rest of
  // the buffer with it, so such a view is copied into a buffer of its own first.
  if (view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) {
    return view
  }
  return (view as unknown as StorableTypedArray).slice() as unknown as T
}

/**
 * The value with its bytes in a buffer of their own, and that buffer as the transfer list. After the
 * transfer the caller's buffer is detached (length 0) unless it had to be copied.
 */
export function forTransfer(value: Value): { value: Value; transfer: Transferable[] } {
  if (value instanceof ArrayBuffer) return { value, transfer: [value] }
  if (ArrayBuffer.isView(value)) {
    const array = owned(value)
    return { value: array, transfer: [array.buffer as ArrayBuffer] }
  }
  if (isImage(value) && value.data && ArrayBuffer.isView(value.data)) {
    const data = owned(value.data)
    const image: Image = { ...value, data }
    return { value: image, transfer: [data.buffer as ArrayBuffer] }
  }
  return { value, transfer: [] }
}

/** Marks `value` for transfer with Comlink; primitives and values without buffers pass as they are. */
export function transferring<T>(value: T, transfer: Transferable[]): T {
  return transfer.length ? Comlink.transfer(value, transfer) : value
}
