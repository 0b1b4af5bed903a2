declare module 'zstd-wasm:module.js' {
  export const Module: unknown
  export function waitInitialized(): Promise<void>
}
declare module 'zstd-wasm:zstd.wasm?url' {
  const url: string
  export default url
}
