import { readFile } from 'node:fs/promises'
import { describe, expect, test } from 'vitest'
import { cli, SLOW } from './support.js'

// Issue 9 §2: `--help` on the top level and on each command; a clear error naming the flag on
// bad input, with exit status 2; `--version`. None of these touches a database.

describe.concurrent('automagik-db help and version', { timeout: SLOW }, () => {
  test('--help and -h print the commands, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await cli([flag])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('Usage: automagik-db <command>')
      expect(r.stdout).toMatch(/migrate latest\|down\|status/)
      expect(r.stdout).toMatch(/codegen --out FILE/)
    }
  })

  test('migrate --help names its subcommands and flags; "help migrate" says the same', async () => {
    const r = await cli(['migrate', '--help'])
    expect(r.code, r.stderr).toBe(0)
    for (const text of ['latest', 'down', 'status', '--url URL', '--data-dir DIR', '--migrations DIR', 'DATABASE_URL']) {
      expect(r.stdout).toContain(text)
    }
    const viaHelp = await cli(['help', 'migrate'])
    expect(viaHelp.stdout).toBe(r.stdout)
    // help wins even with an incomplete command line
    expect((await cli(['migrate', 'latest', '-h'])).stdout).toBe(r.stdout)
  })

  test('codegen --help names --out and --migrations', async () => {
    const r = await cli(['codegen', '-h'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('--out FILE')
    expect(r.stdout).toContain('--migrations DIR')
  })

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    const r = await cli(['--version'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(version)
  })

  test('no arguments: the help on stderr, exit 2', async () => {
    const r = await cli([])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Usage: automagik-db <command>')
  })
})

describe.concurrent('automagik-db usage errors exit 2 and name what is wrong', { timeout: SLOW }, () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['migrat', 'latest'], /unknown command "migrat"/],
    ['unknown subcommand', ['migrate', 'lates', '--data-dir', '/tmp/x'], /unknown subcommand "lates" for migrate/],
    ['missing subcommand', ['migrate', '--data-dir', '/tmp/x'], /missing subcommand: latest, down or status/],
    ['unknown flag', ['migrate', 'status', '--data-dri', '/tmp/x'], /unknown flag "--data-dri" for automagik-db migrate/],
    ['unknown short flag', ['migrate', 'status', '-x'], /unknown flag "-x"/],
    ['unknown top-level flag', ['--verbose'], /unknown flag "--verbose"/],
    ['missing value at the end', ['migrate', 'status', '--url'], /--url needs a value/],
    ['a flag taken as the missing value', ['migrate', 'status', '--data-dir', '--migrations', 'm'], /--data-dir needs a value/],
    ['empty value', ['migrate', 'status', '--data-dir='], /--data-dir needs a value/],
    ['flag given twice', ['migrate', 'status', '--data-dir', 'a', '--data-dir', 'b'], /--data-dir is given more than once/],
    ['value on a boolean flag', ['migrate', '--help=yes'], /--help takes no value/],
    ['both --url and --data-dir', ['migrate', 'status', '--url', 'postgres://u@127.0.0.1:1/x', '--data-dir', '/tmp/x'], /--url and --data-dir cannot be used together/],
    ['--url that is not a URL', ['migrate', 'status', '--url', 'not-a-url'], /--url is not a valid URL/],
    ['--url of another scheme', ['migrate', 'status', '--url', 'mysql://u@h/db'], /--url must be a postgres:\/\/ or postgresql:\/\/ URL/],
    ['extra argument', ['migrate', 'status', 'now', '--data-dir', '/tmp/x'], /unexpected argument "now"/],
    ['codegen without --out', ['codegen'], /--out FILE is required/],
    ['codegen with --url (not one of its flags)', ['codegen', '--out', 'x.ts', '--url', 'postgres://h/x'], /unknown flag "--url" for automagik-db codegen/],
    ['--migrations folder that does not exist', ['migrate', 'status', '--data-dir', '/tmp/x', '--migrations', '/no/such/folder'], /--migrations: there is no folder \/no\/such\/folder/],
  ]
  for (const [what, args, message] of cases) {
    test(what, async () => {
      const r = await cli(args)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).toMatch(/Run "automagik-db (\w+ )?--help" for usage\./)
      expect(r.stdout).toBe('')
      expect(r.code).toBe(2)
    })
  }

  test('a bad DATABASE_URL is named as such', async () => {
    const r = await cli(['migrate', 'status'], { env: { DATABASE_URL: 'not a url' } })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/DATABASE_URL is not a valid URL/)
  })

  test('no --url, --data-dir or DATABASE_URL: exit 2, and nothing is migrated in memory', async () => {
    const r = await cli(['migrate', 'latest'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no database given: pass --url postgres:\/\/… or --data-dir DIR .*or set DATABASE_URL/)
    expect(r.stdout).toBe('')
  })
})
