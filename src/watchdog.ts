// The client's watchdog over one cache worker. Only ending a worker frees an OPFS sync access handle
// that is stuck (and the Web Lock its call holds), so when calls are pending and the worker's progress
// count (worker/progress.ts) has not moved for the deadline, the worker is ended and every pending call
// rejects with WorkerStalledError; the client then opens the cache again in a new worker (client.ts).
// Progress, not time: a 2 GiB store that keeps writing frames is never ended.
import { WorkerStalledError } from './errors.js'

/** What the worker posts on the watchdog's port. */
export interface ProgressReport {
  /** Steps completed since the worker started (backend calls, frames, lock grants). */
  steps: number
  /** Only waiting on another context's lock, or inside itk-wasm or a fetch: no deadline runs. */
  excused: boolean
  /** An answer to the watchdog's question (see Watchdog.#check). */
  reply: boolean
}

/** openCache's default `watchdogMs`. */
export const DEFAULT_WATCHDOG_MS = 30_000

export class Watchdog {
  /** The worker's end of the channel: give it to the worker (transferred). */
  readonly port: MessagePort
  readonly #own: MessagePort
  readonly #deadlineMs: number
  readonly #onStall: () => void
  readonly #pending = new Set<(error: Error) => void>()
  #steps = -1
  #movedAt = 0
  #excused = false
  /** When the watchdog asked the worker for a report that has not come yet. */
  #askedAt: number | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #ended = false

  /** `onStall` runs once, when the worker is found stuck, before the pending calls are rejected. */
  constructor(deadlineMs: number, onStall: () => void) {
    this.#deadlineMs = deadlineMs
    this.#onStall = onStall
    const channel = new MessageChannel()
    this.#own = channel.port1
    this.port = channel.port2
    this.#own.onmessage = (event: MessageEvent<ProgressReport>) => this.#heard(event.data)
  }

  /** `call`, or WorkerStalledError when the worker makes no progress for the deadline meanwhile. */
  watch<T>(call: Promise<T>): Promise<T> {
    if (this.#ended || !Number.isFinite(this.#deadlineMs)) return call
    // The clock starts when the first call is pending: an idle worker posts nothing.
    if (this.#pending.size === 0) this.#movedAt = performance.now()
    return new Promise<T>((resolve, reject) => {
      this.#pending.add(reject)
      this.#schedule()
      call.then(resolve, reject).finally(() => {
        this.#pending.delete(reject)
        if (this.#pending.size === 0) this.#unschedule()
      })
    })
  }

  /**
   * Stops watching: the worker is being ended. Calls still pending would never settle, so they reject
   * with `reason` (close() gives a ClosedError; a stall rejects them itself).
   */
  stop(reason?: Error): void {
    this.#ended = true
    this.#unschedule()
    this.#own.close()
    if (!reason) return
    const calls = [...this.#pending]
    this.#pending.clear()
    for (const reject of calls) reject(reason)
  }

  #heard(report: ProgressReport): void {
    if (report.steps !== this.#steps) {
      this.#steps = report.steps
      this.#movedAt = performance.now()
    }
    this.#excused = report.excused
    if (report.reply) {
      this.#askedAt = undefined
      this.#check(true)
    }
  }

  #schedule(): void {
    // A check a quarter of the deadline apart: a stall is found within 1.25 deadlines (and a reply).
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined
      this.#check(false)
    }, Math.max(10, this.#deadlineMs / 4))
  }

  #unschedule(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /**
   * Before it ends the worker, the watchdog asks it for a report: reports posted before the answer
   * arrive before it (one port keeps order), so a page that was itself too busy to hear them is not
   * mistaken for a stuck worker. An answer whose count has not moved is a stall whose thread is free
   * (a call that never settles); no answer within another deadline is a thread stuck in a call.
   */
  #check(answered: boolean): void {
    if (this.#ended || this.#pending.size === 0) return
    const now = performance.now()
    if (this.#excused || now - this.#movedAt < this.#deadlineMs) {
      this.#askedAt = undefined
    } else if (answered || (this.#askedAt !== undefined && now - this.#askedAt >= this.#deadlineMs)) {
      return this.#stall(now)
    } else if (this.#askedAt === undefined) {
      this.#askedAt = now
      this.#own.postMessage('report')
    }
    this.#schedule()
  }

  #stall(now: number): void {
    this.stop()
    const calls = [...this.#pending]
    this.#pending.clear()
    this.#onStall()
    const seconds = ((now - this.#movedAt) / 1000).toFixed(1)
    const message =
      `the cache's worker made no progress for ${seconds} s (watchdogMs ${this.#deadlineMs}) and was ended; the cache reopens in a new worker. ` +
      'A store that was pending may or may not have landed (a record is whole or absent, never partial): check with has() or store it again'
    for (const reject of calls) reject(new WorkerStalledError(message))
  }
}
