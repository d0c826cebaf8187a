import { rmSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { commands } from '../../adapters/cli/commands.js'
import { runCli, scratch } from './helpers.js'

/**
 * `--help` documents every flag each command accepts, and accepts every flag it documents:
 * the parser's table and the printed help are compared, from the real binary.
 */
const dir = scratch('help')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `--flag` names in a help text's Options section. */
function documented(help: string): string[] {
  const options = help.slice(help.indexOf('\nOptions:\n'))
  return [...options.matchAll(/^\s+(?:-\w, )?--([a-z-]+)/gm)].map((m) => m[1])
}

describe('madsci-events --help', () => {
  it('lists every command with a summary; no command is an error (exit 2) that still shows them', async () => {
    const help = await runCli(['--help'], { cwd: dir })
    expect(help.code).toBe(0)
    for (const [name, c] of Object.entries(commands)) expect(help.stdout).toMatch(new RegExp(`^  ${name} +${c.summary.replace(/[()]/g, '\\$&')}$`, 'm'))
    const none = await runCli([], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('Commands:')
    const unknown = await runCli(['exprot'], { cwd: dir })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "exprot"')
  })

  for (const [name, command] of Object.entries(commands)) {
    it(`${name} --help documents exactly the flags it accepts`, async () => {
      const res = await runCli([name, '--help'], { cwd: dir })
      expect(res.code).toBe(0)
      expect(res.stdout).toMatch(new RegExp(`^Usage: madsci-events ${name}`))
      expect(documented(res.stdout).sort()).toEqual(Object.keys(command.flags).sort())
      // Short forms are shown with their long ones, and choices are listed.
      for (const [flag, f] of Object.entries(command.flags)) {
        if (f.short) expect(res.stdout).toContain(`-${f.short}, --${flag}`)
        if (f.choices) expect(res.stdout.replace(/\s+/g, ' ')).toContain(`One of: ${f.choices.join(', ')}.`)
      }
      // `-h` is the same.
      expect((await runCli([name, '-h'], { cwd: dir })).stdout).toBe(res.stdout)
    })
  }

  it('export --help shows --database (it was accepted but not documented)', async () => {
    const res = await runCli(['export', '--help'], { cwd: dir })
    expect(res.stdout).toMatch(/--database NAME +MongoDB database/)
    expect(res.stdout).toMatch(/--bom/)
  })

  it('report --help says periods needs --from and --to', async () => {
    const res = await runCli(['report', '--help'], { cwd: dir })
    expect(res.stdout).toMatch(/periods .*\(--from and --to required\)/)
    expect(res.stdout).toMatch(/--from ISO +Start of the analysed time \(required for periods\)/)
  })
})
