/** npm run token -- --sub user:alice [--role dpo] [--ttl 3600]: prints a development token. */
import { parseArgs } from 'node:util';
import { signDevelopmentToken } from '../server/auth/token.js';

try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      role: { type: 'string', multiple: true },
      ttl: { type: 'string', default: '3600' },
    },
  });
  if (!values.sub) throw new Error('--sub is required, e.g. npm run token -- --sub user:alice');
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('--ttl must be a whole number of seconds');
  if (!process.env.AUTH_JWT_SECRET && process.env.NODE_ENV === 'production') {
    throw new Error('AUTH_JWT_SECRET is unset: a production server accepts no token signed with the development secret');
  }
  process.stdout.write(`${await signDevelopmentToken({ subject: values.sub, roles: values.role ?? [], ttlSeconds: ttl, secret: process.env.AUTH_JWT_SECRET })}\n`);
} catch (error) {
  process.stderr.write(`token: ${(error as Error).message}\n`);
  process.exit(1);
}
