// `npm run build:lib` (and `prepack`): the published package in lib/.
//
//   lib/index.js, lib/*.js + .d.ts   the main-thread library (tsc), only the files index.js reaches
//   lib/niivue.js + niivue.d.ts      the NiiVue adapter (`voxcache/niivue`), reached from no other entry
//   lib/playwright.js + .d.ts        seedCache for Playwright (`voxcache/playwright`), Node-side
//   lib/vite.js + vite.d.ts          the Vite plugin (`voxcache/vite`)
//   lib/pipelines.js + .d.ts         the itk-wasm pipeline files to copy (`voxcache/pipelines`, webpack)
//   lib/itk/<image-io|dicom>/        those pipelines and their packages' licences, so that an app
//                                    installs no itk-wasm package (their command-line dependencies)
//   lib/worker/cache.worker.js       the worker with everything it imports (Vite), its wasm beside it
//
// The main thread creates the worker with `new Worker(new URL('./worker/cache.worker.js',
// import.meta.url), { type: 'module' })`, the one form that Vite and webpack 5 both follow; the worker
// finds its wasm with `new URL('<file>.wasm', import.meta.url)`, which both copy as assets.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const lib = join(repo, 'lib')
const tsc = join(lib, '.tsc')

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`)
}

rmSync(lib, { recursive: true, force: true })
run('npx', ['vite', 'build', '--config', 'scripts/lib-worker.config.ts'])
run('npx', ['tsc', '-p', 'tsconfig.lib.json'])

// The worker imports its decode modules (worker/decode/lazy.ts) at its first decode, as a chunk beside
// it: that one dynamic import the app's bundler follows. In the chunk, itk-wasm loads each pipeline
// with import(url), marked for bundlers to leave alone; minifying dropped the marks, and webpack would
// otherwise try to bundle the URL's target. That one dynamic import gets them back.
const workerPath = join(lib, 'worker', 'cache.worker.js')
const worker = readFileSync(workerPath, 'utf8')
const chunks = [...worker.matchAll(/import\(\s*["'`](\.\/lazy-[\w-]+\.js)["'`]\s*\)/g)].map((m) => m[1])
if (worker.split('import(').length !== 2 || chunks.length !== 1) throw new Error('build-lib: the worker should hold exactly one dynamic import, of its decode chunk (./lazy-*.js)')
const lazyPath = join(lib, 'worker', chunks[0])
const lazy = readFileSync(lazyPath, 'utf8')
if (lazy.split('import(').length !== 2) throw new Error('build-lib: the decode chunk should hold exactly one dynamic import (itk-wasm loading a pipeline)')
writeFileSync(lazyPath, lazy.replace('import(', 'import(/* webpackIgnore: true */ /* @vite-ignore */ '))

/** Relative imports of a module (`from './x.js'`, `import('./x.js')`, `import './x.js'`). */
function relativeImports(text) {
  const out = []
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) out.push(m[1])
  return out
}

/** Copies `entry` and every module it reaches from lib/.tsc/<from> to lib/<to>. */
function copyReachable(from, to, entries) {
  const seen = new Set()
  const queue = [...entries]
  while (queue.length) {
    const file = queue.pop()
    if (seen.has(file)) continue
    seen.add(file)
    const source = join(tsc, from, file)
    if (!existsSync(source)) throw new Error(`build-lib: ${relative(repo, source)} is imported but was not emitted`)
    const text = readFileSync(source, 'utf8')
    for (const spec of relativeImports(text)) {
      // A declaration file names the module (./x.js); its declarations are in ./x.d.ts.
      const target = relative(join(tsc, from), join(dirname(source), file.endsWith('.d.ts') ? spec.replace(/\.js$/, '.d.ts') : spec))
      if (target.startsWith('..')) throw new Error(`build-lib: ${file} reaches outside ${from}/: ${spec}`)
      queue.push(target)
    }
    mkdirSync(dirname(join(lib, to, file)), { recursive: true })
    writeFileSync(join(lib, to, file), text)
  }
  return seen
}

// The main-thread library: src/ as emitted, without the worker's modules (client.ts imports the
// worker's API type only, which tsc erases).
const js = copyReachable('src', '', ['index.js', 'niivue.js', 'playwright.js'])
const dts = copyReachable('src', '', ['index.d.ts', 'niivue.d.ts', 'playwright.d.ts'])
copyReachable('plugins', '', ['vite.js', 'vite.d.ts', 'pipelines.js', 'pipelines.d.ts'])

// The pipelines, from this repository's node_modules (lib/itk/ does not exist yet, so pipelineFiles
// finds them there); the published pipelines.js finds them in lib/itk/ instead.
const { pipelineFiles, pipelineLicences } = await import(pathToFileURL(join(lib, 'pipelines.js')).href)
for (const { dest, files } of pipelineFiles()) {
  mkdirSync(join(lib, 'itk', dest), { recursive: true })
  for (const file of files) copyFileSync(file, join(lib, 'itk', dest, basename(file)))
}
for (const { dest, file } of pipelineLicences()) copyFileSync(file, join(lib, 'itk', dest, 'LICENSE'))

// The worker's URL: the source names the TypeScript module, the package the bundle beside it.
const clientPath = join(lib, 'client.js')
const client = readFileSync(clientPath, 'utf8')
const workerUrl = "new URL('../worker/cache.worker.ts', import.meta.url)"
if (client.split(workerUrl).length !== 2) throw new Error(`build-lib: client.js must create the worker with ${workerUrl} exactly once`)
writeFileSync(clientPath, client.replace(workerUrl, "new URL('./worker/cache.worker.js', import.meta.url)"))
rmSync(tsc, { recursive: true, force: true })

// Nothing Vite-only may reach an app's bundler, whichever it is.
const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else files.push(p)
  }
}
walk(lib)
for (const file of files.filter((f) => (f.endsWith('.js') || f.endsWith('.d.ts')) && !f.startsWith(join(lib, 'itk')))) {
  const text = readFileSync(file, 'utf8')
  for (const banned of ['import.meta.env', "?url'", '?url"', 'zstd-wasm:']) {
    if (text.includes(banned)) throw new Error(`build-lib: ${relative(repo, file)} contains ${banned}`)
  }
}
// Every file package.json's exports name is there (a module reached only from another's code, not
// its declarations, once shipped without its .d.ts).
const exportsMap = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).exports
for (const [entry, target] of Object.entries(exportsMap)) {
  for (const path of typeof target === 'string' ? [target] : Object.values(target)) {
    if (!existsSync(join(repo, path))) throw new Error(`build-lib: exports["${entry}"] names ${path}, which the build did not write`)
  }
}
const bytes = files.reduce((n, f) => n + statSync(f).size, 0)
console.log(`lib/: ${files.length} files, ${(bytes / 1e6).toFixed(2)} MB (${js.size} main-thread modules, ${dts.size} declaration files)`)
