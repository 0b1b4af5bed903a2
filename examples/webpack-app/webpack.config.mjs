// A webpack 5 app that uses voxcache: webpack follows `new Worker(new URL(…, import.meta.url))` and
// `new URL('….wasm', import.meta.url)` by itself; the itk-wasm pipelines are copied next to the page.
import CopyPlugin from 'copy-webpack-plugin'
import { pipelineFiles } from 'voxcache/pipelines'

export default {
  mode: 'production',
  entry: './src/main.ts',
  output: { path: new URL('./dist', import.meta.url).pathname, filename: 'main.js', clean: true },
  resolve: { extensions: ['.ts', '.js'] },
  module: { rules: [{ test: /\.ts$/, loader: 'ts-loader', options: { transpileOnly: true } }] },
  plugins: [
    new CopyPlugin({
      patterns: [
        { from: 'public' },
        ...pipelineFiles().flatMap(({ dest, files }) => files.map((from) => ({ from, to: `itk/${dest}/[name][ext]` }))),
      ],
    }),
  ],
  performance: { hints: false },
}
