// Gathers the counts that `npm test` recorded (.test-output/figures.jsonl, one line per reliability
// spec run) into docs/test-figures.md: per spec and figure, the range over the runs given, and each
// run's own line. The README quotes figures only from that file.
//   node scripts/figures.mjs docs/test-figures/*.jsonl > docs/test-figures.md
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

const files = process.argv.slice(2)
if (!files.length) {
  console.error('usage: node scripts/figures.mjs RUN.jsonl… > docs/test-figures.md')
  process.exit(2)
}
const bySpec = new Map()
for (const file of files) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue
    const { spec, at, ...figures } = JSON.parse(line)
    if (!bySpec.has(spec)) bySpec.set(spec, [])
    bySpec.get(spec).push({ run: basename(file, '.jsonl'), at, figures })
  }
}
/** Numbers at any depth, as dotted paths. */
function flatten(value, prefix = '', out = {}) {
  if (typeof value === 'number') out[prefix] = value
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out)
  return out
}
const fmt = (n) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2))
const out = [
  '# Figures observed by `npm test`',
  '',
  `Made by \`node scripts/figures.mjs ${files.join(' ')}\`. Each run is a full \`npm test\`; its`,
  'counts come from the reliability specs (they assert the invariants; these are what they saw).',
  '',
]
for (const [spec, runs] of [...bySpec].sort(([a], [b]) => a.localeCompare(b))) {
  out.push(`## ${spec}`, '', `${runs.length} run${runs.length > 1 ? 's' : ''}: ${runs.map((r) => `${r.run} (${r.at})`).join(', ')}`, '')
  const flat = runs.map((r) => flatten(r.figures))
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))]
  out.push('| figure | range | per run |', '| --- | --- | --- |')
  for (const key of keys) {
    const values = flat.map((f) => f[key]).filter((v) => v !== undefined)
    const [lo, hi] = [Math.min(...values), Math.max(...values)]
    out.push(`| ${key} | ${lo === hi ? fmt(lo) : `${fmt(lo)}–${fmt(hi)}`} | ${values.map(fmt).join(', ')} |`)
  }
  out.push('')
}
process.stdout.write(out.join('\n'))
