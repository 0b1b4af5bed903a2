// How many decodes this worker's cache served from storage (hits) and ran itk-wasm for (misses): here,
// apart from the decode modules, which the worker loads only at its first decode (service.ts).
export const decodeCounters = { decodeHits: 0, decodeMisses: 0 }
