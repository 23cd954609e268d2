/**
 * Monitoring: the platform's security events and those of the agencies' systems are taken in (HTTP JSON
 * batches, syslog over UDP/TCP/TLS, NDJSON and Windows event exports, the platform bus), normalised to ECS,
 * matched by Sigma rules and correlations (our pack and SigmaHQ's), stored in day partitions, and turned
 * into alerts that analysts work and that notify by webhook and e-mail. Files can be scanned for malware
 * with YARA and ClamAV. The part knows nothing of the others: they publish events on the bus.
 */
export { monitorConfig, monitorConfigSchema, BUILTIN_RULES_DIR, BUILTIN_YARA_DIR, type MonitorConfig, type MonitorSettings } from './config.js';
export { MonitorService, monitorMigrations, type MonitorDeps, type Rejected } from './service.js';
export { EventStore, type StoredEvent, type EventQuery } from './events/store.js';
export { acceptEvent, checkEvent, derive, LocalHour, classificationLevel, type Intake } from './events/normalize.js';
export { parseSyslog } from './intake/syslog.js';
export { SyslogFramer } from './intake/framing.js';
export { IntakeQueue, type QueuedEvent } from './intake/queue.js';
export { parseWindowsXml, parseWindowsXmlChunked, WindowsXmlParser, normalizeWindows } from './intake/windows.js';
export { readEventFile, formatOf, type FileFormat } from './intake/file.js';
export { AlertStore, severityOf, LEVELS, type Alert, type AlertHit, type AlertFilter } from './alerts/store.js';
export { Notifier, webhookChannel, emailChannel, type Channel } from './alerts/notify.js';
export { NotifySecrets, notifySecretMigrations, type SecretSource, type SecretInfo } from './alerts/secrets.js';
export { sendMail, formatMessage, type SmtpOptions, type Mail } from './alerts/smtp.js';
export { Detection, compileSettings, type CompileSettings, type RuleInfo } from './detect/detection.js';
export { hunt, type HuntRequest, type HuntResult } from './detect/hunt.js';
export { Scanner, YaraScanner, clamdScan, clamdPing, parseYaraOutput, type ScanResult } from './scan/index.js';
