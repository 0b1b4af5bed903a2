// A static server for the built bench page, plus the test volumes: ch2bet's voxels parsed from its
// NIfTI-1 file here in Node, and the raw .nii.gz files for the decode section.
import { createServer } from 'node:http'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { extname, join, normalize, resolve } from 'node:path'
import { gunzipSync } from 'node:zlib'

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
}

/** The testdata folder: ../shared/testdata beside the repo (CI), else /work/shared/testdata. */
export function findTestdata(repo) {
  for (const dir of [resolve(repo, '../shared/testdata'), '/work/shared/testdata']) {
    if (existsSync(join(dir, 'ch2bet.nii.gz'))) return dir
  }
  throw new Error('ch2bet.nii.gz not found in ../shared/testdata')
}

/** Voxels and geometry of a NIfTI-1 (.nii or .nii.gz) file with uint8 voxels. */
export function readNifti(path) {
  let bytes = readFileSync(path)
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let le = true
  if (dv.getInt32(0, true) !== 348) {
    if (dv.getInt32(0, false) !== 348) throw new Error(`${path} is not NIfTI-1`)
    le = false
  }
  const dims = dv.getInt16(40, le)
  const size = Array.from({ length: dims }, (_, i) => dv.getInt16(42 + 2 * i, le))
  const spacing = Array.from({ length: dims }, (_, i) => dv.getFloat32(80 + 4 * i, le))
  const datatype = dv.getInt16(70, le)
  if (datatype !== 2) throw new Error(`${path}: datatype ${datatype}, expected uint8 (2)`)
  const offset = Math.round(dv.getFloat32(108, le))
  const count = size.reduce((a, b) => a * b, 1)
  const voxels = bytes.subarray(offset, offset + count)
  if (voxels.byteLength !== count) throw new Error(`${path} is truncated`)
  return { size, spacing, voxels }
}

/** Serves `root` and the /data and /testdata routes on an ephemeral port. Resolves to its base URL. */
export function serve(root, testdata) {
  const ch2bet = readNifti(join(testdata, 'ch2bet.nii.gz'))
  const routes = {
    '/data/ch2bet.raw': () => [Buffer.from(ch2bet.voxels), 'application/octet-stream'],
    '/data/ch2bet.json': () => [JSON.stringify({ size: ch2bet.size, spacing: ch2bet.spacing }), TYPES['.json']],
  }
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    let body
    let type
    if (path === '/favicon.ico') {
      res.writeHead(204).end()
      return
    }
    if (routes[path]) [body, type] = routes[path]()
    else {
      const base = path.startsWith('/testdata/') ? testdata : root
      const file = normalize(join(base, path.startsWith('/testdata/') ? path.slice('/testdata'.length) : path))
      if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end('not found')
        return
      }
      body = readFileSync(file)
      type = TYPES[extname(file)] ?? 'application/octet-stream'
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
  })
  return new Promise((resolveUrl) => {
    server.listen(0, '127.0.0.1', () => resolveUrl({ url: `http://127.0.0.1:${server.address().port}`, server, ch2bet }))
  })
}
