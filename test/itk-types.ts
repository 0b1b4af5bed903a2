// Checked by tsc (npm test's first step), not run: voxcache declares its own Image so that the package's
// types need no itk-wasm; it must stay assignable to and from itk-wasm's, both ways.
import type { Image as ItkImage } from 'itk-wasm'
import type { Image } from '../src/types.js'

export const toItk = (image: Image): ItkImage => image
export const fromItk = (image: ItkImage): Image => image
