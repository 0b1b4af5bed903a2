import * as Comlink from 'comlink'
import { installErrorChannel } from '../src/error-channel.js'
import { createService } from './service.js'

// One worker serves one cache; the client terminates it on close(). Errors cross with their code,
// entryId and cause (src/error-channel.ts).
installErrorChannel()
Comlink.expose(createService())
