// Peak memory of the page, from Linux: the renderer processes that Chromium started for us (dedicated
// workers live in the renderer), their VmRSS before an operation and their VmHWM after it, with the
// high-water mark reset in between (writing 5 to /proc/<pid>/clear_refs).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'

function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return -1
  }
}

/** Renderer processes descended from this Node process (not other people's browsers). */
export function renderers() {
  const children = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    const ppid = ppidOf(pid)
    if (!children.has(ppid)) children.set(ppid, [])
    children.get(ppid).push(pid)
  }
  const out = []
  const queue = [process.pid]
  while (queue.length) {
    const pid = queue.shift()
    for (const child of children.get(pid) ?? []) {
      queue.push(child)
      try {
        if (readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('--type=renderer')) out.push(child)
      } catch {
        // gone
      }
    }
  }
  return out
}

function field(pid, name) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

export function memoryProbeAvailable() {
  const pids = renderers()
  if (!pids.length) return false
  try {
    writeFileSync(`/proc/${pids[0]}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/**
 * Runs `op` and returns the renderers' peak bytes above what they held just before it (`extra`), and
 * what they held before (`before`, VmRSS) and at their peak (`peak`, VmHWM), summed over renderers.
 */
export async function peakExtra(op) {
  const pids = renderers()
  const before = new Map(pids.map((pid) => [pid, field(pid, 'VmRSS')]))
  for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, '5')
  const result = await op()
  let extra = 0
  let peak = 0
  for (const pid of pids) {
    const hwm = field(pid, 'VmHWM')
    extra += Math.max(0, hwm - before.get(pid))
    peak += hwm
  }
  return { extra, before: [...before.values()].reduce((a, b) => a + b, 0), peak, result }
}
