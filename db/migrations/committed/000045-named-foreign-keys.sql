--! Previous: sha1:1d526a6f2bd19a990ccfbdbb44caefa75d464548
--! Hash: sha1:0e48fa9caaa1966e597982ff8a2a94e25c1b8a81
--! Message: named-foreign-keys

-- Foreign keys named for what they mean, as every other constraint is (db/CONVENTIONS.md):
-- PostgreSQL's <table>_<column>_fkey says which column, not why. Renaming changes no behaviour.

alter table compliance.access_grants rename constraint access_grants_user_id_fkey to access_grants_patient_profile;
alter table compliance.access_review_items rename constraint access_review_items_campaign_fkey to access_review_items_in_campaign;
alter table compliance.access_review_items rename constraint access_review_items_grant_fkey to access_review_items_about_grant;
alter table compliance.breach_subjects rename constraint breach_subjects_breach_id_fkey to breach_subjects_of_breach;
alter table compliance.breach_subjects rename constraint breach_subjects_user_id_fkey to breach_subjects_subject_profile;
alter table compliance.check_results rename constraint check_results_run_id_fkey to check_results_of_run;
alter table compliance.consent_records rename constraint consent_records_purpose_fkey to consent_records_purpose_known;
alter table compliance.consent_records rename constraint consent_records_user_id_fkey to consent_records_subject_profile;
alter table compliance.conversations rename constraint conversations_user_id_fkey to conversations_subject_profile;
alter table compliance.dsr_requests rename constraint dsr_requests_user_id_fkey to dsr_requests_subject_profile;
alter table compliance.health_records rename constraint health_records_category_fkey to health_records_category_known;
alter table compliance.health_records rename constraint health_records_key_fkey to health_records_under_subject_key;
alter table compliance.health_records rename constraint health_records_user_id_fkey to health_records_patient_profile;
alter table compliance.legal_holds rename constraint legal_holds_user_id_fkey to legal_holds_subject_profile;
alter table compliance.messages rename constraint messages_conversation_fkey to messages_in_own_conversation;
alter table compliance.messages rename constraint messages_user_id_fkey to messages_subject_profile;
alter table compliance.sessions rename constraint sessions_user_id_fkey to sessions_subject_profile;
alter table compliance.user_preferences rename constraint user_preferences_user_id_fkey to user_preferences_subject_profile;
alter table compliance_private.subject_keys rename constraint subject_keys_user_id_fkey to subject_keys_patient_profile;
