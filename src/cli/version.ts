import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The `version` of the automagik-db package.json above this file: found by walking up, as the
 * file sits at src/cli/ in the repository and at dist/src/cli/ in the installed package.
 *
 * @example
 * ```ts
 * packageVersion() // '0.1.0'
 * ```
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = readManifest(join(dir, 'package.json'))
    if (manifest?.name === 'automagik-db' && typeof manifest.version === 'string') return manifest.version
    const parent = dirname(dir)
    if (parent === dir) return 'unknown'
    dir = parent
  }
}

function readManifest(path: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown }
  } catch {
    return undefined
  }
}
