import t from 'tap'
import { MemoryBackend } from '../../src/session/memory-backend.js'
import { sessionBackendConformance } from '../helpers/session-backend-conformance.js'

// In-process: never shared with another gateway, never away.
sessionBackendConformance(t, { open: () => new MemoryBackend(), shared: false })
