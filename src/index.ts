export { openCache, VoxCache } from './client.js'
export { operationId, contentRef, ref, isOperationId, type OperationId } from './operation-id.js'
export {
  VoxCacheError,
  DecodeError,
  UnsupportedFormatError,
  CorruptEntryError,
  CacheFullError,
  StorageUnavailableError,
  InvalidKeyError,
  UnsupportedValueError,
  SchemaVersionError,
  InvalidImportError,
  ClosedError,
  type ErrorCode,
} from './errors.js'
export type * from './types.js'
export { Codecs } from './types.js'
