// The seed's design, ported literally: each value is a BLOB row of an in-memory sql.js database, and
// after every write the whole database is exported and put into IndexedDB. This is the baseline that
// voxcache's split (small index, payload files beside it) is meant to beat.
import initSqlJs, { type Database, type SqlJsStatic } from 'sql.js'
import sqlWasmUrl from 'sql.js/dist/sql-wasm.wasm?url'
import { createStore, del, set, type UseStore } from 'idb-keyval'
import type { Image } from '../src/index.js'
import { imageOf } from './volumes.js'

let SQL: Promise<SqlJsStatic> | undefined

export class SeedPort {
  private constructor(
    private db: Database,
    private readonly idb: UseStore,
    private readonly idbName: string,
  ) {}

  static async open(name: string): Promise<SeedPort> {
    SQL ??= initSqlJs({ locateFile: () => sqlWasmUrl })
    const db = new (await SQL).Database()
    db.run(`CREATE TABLE results (
      operation_id TEXT PRIMARY KEY, data BLOB, data_type TEXT NOT NULL,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, size_bytes INTEGER, metadata TEXT)`)
    return new SeedPort(db, createStore(`seed-${name}`, 'db'), `seed-${name}`)
  }

  /** Inserts without persisting: for filling the database before the timed writes. */
  insert(id: string, image: Image): void {
    const data = image.data as Uint8Array | Float32Array
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const meta = JSON.stringify({
      componentType: image.imageType.componentType,
      size: image.size,
      spacing: image.spacing,
      name: image.name,
    })
    this.db.run('INSERT OR REPLACE INTO results (operation_id, data, data_type, size_bytes, metadata) VALUES (?,?,?,?,?)', [
      id,
      bytes,
      'Image',
      bytes.byteLength,
      meta,
    ])
  }

  async persist(): Promise<void> {
    await set('db', this.db.export(), this.idb)
  }

  async store(id: string, image: Image): Promise<void> {
    this.insert(id, image)
    await this.persist()
  }

  async retrieve(id: string): Promise<Image | undefined> {
    const stmt = this.db.prepare('SELECT data, metadata FROM results WHERE operation_id = ?')
    try {
      stmt.bind([id])
      if (!stmt.step()) return undefined
      const [data, meta] = stmt.get() as [Uint8Array, string]
      const m = JSON.parse(meta) as { componentType: string; size: number[]; spacing: number[]; name: string }
      const pixels = m.componentType === 'float32' ? new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4) : data
      return imageOf(pixels, m.size, m.spacing, m.name)
    } finally {
      stmt.free()
    }
  }

  async remove(id: string): Promise<void> {
    this.db.run('DELETE FROM results WHERE operation_id = ?', [id])
  }

  async destroy(): Promise<void> {
    this.db.close()
    await del('db', this.idb)
    await new Promise((resolve) => {
      const r = indexedDB.deleteDatabase(this.idbName)
      r.onsuccess = r.onerror = r.onblocked = resolve
    })
  }
}
