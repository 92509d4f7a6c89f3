import pino from 'pino';
import pretty from 'pino-pretty';

export type Logger = pino.Logger;

/**
 * An unknown level logs at info: the configuration check then ends the process with its one
 * line (a logger made before that check, at import, must not throw first).
 */
export function createLogger(level: string, name = 'pgcomply', destination: pino.DestinationStream | undefined = readableOnATerminal()): Logger {
  return pino({
    name,
    level: level in pino.levels.values || level === 'silent' ? level : 'info',
    // personal data never goes to the logs: who (ids, names, e-mail), from where (IP, user agent),
    // what they wrote, and a database error's detail, which quotes the row it refused
    redact: { paths: PERSONAL_LOG_FIELDS, censor: '[redacted]' },
  }, destination);
}

/**
 * A person at a terminal reads lines (pino-pretty); anything else (a file, a pipe, a log shipper)
 * gets one JSON object per line. LOG_FORMAT=json or pretty decides instead.
 */
function readableOnATerminal(env: NodeJS.ProcessEnv = process.env): pino.DestinationStream | undefined {
  const format = env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  return format === 'pretty' ? pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', sync: true }) : undefined;
}

/** the fields redacted at the top level and one level down (an alert's payload, an error) */
const PERSONAL = ['token', 'email', 'full_name', 'username', 'content', 'ip', 'ip_address', 'client_ip', 'clientIp', 'user_agent', 'userAgent',
  'user_id', 'userId', 'subject', 'actor', 'actor_id', 'patient', 'patient_id', 'grantee', 'detail', 'parameters', 'args'];
export const PERSONAL_LOG_FIELDS = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["user-agent"]',
  ...PERSONAL, ...PERSONAL.map((field) => `*.${field}`)];
