/** The privacy center at /: everything a signed-in data subject can see and do about their data. */
import { useSession } from '../session.js';
import { AccessLog, Conversations, HealthRecords } from './activity.js';
import { Consents } from './consents.js';
import { Profile } from './profile.js';
import { DeleteAccount, Download } from './rights.js';

export function PrivacyCenter() {
  const { identity, signOut } = useSession();
  return (
    <main className="container">
      <h1>Your privacy center</h1>
      <p>Signed in as <strong>{identity?.subject}</strong>. This is everything held about you, and what you can do about it.</p>
      <Profile />
      <Consents />
      <Conversations />
      <HealthRecords />
      <Download />
      <AccessLog />
      <DeleteAccount onErased={() => signOut('Your account was deleted. You are signed out.', { sessionGone: true })} />
    </main>
  );
}
