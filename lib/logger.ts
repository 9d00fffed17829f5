// The one logger: structured JSON lines (pino) for every long-running process.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level: string = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { service: name }, timestamp: pino.stdTimeFunctions.isoTime });
}
