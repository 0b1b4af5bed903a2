import { run } from '../../shared/run.ts'

void run('vite-app')
