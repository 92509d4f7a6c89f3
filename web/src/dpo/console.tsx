/** The DPO console: what each role sees (dpo: requests, subjects, breaches, the record of processing, compliance; approver: access; auditor: compliance). */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSession } from '../session.js';
import { Access } from './access.js';
import { Breaches } from './breaches.js';
import { Compliance } from './compliance.js';
import { Processing } from './processing.js';
import { Requests } from './requests.js';
import { Subjects } from './subjects.js';

export function DpoConsole() {
  const { t } = useTranslation();
  const { identity } = useSession();
  const roles = new Set(identity?.roles ?? []);
  const isDpo = roles.has('dpo');
  const isAuditor = roles.has('auditor');
  const tabs = [
    ...(isDpo ? ['requests', 'subjects', 'breaches', 'processing'] : []),
    ...(roles.has('approver') ? ['access'] : []),
    ...(isDpo || isAuditor ? ['compliance'] : []),
  ].map((key) => [key, t(`console.tab.${key}`)] as const);
  const [tab, setTab] = useState<string>(tabs[0]?.[0] ?? '');
  if (tabs.length === 0) {
    return <main className="container"><h1>{t('console.title')}</h1><p>{t('console.noRole')}</p></main>;
  }
  return (
    <main className="container">
      <h1>{t('console.title')}</h1>
      <nav aria-label={t('console.sections')}>
        <ul>
          {tabs.map(([key, label]) => (
            <li key={key}><button type="button" className={tab === key ? '' : 'outline'} aria-current={tab === key ? 'page' : undefined} onClick={() => setTab(key)}>{label}</button></li>
          ))}
        </ul>
      </nav>
      {tab === 'requests' ? <Requests /> : null}
      {tab === 'subjects' ? <Subjects /> : null}
      {tab === 'breaches' ? <Breaches /> : null}
      {tab === 'processing' ? <Processing /> : null}
      {tab === 'access' ? <Access /> : null}
      {tab === 'compliance' ? <Compliance isDpo={isDpo} isAuditor={isAuditor} /> : null}
    </main>
  );
}
