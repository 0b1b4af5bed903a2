// Getting an image in: file picker, folder picker, drag and drop, the bundled sample and a phantom.
// Files are decoded by the cache (`cache.decode`, memoized by content in its worker); the viewer
// keys everything downstream by the files' content, never by their names. (decode does not hand out
// its own id, so the viewer names the source by the same thing: the sorted SHA-256 of the files.)
import { operationId, type Image, type VoxCache } from 'voxcache'
import { message } from './format.js'
import { makePhantom, previewVolume, type Volume } from './volume.js'

export interface Opened {
  /** Operation id naming the image's content: the root of every pipeline step's ref chain. */
  id: string
  image: Image
  label: string
  kind: 'sample' | 'phantom' | 'files' | 'cache'
  /** How long opening took (reading, hashing, decoding or reading back the decoded image). */
  ms?: number
}

export const SAMPLE = { url: 'samples/ch2bet.nii.gz', name: 'ch2bet.nii.gz', label: 'Colin27 T1 brain (ch2bet)' } as const

/**
 * Decodes one image from `files`: a single file, a header/data pair (.mhd + .raw, .hdr + .img) or a
 * DICOM series (every file of a folder). Its id is the decode's own (it hashes the bytes of every
 * file, never their names or order), so the pipeline's refs chain from a stored entry.
 * @throws {DecodeError | UnsupportedFormatError} from the cache's decoder, with the file's name
 */
export async function decodeFiles(cache: VoxCache, files: File[]): Promise<Opened> {
  if (files.length === 0) throw new Error('no files to open')
  const { id, image } = await cache.decodeEntry(files)
  const folder = files[0]!.webkitRelativePath.split('/')[0]
  const label = folder
    ? `${folder}/ (${files.length} file${files.length === 1 ? '' : 's'})`
    : files.length <= 2
      ? files.map((f) => f.name).join(' + ')
      : `${files.length} files (${files[0]!.name}, …)`
  return { id, image, label, kind: 'files' }
}

/**
 * Opens an image stored in the cache. A 3-D scalar image is shown first from region reads of its middle
 * axial, coronal and sagittal slices, handed to `preview` as each arrives; then the whole volume is read.
 */
export async function openCached(
  cache: VoxCache,
  id: string,
  label: string,
  preview: (volume: Volume, ms: number, slices: number) => void,
): Promise<Opened> {
  const started = performance.now()
  const info = await cache.imageInfo(id)
  if (!info) throw new Error('the entry is no longer in the cache')
  if (info.imageType.dimension === 3 && info.imageType.components === 1) {
    const [nx, ny, nz] = info.size as [number, number, number]
    const [cx, cy, cz] = [nx >> 1, ny >> 1, nz >> 1]
    const boxes = [
      { index: [0, 0, cz], size: [nx, ny, 1] },
      { index: [0, cy, 0], size: [nx, 1, nz] },
      { index: [cx, 0, 0], size: [1, ny, nz] },
    ]
    // Shown as each arrives: the axial slice is one frame of the record; a coronal or sagittal slice
    // crosses every frame (frames are slabs of axial slices), so it costs a pass over the record.
    const slices: (Image | undefined)[] = [undefined, undefined, undefined]
    for (const [k, box] of boxes.entries()) {
      const slice = await cache.retrieveRegion(id, box)
      if (!slice) throw new Error('the entry is no longer in the cache')
      slices[k] = slice
      preview(previewVolume(info, slices), performance.now() - started, k + 1)
    }
  }
  const image = await cache.retrieveImage(id)
  if (!image) throw new Error('the entry is no longer in the cache')
  return { id, image, label, kind: 'cache' }
}

/** The synthetic phantom, itself a memoized result (so it has an id like any pipeline step). */
export async function openPhantom(cache: VoxCache, size = 96): Promise<Opened> {
  const args = { size }
  const id = await operationId('voxcache-demo/phantom@1', args)
  const image = await cache.memoize('voxcache-demo/phantom@1', args, () => makePhantom(size), { metadata: { op: 'voxcache-demo/phantom@1', title: 'Synthetic phantom', params: args } })
  return { id, image, label: `Synthetic phantom ${size}³`, kind: 'phantom' }
}

/** Reads the files of dropped folders too (DataTransferItem.webkitGetAsEntry). */
async function droppedFiles(data: DataTransfer): Promise<File[]> {
  const entries = [...data.items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e)
  if (entries.length === 0) return [...data.files]
  const out: File[] = []
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      out.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)))
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader()
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject))
        if (batch.length === 0) break
        for (const child of batch) await walk(child)
      }
    }
  }
  for (const entry of entries) await walk(entry)
  return out
}

export interface OpenPanelHooks {
  opened: (opened: Opened) => void | Promise<void>
  /** `what` names what was being opened, when something was. */
  failed: (text: string, what?: string) => void
  busy: (text: string | undefined) => void
}

/** Wires the open controls; every path ends in `opened` or `failed`, never in a broken viewer. */
export function wireOpenPanel(
  cache: VoxCache,
  hooks: OpenPanelHooks,
): { openSample: () => Promise<void>; openPhantom: () => Promise<void>; openEntry: (id: string, label: string, preview: (volume: Volume, ms: number, slices: number) => void) => Promise<void> } {
  let queue = Promise.resolve()
  const attempt = (what: string, load: () => Promise<Opened>): Promise<void> => {
    queue = queue.then(async () => {
      hooks.busy(`Opening ${what}…`)
      try {
        const started = performance.now()
        const opened = await load()
        await hooks.opened({ ...opened, ms: performance.now() - started })
      } catch (error) {
        const text = message(error)
        // Decode errors already start with the file's name.
        hooks.failed(text.startsWith(`${what}:`) ? `Could not open ${text}` : `Could not open ${what}: ${text}`, what)
      } finally {
        hooks.busy(undefined)
      }
    })
    return queue
  }
  const openFiles = (files: File[]): Promise<void> => {
    const visible = files.filter((f) => !f.name.startsWith('.')) // .DS_Store and friends
    const what = visible.length === 1 ? visible[0]!.name : `${visible.length} files`
    return attempt(what, () => decodeFiles(cache, visible))
  }

  for (const id of ['#open-files', '#open-folder']) {
    const input = document.querySelector<HTMLInputElement>(id)!
    input.addEventListener('change', () => {
      const files = [...(input.files ?? [])]
      input.value = '' // choosing the same file again must fire change again
      if (files.length) void openFiles(files)
    })
  }

  const openSample = (): Promise<void> =>
    attempt(SAMPLE.label, async () => {
      const response = await fetch(SAMPLE.url)
      if (!response.ok) throw new Error(`the sample is not available (HTTP ${response.status})`)
      const file = new File([await response.blob()], SAMPLE.name)
      return { ...(await decodeFiles(cache, [file])), label: SAMPLE.label, kind: 'sample' }
    })
  const phantom = (): Promise<void> => attempt('the phantom', () => openPhantom(cache))
  document.querySelector('#open-sample')!.addEventListener('click', () => void openSample())
  document.querySelector('#open-phantom')!.addEventListener('click', () => void phantom())

  // Drag and drop anywhere on the page; the overlay says what will happen.
  let depth = 0
  const body = document.body
  body.addEventListener('dragenter', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return
    depth++
    body.classList.add('dragging')
  })
  body.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1)
    if (depth === 0) body.classList.remove('dragging')
  })
  body.addEventListener('dragover', (e) => e.preventDefault())
  body.addEventListener('drop', (e) => {
    e.preventDefault()
    depth = 0
    body.classList.remove('dragging')
    if (!e.dataTransfer) return
    droppedFiles(e.dataTransfer).then(
      (files) => (files.length ? openFiles(files) : hooks.failed('Nothing to open in what was dropped.')),
      (error) => hooks.failed(`Could not read the dropped files: ${message(error)}`),
    )
  })
  const openEntry = (id: string, label: string, preview: (volume: Volume, ms: number, slices: number) => void): Promise<void> =>
    attempt(label, () => openCached(cache, id, label, preview))
  return { openSample, openPhantom: phantom, openEntry }
}
