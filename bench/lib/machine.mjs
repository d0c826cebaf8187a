// What the numbers were measured on: CPU, cores, RAM, OS, Node, versions of the peers, and the
// load average before and after (other work on the machine skews every figure).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { ROOT } from './build.mjs'

function cpuModel() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8')
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]
    const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(info)?.[1]
    if (model) return mhz ? `${model.trim()} @ ${Math.round(Number(mhz))} MHz` : model.trim()
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown'
}

function gitCommit() {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${sha} (with uncommitted changes)` : sha
  } catch {
    return null
  }
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}

export function machineInfo() {
  const gib = os.totalmem() / 2 ** 30
  let osName = `${os.type()} ${os.release()}`
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]
    if (pretty) osName = `${pretty} (${os.type()} ${os.release()})`
  } catch {}
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    ramGiB: Math.round(gib * 10) / 10,
    os: osName,
    arch: process.arch,
    node: process.version,
    madsciEvents: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    commit: gitCommit(),
    pino: pkgVersion('pino'),
    mongodbDriver: pkgVersion('mongodb'),
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  }
}

export function describeMachine(m) {
  return `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.os}, Node ${m.node}`
}
