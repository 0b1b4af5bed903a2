// The counts the reliability specs observe (kills, evictions, import outcomes, …), written where
// `npm test` collects them: one JSON line per spec run in .test-output/figures.jsonl. The README quotes
// figures only from such files (scripts/figures.mjs gathers the runs it cites into docs/test-figures.md).
import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

const FILE = process.env.VOXCACHE_FIGURES ?? '.test-output/figures.jsonl'

/** Records one spec's observed counts; `npm test` prints where they went. */
export function recordFigures(spec: string, figures: Record<string, unknown>): void {
  mkdirSync(dirname(FILE), { recursive: true })
  appendFileSync(FILE, `${JSON.stringify({ spec, at: new Date().toISOString(), ...figures })}\n`)
}
