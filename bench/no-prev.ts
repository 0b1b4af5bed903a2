// Stands in for `voxcache-prev` when no previous build was extracted (see bench/vite.config.ts).
export const openCache: undefined = undefined
