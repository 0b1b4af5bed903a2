// The cache panel: what is stored (operation, type, size, age, hits), totals against the budget and the
// origin's quota, hit rate; delete, pin, clear, export/import the database, download an image.
import type { CacheStats, EntryInfo, JsonValue, VoxCache } from 'voxcache'
import { formatAge, formatBytes, message } from './format.js'

const $ = <T extends HTMLElement>(selector: string): T => document.querySelector<T>(selector)!

function save(blob: Blob, name: string): void {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
}

function describe(entry: EntryInfo): { op: string; detail: string } {
  const meta = (entry.metadata ?? {}) as { [key: string]: JsonValue }
  if (meta.op === 'decode') return { op: 'Decoded file', detail: [meta.name, meta.format].filter(Boolean).join(' · ') }
  const title = typeof meta.title === 'string' ? meta.title : typeof meta.op === 'string' ? meta.op : entry.dataType
  const params = meta.params && typeof meta.params === 'object' ? Object.entries(meta.params).map(([k, v]) => `${k} ${v}`).join(', ') : ''
  const source = typeof meta.source === 'string' ? meta.source : ''
  return { op: title, detail: [params, source].filter(Boolean).join(' · ') }
}

/**
 * Rows the panel shows, the newest. A cache of 20,000 entries took 2.9 s from reload to ready when the
 * panel listed and drew every one (issue 14); the totals above the table count them all.
 */
const PANEL_ROWS = 200

export class CachePanel {
  #rows = $<HTMLTableSectionElement>('#entries')
  #totals = $<HTMLElement>('#cache-totals')
  #clear = $<HTMLButtonElement>('#cache-clear')
  #armed: ReturnType<typeof setTimeout> | undefined
  #refreshing: Promise<void> | undefined
  #again = false

  constructor(
    private readonly cache: VoxCache,
    private readonly say: (text: string, kind?: 'info' | 'error') => void,
    /** Called after the cache changed under the viewer (clear, import, delete). */
    private readonly changed: () => void,
    /** Opens a stored image in the viewer. */
    private readonly open: (id: string, label: string) => void = () => undefined,
    /** Called with the stats of every refresh (the protection section follows them). */
    private readonly rendered: (stats: CacheStats) => void = () => undefined,
  ) {
    $('#cache-export').addEventListener('click', () => void this.#export())
    const importInput = $<HTMLInputElement>('#cache-import')
    importInput.addEventListener('change', () => {
      const file = importInput.files?.[0]
      importInput.value = ''
      if (file) void this.#import(file)
    })
    // Clearing is one click more than anything else: the first arms the button for a few seconds.
    this.#clear.addEventListener('click', () => {
      if (!this.#armed) {
        this.#clear.textContent = 'Click again to clear'
        this.#clear.classList.add('armed')
        this.#armed = setTimeout(() => this.#disarm(), 4000)
        return
      }
      this.#disarm()
      void this.#act(async () => {
        await this.cache.clear()
        this.say('The cache is empty.')
      })
    })
    this.#rows.addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]')
      const id = button?.closest<HTMLElement>('tr')?.dataset.id
      if (!button || !id) return
      const action = button.dataset.action
      if (action === 'open') this.open(id, button.dataset.name ?? 'image')
      if (action === 'delete') void this.#act(async () => void (await this.cache.delete(id)))
      if (action === 'pin') void this.#act(async () => void (await this.cache.pin(id, button.getAttribute('aria-pressed') !== 'true')), false)
      if (action === 'download') void this.#download(id, button.dataset.name ?? 'image')
    })
  }

  #disarm(): void {
    clearTimeout(this.#armed)
    this.#armed = undefined
    this.#clear.textContent = 'Clear all'
    this.#clear.classList.remove('armed')
  }

  async #act(work: () => Promise<void>, notify = true): Promise<void> {
    try {
      await work()
      if (notify) this.changed()
    } catch (error) {
      this.say(message(error), 'error')
    }
    await this.refresh()
  }

  async #export(): Promise<void> {
    try {
      const blob = await this.cache.exportDatabase()
      save(blob, `voxcache-${this.cache.name}.sqlite`)
      this.say(`Exported ${formatBytes(blob.size)}.`)
    } catch (error) {
      this.say(`Export failed: ${message(error)}`, 'error')
    }
  }

  async #import(file: File): Promise<void> {
    await this.#act(async () => {
      const report = await this.cache.importDatabase(file)
      const rejected = report.rejected.length ? `, ${report.rejected.length} rejected (${report.rejected[0]!.reason})` : ''
      this.say(`Imported ${report.imported} entries from ${file.name}, ${report.skipped} already here${rejected}.`, report.rejected.length ? 'error' : 'info')
    }).catch(() => undefined)
  }

  async #download(id: string, name: string): Promise<void> {
    try {
      const file = await this.cache.exportImage(id, 'nii.gz')
      if (!file) throw new Error('the entry is no longer in the cache')
      save(file, `${name}.nii.gz`)
    } catch (error) {
      this.say(`Download failed: ${message(error)}`, 'error')
    }
  }

  /** Re-reads entries and stats; calls made while one is running coalesce into one more. */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true
      return this.#refreshing
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false
        await this.#render().catch((error: unknown) => this.say(`The cache panel could not refresh: ${message(error)}`, 'error'))
      } while (this.#again)
      this.#refreshing = undefined
    })()
    return this.#refreshing
  }

  async #render(): Promise<void> {
    const [entries, stats] = await Promise.all([this.cache.list({ orderBy: 'created', limit: PANEL_ROWS }), this.cache.stats()])
    const lookups = stats.hits + stats.misses
    const quota = stats.quota ? `${formatBytes(stats.quota.usage)} of ${formatBytes(stats.quota.quota)}` : 'unknown'
    const recovery = stats.indexRecovery
    const health = [
      recovery
        ? `index rebuilt at open (${[recovery.snapshot && `snapshot: ${recovery.snapshot}`, recovery.journal && `journal: ${recovery.journal}`]
            .filter(Boolean)
            .join('; ')}), ${recovery.salvaged} salvaged`
        : '',
      stats.quarantined ? `${stats.quarantined} damaged record${stats.quarantined > 1 ? 's' : ''} quarantined` : '',
    ].filter(Boolean)
    this.#totals.innerHTML = ''
    for (const [term, value, key] of [
      ['Entries', String(stats.entries), 'entries'],
      ['Stored', `${formatBytes(stats.bytes)} (raw ${formatBytes(stats.rawBytes)})`, 'bytes'],
      ['Budget', `${formatBytes(stats.maxBytes)} · ${((100 * stats.bytes) / Math.max(1, stats.maxBytes)).toFixed(1)} % used`, 'budget'],
      ['Origin quota', quota, 'quota'],
      ['Hit rate', lookups ? `${Math.round((100 * stats.hits) / lookups)} % (${stats.hits} of ${lookups} this visit)` : 'no lookups yet', 'hit-rate'],
      ['Storage', `${stats.storage}${stats.evictions ? ` · ${stats.evictions} evicted` : ''}`, 'storage'],
      ['Protection', stats.protection ? `${stats.protection.locked ? 'locked' : 'unlocked'} · key ${stats.protection.keyId.slice(0, 8)}…` : 'none', 'protection'],
      ['Health', health.length ? health.join(' · ') : 'no damage found', 'health'],
    ] as const) {
      const div = document.createElement('div')
      div.dataset.stat = key
      div.innerHTML = '<dt></dt><dd></dd>'
      div.querySelector('dt')!.textContent = term
      div.querySelector('dd')!.textContent = value
      this.#totals.append(div)
    }
    document.body.dataset.entries = String(stats.entries)
    const now = Date.now()
    const locked = stats.protection?.locked === true
    this.#rows.replaceChildren(...entries.reverse().map((entry) => this.#row(entry, now, locked)))
    $('#entries-empty').hidden = entries.length > 0
    const more = $<HTMLElement>('#entries-more')
    more.hidden = stats.entries <= entries.length
    more.textContent = `The ${entries.length} newest of ${stats.entries.toLocaleString('en')} entries.`
    this.rendered(stats)
  }

  #row(entry: EntryInfo, now: number, locked: boolean): HTMLTableRowElement {
    // A locked cache lists its entries with their metadata sealed (null): what they are stays unknown.
    const { op, detail } = locked ? { op: `Sealed ${entry.dataType === 'Image' ? 'image' : entry.dataType}`, detail: '' } : describe(entry)
    const tr = document.createElement('tr')
    tr.dataset.id = entry.id
    const ratio = entry.rawBytes ? `${Math.round((100 * entry.sizeBytes) / entry.rawBytes)} % of raw` : ''
    tr.innerHTML = `<td class="op"><span class="name"></span><small></small></td><td class="type"></td>
      <td class="num size"><span></span><small></small></td><td class="num age"></td><td class="num hits"></td><td class="actions"></td>`
    tr.querySelector('.name')!.textContent = op
    tr.querySelector('.op small')!.textContent = detail || `${entry.id.slice(0, 12)}…`
    tr.querySelector('.op')!.setAttribute('title', entry.id)
    tr.querySelector('.type')!.textContent = entry.dataType
    tr.querySelector('.size span')!.textContent = formatBytes(entry.sizeBytes)
    tr.querySelector('.size small')!.textContent = ratio
    tr.querySelector('.age')!.textContent = formatAge(entry.createdAt, now)
    tr.querySelector('.hits')!.textContent = String(entry.hits)
    const actions = tr.querySelector('.actions')!
    const button = (action: string, text: string, label: string): HTMLButtonElement => {
      const b = document.createElement('button')
      b.type = 'button'
      b.dataset.action = action
      b.textContent = text
      b.setAttribute('aria-label', `${label} ${op}`)
      b.title = label
      actions.append(b)
      return b
    }
    const pin = button('pin', entry.pinned ? '★' : '☆', entry.pinned ? 'Unpin' : 'Pin')
    pin.setAttribute('aria-pressed', String(entry.pinned))
    if (entry.dataType === 'Image') {
      const open = button('open', '▶', 'Open in the viewer')
      open.dataset.name = detail ? `${op} (${detail})` : op
      const download = button('download', '⤓', 'Download as .nii.gz')
      download.dataset.name = op.toLowerCase().replace(/[^a-z0-9]+/g, '-')
      // Reading a value of a locked cache fails; the buttons say why instead.
      for (const b of locked ? [open, download] : []) {
        b.disabled = true
        b.title = 'Locked: enter the passphrase to open'
      }
    }
    button('delete', '✕', 'Delete')
    return tr
  }
}
