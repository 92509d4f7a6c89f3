import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, name = 'pgcomply'): Logger {
  return pino({
    name,
    level,
    // personal data never goes to the logs
    redact: { paths: ['req.headers.authorization', '*.token', '*.email', '*.full_name', '*.content'], censor: '[redacted]' },
  });
}
