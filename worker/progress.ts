// What the client's watchdog (src/watchdog.ts) sees of this worker: a count of steps that completed
// (backend calls, frames encoded or read, lock grants), posted on a port of its own, and whether the
// worker is only waiting on someone else (another context's lock) or inside itk-wasm, which reports
// nothing while it runs. The watchdog ends the worker when calls are pending and the count stops
// moving: only ending a worker frees a sync access handle that is stuck.
import type { ProgressReport } from '../src/watchdog.js'

let port: MessagePort | undefined
let steps = 0
let posted = 0
let lastPost = 0
/** Waits for the cache's lock, and holds of it, by this worker. */
let waiting = 0
let held = 0
/** Runs of excused() in progress. */
let computing = 0

/** Posts at most this often while steps complete: enough for a deadline of seconds, cheap for a 1 MiB frame. */
const POST_EVERY_MS = 50

function report(reply = false): void {
  if (!port) return
  lastPost = performance.now()
  posted = steps
  // Waiting for a lock this worker itself holds is no excuse: the holder is the stuck one.
  const excused = computing > 0 || (waiting > 0 && held === 0)
  port.postMessage({ steps, excused, reply } satisfies ProgressReport)
}

/**
 * Reports on `to` from now on. A message on it asks for a report at once: the watchdog's check before
 * it ends the worker (an answer at all says the worker's thread is free; the count says if it moved).
 */
export function reportTo(to: MessagePort): void {
  port = to
  port.onmessage = () => report(true)
  report()
}

/** One step done. Cheap: posts only when the last post is POST_EVERY_MS old (also from inside a long synchronous loop). */
export function progress(): void {
  steps++
  if (steps !== posted && performance.now() - lastPost >= POST_EVERY_MS) report()
}

/**
 * Runs `request`, which asks for a Web Lock and calls `granted` once it holds it. While a request
 * waits and this worker holds no lock of the cache, the watchdog does not count: another context holds
 * it (that context's own watchdog frees it if it is stuck). `cacheLock`: the lock is the cache's own
 * (tabs.ts), whose holders count; compute-once and open locks do not make this worker a holder.
 */
export function lockWait<T>(cacheLock: boolean, request: (granted: () => void) => Promise<T>): Promise<T> {
  waiting++
  report()
  let granted = false
  const grant = () => {
    if (granted) return
    granted = true
    waiting--
    if (cacheLock) held++
    progress()
    report()
  }
  return request(grant).finally(() => {
    if (!granted) waiting--
    else if (cacheLock) held--
    report()
  })
}

/**
 * Runs `fn` as a holder of the cache's lock: a call under this context's lease (tabs.ts). A lease
 * between calls holds the lock but makes this worker no holder, so a wait for another context's
 * compute-once lock meanwhile still counts as waiting on someone else.
 */
export async function holding<T>(fn: () => Promise<T>): Promise<T> {
  held++
  try {
    return await fn()
  } finally {
    held--
  }
}

/**
 * Runs `fn` with the watchdog's count paused: itk-wasm (decode, exportImage), hashing a decode's input
 * and fetching wasm report nothing while they run, and a long decode or a slow network is no stall.
 */
export async function excused<T>(fn: () => Promise<T>): Promise<T> {
  computing++
  report()
  try {
    return await fn()
  } finally {
    computing--
    progress()
    report()
  }
}
