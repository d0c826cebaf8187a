import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, it } from 'vitest'
import { runCli, scratch, writeEventFile } from './helpers.js'

/**
 * Bad values are refused before anything is read or written: exit code 2, a message naming the
 * flag and listing what is accepted, a pointer to --help, and no output file left behind.
 */
const dir = scratch('bad-values')
const events = join(dir, 'events.ndjson')
writeEventFile(events, 20)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const CASES: Array<{ args: string[]; message: RegExp }> = [
  { args: ['report', 'periods', '--from', '2025-01-06', '--to', '2025-01-07', '--timezone', 'Mars/Olympus'], message: /--timezone "Mars\/Olympus" is not a time zone; use an IANA name such as UTC, Europe\/Berlin/ },
  { args: ['report', 'periods', '--from', '2025-01-06', '--to', '2025-01-07', '--type', 'fortnightly'], message: /--type "fortnightly" is not accepted; use one of: hourly, daily, weekly, monthly/ },
  { args: ['report', 'sessions', '--format', 'pdf'], message: /--format "pdf" is not accepted; use one of: json, csv, svg/ },
  { args: ['report', 'users', '--format', 'svg'], message: /--format svg is for sessions and periods/ },
  { args: ['report', 'sessions', '--type', 'daily'], message: /--type is for report periods/ },
  { args: ['report', 'weekly'], message: /"weekly" is not a report; give one of: sessions, periods, users/ },
  { args: ['report'], message: /which report\? give one of: sessions, periods, users/ },
  { args: ['report', 'sessions', '--from', 'yesterday'], message: /--from "yesterday" is not an ISO time such as 2026-01-05/ },
  { args: ['report', 'sessions', '--from', '2025-01-07', '--to', '2025-01-06'], message: /--from must be before --to/ },
  { args: ['export', '--format', 'xlsx'], message: /--format "xlsx" is not accepted; use one of: csv, ndjson/ },
  { args: ['export', '--format', 'ndjson', '--bom'], message: /--bom is for CSV/ },
  { args: ['export', '--min-level', 'LOUD'], message: /--min-level "LOUD" is not a level; use one of: DEBUG, INFO, WARNING, ERROR, CRITICAL, 10, 20, 30, 40, 50/ },
  { args: ['export', '--from', '2025-13-01'], message: /--from "2025-13-01"/ },
  { args: ['export', '--file', events, '--db-url', 'mongodb://127.0.0.1:1/x'], message: /give one store: --db-url and --file were both given/ },
  { args: ['export', '--file', events, '--database', 'labdb'], message: /--database is for MongoDB: give --db-url/ },
  { args: ['export', '--file', events, '--token', 't'], message: /--token is for --url/ },
  { args: ['export', '--url', 'ftp://example.org'], message: /--url "ftp:\/\/example.org" is not an http\(s\) URL/ },
  { args: ['export', '--db-url', 'postgres://localhost/x'], message: /--db-url "postgres:\/\/localhost\/x" is not a MongoDB URL/ },
  { args: ['export', '--file', events, '--output', join(dir, 'missing-dir', 'out.csv')], message: /cannot write .*out\.csv: the directory .*missing-dir does not exist/ },
  { args: ['export', '--file', events, '--output', dir], message: /it is a directory; name a file/ },
  { args: ['export', '--file', events, '--format', 'ndjson', '--output', events], message: /--output .*events\.ndjson is the event file being read; write the result elsewhere/ },
  { args: ['export', '--nope'], message: /Unknown option '--nope'/ },
  { args: ['export', '--format'], message: /--format/ },
  { args: ['tail', '--min-level', 'chatty'], message: /--min-level "chatty" is not a level/ },
  { args: ['tail', '--url', 'not a url'], message: /--url "not a url" is not an http\(s\) URL/ },
  { args: ['serve', '--port', '99999'], message: /--port "99999" is not a port number \(0 to 65535\)/ },
  { args: ['serve', '--port', '80a'], message: /--port "80a" is not a port number/ },
  { args: ['restore'], message: /give exactly one backup directory/ },
]

describe.concurrent('bad values are refused with what is accepted', () => {
  for (const c of CASES) {
    it(c.args.join(' ').replaceAll(dir, '<dir>'), async ({ expect }) => {
      const before = readdirSync(dir).sort()
      const res = await runCli(c.args, { cwd: dir })
      expect(res.stderr).toMatch(c.message)
      expect(res.stderr).toMatch(new RegExp(`Run \`madsci-events ${c.args[0]} --help\` for the flags.`))
      expect(res.code).toBe(2)
      expect(res.stdout).toBe('')
      expect(readdirSync(dir).sort()).toEqual(before)
    })
  }
})
