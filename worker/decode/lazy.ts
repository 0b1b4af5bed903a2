// What the service needs of decoding, in one module that the worker imports at its first decode or
// export (service.ts, decoder): itk-wasm's glue, the format readers and the de-identification table are
// about half the worker's code, and a page that opens the cache without decoding should not load them.
export { decodeMetadata, decodeRoles, exportValue, knownDecodeId, planDecode } from './decode.js'
export { applyMode, metadataMode } from './deidentify.js'
export { usePipelines } from './itk.js'
