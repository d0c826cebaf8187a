/**
 * madsci-events/server: MADSci's Event Manager HTTP API, in Node.
 *
 * Exported: `createServer()` and its options and types, the settings loader, and `restoreBackup`
 * (used by the CLI). The route modules, guards and live hub are internal.
 */
export { createServer, MadsciServer, type ServerOptions } from './server.js'
export { loadSettings, defaultSettings, settingsForDisplay, settingsFromEnv, settingsSchema, SETTINGS_FIELDS, type SettingField, type ServerSettings } from './settings.js'
export { createBackup, listBackups, restoreBackup, type BackupInfo } from './backup.js'
export type { ServerContext } from './context.js'
