import { run } from '../../shared/run.ts'

void run('webpack-app')
