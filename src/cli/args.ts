import { parseArgs } from 'node:util'

/**
 * Bad command-line input: the CLI prints the message and a pointer to `--help`, and exits with 2.
 * `command` names the command whose help to point to (`migrate`, `codegen`), if any.
 */
export class UsageError extends Error {
  readonly command: string | undefined
  constructor(message: string, command?: string) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/** The flags a command accepts: `--name` (and `-x` when `short` is set), with or without a value. */
export type FlagSpec = Readonly<Record<string, { type: 'string' | 'boolean'; short?: string }>>

/** Flags by name (a string value, or `true` for a boolean flag) and the positional arguments. */
export interface ParsedArgs {
  flags: Readonly<Record<string, string | true>>
  positionals: readonly string[]
}

/**
 * Parses `args` against `spec` with node:util parseArgs, then checks every flag itself so that
 * each mistake is a {@link UsageError} naming the flag: unknown flag, missing value (including a
 * flag taken as the value, as in `--url --data-dir x`), a value on a boolean flag, a flag given twice.
 *
 * @example
 * ```ts
 * const { flags, positionals } = parseCommandLine(['status', '--url', url], MIGRATE_FLAGS, 'migrate')
 * ```
 */
export function parseCommandLine(args: readonly string[], spec: FlagSpec, command?: string): ParsedArgs {
  const { tokens } = parseArgs({ args: [...args], options: spec, strict: false, allowPositionals: true, tokens: true })
  const flags: Record<string, string | true> = {}
  const positionals: string[] = []
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value)
    if (token.kind !== 'option') continue
    const flag = spec[token.name]
    const shown = token.rawName.startsWith('--') ? `--${token.name}` : token.rawName
    if (flag === undefined) throw new UsageError(`unknown flag ${printable(shown, 'flag')}${forCommand(command)}`, command)
    if (token.name in flags) throw new UsageError(`${shown} is given more than once`, command)
    if (flag.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${shown} takes no value`, command)
      flags[token.name] = true
      continue
    }
    const value = token.value
    // parseArgs lets a string flag swallow the next flag as its value: that is a missing value.
    if (value === undefined || value === '' || (!token.inlineValue && value.startsWith('-'))) {
      throw new UsageError(`${shown} needs a value`, command)
    }
    flags[token.name] = value
  }
  return { flags, positionals }
}

/**
 * `text` quoted when it looks like a plain name, else a neutral description: input echoed back
 * in an error must never be a connection string with a password in it.
 *
 * @example
 * ```ts
 * printable('lates', 'subcommand') // '"lates"'
 * ```
 */
export function printable(text: string, what: string): string {
  return /^-{0,2}[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$/.test(text) ? `"${text}"` : `(the ${what} is not shown)`
}

const forCommand = (command: string | undefined): string => (command ? ` for automagik-db ${command}` : '')
