/**
 * The PHI access log as FHIR R4 AuditEvent resources after IHE Basic Audit Log Patterns (BALP):
 * PatientRead for one record, PatientQuery for a list, PatientCreate/Update/Delete for writes.
 * A refused attempt carries outcome 4 (minor failure) and its reason; a failed integrity check
 * outcome 8 (serious failure).
 */
export interface AccessEvent {
  id: string | number;
  occurred_at: Date;
  action: string;
  outcome: string;
  failure_reason: string | null;
  user_id: string | null;
  actor_id: string | null;
  actor_role: string | null;
  purpose: string | null;
  intent: string | null;
  record_ids: string[];
  ip_address: string | null;
  user_agent: string | null;
  grant_id: string | number | null;
  grant_kind: string | null;
}

const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const RECORD_IDENTIFIER_SYSTEM = 'urn:pgcomply:health-record';
export const ACTOR_IDENTIFIER_SYSTEM = 'urn:pgcomply:actor';
export const GRANT_POLICY_PREFIX = 'urn:pgcomply:access-grant:';

/** HIPAA purposes of use as HL7 v3 ActReason codes */
const PURPOSE_CODES: Record<string, { code: string; display: string }> = {
  treatment: { code: 'TREAT', display: 'treatment' },
  payment: { code: 'HPAYMT', display: 'healthcare payment' },
  operations: { code: 'HOPERAT', display: 'healthcare operations' },
  emergency: { code: 'ETREAT', display: 'Emergency Treatment' },
  patient_request: { code: 'PATRQT', display: 'patient requested' },
};

type Interaction = { subtype: 'read' | 'search-type' | 'create' | 'update' | 'delete'; action: 'R' | 'E' | 'C' | 'U' | 'D'; profile: string };

function interactionOf(event: AccessEvent): Interaction {
  const intent = event.intent ?? 'read';
  if (intent === 'create') return { subtype: 'create', action: 'C', profile: 'PatientCreate' };
  if (intent === 'update') return { subtype: 'update', action: 'U', profile: 'PatientUpdate' };
  if (intent === 'delete') return { subtype: 'delete', action: 'D', profile: 'PatientDelete' };
  return intent === 'read' && event.record_ids.length === 1
    ? { subtype: 'read', action: 'R', profile: 'PatientRead' }
    : { subtype: 'search-type', action: 'E', profile: 'PatientQuery' };
}

export function toAuditEvent(event: AccessEvent, serverAddress: string): Record<string, unknown> {
  const interaction = interactionOf(event);
  const purpose = event.purpose ? PURPOSE_CODES[event.purpose] : undefined;
  const purposeOfEvent = purpose ? [{ coding: [{ system: ACT_REASON, ...purpose }] }] : undefined;
  const outcome = event.outcome === 'success' ? '0' : event.action === 'phi.integrity_failure' ? '8' : '4';
  const clientNetwork = event.ip_address ? { address: event.ip_address, type: '2' } : undefined;
  const entity: Record<string, unknown>[] = [];
  if (event.user_id) {
    entity.push({ what: { reference: `Patient/${encodeURIComponent(event.user_id)}` },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' }, role: { system: OBJECT_ROLE, code: '1', display: 'Patient' } });
  }
  for (const id of event.record_ids) {
    entity.push({ what: { type: 'Basic', identifier: { system: RECORD_IDENTIFIER_SYSTEM, value: id } },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' }, role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' } });
  }
  if (interaction.action === 'E') {
    entity.push({ type: { system: ENTITY_TYPE, code: '2', display: 'System Object' }, role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      query: Buffer.from(`health-records?patient=${event.user_id ?? ''}`).toString('base64') });
  }
  return {
    resourceType: 'AuditEvent',
    id: String(event.id),
    // a profile's patient entity is required: a row whose patient was erased claims none
    ...(event.user_id ? { meta: { profile: [`${BALP}${interaction.profile}`] } } : {}),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: interaction.subtype }],
    action: interaction.action,
    recorded: event.occurred_at.toISOString(),
    outcome,
    ...(event.failure_reason ? { outcomeDesc: event.failure_reason } : {}),
    ...(purposeOfEvent ? { purposeOfEvent } : {}),
    agent: [
      { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
        who: event.actor_id ? { identifier: { system: ACTOR_IDENTIFIER_SYSTEM, value: event.actor_id } } : { display: 'erased actor' },
        ...(event.actor_role ? { role: [{ text: event.actor_role }] } : {}),
        requestor: true, ...(clientNetwork ? { network: clientNetwork } : {}), ...(purposeOfEvent ? { purposeOfUse: purposeOfEvent } : {}),
        // the access grant that authorised a workforce access (agent.policy: the policy that authorised the event)
        ...(event.grant_id ? { policy: [`${GRANT_POLICY_PREFIX}${event.grant_id}`] } : {}) },
      { type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
        who: { display: event.user_agent ?? 'unknown client' }, requestor: false, ...(clientNetwork ? { network: clientNetwork } : {}) },
      { type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
        who: { display: 'pgcomply' }, requestor: false, network: { address: serverAddress, type: '1' } },
    ],
    source: { site: 'pgcomply', observer: { display: 'pgcomply' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity,
  };
}

export function auditEventBundle(events: AccessEvent[], serverAddress: string, links: { self: string; next: string | null }): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString(),
    link: [{ relation: 'self', url: links.self }, ...(links.next ? [{ relation: 'next', url: links.next }] : [])],
    entry: events.map((event) => ({ fullUrl: `urn:pgcomply:audit-event:${event.id}`, resource: toAuditEvent(event, serverAddress), search: { mode: 'match' } })),
  };
}
