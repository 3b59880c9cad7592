import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

// Issue 8, design: no import cycles among the package's files (type-only imports included), no
// module-global mutable state, and no file over ~400 lines outside generated code.

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')
const files = (function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
})(src)
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]))
const name = (f: string) => relative(src, f)

/** Relative imports of a file (`import`, `import type`, `export … from`, `import()`), resolved to files. */
function importsOf(file: string): string[] {
  const specifiers = [...text.get(file)!.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!)
  return specifiers.map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts')).filter((f) => text.has(f))
}

describe('package structure', () => {
  test('no import cycles, type-only imports included', () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]))
    const cycles: string[] = []
    const state = new Map<string, 'visiting' | 'done'>()
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return
      if (state.get(file) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(file)), file].map(name).join(' → '))
        return
      }
      state.set(file, 'visiting')
      for (const next of graph.get(file)!) visit(next, [...path, file])
      state.set(file, 'done')
    }
    for (const f of files) visit(f, [])
    expect(cycles).toEqual([])
  })

  test('the check sees imports (it would catch a cycle)', () => {
    const db = files.find((f) => name(f) === 'db.ts')!
    expect(importsOf(db).map(name)).toContain('execution/scope.ts')
  })

  // A top-level Map/Set is allowed only typed Readonly (a constant table).
  test('no module-global mutable state: no top-level let/var, maps, sets or async contexts', () => {
    const offending = files.flatMap((f) =>
      text
        .get(f)!
        .split('\n')
        .map((line, i) => [line, i + 1] as const)
        .filter(([line]) => /^(export )?(let|var) /.test(line) || (/^(export )?const \w+\s*(:[^=]+)?=\s*new (Map|Set|WeakMap|AsyncLocalStorage)\b/.test(line) && !/^(export )?const \w+: Readonly/.test(line)))
        .map(([line, n]) => `${name(f)}:${n}: ${line.trim()}`),
    )
    expect(offending).toEqual([])
  })

  test('no source file over 400 lines outside generated code', () => {
    const long = files
      .filter((f) => !name(f).startsWith('generated/'))
      .map((f) => [name(f), text.get(f)!.split('\n').length] as const)
      .filter(([, lines]) => lines > 400)
    expect(long).toEqual([])
  })
})
