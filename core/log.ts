import pino from 'pino';

export type Logger = pino.Logger;

/**
 * An unknown level logs at info: the configuration check then ends the process with its one
 * line (a logger made before that check, at import, must not throw first).
 */
export function createLogger(level: string, name = 'pgcomply', destination?: pino.DestinationStream): Logger {
  return pino({
    name,
    level: level in pino.levels.values || level === 'silent' ? level : 'info',
    // personal data never goes to the logs: who (ids, names, e-mail), from where (IP, user agent),
    // what they wrote, and a database error's detail, which quotes the row it refused
    redact: { paths: PERSONAL_LOG_FIELDS, censor: '[redacted]' },
  }, destination);
}

/** the fields redacted at the top level and one level down (an alert's payload, an error) */
const PERSONAL = ['token', 'email', 'full_name', 'username', 'content', 'ip', 'ip_address', 'client_ip', 'clientIp', 'user_agent', 'userAgent',
  'user_id', 'userId', 'subject', 'actor', 'actor_id', 'patient', 'patient_id', 'grantee', 'detail', 'parameters', 'args'];
export const PERSONAL_LOG_FIELDS = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["user-agent"]',
  ...PERSONAL, ...PERSONAL.map((field) => `*.${field}`)];
