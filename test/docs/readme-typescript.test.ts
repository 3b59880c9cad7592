import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { beforeAll, describe, expect, test } from 'vitest'

// Every ```ts block of README.md compiles against the package as a user gets it: each block is
// typechecked, as its own ES module (top-level `await` allowed), with this repository's compiler
// options (tsconfig.json: strict, noUncheckedIndexedAccess, NodeNext, …), and `automagik-db` /
// `automagik-db/testing` resolve through package.json "exports" to the BUILT declarations in
// dist/ (rebuilt first when missing or older than src/). No database is needed.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const readmePath = join(root, 'README.md')

/**
 * The names README blocks use for "your values", declared for every block. Only values a reader
 * obviously brings (an open Db, ids they hold): never a repository method, an option or a type,
 * which would hide the API mistakes this test is for. A block that declares one of these names
 * itself shadows the declaration.
 */
const AMBIENT = `
declare const db: import('automagik-db').Db
declare const userId: number
declare const agentId: number
declare const sessionId: string
`

/**
 * Blocks are placed in test/examples/, where the README's testing examples keep their complete
 * files, so that `import … from './signup.service.js'` finds them. Those files import the package
 * from ../../src/ (they run in this repository); here they are read with the imports a user's
 * project has, so the whole program sees one package: the built one.
 */
const blockDir = join(root, 'test/examples')
const USER_IMPORTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/(['"])\.\.\/\.\.\/src\/index\.js\1/g, "'automagik-db'"],
  [/(['"])\.\.\/\.\.\/src\/testing\/index\.js\1/g, "'automagik-db/testing'"],
]

/** Compiler options tsconfig.json does not get to decide for snippets. */
const OVERRIDES: ts.CompilerOptions = {
  noEmit: true,
  declaration: false,
  sourceMap: false,
  // A snippet computes values to show them (`const history = …`) and then ends.
  noUnusedLocals: false,
  noUnusedParameters: false,
}

interface Block {
  /** README line of the block's first line of code (1-based). */
  line: number
  code: string
  file: string
}

/**
 * A block that shows a file of this repository (```ts file=path): it must be that file,
 * verbatim; or a part of one (```ts excerpt=path): consecutive lines of it, at one indentation.
 * The file is compiled and run where it lives (test/consumer/ is its own app, built and tested
 * from the packed package by test/consumer/run.sh), so the block is not compiled here.
 */
interface FileBlock {
  line: number
  code: string
  path: string
  whole: boolean
}

/** True when `part`'s lines are consecutive lines of `text`, all indented by the same amount. */
function isExcerpt(part: string, text: string): boolean {
  const want = part.split('\n')
  const lines = text.split('\n')
  return lines.some((line, i) => {
    const indent = line.length - line.trimStart().length
    return want.every((w, j) => {
      const l = lines[i + j]
      return l !== undefined && (w === '' ? l.trim() === '' : l.slice(0, indent).trim() === '' && l.slice(indent) === w)
    })
  })
}

const fileBlocks: FileBlock[] = []

function readmeBlocks(): Block[] {
  const lines = readFileSync(readmePath, 'utf8').split(/\r?\n/)
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)(?:\s+(file|excerpt)=(\S+))?/.exec(lines[i]!)
    if (open === null) continue
    const [, indent, fence, lang, kind, path] = open as unknown as [string, string, string, string, string?, string?]
    const end = lines.findIndex((l, j) => j > i && l.trimEnd() === indent + fence)
    if (end === -1) throw new Error(`README.md:${i + 1}: code block never closed`)
    if (['ts', 'typescript', 'mts'].includes(lang.toLowerCase())) {
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
        .join('\n')
      if (path !== undefined) fileBlocks.push({ line: i + 2, code, path, whole: kind === 'file' })
      else blocks.push({ line: i + 2, code, file: join(blockDir, `README.md-L${i + 2}.mts`) })
    }
    i = end
  }
  return blocks
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  )
}

const mtime = (file: string) => statSync(file).mtimeMs

/** Why dist/ does not match the sources (`null`: up to date). */
function staleBuild(): string | null {
  const entry = join(root, 'dist/src/index.d.ts')
  if (!existsSync(entry)) return 'dist/ is missing'
  for (const config of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) {
    if (mtime(join(root, config)) > mtime(entry)) return `${config} is newer than dist/`
  }
  for (const dir of ['src', 'migrations']) {
    for (const source of walk(join(root, dir))) {
      if (!source.endsWith('.ts') || source.endsWith('.d.ts')) continue
      const built = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.d.ts')
      if (!existsSync(built) || mtime(built) < mtime(source)) return `${relative(root, source)} is newer than dist/`
    }
  }
  return null
}

function ensureBuilt(): void {
  if (staleBuild() === null) return
  try {
    execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'pipe', encoding: 'utf8' })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    throw new Error(`npm run build failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
}

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile)
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'))
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'))
  // Without an outDir, TypeScript cannot map the package's own dist/ back to src/ (which it does
  // for an import of a package by its own name from inside it); nothing is emitted anyway.
  const { outDir: _outDir, rootDir: _rootDir, declarationDir: _declarationDir, ...options } = parsed.options
  return { ...options, ...OVERRIDES }
}

interface Checked {
  program: ts.Program
  /** Formatted diagnostics per block file; `''` for those outside any block. */
  diagnostics: Map<string, string[]>
}

function typecheck(blocks: readonly Block[]): Checked {
  const options = compilerOptions()
  const ambientFile = join(blockDir, 'README.md-ambient.d.ts')
  const virtual = new Map<string, string>([[ambientFile, AMBIENT]])
  // Each block is its own module: `export {}` (after the code, so lines stay put) makes even a
  // block without imports one, with its own scope and top-level `await`.
  for (const b of blocks) virtual.set(b.file, `${b.code}\nexport {}\n`)

  const host = ts.createCompilerHost(options, true)
  const textOf = (fileName: string): string | undefined => {
    const path = resolve(fileName)
    if (virtual.has(path)) return virtual.get(path)
    if (dirname(path) === blockDir && /\.[mc]?ts$/.test(path) && !path.endsWith('.d.ts') && existsSync(path)) {
      return USER_IMPORTS.reduce((text, [from, to]) => text.replace(from, to), readFileSync(path, 'utf8'))
    }
    return undefined
  }
  const { getSourceFile, fileExists, readFile } = host
  host.fileExists = (f) => virtual.has(resolve(f)) || fileExists.call(host, f)
  host.readFile = (f) => textOf(f) ?? readFile.call(host, f)
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = textOf(fileName)
    return text === undefined
      ? getSourceFile.call(host, fileName, languageVersion, onError, shouldCreate)
      : ts.createSourceFile(fileName, text, languageVersion, true)
  }

  const program = ts.createProgram({ rootNames: [ambientFile, ...blocks.map((b) => b.file)], options, host })
  const byFile = new Map(blocks.map((b) => [b.file, b]))
  const diagnostics = new Map<string, string[]>()
  // Not ts.getPreEmitDiagnostics: it skips every semantic check once any file has a syntax error.
  const all = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ]
  for (const d of all) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    const category = ts.DiagnosticCategory[d.category].toLowerCase()
    let key = ''
    let text: string
    if (d.file === undefined || d.start === undefined) {
      text = `${category} TS${d.code}: ${message}`
    } else {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
      const source = d.file.text.split('\n')[line] ?? ''
      const block = byFile.get(resolve(d.file.fileName))
      if (block !== undefined) key = block.file
      const where = block !== undefined ? `README.md:${block.line + line}:${character + 1}` : `${relative(root, d.file.fileName)}:${line + 1}:${character + 1}`
      text = `${where} - ${category} TS${d.code}: ${message}\n    ${source.trim()}`
    }
    diagnostics.set(key, [...(diagnostics.get(key) ?? []), text])
  }
  return { program, diagnostics }
}

const blocks = readmeBlocks()
let checked: Checked

beforeAll(() => {
  ensureBuilt()
  checked = typecheck(blocks)
}, 120_000)

describe('README.md TypeScript blocks compile against the built package', () => {
  test('README has ts blocks to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5)
  })

  test('the package resolves to dist/ declarations, never to src/', () => {
    const files = checked.program.getSourceFiles().map((f) => relative(root, resolve(f.fileName)))
    expect(files).toContain('dist/src/index.d.ts')
    expect(files).toContain('dist/src/testing/index.d.ts')
    expect(files.filter((f) => f.startsWith('src/'))).toEqual([])
  })

  test('no errors outside the blocks (ambient declarations, files the blocks import)', () => {
    expect(checked.diagnostics.get('') ?? []).toEqual([])
  })

  test('blocks marked file= are that file of the repository, verbatim; excerpt= a part of it', () => {
    expect(fileBlocks.map((b) => b.path)).toContain('test/consumer/src/feedback.repository.ts')
    for (const b of fileBlocks) {
      const text = readFileSync(join(root, b.path), 'utf8')
      if (b.whole) expect(`${b.code}\n`, `README.md:${b.line} (${b.path})`).toBe(text)
      else expect(isExcerpt(b.code, text), `README.md:${b.line} is not an excerpt of ${b.path}`).toBe(true)
    }
  })

  test.each(blocks.map((b) => [b.line, b] as const))('block at README.md:%i', (_line, block) => {
    const errors = checked.diagnostics.get(block.file) ?? []
    if (errors.length > 0) throw new Error(`\n${errors.join('\n')}`)
  })
})
