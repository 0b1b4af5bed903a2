// `npm test`: every suite — unit tests in Node (Vitest), the browser tests in Debian's Chromium
// (Playwright), then the example apps built from the packed tarball — and one closing line
// `N passed, N failed` that sums them.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs'

const out = '.test-output'
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
// The reliability specs write the counts they observe here (test/figures.ts); the README's figures
// come from such files, gathered by scripts/figures.mjs.
const figures = `${out}/figures.jsonl`
const run = (cmd, args, env = {}) =>
  spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, VOXCACHE_FIGURES: figures, ...env } }).status ?? 1

let passed = 0
let failed = 0
let broken = false

const chromium = run('bash', ['scripts/ensure-chromium.sh'])
if (chromium !== 0) broken = true
// Test images fetched from Debian at test time (not committed): see test/TESTDATA.md.
if (run('bash', ['scripts/ensure-testdata.sh']) !== 0) broken = true

const unitStatus = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}/vitest.json`])
if (existsSync(`${out}/vitest.json`)) {
  const r = JSON.parse(readFileSync(`${out}/vitest.json`, 'utf8'))
  passed += r.numPassedTests
  failed += r.numFailedTests
} else broken = true
if (unitStatus !== 0 && failed === 0) broken = true

const pwArgs = ['playwright', 'test', ...process.argv.slice(2)]
const browserStatus = chromium === 0 ? run('npx', pwArgs, { PW_JSON: `${out}/playwright.json` }) : 1
if (existsSync(`${out}/playwright.json`)) {
  const r = JSON.parse(readFileSync(`${out}/playwright.json`, 'utf8'))
  passed += r.stats.expected + r.stats.flaky
  failed += r.stats.unexpected
  if (r.errors?.length) broken = true
} else broken = true
if (browserStatus !== 0 && failed === 0) broken = true

// The package as an app meets it: packed, installed into the example apps outside this repository,
// type-checked, built, served and driven (examples/examples.spec.ts).
const examplesStatus =
  chromium === 0 ? run('npx', ['playwright', 'test', '-c', 'playwright.examples.config.ts'], { PW_JSON: `${out}/examples.json` }) : 1
if (existsSync(`${out}/examples.json`)) {
  const r = JSON.parse(readFileSync(`${out}/examples.json`, 'utf8'))
  passed += r.stats.expected + r.stats.flaky
  failed += r.stats.unexpected
  if (r.errors?.length || r.stats.skipped) broken = true
} else broken = true
if (examplesStatus !== 0 && failed === 0) broken = true

if (existsSync(figures)) console.log(`Observed counts: ${figures} (${readFileSync(figures, 'utf8').trim().split('\n').length} spec runs)`)
if (broken) console.log('A suite did not run to completion (see above).')
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 && !broken ? 0 : 1)
