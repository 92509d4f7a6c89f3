import pino from 'pino';

export type Logger = pino.Logger;

/**
 * An unknown level logs at info: the configuration check then ends the process with its one
 * line (a logger made before that check, at import, must not throw first).
 */
export function createLogger(level: string, name = 'pgcomply'): Logger {
  return pino({
    name,
    level: level in pino.levels.values || level === 'silent' ? level : 'info',
    // personal data never goes to the logs
    redact: { paths: ['req.headers.authorization', '*.token', '*.email', '*.full_name', '*.content'], censor: '[redacted]' },
  });
}
