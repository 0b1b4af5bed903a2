// The cache panel's protection section: protect the cache with a passphrase, unlock it after a reload,
// lock it again, or wipe it. What it shows follows the cache's own stats (see protectionState).
import { KeyMismatchError, openCache, wipeAll, type CacheStats, type OpenCacheOptions } from 'voxcache'
import type { CacheSlot } from './cache-slot.js'
import { message } from './format.js'
import {
  deriveCacheKey,
  forgetAllRecords,
  forgetRecord,
  MIN_PASSPHRASE,
  newSalt,
  PBKDF2_ITERATIONS,
  protectionState,
  readRecord,
  writeRecord,
  type ProtectionState,
} from './protect.js'

export interface ProtectHooks {
  say: (text: string, kind?: 'info' | 'error') => void
  busy: (text: string | undefined) => void
  /** The cache was reopened or emptied: refresh what shows it. */
  changed: () => void
  /** The passphrase was right: what waited for the key can go on (the remembered session, say). */
  unlocked: () => void
  /** Everything was wiped: forget what pointed into the cache. */
  wiped: () => void
}

const ITERATIONS_TEXT = PBKDF2_ITERATIONS.toLocaleString('en')

const TEMPLATES: Record<ProtectionState['kind'], string> = {
  clear: `
    <div class="protection-head"><p class="protection-title">Not protected: entries are stored in clear.</p>
      <button type="button" data-action="show-protect">Protect this cache…</button></div>
    <p class="protection-warn" data-notice hidden></p>
    <form class="protection-form" data-form="protect" hidden>
      <input name="username" autocomplete="username" hidden />
      <p class="hint">A passphrase becomes this cache's key (PBKDF2-SHA-256, ${ITERATIONS_TEXT} iterations) and every
        entry is sealed with it. After a reload the cache stays locked until the passphrase is entered again.
        A forgotten passphrase cannot be recovered: the cache can then only be wiped.</p>
      <p class="protection-warn" data-note="clear-first" hidden></p>
      <label>Passphrase <input name="passphrase" type="password" autocomplete="new-password" required /></label>
      <label>Repeat the passphrase <input name="confirm" type="password" autocomplete="new-password" required /></label>
      <p class="protection-error" data-error aria-live="polite"></p>
      <div class="buttons"><button type="submit" class="primary" data-submit>Protect</button>
        <button type="button" data-action="cancel">Cancel</button></div>
    </form>`,
  locked: `
    <div class="protection-head"><p class="protection-title">Locked — enter the passphrase</p></div>
    <p class="hint">This cache is protected. Its entries are listed, but what they are and what they hold stay
      sealed until the passphrase is entered; nothing can be opened or computed meanwhile.</p>
    <form class="protection-form inline" data-form="unlock">
      <input name="username" autocomplete="username" hidden />
      <label>Passphrase <input name="passphrase" type="password" autocomplete="current-password" required /></label>
      <button type="submit" class="primary" data-submit>Unlock</button>
    </form>
    <p class="protection-error" data-error aria-live="polite"></p>
    <div class="buttons"><button type="button" class="danger" data-action="wipe">Wipe all cached data</button></div>`,
  'no-salt': `
    <div class="protection-head"><p class="protection-title">Locked, and cannot be unlocked here</p></div>
    <p class="hint">This cache is protected, but this browser no longer has the salt that turns the passphrase
      into its key, so no passphrase can unlock it. Wipe it to start again.</p>
    <div class="buttons"><button type="button" class="danger" data-action="wipe">Wipe all cached data</button></div>`,
  unlocked: `
    <div class="protection-head"><p class="protection-title">Protected — unlocked in this page</p>
      <button type="button" data-action="lock" title="Drops the key from this page: the page reloads, locked">Lock</button></div>
    <p class="hint">Entries are sealed with a key derived from the passphrase; only this page holds it.</p>
    <div class="buttons"><button type="button" class="danger" data-action="wipe">Wipe all cached data</button></div>`,
}

export class ProtectPanel {
  #root = document.querySelector<HTMLElement>('#protection')!
  #state: ProtectionState | undefined
  #entries = 0
  #working = false
  #armed: ReturnType<typeof setTimeout> | undefined
  #notice = ''

  constructor(
    private readonly slot: CacheSlot,
    private readonly options: OpenCacheOptions & { name: string },
    private readonly hooks: ProtectHooks,
  ) {
    this.#root.addEventListener('click', (e) => {
      const action = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]')?.dataset.action
      if (action === 'show-protect') this.#showProtect(true)
      if (action === 'cancel') this.#showProtect(false)
      if (action === 'lock') location.reload()
      if (action === 'wipe') this.#wipeClicked(e.target as HTMLElement)
    })
    this.#root.addEventListener('submit', (e) => {
      e.preventDefault()
      const form = e.target as HTMLFormElement
      const field = (name: string): string => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? ''
      if (form.dataset.form === 'protect') void this.#work(() => this.#protect(field('passphrase'), field('confirm')))
      if (form.dataset.form === 'unlock') void this.#work(() => this.#unlock(field('passphrase')))
    })
  }

  /** What the panel shows, from the stats the cache panel just read. Not while reopening: those are stale. */
  update(stats: CacheStats): void {
    if (this.#working) return
    this.#entries = stats.entries
    const state = protectionState(stats.protection, readRecord(this.options.name))
    if (state.kind !== this.#state?.kind) {
      this.#state = state
      this.#disarm()
      this.#root.innerHTML = TEMPLATES[state.kind]
      // Password managers keep a passphrase per username: the cache's name is that.
      for (const input of this.#root.querySelectorAll<HTMLInputElement>('input[name="username"]')) input.value = `voxcache cache “${this.options.name}”`
      this.#root.dataset.state = state.kind
      document.body.dataset.protection = state.kind
      this.#showNotice()
    } else {
      this.#state = state
    }
    this.#noteEntries()
  }

  /** A line that stays in the section until its state changes (a toast fades, or an opened image hides it). */
  notice(text: string): void {
    this.#notice = text
    this.#showNotice()
  }

  #showNotice(): void {
    const p = this.#root.querySelector<HTMLElement>('[data-notice]')
    if (!p) return
    p.textContent = this.#notice
    p.hidden = !this.#notice
    this.#notice = ''
  }

  get locked(): boolean {
    return this.#state?.kind === 'locked' || this.#state?.kind === 'no-salt'
  }

  #showProtect(shown: boolean): void {
    const form = this.#root.querySelector<HTMLFormElement>('[data-form="protect"]')!
    form.hidden = !shown
    form.reset()
    this.#error('')
    this.#root.querySelector<HTMLElement>('[data-action="show-protect"]')!.hidden = shown
    if (shown) form.querySelector('input')!.focus()
  }

  // A key can protect only an empty cache (the library refuses one with entries stored in clear), so the
  // person is told before, and the button says what it will do.
  #noteEntries(): void {
    const note = this.#root.querySelector<HTMLElement>('[data-note="clear-first"]')
    if (!note) return
    const n = this.#entries
    note.hidden = n === 0
    note.textContent = `This cache holds ${n} ${n === 1 ? 'entry' : 'entries'} stored in clear. A key cannot protect them, so they are cleared first; each is computed again when it is needed.`
    this.#root.querySelector('[data-submit]')!.textContent = n === 0 ? 'Protect' : `Clear ${n} ${n === 1 ? 'entry' : 'entries'} and protect`
  }

  #error(text: string): void {
    const p = this.#root.querySelector<HTMLElement>('[data-error]')
    if (p) p.textContent = text
  }

  async #work(job: () => Promise<void>): Promise<void> {
    if (this.#working) return
    this.#working = true
    for (const b of this.#root.querySelectorAll('button')) b.disabled = true
    this.#error('')
    try {
      await job()
    } catch (error) {
      this.#error(message(error))
    } finally {
      this.hooks.busy(undefined)
      this.#working = false
      for (const b of this.#root.querySelectorAll('button')) b.disabled = false
      this.hooks.changed()
    }
  }

  async #protect(passphrase: string, confirm: string): Promise<void> {
    if (passphrase.length < MIN_PASSPHRASE) return this.#error(`Choose a passphrase of at least ${MIN_PASSPHRASE} characters.`)
    if (passphrase !== confirm) return this.#error('The two passphrases differ.')
    this.hooks.busy('Deriving the key from the passphrase…')
    const salt = newSalt()
    const key = await deriveCacheKey(passphrase, salt)
    const old = this.slot.current
    if ((await old.stats()).entries > 0) await old.clear()
    // Closed before the open with the key: an instance opened before the cache was protected would go on
    // writing entries in clear. The salt is written first, so that a page closed half way leaves a salt
    // without a protected cache (dropped at the next start), never a protected cache without its salt.
    await old.close()
    writeRecord(this.options.name, { salt, iterations: PBKDF2_ITERATIONS })
    let next
    try {
      next = await openCache({ ...this.options, encryption: { key } })
    } catch (error) {
      // Refused (another tab stored an entry in clear meanwhile, say): back to the clear cache, no salt.
      forgetRecord(this.options.name)
      await this.slot.swap(await openCache(this.options))
      throw error
    }
    writeRecord(this.options.name, { salt, iterations: PBKDF2_ITERATIONS, keyId: (await next.stats()).protection!.keyId })
    await this.slot.swap(next)
    this.hooks.say('This cache is protected. After a reload it stays locked until the passphrase is entered again.')
  }

  async #unlock(passphrase: string): Promise<void> {
    const state = this.#state
    if (state?.kind !== 'locked') return
    this.hooks.busy('Deriving the key from the passphrase…')
    const key = await deriveCacheKey(passphrase, state.record.salt, state.record.iterations)
    let next
    try {
      // Opened beside the locked instance, which stays in place if the key is refused.
      next = await openCache({ ...this.options, encryption: { key } })
    } catch (error) {
      if (error instanceof KeyMismatchError) return this.#error('Wrong passphrase: the cache stays locked, and nothing was changed.')
      throw error
    }
    await this.slot.swap(next)
    this.hooks.say('Unlocked.')
    this.hooks.unlocked()
  }

  // Wiping is one click more than anything else, as Clear all: the first arms the button.
  #wipeClicked(button: HTMLElement): void {
    if (!this.#armed) {
      button.textContent = 'Click again to wipe everything'
      button.classList.add('armed')
      this.#armed = setTimeout(() => this.#disarm(), 4000)
      return
    }
    this.#disarm()
    void this.#work(async () => {
      // wipeAll removes every cache of the origin (and closes this page's instance), so every salt goes too.
      await wipeAll()
      forgetAllRecords()
      this.hooks.wiped()
      await this.slot.swap(await openCache(this.options))
      this.hooks.say('Every cache of this browser is wiped, and the passphrase\'s salt with it. The cache starts again, empty and unprotected.')
    })
  }

  #disarm(): void {
    clearTimeout(this.#armed)
    this.#armed = undefined
    const button = this.#root.querySelector<HTMLElement>('[data-action="wipe"]')
    if (button) {
      button.textContent = 'Wipe all cached data'
      button.classList.remove('armed')
    }
  }
}
