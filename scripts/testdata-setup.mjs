// Global setup of Vitest and Playwright: the test images fetched at test time
// (scripts/ensure-testdata.sh; nothing to do once they are there), so that a single spec run on a fresh
// clone has them as `npm test` does.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export default function setup() {
  execFileSync('bash', [fileURLToPath(new URL('./ensure-testdata.sh', import.meta.url))], { stdio: 'inherit' })
}
