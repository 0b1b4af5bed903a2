// NiiVue and voxcache/niivue for the adapter's specs, loaded by window.loadNiivue().
export { NVImage, Niivue } from '@niivue/niivue'
export { toNVImage, fromNVImage } from '../../src/niivue.js'
