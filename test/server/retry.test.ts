/** The API runs a transaction again after a deadlock or serialization failure, a bounded number of times. */
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();

/** makes the next `failures` writes to user_preferences fail with `sqlstate`, as a real deadlock would */
async function injectFailures(sqlstate: string, failures: number) {
  await api.db.admin.unsafe(`
    drop sequence if exists public.injected_failures;
    create sequence public.injected_failures;
    grant usage on sequence public.injected_failures to public;
    create or replace function public.tg_inject_failure() returns trigger language plpgsql as $$
      begin
        if nextval('public.injected_failures') <= ${failures} then
          raise exception 'injected' using errcode = '${sqlstate}';
        end if;
        return new;
      end $$;
    drop trigger if exists _000_inject_failure on compliance.user_preferences;
    create trigger _000_inject_failure before insert or update on compliance.user_preferences
      for each row execute function public.tg_inject_failure();`);
}

async function attempts() {
  const [row] = await api.db.admin`select last_value::int as n from public.injected_failures`;
  return row!.n;
}

describe('retrying a transaction the database asked to run again', () => {
  it('succeeds after two deadlocks, and writes the change once', async () => {
    const token = await api.token('user:unlucky');
    await injectFailures('40P01', 2);
    const response = await api.call('POST', '/trpc/me.setPreferences', token, { preferences: { theme: 'dark' } });
    expect(response.status).toBe(200);
    expect(await attempts()).toBe(3);
    const audit = await api.db.admin`select count(*)::int as n from compliance.audit_logs where action like 'preferences.%' and user_id = 'user:unlucky'`;
    expect(audit[0]!.n).toBe(1);
  });

  it('answers 409 after three serialization failures, never 500', async () => {
    const token = await api.token('user:unluckier');
    await injectFailures('40001', 10);
    const response = await api.call('POST', '/trpc/me.setPreferences', token, { preferences: { theme: 'dark' } });
    expect(response.status).toBe(409);
    expect(response.json.error.message).toContain('try again');
    expect(await attempts()).toBe(3);
    const [row] = await api.db.admin`select count(*)::int as n from compliance.user_preferences where user_id = 'user:unluckier'`;
    expect(row!.n).toBe(0);
  });
});
