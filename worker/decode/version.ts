/**
 * Names the decoder in operation ids: another itk-wasm reader may read a file differently, so images
 * it cached must not be reused. The package does not export its version; a unit test keeps it in step.
 */
export const IMAGE_IO_VERSION = '1.6.1'
export const DECODER = `@itk-wasm/image-io@${IMAGE_IO_VERSION}`
