import * as Comlink from 'comlink'
import { createService } from './service.js'

// One worker serves one cache; the client terminates it on close().
Comlink.expose(createService())
